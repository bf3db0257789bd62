package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs the {@code bash} blocks of a page of {@code docs/} as a reader would: in order, in one shell
 * (so a variable set in one block is there in the next), from a directory laid out like the repository
 * root, against the jar this build made ({@code -Dmetalayer.jar}, set by Failsafe). The page is read at
 * test time, so the page and the test cannot drift.
 *
 * <p>What differs from a reader's terminal, and nothing else: {@code mvn} is a shell function that
 * does nothing (the jar is already built), the ports {@code 8080} and {@code 8081} of the page are
 * replaced by free ones (tests never bind fixed ports), the shell stops at the first failing command ({@code set -euo
 * pipefail}), and a background process a block started is stopped when the shell exits.
 */
final class DocCommands {
  private static final Pattern BLOCK = Pattern.compile("(?ms)^```bash\\n(.*?)^```");
  static final String DOC_PORT = "8080";
  /** The port of a page's second layer (docs/scaling.md), replaced by another free one. */
  static final String DOC_PORT_2 = "8081";

  /** What the run printed (standard output and error together), and its exit status. */
  record Run(int exit, String output, int blocks) {
    /** The output of block {@code n} (1-based), between its marker and the next. */
    String block(int n) {
      int from = output.indexOf(marker(n));
      int to = output.indexOf(n == blocks ? "::all blocks ran" : marker(n + 1));
      assertThat(from).as("block " + n + " started:\n" + output).isNotNegative();
      return output.substring(from + marker(n).length(), to < 0 ? output.length() : to);
    }
  }

  private DocCommands() {}

  /** The {@code bash} blocks of {@code page}, in order. */
  static List<String> blocks(Path page) throws IOException {
    List<String> blocks = new ArrayList<>();
    Matcher m = BLOCK.matcher(Files.readString(page, StandardCharsets.UTF_8));
    while (m.find()) {
      blocks.add(m.group(1));
    }
    return blocks;
  }

  /** Runs every bash block of {@code page} (a path from the repository root) in a fresh directory under {@code dir}. */
  static Run run(String page, Path dir) throws Exception {
    List<String> blocks = blocks(Path.of("..").resolve(page));
    assertThat(blocks).as("bash blocks in " + page).isNotEmpty();
    String port = Integer.toString(freePort());
    String port2 = port;
    while (port2.equals(port)) {
      port2 = Integer.toString(freePort());
    }
    StringBuilder script = new StringBuilder()
        .append("set -euo pipefail\n")
        .append("trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n")
        .append("mvn() { echo \"(mvn $* skipped: the test runs the jar this build made)\"; }\n");
    for (int i = 0; i < blocks.size(); i++) {
      script.append("echo '::block ").append(i + 1).append("'\n")
          .append(blocks.get(i).replace(DOC_PORT, port).replace(DOC_PORT_2, port2)).append('\n');
    }
    script.append("echo '::all blocks ran'\n");

    Path root = Files.createDirectories(dir.resolve("repository"));
    Path jar = Files.createDirectories(root.resolve("layer-jetty/target")).resolve("meta-layer.jar");
    Files.createSymbolicLink(jar, Path.of(System.getProperty("metalayer.jar")).toAbsolutePath());
    Path file = dir.resolve("page.sh");
    Files.writeString(file, script, StandardCharsets.UTF_8);
    Path output = dir.resolve("page.out");

    ProcessBuilder pb = new ProcessBuilder("bash", file.toString()).directory(root.toFile())
        .redirectErrorStream(true).redirectOutput(output.toFile());
    pb.environment().keySet().removeIf(name -> name.startsWith("LAYER_") || name.startsWith("META_"));
    String javaBin = Path.of(System.getProperty("java.home"), "bin").toString();
    pb.environment().put("PATH", javaBin + java.io.File.pathSeparator + pb.environment().getOrDefault("PATH", ""));
    Process process = pb.start();
    process.getOutputStream().close();
    if (!process.waitFor(180, TimeUnit.SECONDS)) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
      throw new AssertionError("the commands of " + page + " did not finish in 180 s:\n" + Files.readString(output));
    }
    return new Run(process.exitValue(), Files.readString(output, StandardCharsets.UTF_8), blocks.size());
  }

  private static String marker(int n) {
    return "::block " + n + "\n";
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}

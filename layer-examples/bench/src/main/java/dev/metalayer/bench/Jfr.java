package dev.metalayer.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A flight recording of one phase in a running layer, started and stopped with {@code jcmd} (for
 * {@code --profile}), then summarised by {@link JfrTop} into {@code profile-<name>.txt}.
 */
final class Jfr {
  private Jfr() {}

  static void start(ChildProcess process, String name) throws IOException, InterruptedException {
    jcmd(process, "JFR.start", "name=" + name, "settings=profile");
  }

  static void stopAndSummarise(ChildProcess process, String name, Path work, Path out)
      throws IOException, InterruptedException {
    Path file = work.resolve(name + ".jfr").toAbsolutePath();
    jcmd(process, "JFR.stop", "name=" + name, "filename=" + file);
    if (Files.exists(file)) {
      Path summary = out.resolve("profile-" + name + ".txt");
      Files.writeString(summary, JfrTop.summarize(file, 25), StandardCharsets.UTF_8);
      Bench.log("JFR profile of " + name + " summarised in " + summary);
    }
  }

  private static void jcmd(ChildProcess process, String... command) throws IOException, InterruptedException {
    String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
    List<String> args = new java.util.ArrayList<>(List.of(jcmd, Long.toString(process.pid())));
    args.addAll(List.of(command));
    Process p = new ProcessBuilder(args).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      Bench.log("jcmd " + String.join(" ", command) + " failed: " + output.strip());
    }
  }
}

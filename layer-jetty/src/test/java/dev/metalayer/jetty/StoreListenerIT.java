package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real jar's store opens no network port, and the CLI, refused the file a running layer holds,
 * says in one line how to reach the layer instead, then does so through the admin API.
 */
class StoreListenerIT {
  static final String PNID = "106540352242922";

  @TempDir Path dir;

  @Test
  void theLayerListensOnlyOnItsHttpPortAndTheCliReachesItThroughTheAdminApi() throws Exception {
    LayerJar jar = LayerJar.in(dir).heap("128m");
    jar.addNumber("+15550783881", PNID, "102290129340398", "555", "EAAG-token-listener-test");
    try (LayerJar.Running layer = jar.start()) {
      if (Files.isDirectory(Path.of("/proc/net"))) {
        assertThat(listeningPorts(layer.process().pid())).containsExactly(layer.port());
      }

      // the CLI on the data directory, as an operator would type it while the layer runs
      ProcessBuilder cli = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
          System.getProperty("metalayer.jar"), "keys", "create", "--phone-number-id", PNID)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD);
      cli.environment().put("LAYER_DATA_DIR", dir.resolve("data").toString());
      Process offline = cli.start();
      offline.getOutputStream().close();
      assertThat(offline.waitFor(60, TimeUnit.SECONDS)).isTrue();
      String err = new String(offline.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(offline.exitValue()).isEqualTo(2);
      assertThat(err.lines()).containsExactly("error: another layer holds the data directory "
          + dir.resolve("data") + " (LAYER_DATA_DIR): stop that layer, or pass --layer-url URL (with"
          + " LAYER_ADMIN_TOKEN set) to manage it through its admin API");

      LayerJar.Cli remote = jar.cli(Map.of("LAYER_URL", layer.base().toString()), "keys", "create", "--phone-number-id", PNID);
      assertThat(remote.exit()).isZero();
      assertThat(remote.stdout().lines().findFirst().orElseThrow()).startsWith("ps_");
      LayerJar.Cli listed = jar.cli(Map.of("LAYER_URL", layer.base().toString()), "numbers", "list");
      assertThat(listed.stdout()).contains("+15550783881");
    }
  }

  /** The TCP ports the process listens on, from /proc (Linux). */
  private static Set<Integer> listeningPorts(long pid) throws IOException {
    Set<String> inodes = new HashSet<>();
    try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
      for (Path fd : fds.toList()) {
        try {
          String target = Files.readSymbolicLink(fd).toString();
          if (target.startsWith("socket:[")) {
            inodes.add(target.substring(8, target.length() - 1));
          }
        } catch (IOException gone) {
          // closed meanwhile
        }
      }
    }
    Set<Integer> ports = new HashSet<>();
    for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      Path p = Path.of(table);
      if (!Files.exists(p)) {
        continue;
      }
      List<String> lines = Files.readAllLines(p); // read once: the table changes as sockets come and go
      for (String line : lines.subList(1, lines.size())) {
        String[] f = line.trim().split("\\s+");
        if (f[3].equals("0A") && inodes.contains(f[9])) {
          ports.add(Integer.parseInt(f[1].substring(f[1].indexOf(':') + 1), 16));
        }
      }
    }
    return ports;
  }
}

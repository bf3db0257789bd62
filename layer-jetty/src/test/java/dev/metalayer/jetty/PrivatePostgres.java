package dev.metalayer.jetty;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * A PostgreSQL server of a test's own, for a test that stops and starts it (the machine's shared one,
 * which other tests use, is never touched): {@code initdb} into a temporary directory, trust
 * authentication, loopback only, on a free port. PostgreSQL refuses to run as root, and CI runs as
 * root: then every command runs as the {@code postgres} user ({@code runuser}). The binaries are found
 * in {@code LAYER_TEST_PG_BIN}, else the newest {@code /usr/lib/postgresql/<version>/bin}. Without them
 * the calling test is skipped with one line on stderr; under {@code CI=true} it fails instead.
 */
final class PrivatePostgres implements AutoCloseable {
  private final Path bin;
  private final Path home;
  private final Path data;
  private final int port;

  private PrivatePostgres(Path bin, Path home, int port) {
    this.bin = bin;
    this.home = home;
    this.data = home.resolve("data");
    this.port = port;
  }

  /** Creates and starts a new cluster (skips the test when PostgreSQL's binaries are missing). */
  static PrivatePostgres start() throws Exception {
    Path bin = binaries();
    if (bin == null) {
      String line = "Private PostgreSQL test skipped: no initdb and pg_ctl (set LAYER_TEST_PG_BIN to PostgreSQL's bin"
          + " directory, or install PostgreSQL).";
      if ("true".equalsIgnoreCase(System.getenv("CI"))) {
        throw new AssertionError("CI=true requires it: " + line);
      }
      System.err.println(line);
      Assumptions.abort(line);
    }
    // under /tmp, writable by the postgres user (who owns the cluster when the test runs as root)
    Path home = Files.createTempDirectory(Path.of(System.getProperty("java.io.tmpdir")), "layer-pg-");
    Files.setPosixFilePermissions(home, PosixFilePermissions.fromString("rwxrwxrwx"));
    PrivatePostgres pg = new PrivatePostgres(bin, home, freePort());
    try {
      pg.run(120, pg.bin.resolve("initdb").toString(), "-D", pg.data.toString(), "-U", "postgres", "--auth=trust",
          "--encoding=UTF8", "--locale=C", "--no-sync");
      pg.startServer();
    } catch (Exception | AssertionError e) {
      pg.close();
      throw e;
    }
    return pg;
  }

  /** {@code jdbc:postgresql://127.0.0.1:<port>/postgres} (user {@code postgres}, no password). */
  String url() {
    return "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
  }

  /** Starts the server and waits until it accepts connections. */
  void startServer() throws Exception {
    run(120, bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", home.resolve("server.log").toString(),
        "-w", "-t", "60", "-o", "-p " + port + " -c listen_addresses=127.0.0.1 -k " + home, "start");
  }

  /** Stops the server at once ({@code pg_ctl stop -m immediate}: a crash, as far as the layer can tell). */
  void stopServer() throws Exception {
    run(60, bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "immediate", "-w", "stop");
  }

  /** The server's own log so far. */
  String log() {
    try {
      return Files.readString(home.resolve("server.log"), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no server log: " + e + ")";
    }
  }

  @Override
  public void close() {
    try {
      if (Files.exists(data.resolve("postmaster.pid"))) {
        stopServer();
      }
    } catch (Exception | AssertionError e) {
      System.err.println("PrivatePostgres: stopping the server failed: " + e.getMessage());
    }
    try (Stream<Path> all = Files.walk(home)) {
      all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // left in the temporary directory
    }
  }

  private void run(int seconds, String... command) throws Exception {
    List<String> full = new ArrayList<>();
    if ("root".equals(System.getProperty("user.name"))) {
      full.addAll(List.of("runuser", "-u", "postgres", "--"));
    }
    full.addAll(List.of(command));
    Path out = home.resolve("command.log");
    Process p = new ProcessBuilder(full).directory(home.toFile()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.to(out.toFile())).start();
    if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", full) + " did not finish in " + seconds + " s");
    }
    if (p.exitValue() != 0) {
      throw new AssertionError(String.join(" ", full) + " exited " + p.exitValue() + ":\n" + Files.readString(out)
          + "\n" + log());
    }
  }

  private static Path binaries() {
    String configured = System.getenv("LAYER_TEST_PG_BIN");
    List<Path> candidates = new ArrayList<>();
    if (configured != null && !configured.isBlank()) {
      candidates.add(Path.of(configured));
    } else {
      try (Stream<Path> versions = Files.list(Path.of("/usr/lib/postgresql"))) {
        versions.map(v -> v.resolve("bin")).sorted(Comparator.comparing(PrivatePostgres::version).reversed())
            .forEach(candidates::add);
      } catch (IOException none) {
        // no packaged PostgreSQL
      }
    }
    return candidates.stream().filter(b -> Files.isExecutable(b.resolve("initdb")) && Files.isExecutable(b.resolve("pg_ctl")))
        .findFirst().orElse(null);
  }

  private static int version(Path bin) {
    try {
      return Integer.parseInt(bin.getParent().getFileName().toString());
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}

package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's start-up mistakes with the real jar: each is one line on standard error,
 * {@code error: <what> (<option as written>): <what to do>}, exit status 2 and no stack trace (which
 * {@code --debug} adds).
 */
class StartErrorsIT {
  @TempDir Path dir;

  private record Exit(int status, String stdout, String stderr) {}

  /** Runs the jar with the environment and arguments given, and no other LAYER_ variable. */
  private Exit jar(Map<String, String> env, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx64m", "-jar", System.getProperty("metalayer.jar")));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().keySet().removeIf(k -> k.startsWith("LAYER_") || k.startsWith("META_"));
    pb.environment().putAll(env);
    Process p = pb.start();
    p.getOutputStream().close();
    CompletableFuture<String> out = read(p.getInputStream());
    CompletableFuture<String> err = read(p.getErrorStream());
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("the jar did not exit: " + String.join(" ", args) + "\n" + err.getNow(""));
    }
    return new Exit(p.exitValue(), out.get(10, TimeUnit.SECONDS), err.get(10, TimeUnit.SECONDS));
  }

  private static CompletableFuture<String> read(java.io.InputStream in) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
  }

  private Map<String, String> env(String... pairs) {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("LAYER_DATA_DIR", dir.resolve("data").toString());
    env.put("LAYER_HOST", "127.0.0.1");
    env.put("LAYER_PORT", "0");
    for (int i = 0; i < pairs.length; i += 2) {
      env.put(pairs[i], pairs[i + 1]);
    }
    return env;
  }

  /** Exit 2, and standard error is exactly one line: {@code error: … (<option>): …}, no stack trace. */
  private static void oneLine(Exit exit, String option) {
    assertThat(exit.status()).as(exit.stderr()).isEqualTo(2);
    assertThat(exit.stderr()).as(exit.stderr()).hasLineCount(1).startsWith("error: ")
        .contains(" (" + option + "): ").doesNotContain("\tat ").doesNotContain("Exception");
  }

  @Test
  void aPortInUseIsOneLineNamingThePortOption() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      String port = Integer.toString(taken.getLocalPort());
      Exit byEnv = jar(env("LAYER_PORT", port));
      oneLine(byEnv, "LAYER_PORT");
      assertThat(byEnv.stderr()).contains("port " + port + " on 127.0.0.1 is already in use");
      oneLine(jar(env(), "--port", port), "--port");
      Exit debug = jar(env("LAYER_PORT", port), "--debug");
      assertThat(debug.status()).isEqualTo(2);
      assertThat(debug.stderr()).startsWith("error: port " + port).contains("\tat ");
    }
  }

  @Test
  void anUnusableDataDirectoryIsOneLineNamingTheDataDirOption() throws Exception {
    Path file = Files.writeString(dir.resolve("a-file"), "not a directory");
    Exit underAFile = jar(env("LAYER_DATA_DIR", file.resolve("data").toString()));
    oneLine(underAFile, "LAYER_DATA_DIR");
    assertThat(underAFile.stderr()).contains("cannot create the data directory " + file.resolve("data"));
    Exit isAFile = jar(env(), "--data-dir", file.toString());
    oneLine(isAFile, "--data-dir");
    assertThat(isAFile.stderr()).contains(file + " is a file, not a directory");
  }

  @Test
  void badValuesAreOneLineNamingTheOptionAsWritten() throws Exception {
    oneLine(jar(env("LAYER_CALL_TTL", "soon")), "LAYER_CALL_TTL");
    oneLine(jar(env(), "--upstream-timeout", "-5s"), "--upstream-timeout");
    oneLine(jar(env("LAYER_PORT", "http")), "LAYER_PORT");
    oneLine(jar(env("LAYER_MAX_BODY_BYTES", "1e9")), "LAYER_MAX_BODY_BYTES");
    oneLine(jar(env("LAYER_GRAPH_URL", "graph.facebook.com")), "LAYER_GRAPH_URL");
    oneLine(jar(env("LAYER_PUBLIC_URL", "layer.example.com")), "LAYER_PUBLIC_URL");
    Exit refusedByTheCore = jar(env("LAYER_RETENTION", "7d"));
    oneLine(refusedByTheCore, "LAYER_RETENTION");
    assertThat(refusedByTheCore.stderr()).startsWith("error: '7d' is refused: it must be at least 8 days");
    oneLine(jar(env("LAYER_ADMIN_TOKEN", "short")), "LAYER_ADMIN_TOKEN");
  }

  @Test
  void aDatabaseThatCannotBeUsedIsOneLineNamingHostAndPortAndNeverThePassword() throws Exception {
    String password = "db-password-that-must-not-show";
    int closed;
    try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      closed = free.getLocalPort();
    }
    Exit unreachable = jar(env("LAYER_DB_URL", "jdbc:postgresql://127.0.0.1:" + closed + "/layer",
        "LAYER_DB_PASSWORD", password, "LAYER_DB_CONNECT_TIMEOUT", "1s"));
    oneLine(unreachable, "LAYER_DB_URL");
    assertThat(unreachable.stderr()).contains("cannot reach the database at 127.0.0.1:" + closed + "/layer (connection"
        + " refused, tried for 1 s)").doesNotContain(password);
    assertThat(unreachable.stdout()).doesNotContain(password);

    Exit otherDatabase = jar(env(), "--db-url", "jdbc:mysql://127.0.0.1/layer");
    oneLine(otherDatabase, "--db-url");
    Exit passwordInUrl = jar(env("LAYER_DB_URL", "jdbc:postgresql://127.0.0.1/layer?password=" + password));
    oneLine(passwordInUrl, "LAYER_DB_URL");
    assertThat(passwordInUrl.stderr()).doesNotContain(password);
    oneLine(jar(env("LAYER_DB_POOL_SIZE", "0")), "LAYER_DB_POOL_SIZE");
  }

  @Test
  void unknownOptionsAndCommandsNameTheNearestValidOne() throws Exception {
    Exit option = jar(env(), "--data_dir", dir.toString());
    oneLine(option, "--data_dir");
    assertThat(option.stderr()).contains("did you mean --data-dir?");
    Exit commandOption = jar(env(), "numbers", "list", "--bogus", "1");
    oneLine(commandOption, "--bogus");
    Exit command = jar(env(), "numbers", "lsit");
    oneLine(command, "lsit");
    assertThat(command.stderr()).contains("did you mean 'numbers list'?");
  }

  @Test
  void aSecondLayerOnTheSameDataDirectoryIsRefusedInOneLine() throws Exception {
    LayerJar first = LayerJar.in(dir);
    try (LayerJar.Running running = first.start()) {
      Path data = dir.resolve("data");
      Exit second = jar(env("LAYER_DATA_DIR", data.toString()));
      oneLine(second, "LAYER_DATA_DIR");
      assertThat(second.stderr()).contains("another layer holds the data directory " + data);
      // the first one is untouched
      assertThat(running.status("/readyz")).isEqualTo(200);
      // the command line on the store file is refused too, and pointed at the admin API
      Exit cli = jar(env("LAYER_DATA_DIR", data.toString()), "keys", "list");
      oneLine(cli, "LAYER_DATA_DIR");
      assertThat(cli.stderr()).contains("--layer-url");
    }
    // once the first has stopped, the directory is free again
    Exit after = jar(env("LAYER_DATA_DIR", dir.resolve("data").toString(), "LAYER_MASTER_KEY", first.masterKey()), "keys",
        "list");
    assertThat(after.status()).as(after.stderr()).isZero();
  }

  @Test
  void theLayerTellsWhereItsEndpointsAreAndWhetherEachIsOn() throws Exception {
    try (LayerJar.Running running = LayerJar.in(dir).start()) {
      String log = running.log();
      assertThat(log).contains("Admin API at http://127.0.0.1:" + running.port() + "/admin/v1: enabled");
      assertThat(log).contains("Graph API at http://127.0.0.1:" + running.port() + "/api/layer/meta: enabled")
          .contains("until LAYER_PUBLIC_URL is set");
      assertThat(log).contains("Meta webhooks at http://127.0.0.1:" + running.port() + "/webhooks/meta: disabled");
    }
  }
}

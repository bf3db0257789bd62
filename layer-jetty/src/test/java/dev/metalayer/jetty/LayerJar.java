package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The real jar ({@code -Dmetalayer.jar}, set by Failsafe) as a child process, for the process-level
 * tests ({@code *IT}): a data directory, a master key, the CLI to register numbers and create keys
 * before the server starts, and the server itself on port 0 (the bound port is read from its log, so no
 * other process can take it in between). Everything binds to loopback.
 *
 * <pre>{@code
 * LayerJar jar = LayerJar.in(dir).heap("64m").env("META_APP_SECRET", secret);
 * jar.addNumber("+15550783881", PNID, WABA, BUSINESS, "EAAtoken…");
 * String key = jar.createKey(PNID);
 * try (LayerJar.Running layer = jar.start("--graph-url", metaBase)) {
 *   layer.base();        // http://127.0.0.1:<port>
 *   layer.log();         // everything the process wrote so far
 * }
 * }</pre>
 */
final class LayerJar {
  static final String ADMIN_TOKEN = "admin-token-for-process-tests-0123456789abcdef";
  private static final Pattern LISTENING = Pattern.compile("listening on [^:\\s]+:([0-9]+)");

  private final Path dir;
  private final Map<String, String> env = new LinkedHashMap<>();
  private String heap = "256m";
  private final List<String> jvmArgs = new ArrayList<>();

  /** The base64 master key the jar runs with (another process on the same data directory needs it). */
  String masterKey() {
    return env.get("LAYER_MASTER_KEY");
  }

  private LayerJar(Path dir) {
    this.dir = dir;
    byte[] masterKey = new byte[32];
    new SecureRandom().nextBytes(masterKey);
    env.put("LAYER_MASTER_KEY", Base64.getEncoder().encodeToString(masterKey));
    env.put("LAYER_DATA_DIR", dir.resolve("data").toString());
    env.put("LAYER_HOST", "127.0.0.1");
    env.put("LAYER_PORT", "0");
    env.put("LAYER_ADMIN_TOKEN", ADMIN_TOKEN);
  }

  /** A layer whose data directory and logs live under {@code dir}. */
  static LayerJar in(Path dir) {
    return new LayerJar(dir);
  }

  /** The maximum heap, e.g. {@code "64m"} (default 256m). */
  LayerJar heap(String heap) {
    this.heap = heap;
    return this;
  }

  /** An environment variable for the CLI and the server. */
  LayerJar env(String name, String value) {
    env.put(name, value);
    return this;
  }

  /** Runs with this base64 master key (another instance of the same store needs the same one). */
  LayerJar masterKey(String base64) {
    return env("LAYER_MASTER_KEY", base64);
  }

  /**
   * Runs on this PostgreSQL store ({@code LAYER_DB_URL}, {@code LAYER_DB_USER}, {@code LAYER_DB_PASSWORD}
   * when not blank) instead of the H2 file in the data directory.
   */
  LayerJar database(String jdbcUrl, String user, String password) {
    env("LAYER_DB_URL", jdbcUrl);
    env("LAYER_DB_USER", user);
    if (password != null && !password.isBlank()) {
      env("LAYER_DB_PASSWORD", password);
    }
    return this;
  }

  /** An extra JVM option for the server, e.g. {@code -XX:+ExitOnOutOfMemoryError}. */
  LayerJar jvm(String option) {
    jvmArgs.add(option);
    return this;
  }

  Path dir() {
    return dir;
  }

  /** Registers a number with the CLI (the token through an environment variable). */
  void addNumber(String phone, String phoneNumberId, String wabaId, String businessId, String metaToken) throws Exception {
    Cli r = cli(Map.of("LAYER_TEST_META_TOKEN", metaToken), "numbers", "add", "--phone", phone, "--phone-number-id",
        phoneNumberId, "--waba-id", wabaId, "--business-id", businessId, "--meta-token-env", "LAYER_TEST_META_TOKEN");
    assertThat(r.exit()).as("numbers add: " + r.stdout()).isZero();
  }

  /** Creates a key for the number with the CLI and returns it. */
  String createKey(String phoneNumberId) throws Exception {
    Cli r = cli(Map.of(), "keys", "create", "--phone-number-id", phoneNumberId);
    assertThat(r.exit()).as("keys create: " + r.stdout()).isZero();
    String key = r.stdout().lines().findFirst().orElseThrow().trim();
    assertThat(key).startsWith("ps_");
    return key;
  }

  /** What a CLI run printed on standard output, and its exit status. */
  record Cli(int exit, String stdout) {}

  /** Runs the jar's CLI with {@code args} (stdin closed, stderr discarded). */
  Cli cli(Map<String, String> extraEnv, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(javaBin(), "-jar", jar()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD);
    pb.environment().putAll(env);
    pb.environment().putAll(extraEnv);
    Process p = pb.start();
    p.getOutputStream().close();
    CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
      try {
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("the CLI did not finish: " + String.join(" ", args));
    }
    return new Cli(p.exitValue(), out.get(10, TimeUnit.SECONDS));
  }

  /**
   * Starts the server with extra command-line {@code args} and waits (at most 60 s) until it listens
   * and {@code /readyz} answers 200. Its standard output and error go to {@code <dir>/layer-N.log}.
   */
  Running start(String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(javaBin(), "-Xmx" + heap));
    command.addAll(jvmArgs);
    command.addAll(List.of("-jar", jar()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().putAll(env);
    Path log = Files.createTempFile(dir, "layer-", ".log");
    pb.redirectOutput(log.toFile());
    Process process = pb.start();
    Running running = new Running(process, log);
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < deadline && process.isAlive()) {
      Matcher m = LISTENING.matcher(running.log());
      if (m.find()) {
        running.base = URI.create("http://127.0.0.1:" + m.group(1));
        if (running.status("/readyz") == 200) {
          return running;
        }
      }
      LockSupport.parkNanos(100_000_000L); // a poll interval while the JVM starts
    }
    String text = running.log();
    running.close();
    throw new AssertionError("the layer did not become ready:\n" + text);
  }

  /** A started layer process; closing it stops the process (SIGTERM, then SIGKILL after 20 s). */
  static final class Running implements AutoCloseable {
    private final Process process;
    private final Path log;
    private final HttpClient http =
        HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    private URI base;

    private Running(Process process, Path log) {
      this.process = process;
      this.log = log;
    }

    /** {@code http://127.0.0.1:<port>}. */
    URI base() {
      return base;
    }

    int port() {
      return base.getPort();
    }

    Process process() {
      return process;
    }

    long pid() {
      return process.pid();
    }

    /** {@code kill -9}: no shutdown hook runs, no lease is released; returns once the process is gone. */
    void kill() throws InterruptedException {
      process.destroyForcibly();
      assertThat(process.waitFor(30, TimeUnit.SECONDS)).as("the killed layer is gone").isTrue();
    }

    /** Everything the process has written so far (standard output and error). */
    String log() {
      try {
        return Files.readString(log, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    Path logFile() {
      return log;
    }

    /** The status of a GET of {@code path} (5 s timeout), or -1 when there is no answer in time. */
    int status(String path) {
      try {
        return http.send(HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(5)).GET().build(),
            HttpResponse.BodyHandlers.discarding()).statusCode();
      } catch (IOException e) {
        return -1;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return -1;
      }
    }

    @Override
    public void close() throws InterruptedException {
      process.destroy();
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  private static String jar() {
    String jar = System.getProperty("metalayer.jar");
    assertThat(jar).as("system property metalayer.jar (set by Failsafe)").isNotBlank();
    return jar;
  }

  private static String javaBin() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }
}

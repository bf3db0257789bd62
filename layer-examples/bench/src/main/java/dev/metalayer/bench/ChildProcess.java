package dev.metalayer.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

/**
 * A process the harness started (the layer, the fake Graph, nginx): its output goes to a log file, it
 * is stopped with SIGTERM (then SIGKILL after a grace period), and its memory is read from
 * {@code /proc/<pid>/status}.
 */
final class ChildProcess implements AutoCloseable {
  private final String name;
  private final Process process;
  private final Path log;
  private final long startedNanos;

  private ChildProcess(String name, Process process, Path log, long startedNanos) {
    this.name = name;
    this.process = process;
    this.log = log;
    this.startedNanos = startedNanos;
  }

  static ChildProcess start(String name, List<String> command, Map<String, String> env, Path log) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().putAll(env);
    pb.redirectErrorStream(true);
    pb.redirectOutput(log.toFile());
    long t0 = System.nanoTime();
    Process p = pb.start();
    return new ChildProcess(name, p, log, t0);
  }

  String name() {
    return name;
  }

  long pid() {
    return process.pid();
  }

  /** {@link System#nanoTime()} just before the process was started. */
  long startedNanos() {
    return startedNanos;
  }

  Path log() {
    return log;
  }

  boolean alive() {
    return process.isAlive();
  }

  /** {@code VmRSS} (resident now) in KiB, if the process still runs. */
  OptionalLong rssKib() {
    return status("VmRSS:");
  }

  /** {@code VmHWM} (peak resident) in KiB, if the process still runs. */
  OptionalLong peakRssKib() {
    return status("VmHWM:");
  }

  private OptionalLong status(String field) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid()), "status"))) {
        if (line.startsWith(field)) {
          return OptionalLong.of(Long.parseLong(line.substring(field.length()).replace("kB", "").trim()));
        }
      }
    } catch (IOException | RuntimeException gone) {
      // the process ended
    }
    return OptionalLong.empty();
  }

  /**
   * Polls {@code GET path} on loopback every 5 ms until it answers 200. @return nanoTime of the first
   * 200
   * @throws IllegalStateException when the process dies or the timeout passes first
   */
  long awaitHttp200(int port, String path, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException(name + " exited with " + process.exitValue() + "; see " + log);
      }
      if (httpStatus(port, path) == 200) {
        return System.nanoTime();
      }
      Thread.sleep(5);
    }
    throw new IllegalStateException(name + " did not answer 200 on " + path + " within " + timeout + "; see " + log);
  }

  /** The body of a GET on 127.0.0.1 (10 s at most). */
  static String httpGet(int port, String path) throws IOException, InterruptedException {
    return java.net.http.HttpClient.newHttpClient().send(
        java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port + path))
            .timeout(java.time.Duration.ofSeconds(10)).build(),
        java.net.http.HttpResponse.BodyHandlers.ofString()).body();
  }

  /** A minimal HTTP/1.1 GET over a fresh socket: the status code, or -1 when nothing answers. */
  static int httpStatus(int port, String path) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 200);
      s.setSoTimeout(2_000);
      OutputStream out = s.getOutputStream();
      out.write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      byte[] head = new byte[12];
      int n = 0;
      while (n < head.length) {
        int r = in.read(head, n, head.length - n);
        if (r < 0) {
          break;
        }
        n += r;
      }
      String status = new String(head, 0, n, StandardCharsets.US_ASCII);
      return status.startsWith("HTTP/1.") && n >= 12 ? Integer.parseInt(status.substring(9, 12)) : -1;
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
  }

  /** A TCP port that was free a moment ago on 127.0.0.1. */
  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress("127.0.0.1", 0));
      return s.getLocalPort();
    }
  }

  /** SIGTERM, then SIGKILL after 10 s. Idempotent. */
  @Override
  public void close() throws InterruptedException {
    if (!process.isAlive()) {
      return;
    }
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      process.waitFor(5, TimeUnit.SECONDS);
    }
  }
}

package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The log against the real jar: 16 threads send {@code CONNECT /api/<8 KB>} for a few seconds (each
 * makes Jetty warn), and {@code CONNECT /x?access_token=ps_…} with a key. The log stays small, never
 * holds the key, and the layer keeps answering. Loopback only; bounded in time and requests.
 */
class LogFloodIT {
  static final int THREADS = 16;
  static final long ATTACK_MILLIS = 4_000;
  static final int MAX_REQUESTS_PER_THREAD = 5_000;
  static final String KEY = "ps_" + "K".repeat(43);

  @TempDir Path dir;

  @Test
  void aFloodOfBadRequestsWritesABoundedLogWithoutTheKey() throws Exception {
    LayerJar jar = LayerJar.in(dir).heap("128m");
    try (LayerJar.Running layer = jar.start()) {
      long before = Files.size(layer.logFile());
      // just under Jetty's 8 KiB request line: a longer one is a 414 that Jetty does not log
      String longTarget = "/api/" + "a".repeat(8000);
      AtomicInteger sent = new AtomicInteger();
      AtomicInteger unanswered = new AtomicInteger();
      ExecutorService pool = Executors.newFixedThreadPool(THREADS);
      long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ATTACK_MILLIS);
      List<Future<?>> attackers = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        int thread = t;
        attackers.add(pool.submit(() -> {
          for (int i = 0; i < MAX_REQUESTS_PER_THREAD && System.nanoTime() < end; i++) {
            if (!connect(layer.port(), i % 50 == 0 && thread == 0 ? "/x?access_token=" + KEY : longTarget)) {
              unanswered.incrementAndGet();
            }
            sent.incrementAndGet();
          }
          return null;
        }));
      }
      int healthyDuring = 0;
      while (System.nanoTime() < end) {
        healthyDuring += layer.status("/healthz") == 200 ? 1 : 0;
        Thread.sleep(250); // a health probe's interval, not a synchronisation
      }
      for (Future<?> f : attackers) {
        f.get(30, TimeUnit.SECONDS);
      }
      pool.shutdown();
      assertThat(connect(layer.port(), "/x?access_token=" + KEY)).as("answered after the flood").isTrue();

      assertThat(layer.status("/healthz")).isEqualTo(200);
      String log = layer.log();
      long written = Files.size(layer.logFile()) - before;
      long warnings = log.lines().filter(l -> l.contains(" WARN ") && l.contains("jetty")).count();
      System.out.printf("log flood: %,d bad requests in %d ms (%d unanswered within 5 s), %,d bytes of log,"
          + " %d Jetty warnings, %d health checks answered during%n", sent.get(), ATTACK_MILLIS, unanswered.get(), written,
          warnings, healthyDuring);
      assertThat(sent.get()).as("the attack ran").isGreaterThan(200);
      // 16 attackers on 2 shared cores: one answer among thousands may miss its 5 s (CI, 2026-12-01); what
      // this test guards is the log, and that the layer keeps answering, not each attacker's latency
      assertThat(unanswered.get()).as("attack requests unanswered within 5 s").isLessThanOrEqualTo(sent.get() / 100);
      assertThat(healthyDuring).isPositive();
      assertThat(log).doesNotContain(KEY).doesNotContain("K".repeat(43));
      assertThat(warnings).as("warnings: at most a burst per logger and window").isLessThanOrEqualTo(3L * LogSecrecy.BURST);
      assertThat(written).as("bytes of log").isLessThan(128 * 1024);
    }
  }

  /** Sends one CONNECT and reads the answer. @return false when no answer came within 5 s */
  private static boolean connect(int port, String target) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
      s.setSoTimeout(5_000);
      OutputStream out = s.getOutputStream();
      out.write(("CONNECT " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      in.readNBytes(12);
      return true;
    } catch (java.net.SocketTimeoutException e) {
      return false;
    }
  }
}

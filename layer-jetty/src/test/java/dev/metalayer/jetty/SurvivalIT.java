package dev.metalayer.jetty;

import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.RecordingSubscriber;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The attacks that need no credential (docs/security.md), against the real jar with a 128 MB heap and the
 * default limits, on loopback, each bounded in connections and time: stalled webhook bodies, floods of
 * unauthenticated 1 MiB forms, bodies trickled a byte at a time. During each, {@code /healthz} and a
 * proxied Graph call (WireMock as Meta, a key made with the CLI) keep answering and a signed webhook is
 * accepted (retried on 503, as Meta does); after each, that webhook reaches a real subscriber, and the
 * log holds no {@code OutOfMemoryError}. Each prints the process's peak threads, resident memory, heap
 * used and body bytes held, for docs/security.md.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SurvivalIT {
  static final String PNID = "106540352242922";
  static final String WABA = "102290129340398";
  static final String APP_SECRET = "survival-app-secret";
  static final Duration CALL = Duration.ofSeconds(5);
  /**
   * How long a probe may take and still count as an answer. Generous: CI machines are shared, and the
   * attack runs on the same cores; before the fix, probes got no answer at all.
   */
  static final Duration PROBE = Duration.ofSeconds(15);
  static final ObjectMapper JSON = new ObjectMapper();

  WireMockServer meta;
  RecordingSubscriber subscriber;
  LayerJar.Running layer;
  String key;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(CALL).build();
  final AtomicInteger webhooks = new AtomicInteger();
  final List<String> figures = Collections.synchronizedList(new ArrayList<>());

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    meta = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    meta.start();
    meta.stubFor(get(urlPathEqualTo("/v13.0/" + PNID)).willReturn(okJson("{\"id\":\"" + PNID + "\"}")));
    subscriber = RecordingSubscriber.start();
    LayerJar jar = LayerJar.in(dir).heap("128m").env("META_APP_SECRET", APP_SECRET).env("LAYER_ALLOW_PRIVATE_TARGETS", "true");
    jar.addNumber("+15550783881", PNID, WABA, "900", "EAAG-survival-meta-token");
    key = jar.createKey(PNID);
    layer = jar.start("--graph-url", meta.baseUrl());
    HttpResponse<String> created = http.send(HttpRequest.newBuilder(layer.base().resolve("/v1/webhooks")).timeout(CALL)
        .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"survival\",\"url\":\"" + subscriber.url("/hook")
            + "\",\"events\":[\"messages\"]}")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    assertThat(graphCall()).as("the key works before any attack").isEqualTo(200);
  }

  @AfterAll
  void stop() throws Exception {
    if (layer != null) {
      layer.close();
    }
    meta.stop();
    subscriber.close();
    figures.forEach(System.out::println);
  }

  @Test
  void stalledWebhookBodiesNeitherExhaustMemoryNorStopTheLayer() throws Exception {
    int connections = 120;
    int declared = 3_000_000;
    byte[] part = new byte[1_000_000];
    Arrays.fill(part, (byte) ' ');
    List<Socket> sockets = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger refused = new AtomicInteger();
    ExecutorService senders = Executors.newFixedThreadPool(16);
    try {
      attack("stalled webhook bodies: " + connections + " x 1 MB sent of 3 MB declared, then stalled", () -> {
        for (int i = 0; i < connections; i++) {
          senders.execute(() -> {
            try {
              Socket s = open();
              sockets.add(s);
              head(s, "/webhooks/meta", "application/json", declared, "X-Hub-Signature-256: sha256=" + "0".repeat(64) + "\r\n");
              s.getOutputStream().write(part);
              s.getOutputStream().flush();
            } catch (IOException answeredAndClosed) {
              refused.incrementAndGet();
            }
          });
        }
      }, Duration.ofSeconds(6));
      figures.add("  at the attack's end: " + answers(sockets) + "; connections closed while sending: " + refused.get());
    } finally {
      senders.shutdownNow();
      closeAll(sockets);
    }
  }

  @Test
  void floodsOfUnauthenticatedMegabyteFormsAreRefusedCheaply() throws Exception {
    byte[] form = new byte[1024 * 1024];
    for (int i = 0; i < form.length; i++) {
      form[i] = (byte) (i % 2 == 0 ? 'a' : '&');
    }
    Map<Integer, AtomicInteger> statuses = new ConcurrentHashMap<>();
    AtomicBoolean running = new AtomicBoolean(true);
    ExecutorService senders = Executors.newFixedThreadPool(64);
    // the attackers' own client: the probes' client must not queue behind 64 MB of uploads
    HttpClient attackers = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(CALL).build();
    try {
      attack("unauthenticated 1 MiB a&a&a forms: 64 concurrent, repeated, half with an unknown key in the header", () -> {
        for (int i = 0; i < 64; i++) {
          boolean withKey = i % 2 == 0;
          senders.execute(() -> {
            while (running.get()) {
              HttpRequest.Builder b = HttpRequest.newBuilder(layer.base().resolve("/api/layer/meta/v13.0/" + PNID + "/messages"))
                  .timeout(CALL).header("Content-Type", "application/x-www-form-urlencoded")
                  .POST(HttpRequest.BodyPublishers.ofByteArray(form));
              if (withKey) {
                b.header("Authorization", "Bearer ps_live_" + "u".repeat(40));
              }
              int status;
              try {
                status = attackers.send(b.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
              } catch (IOException answeredAndClosed) {
                status = -1;
              } catch (InterruptedException e) {
                return;
              }
              statuses.computeIfAbsent(status, s -> new AtomicInteger()).incrementAndGet();
              try {
                Thread.sleep(250); // each attacker's pace: 64 in flight, not a CPU-bound loop of the test itself
              } catch (InterruptedException e) {
                return;
              }
            }
          });
        }
      }, Duration.ofSeconds(6));
    } finally {
      running.set(false);
      senders.shutdownNow();
      assertThat(senders.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }
    figures.add("  answers to the forms (status=count; -1: closed while sending): " + statuses);
    // 408 only if a machine is so loaded that a 1 MiB upload outlasts the read deadline
    assertThat(statuses.keySet()).as("only refusals: 401, 413 (or closed while sending)").isSubsetOf(401, 413, 408, -1);
    assertThat(statuses.getOrDefault(401, new AtomicInteger()).get()).isPositive();
    assertThat(statuses.getOrDefault(413, new AtomicInteger()).get()).isPositive();
  }

  @Test
  void bodiesTrickledAByteAtATimeHoldNoThreads() throws Exception {
    int connections = 220;
    List<Socket> sockets = Collections.synchronizedList(new ArrayList<>());
    ScheduledExecutorService trickle = Executors.newSingleThreadScheduledExecutor();
    try {
      attack("slow bodies: " + connections + " connections, one byte every 2 s, half webhooks, half keyless Graph forms", () -> {
        for (int i = 0; i < connections; i++) {
          try {
            Socket s = open();
            if (i % 2 == 0) {
              head(s, "/webhooks/meta", "application/json", 1000, "X-Hub-Signature-256: sha256=" + "0".repeat(64) + "\r\n");
            } else {
              head(s, "/api/layer/meta/v13.0/" + PNID + "/messages", "application/x-www-form-urlencoded", 1000, "");
            }
            sockets.add(s);
          } catch (IOException e) {
            throw new AssertionError("connection " + i + " of the slow attack: " + e, e);
          }
        }
        trickle.scheduleAtFixedRate(() -> {
          synchronized (sockets) {
            for (Socket s : sockets) {
              try {
                OutputStream out = s.getOutputStream();
                out.write('a');
                out.flush();
              } catch (IOException closedByTheLayer) {
                // a read deadline ended it
              }
            }
          }
        }, 0, 2, TimeUnit.SECONDS);
      }, Duration.ofSeconds(6));
    } finally {
      trickle.shutdownNow();
      closeAll(sockets);
    }
  }

  /**
   * Starts {@code attack}, then for {@code length} probes the layer (health, a proxied Graph call, a
   * signed webhook) and samples the process's threads and memory; then checks the aftermath.
   */
  private void attack(String name, Runnable attack, Duration length) throws Exception {
    Peak peak = new Peak(layer.process().pid());
    long threadsBefore = Peak.threads(layer.process().pid());
    long logBefore = Files.size(layer.logFile());
    Thread sampler = new Thread(peak, "sampler");
    sampler.start();
    long started = System.nanoTime();
    int probes = 0;
    long slowestHealth = 0;
    long slowestGraph = 0;
    String wamid;
    try {
      attack.run();
      wamid = sendSignedWebhook();
      long end = started + length.toNanos();
      while (System.nanoTime() < end) {
        long t0 = System.nanoTime();
        assertThat(health()).as("/healthz during " + name).isEqualTo(200);
        long t1 = System.nanoTime();
        assertThat(graphCall()).as("a proxied Graph call during " + name).isEqualTo(200);
        long t2 = System.nanoTime();
        slowestHealth = Math.max(slowestHealth, (t1 - t0) / 1_000_000);
        slowestGraph = Math.max(slowestGraph, (t2 - t1) / 1_000_000);
        if (probes++ % 3 == 1) {
          peak.heap();
        }
        Thread.sleep(300); // the probes' pace
      }
      peak.heap();
    } finally {
      peak.stop();
      sampler.join(5_000);
    }
    assertThat(health()).as("/healthz after " + name).isEqualTo(200);
    assertThat(graphCall()).as("a proxied Graph call after " + name).isEqualTo(200);
    assertThat(awaitDelivery(wamid)).as("the webhook accepted during " + name + " reaches the subscriber").isTrue();
    String log = layer.log();
    assertThat(log).as("the layer's log after " + name).doesNotContain("OutOfMemoryError");
    JsonAnswer ready = readyz();
    long logLines = log.substring((int) Math.min(logBefore, log.length())).lines().count();
    figures.add(String.format("SURVIVAL %s: %d log lines; %d probes answered (slowest: /healthz %d ms, Graph call %d ms); threads %d before, %d at peak; peak RSS %d MB, peak heap"
            + " used %d MB (of 128 MB, garbage included), peak body bytes held %d KB; ended with %d threads", name, logLines, probes, slowestHealth, slowestGraph, threadsBefore, peak.threads.get(),
        peak.rssKb.get() / 1024, peak.heapKb.get() / 1024, ready.bodyBytesPeak / 1024, Peak.threads(layer.process().pid())));
  }

  private record JsonAnswer(long bodyBytesPeak) {}

  private JsonAnswer readyz() throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(layer.base().resolve("/readyz")).timeout(PROBE).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as("/readyz: " + r.body()).isEqualTo(200);
    return new JsonAnswer(JSON.readTree(r.body()).path("body_bytes_peak").asLong());
  }

  private int health() throws Exception {
    return http.send(HttpRequest.newBuilder(layer.base().resolve("/healthz")).timeout(PROBE).GET().build(),
        HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  private int graphCall() throws Exception {
    return http.send(HttpRequest.newBuilder(layer.base().resolve("/api/layer/meta/v13.0/" + PNID)).timeout(PROBE)
        .header("Authorization", "Bearer " + key).GET().build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  /** Sends a signed webhook as Meta does: retried after a 503 (at most 20 s); returns its message id. */
  private String sendSignedWebhook() throws Exception {
    String wamid = "wamid.SURVIVAL" + webhooks.incrementAndGet();
    byte[] body = ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + WABA + "\",\"changes\":[{"
        + "\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":"
        + "\"15550783881\",\"phone_number_id\":\"" + PNID + "\"},\"messages\":[{\"from\":\"16315553602\",\"id\":\"" + wamid
        + "\",\"timestamp\":\"1749196801\",\"type\":\"text\",\"text\":{\"body\":\"hello\"}}]}}]}]}").getBytes(StandardCharsets.UTF_8);
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    int status = -1;
    while (System.nanoTime() < deadline) {
      try {
        status = http.send(HttpRequest.newBuilder(layer.base().resolve("/webhooks/meta")).timeout(PROBE)
            .header("Content-Type", "application/json")
            .header("X-Hub-Signature-256", MetaFixtures.metaSignature(APP_SECRET, body))
            .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
      } catch (IOException e) {
        status = -1;
      }
      if (status == 200) {
        return wamid;
      }
      assertThat(status).as("a signed webhook is accepted or asked to retry").isIn(503, -1);
      Thread.sleep(500); // Meta's retry, much shortened
    }
    throw new AssertionError("the signed webhook was not accepted within 20 s (last status " + status + ")");
  }

  private boolean awaitDelivery(String wamid) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    while (System.nanoTime() < deadline) {
      if (subscriber.received().stream().anyMatch(r -> r.text().contains(wamid))) {
        return true;
      }
      Thread.sleep(100); // a poll interval
    }
    return false;
  }

  private Socket open() throws IOException {
    Socket s = new Socket("127.0.0.1", layer.port());
    s.setSoTimeout(10_000);
    return s;
  }

  private static void head(Socket s, String path, String contentType, long length, String extra) throws IOException {
    s.getOutputStream().write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + contentType
        + "\r\nContent-Length: " + length + "\r\n" + extra + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
    s.getOutputStream().flush();
  }

  /** What the layer has answered on each attacking connection so far (status line → count; "none": held). */
  private static Map<String, Integer> answers(List<Socket> sockets) {
    Map<String, Integer> answers = new java.util.TreeMap<>();
    synchronized (sockets) {
      for (Socket s : sockets) {
        String status = "none";
        try {
          if (s.getInputStream().available() > 0) {
            byte[] head = new byte[12];
            int n = s.getInputStream().read(head);
            status = new String(head, 0, Math.max(n, 0), StandardCharsets.ISO_8859_1).trim();
          }
        } catch (IOException e) {
          status = "reset";
        }
        answers.merge(status, 1, Integer::sum);
      }
    }
    return answers;
  }

  private static void closeAll(List<Socket> sockets) {
    synchronized (sockets) {
      for (Socket s : sockets) {
        try {
          s.close();
        } catch (IOException e) {
          // closing anyway
        }
      }
    }
  }

  /** Samples a process's threads and resident memory (from /proc) every 100 ms, and its heap (jstat) on demand. */
  static final class Peak implements Runnable {
    private static final Pattern THREADS = Pattern.compile("Threads:\\s+([0-9]+)");
    private static final Pattern RSS = Pattern.compile("VmRSS:\\s+([0-9]+) kB");
    final long pid;
    final AtomicLong threads = new AtomicLong();
    final AtomicLong rssKb = new AtomicLong();
    final AtomicLong heapKb = new AtomicLong();
    private volatile boolean running = true;

    Peak(long pid) {
      this.pid = pid;
    }

    @Override
    public void run() {
      while (running) {
        String status = status(pid);
        Matcher t = THREADS.matcher(status);
        if (t.find()) {
          threads.accumulateAndGet(Long.parseLong(t.group(1)), Math::max);
        }
        Matcher r = RSS.matcher(status);
        if (r.find()) {
          rssKb.accumulateAndGet(Long.parseLong(r.group(1)), Math::max);
        }
        try {
          Thread.sleep(100); // the sampling interval
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    void stop() {
      running = false;
    }

    static long threads(long pid) {
      Matcher t = THREADS.matcher(status(pid));
      return t.find() ? Long.parseLong(t.group(1)) : -1;
    }

    private static String status(long pid) {
      try {
        return Files.readString(Path.of("/proc", String.valueOf(pid), "status"));
      } catch (IOException e) {
        return "";
      }
    }

    /** Heap used (survivors, eden, old) by {@code jstat -gc}, kept when higher than seen before. */
    void heap() {
      try {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jstat").toString(), "-gc",
            String.valueOf(pid)).redirectErrorStream(true).start();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
          try {
            return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
          } catch (IOException e) {
            return "";
          }
        });
        if (!p.waitFor(5, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          return;
        }
        String[] lines = out.get(5, TimeUnit.SECONDS).trim().split("\n");
        if (lines.length < 2) {
          return;
        }
        List<String> names = List.of(lines[0].trim().split("\\s+"));
        String[] values = lines[1].trim().split("\\s+");
        double used = 0;
        for (String column : List.of("S0U", "S1U", "EU", "OU")) {
          int i = names.indexOf(column);
          if (i >= 0 && i < values.length) {
            used += Double.parseDouble(values[i]);
          }
        }
        heapKb.accumulateAndGet((long) used, Math::max);
      } catch (Exception e) {
        // no figure this time
      }
    }
  }
}

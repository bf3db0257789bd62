package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.RecordingSubscriber;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The process-level promise: the real jar, 1,000 signed webhooks acknowledged, {@code kill -9} while
 * deliveries are in flight, a restart on the same data directory, and every webhook reaches the
 * subscriber at least once. What Meta got a 200 for was durable (H2 with {@code WRITE_DELAY=0}).
 */
class RelayKillIT {
  static final int WEBHOOKS = 1000;
  static final String APP_SECRET = "it-app-secret";
  static final String ADMIN = "it-admin-token-0123456789abcdef-0123456789";
  static final String PNID = "106540352242922";
  static final Duration CALL_TIMEOUT = Duration.ofSeconds(10);
  static final Pattern WAMID = Pattern.compile("wamid\\.IT([0-9]+)");
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;
  final List<Process> processes = new ArrayList<>();
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(CALL_TIMEOUT).build();

  @AfterEach
  void killLeftovers() throws InterruptedException {
    for (Process p : processes) {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void everyAcknowledgedWebhookIsDeliveredAtLeastOnceAcrossAKill9() throws Exception {
    Set<Integer> seen = ConcurrentHashMap.newKeySet();
    Set<String> webhookIds = ConcurrentHashMap.newKeySet();
    try (RecordingSubscriber subscriber = RecordingSubscriber.start()) {
      subscriber.answer(r -> {
        Matcher m = WAMID.matcher(r.text());
        if (m.find()) {
          seen.add(Integer.parseInt(m.group(1)));
        }
        webhookIds.add(r.header("webhook-id"));
        try {
          Thread.sleep(20); // the subscriber is slow-ish, so the kill lands mid-delivery
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return RecordingSubscriber.Answer.of(200);
      });

      URI base = startLayer("first");
      post(base, "/admin/v1/numbers", "Bearer " + ADMIN, "{\"phone\":\"+15550783881\",\"phone_number_id\":\"" + PNID
          + "\",\"waba_id\":\"102290129340398\",\"business_id\":\"900\",\"meta_token\":\"EAAG-it\"}", 201);
      String key = JSON.readTree(post(base, "/admin/v1/keys", "Bearer " + ADMIN,
          "{\"phone_number_id\":\"" + PNID + "\"}", 201)).path("key").asText();
      String subscription = JSON.readTree(post(base, "/v1/webhooks", "Bearer " + key, "{\"name\":\"it\",\"url\":\""
          + subscriber.url("/hook") + "\",\"events\":[\"messages\"],\"secret\":\"it-subscriber-secret\"}", 201))
          .path("id").asText();

      ExecutorService senders = Executors.newFixedThreadPool(4);
      try {
        List<Future<Integer>> answers = new ArrayList<>();
        for (int i = 0; i < WEBHOOKS; i++) {
          int n = i;
          answers.add(senders.submit(() -> ingest(base, n)));
        }
        for (Future<Integer> f : answers) {
          assertThat(f.get(60, TimeUnit.SECONDS)).isEqualTo(200);
        }
      } finally {
        senders.shutdownNow();
      }
      subscriber.await(50, Duration.ofSeconds(30));
      Process first = processes.get(0);
      first.destroyForcibly(); // SIGKILL: no shutdown hook, no lease released
      assertThat(first.waitFor(10, TimeUnit.SECONDS)).isTrue();
      int beforeKill = seen.size();
      assertThat(beforeKill).as("the kill must land mid-delivery").isLessThan(WEBHOOKS);

      URI second = startLayer("second");
      try {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (seen.size() < WEBHOOKS && System.nanoTime() < deadline) {
          // a wait longer than one lease of the default lane (30 s): a delivery whose claim was lost is
          // attempted again once its lease ends, as the at-least-once guarantee says
          subscriber.await(subscriber.count() + 1, Duration.ofSeconds(45));
        }
        assertThat(seen).hasSize(WEBHOOKS);
        assertThat(webhookIds).hasSize(WEBHOOKS);
      } catch (AssertionError e) {
        // The layers' own logs say why (they live in the temporary directory, removed after the test).
        List<Integer> missing = java.util.stream.IntStream.range(0, WEBHOOKS).filter(i -> !seen.contains(i)).limit(20)
            .boxed().toList();
        String log = undelivered(second, key, subscription);
        // the store itself, read after the second layer stopped: were the missing webhooks stored at all?
        Process last = processes.get(processes.size() - 1);
        last.destroyForcibly();
        last.waitFor(10, TimeUnit.SECONDS);
        throw new AssertionError(e.getMessage() + "; " + beforeKill + " delivered before the kill, " + seen.size()
            + " after the restart; never seen: wamid.IT" + missing + "\n--- not delivered, in the log ---\n" + log
            + "\n--- in the store ---\n" + stored(missing)
            + "\n--- first layer ---\n" + tail("first") + "\n--- second layer ---\n" + tail("second"), e);
      }
    }
  }

  /** The deliveries of the log that are not delivered, with their attempts: what a failure needs to say. */
  private String undelivered(URI base, String key, String subscription) {
    StringBuilder out = new StringBuilder();
    for (String state : List.of("pending", "delivering", "paused", "dead", "expired", "superseded")) {
      try {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(
                base.resolve("/v1/webhooks/" + subscription + "/deliveries?status=" + state + "&limit=20"))
            .timeout(CALL_TIMEOUT).header("Authorization", "Bearer " + key).GET().build(),
            HttpResponse.BodyHandlers.ofString());
        out.append(state).append(": ").append(r.body()).append('\n');
      } catch (Exception x) {
        out.append(state).append(": (").append(x).append(")\n");
      }
    }
    return out.toString();
  }

  /**
   * What the H2 file holds of the webhooks never seen: each one's envelope and deliveries with their
   * state, and the totals (read with the layer stopped, so the file is free).
   */
  private String stored(List<Integer> missing) {
    String url = "jdbc:h2:file:" + dir.resolve("data").resolve("metalayer").toAbsolutePath() + ";ACCESS_MODE_DATA=r";
    StringBuilder out = new StringBuilder();
    try (java.sql.Connection c = java.sql.DriverManager.getConnection(url, "metalayer", "")) {
      try (java.sql.ResultSet rs = c.createStatement().executeQuery("SELECT (SELECT COUNT(*) FROM layer_envelopes),"
          + " (SELECT COUNT(*) FROM layer_deliveries), (SELECT COUNT(*) FROM layer_envelopes e WHERE NOT EXISTS"
          + " (SELECT 1 FROM layer_deliveries d WHERE d.envelope_id = e.id))")) {
        rs.next();
        out.append("envelopes ").append(rs.getLong(1)).append(", deliveries ").append(rs.getLong(2))
            .append(", envelopes without a delivery ").append(rs.getLong(3)).append('\n');
      }
      for (int n : missing) {
        try (java.sql.PreparedStatement p = c.prepareStatement("SELECT e.id, e.received_at, d.id, d.state, d.attempts,"
            + " d.next_attempt_at, d.lease_until FROM layer_envelopes e LEFT JOIN layer_deliveries d ON d.envelope_id = e.id"
            + " WHERE UTF8TOSTRING(e.body) LIKE ?")) {
          p.setString(1, "%wamid.IT" + n + "\"%");
          try (java.sql.ResultSet rs = p.executeQuery()) {
            boolean any = false;
            while (rs.next()) {
              any = true;
              out.append("wamid.IT").append(n).append(": envelope ").append(rs.getString(1)).append(" at ")
                  .append(rs.getLong(2)).append(", delivery ").append(rs.getString(3)).append(' ').append(rs.getString(4))
                  .append(" attempts ").append(rs.getInt(5)).append(" next ").append(rs.getLong(6)).append(" lease ")
                  .append(rs.getLong(7)).append('\n');
            }
            if (!any) {
              out.append("wamid.IT").append(n).append(": no envelope\n");
            }
          }
        }
      }
    } catch (java.sql.SQLException e) {
      out.append("(cannot read the store: ").append(e).append(")\n");
    }
    return out.toString();
  }

  /** The last lines of a layer's log. */
  private String tail(String name) {
    try {
      List<String> lines = java.nio.file.Files.readAllLines(dir.resolve(name + ".log"), StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
    } catch (java.io.IOException e) {
      return "(no log: " + e + ")";
    }
  }

  private int ingest(URI base, int n) throws Exception {
    byte[] body = ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"102290129340398\",\"changes\":[{"
        + "\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":"
        + "\"15550783881\",\"phone_number_id\":\"" + PNID + "\"},\"messages\":[{\"from\":\"16315553602\",\"id\":"
        + "\"wamid.IT" + n + "\",\"timestamp\":\"1749196801\",\"type\":\"text\",\"text\":{\"body\":\"caf\\u00e9 #" + n
        + "\"}}]}}]}]}").getBytes(StandardCharsets.UTF_8);
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve("/webhooks/meta")).timeout(CALL_TIMEOUT)
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", MetaFixtures.metaSignature(APP_SECRET, body))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
    return r.statusCode();
  }

  private String post(URI base, String path, String authorization, String json, int expected) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve(path)).timeout(CALL_TIMEOUT)
        .header("Authorization", authorization).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(expected);
    return r.body();
  }

  /**
   * Starts the jar on port 0 and reads the port it bound from its log. Picking a free port first and
   * passing it would race with any other process on the machine taking that port in between: the
   * layer would then fail to bind, and the readiness poll could reach someone else's server.
   */
  private URI startLayer(String name) throws Exception {
    String jar = System.getProperty("metalayer.jar");
    assertThat(jar).as("system property metalayer.jar").isNotNull();
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-jar", jar);
    Map<String, String> env = pb.environment();
    env.put("LAYER_PORT", "0");
    env.put("LAYER_HOST", "127.0.0.1");
    env.put("LAYER_DATA_DIR", dir.resolve("data").toString());
    env.put("LAYER_ALLOW_PRIVATE_TARGETS", "true");
    env.put("LAYER_DELIVERY_CONCURRENCY", "2");
    env.put("META_APP_SECRET", APP_SECRET);
    env.put("LAYER_ADMIN_TOKEN", ADMIN);
    pb.redirectErrorStream(true);
    Path log = dir.resolve(name + ".log");
    pb.redirectOutput(log.toFile());
    Process process = pb.start();
    processes.add(process);
    Pattern listening = Pattern.compile("listening on 127\\.0\\.0\\.1:([0-9]+)");
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < deadline && process.isAlive()) {
      Matcher m = listening.matcher(java.nio.file.Files.readString(log, StandardCharsets.UTF_8));
      if (m.find()) {
        URI base = URI.create("http://127.0.0.1:" + m.group(1));
        // a restarted layer resumes its backlog at once: on a busy machine its first answer can take seconds
        try {
          HttpResponse<Void> r = http.send(HttpRequest.newBuilder(base.resolve("/readyz")).timeout(Duration.ofSeconds(5))
              .GET().build(), HttpResponse.BodyHandlers.discarding());
          if (r.statusCode() == 200) {
            return base;
          }
        } catch (java.net.http.HttpTimeoutException slow) {
          // asked again until the deadline
        }
      }
      java.util.concurrent.locks.LockSupport.parkNanos(100_000_000L); // a poll interval while the JVM starts
    }
    throw new AssertionError("the " + name + " layer did not become ready:\n" + tail(name));
  }
}

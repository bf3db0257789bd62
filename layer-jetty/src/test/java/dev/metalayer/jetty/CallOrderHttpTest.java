package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.metalayer.keys.KeyService.CreatedKey;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.RecordingSubscriber;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The call order through the real server: {@code LAYER_CALL_TERMINATE_HOLD} reaches the relay, a late
 * connect is listed {@code superseded} in the delivery log, and a replay of it is refused.
 */
class CallOrderHttpTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final Duration TIMEOUT = Duration.ofSeconds(10);
  static final String APP_SECRET = "meta-app-secret";

  @TempDir Path dir;
  LayerServer server;
  RecordingSubscriber subscriber;
  HttpClient http;
  String key;

  @BeforeEach
  void start() throws Exception {
    server = LayerServer.start(Settings.of(Map.of(
        Option.PORT, "0",
        Option.HOST, "127.0.0.1",
        Option.DATA_DIR, dir.toString(),
        Option.APP_SECRET, APP_SECRET,
        Option.ALLOWED_TARGET_CIDRS, "127.0.0.0/8",
        Option.CALL_TERMINATE_HOLD, "0s"))); // no hold: the terminate goes at once
    server.layer().keys().addNumber("+13175551399", "436666719526789", "366634483210360", "900", "EAAG-1");
    key = server.layer().keys().createKey("436666719526789").map(CreatedKey::key).orElseThrow();
    subscriber = RecordingSubscriber.start();
    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(TIMEOUT).build();
  }

  @AfterEach
  void stop() throws Exception {
    server.close();
    subscriber.close();
  }

  HttpResponse<String> api(String method, String path, String json) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(server.localUri().resolve(path)).header("x-api-key", key)
        .timeout(TIMEOUT);
    b = json == null ? b.method(method, HttpRequest.BodyPublishers.noBody())
        : b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  void webhook(byte[] body) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(server.localUri().resolve("/webhooks/meta"))
        .header("Content-Type", "application/json").header("X-Hub-Signature-256", MetaFixtures.metaSignature(APP_SECRET, body))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
  }

  JsonNode awaitLog(String id, String state, int n) throws Exception {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (true) {
      JsonNode log = JSON.readTree(api("GET", "/v1/webhooks/" + id + "/deliveries?status=" + state, null).body());
      if (log.path("data").size() >= n) {
        return log;
      }
      assertThat(System.nanoTime()).as("delivery log of %s", id).isLessThan(deadline);
      java.util.concurrent.locks.LockSupport.parkNanos(10_000_000L); // a poll interval, not a timing assumption
    }
  }

  @Test
  void aConnectAfterItsDeliveredTerminateIsListedSupersededAndItsReplayIsRefused() throws Exception {
    HttpResponse<String> created = api("POST", "/v1/webhooks", "{\"name\":\"Chatwoot\",\"url\":\""
        + subscriber.url("/calls") + "\",\"events\":[\"calls\"]}");
    assertThat(created.statusCode()).isEqualTo(201);
    String id = JSON.readTree(created.body()).path("id").asText();

    byte[] terminate = MetaFixtures.at(MetaFixtures.bytes("terminate-failed.json"), Instant.now());
    webhook(terminate);
    assertThat(subscriber.await(1, TIMEOUT)).hasSize(1);
    awaitLog(id, "delivered", 1);
    byte[] connect = new String(terminate, StandardCharsets.UTF_8)
        .replace("\"event\":\"terminate\"", "\"event\":\"connect\"").getBytes(StandardCharsets.UTF_8);
    webhook(connect);

    JsonNode superseded = awaitLog(id, "superseded", 1).path("data").path(0);
    assertThat(superseded.path("state").asText()).isEqualTo("superseded");
    assertThat(superseded.path("attempt_count").asInt()).isZero();
    assertThat(superseded.path("attempts").size()).isZero();
    HttpResponse<String> replay = api("POST", "/v1/webhooks/" + id + "/deliveries/" + superseded.path("id").asText()
        + "/retry", null);
    assertThat(replay.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(replay.body()).path("error").path("message").asText()).contains("superseded");
    assertThat(subscriber.count()).isEqualTo(1);
    // the filter's own error names the new state among the others
    HttpResponse<String> bad = api("GET", "/v1/webhooks/" + id + "/deliveries?status=gone", null);
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).contains("superseded");
  }
}

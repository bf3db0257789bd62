package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.json.Json;
import dev.metalayer.keys.KeyRecord;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.RecordingSubscriber;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * What the operator sees and does over HTTP, on the real in-process layer: a key revoked through the admin
 * API is refused on the very next request; webhooks for unknown numbers are listed; the admin token reads
 * and replays any number's webhooks on {@code /v1/webhooks}, audited at INFO without the token.
 */
class OperatorApiTest {
  private static final String UNKNOWN_PNID = "777000111222333";

  @TempDir Path dir;
  InlineServer meta;
  RecordingSubscriber subscriber;
  Layer layer;
  final ListAppender<ILoggingEvent> logged = new ListAppender<>();
  final Logger root = (Logger) LoggerFactory.getLogger("dev.metalayer");

  @BeforeEach
  void start() throws Exception {
    meta = InlineServer.start(exchange -> {
      byte[] body = "{\"messaging_product\":\"whatsapp\",\"messages\":[{\"id\":\"wamid.OK\"}]}".getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    subscriber = RecordingSubscriber.start();
    layer = Layer.start(dir, meta.base(), Map.of(Option.ALLOWED_TARGET_CIDRS, "127.0.0.0/8"));
    logged.start();
    root.addAppender(logged);
  }

  @AfterEach
  void stop() throws Exception {
    root.detachAppender(logged);
    layer.close();
    subscriber.close();
    meta.close();
  }

  HttpResponse<String> call(String method, String path, String authorization, String json) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(layer.server.localUri() + path));
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    if (json == null) {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    } else {
      b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
    }
    return layer.send(b);
  }

  HttpResponse<String> admin(String method, String path, String json) throws Exception {
    return call(method, path, "Bearer " + Layer.ADMIN_TOKEN, json);
  }

  HttpResponse<String> webhook(byte[] body, String signature) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(layer.server.localUri() + "/webhooks/meta"))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (signature != null) {
      b.header("X-Hub-Signature-256", signature);
    }
    return layer.send(b);
  }

  static JsonNode json(HttpResponse<String> r) throws Exception {
    return Json.mapper().readTree(r.body());
  }

  static byte[] message(String waba, String pnid, String id) {
    return ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + waba + "\",\"changes\":[{"
        + "\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":"
        + "\"15550783881\",\"phone_number_id\":\"" + pnid + "\"},\"messages\":[{\"from\":\"16315553602\","
        + "\"id\":\"" + id + "\",\"timestamp\":\"1749196801\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}]}}]}]}")
        .getBytes(StandardCharsets.UTF_8);
  }

  List<ILoggingEvent> lines(Level level) {
    return logged.list.stream().filter(e -> e.getLevel() == level).toList();
  }

  String everythingLogged() {
    return String.join("\n", logged.list.stream().map(ILoggingEvent::getFormattedMessage).toList());
  }

  @Test
  void aKeyRevokedThroughTheAdminApiIsRefusedOnTheVeryNextRequest() throws Exception {
    String send = "{\"messaging_product\":\"whatsapp\",\"to\":\"16315553602\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}";
    assertThat(layer.post("/v22.0/" + Layer.PNID + "/messages", "Bearer " + layer.key, send).statusCode()).isEqualTo(200);
    // the key's grant is cached now; the revocation must not wait for the cache
    String keyId = layer.server.layer().keys().listKeys().stream().filter(k -> k.phoneNumberId().equals(Layer.PNID))
        .map(KeyRecord::id).findFirst().orElseThrow();

    assertThat(admin("DELETE", "/admin/v1/keys/" + keyId, null).statusCode()).isEqualTo(200);

    HttpResponse<String> refused = layer.post("/v22.0/" + Layer.PNID + "/messages", "Bearer " + layer.key, send);
    assertThat(refused.statusCode()).isEqualTo(401);
    assertThat(json(refused).at("/error/code").asInt()).isEqualTo(190);
    assertThat(layer.post("/v22.0/" + Layer.PNID_B + "/messages", "Bearer " + layer.keyB, send).statusCode())
        .as("another number's key is untouched").isEqualTo(200);
  }

  @Test
  void webhooksForUnknownNumbersAreWarnedOnceAndListedForTheOperator() throws Exception {
    for (int i = 0; i < 3; i++) {
      byte[] body = message("888000111222333", UNKNOWN_PNID, "wamid." + i);
      assertThat(webhook(body, MetaFixtures.metaSignature(Layer.APP_SECRET, body)).statusCode()).isEqualTo(200);
    }
    assertThat(lines(Level.WARN)).singleElement()
        .satisfies(e -> assertThat(e.getFormattedMessage()).contains("phone number ID " + UNKNOWN_PNID, "not registered"));

    HttpResponse<String> listed = admin("GET", "/admin/v1/unknown-numbers", null);
    assertThat(listed.statusCode()).isEqualTo(200);
    JsonNode body = json(listed);
    assertThat(body.get("total").asLong()).isEqualTo(3);
    assertThat(body.get("data")).hasSize(1);
    JsonNode seen = body.get("data").get(0);
    assertThat(seen.get("phone_number_id").asText()).isEqualTo(UNKNOWN_PNID);
    assertThat(seen.get("waba_id").asText()).isEqualTo("888000111222333");
    assertThat(seen.get("count").asLong()).isEqualTo(3);
    assertThat(java.time.Instant.parse(seen.get("first_seen").asText()))
        .isBeforeOrEqualTo(java.time.Instant.parse(seen.get("last_seen").asText()));

    assertThat(call("GET", "/admin/v1/unknown-numbers", null, null).statusCode()).isEqualTo(401);
    assertThat(call("GET", "/admin/v1/unknown-numbers", "Bearer " + layer.key, null).statusCode()).isEqualTo(401);
  }

  @Test
  void aWebhookWithABadSignatureIsWarnedWithoutAnySecret() throws Exception {
    byte[] body = message(Layer.WABA, Layer.PNID, "wamid.bad");
    String forged = MetaFixtures.metaSignature("not-the-app-secret", body);
    assertThat(webhook(body, forged).statusCode()).isEqualTo(401);
    assertThat(webhook(body, forged).statusCode()).isEqualTo(401);
    assertThat(lines(Level.WARN)).singleElement().satisfies(e -> assertThat(e.getFormattedMessage())
        .contains("Webhook refused with 401", "matches none of the 2 configured app secret(s)", Layer.PNID));
    assertThat(everythingLogged()).doesNotContain(Layer.APP_SECRET, "older-secret", forged.substring(7), Layer.TOKEN,
        Layer.ADMIN_TOKEN);
  }

  @Test
  void theAdminTokenReadsAndReplaysAnyNumbersWebhooksAndEachUseIsAudited() throws Exception {
    HttpResponse<String> created = call("POST", "/v1/webhooks", "Bearer " + layer.key, "{\"name\":\"helpdesk\",\"url\":\""
        + subscriber.url("/hook") + "\",\"events\":[\"messages\"],\"secret\":\"subscriber-secret-1\"}");
    assertThat(created.statusCode()).isEqualTo(201);
    String id = json(created).get("id").asText();
    byte[] body = message(Layer.WABA, Layer.PNID, "wamid.A");
    assertThat(webhook(body, MetaFixtures.metaSignature(Layer.APP_SECRET, body)).statusCode()).isEqualTo(200);
    subscriber.await(1, Duration.ofSeconds(20));

    HttpResponse<String> listed = admin("GET", "/v1/webhooks?phone_number_id=" + Layer.PNID, null);
    assertThat(listed.statusCode()).isEqualTo(200);
    assertThat(json(listed).get("data")).singleElement().satisfies(s -> assertThat(s.get("id").asText()).isEqualTo(id));
    assertThat(json(admin("GET", "/v1/webhooks?phone_number_id=" + Layer.PNID_B, null)).get("data")).isEmpty();
    assertThat(admin("GET", "/v1/webhooks", null).statusCode()).as("which number?").isEqualTo(400);
    assertThat(admin("GET", "/v1/webhooks/" + id, null).statusCode()).isEqualTo(200);
    assertThat(admin("GET", "/v1/webhooks/wh_nope", null).statusCode()).isEqualTo(404);

    JsonNode deliveries = json(awaitDelivered(id));
    JsonNode delivery = deliveries.get("data").get(0);
    assertThat(delivery.at("/attempts/0/latency_ms").isNumber()).as("the operator's view").isTrue();
    String deliveryId = delivery.get("id").asText();

    HttpResponse<String> replayed = admin("POST", "/v1/webhooks/" + id + "/deliveries/" + deliveryId + "/retry", null);
    assertThat(replayed.statusCode()).isEqualTo(202);
    subscriber.await(2, Duration.ofSeconds(20));
    awaitAttempts(id, 2); // a delivery being attempted is not replayed: wait until the replay is recorded
    assertThat(admin("POST", "/admin/v1/webhooks/" + id + "/deliveries/" + deliveryId + "/retry", null).statusCode())
        .isEqualTo(202);
    subscriber.await(3, Duration.ofSeconds(20));
    assertThat(admin("POST", "/v1/webhooks/" + id + "/deliveries/dlv_nope/retry", null).statusCode()).isEqualTo(404);

    // it changes nothing: a subscription is created, changed, tested and deleted with the number's key
    String spec = "{\"name\":\"x\",\"url\":\"" + subscriber.url("/x") + "\",\"events\":[\"messages\"]}";
    assertThat(admin("POST", "/v1/webhooks", spec).statusCode()).isEqualTo(403);
    assertThat(admin("PATCH", "/v1/webhooks/" + id, "{\"active\":false}").statusCode()).isEqualTo(403);
    assertThat(admin("POST", "/v1/webhooks/" + id + "/test", null).statusCode()).isEqualTo(403);
    assertThat(admin("DELETE", "/v1/webhooks/" + id, null).statusCode()).isEqualTo(403);
    assertThat(json(call("GET", "/v1/webhooks/" + id, "Bearer " + layer.key, null)).get("active").asBoolean()).isTrue();
    // and a number's key still sees only its own
    assertThat(call("GET", "/v1/webhooks/" + id, "Bearer " + layer.keyB, null).statusCode()).isEqualTo(404);

    List<String> audit = lines(Level.INFO).stream().map(ILoggingEvent::getFormattedMessage)
        .filter(l -> l.startsWith("Admin token: ")).toList();
    assertThat(audit).contains(
        "Admin token: read the 1 webhook subscription(s) of phone number ID " + Layer.PNID,
        "Admin token: read webhook subscription " + id + " of phone number ID " + Layer.PNID,
        "Admin token: read the delivery log of webhook subscription " + id + " of phone number ID " + Layer.PNID,
        "Admin token: replayed delivery " + deliveryId + " of webhook subscription " + id + " of phone number ID "
            + Layer.PNID);
    assertThat(everythingLogged()).doesNotContain(Layer.ADMIN_TOKEN, "subscriber-secret-1", layer.key);
  }

  @Test
  void guessesAtTheAdminTokenOnTheSubscriptionsApiAreLimitedAsOnTheAdminApi() throws Exception {
    for (int i = 0; i < LayerServer.ADMIN_FAILURES; i++) {
      assertThat(call("GET", "/v1/webhooks?phone_number_id=" + Layer.PNID, "Bearer guess-" + i, null).statusCode())
          .isEqualTo(401);
    }
    HttpResponse<String> limited = call("GET", "/v1/webhooks?phone_number_id=" + Layer.PNID, "Bearer guess-x", null);
    assertThat(limited.statusCode()).isEqualTo(429);
    assertThat(limited.headers().firstValue("Retry-After")).isPresent();
    // the same limit on the admin API itself: one count per address
    assertThat(admin("GET", "/admin/v1/keys", null).statusCode()).as("the right token always passes").isEqualTo(200);
    assertThat(call("GET", "/admin/v1/keys", "Bearer guess-y", null).statusCode()).isEqualTo(429);
    assertThat(admin("GET", "/v1/webhooks?phone_number_id=" + Layer.PNID, null).statusCode()).isEqualTo(200);
    // a number's key is not a guess at the admin token, and is never limited by one
    assertThat(call("GET", "/v1/webhooks", "Bearer " + layer.key, null).statusCode()).isEqualTo(200);
    assertThat(everythingLogged()).doesNotContain("guess-");
  }

  private void awaitAttempts(String id, int attempts) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (json(awaitDelivered(id)).at("/data/0/attempt_count").asInt() < attempts) {
      assertThat(System.nanoTime()).as("attempts recorded in time").isLessThan(deadline);
      java.util.concurrent.locks.LockSupport.parkNanos(50_000_000L);
    }
  }

  private HttpResponse<String> awaitDelivered(String id) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (true) {
      HttpResponse<String> r = admin("GET", "/v1/webhooks/" + id + "/deliveries?status=delivered", null);
      assertThat(r.statusCode()).isEqualTo(200);
      if (json(r).get("data").size() > 0 || System.nanoTime() > deadline) {
        return r;
      }
      java.util.concurrent.locks.LockSupport.parkNanos(50_000_000L); // the delivery's state is written after the answer
    }
  }
}

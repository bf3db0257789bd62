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
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What one number's key can learn and cause through the relay's HTTP surface: the delivery log shows
 * it only the status and error class of an attempt (the operator sees the answer), a conflicting pair
 * of keys is refused, a number cannot pass its subscription cap, and on a shared WABA another number's
 * status events never reach its webhooks.
 */
class RelayIsolationHttpTest {
  static final String APP_SECRET = "meta-app-secret";
  static final String ADMIN = "admin-token-for-relay-isolation-tests-0123456789";
  static final String PNID_1 = "436666719526789";
  static final String PNID_2 = "106540352242922";
  static final ObjectMapper JSON = new ObjectMapper();
  static final Duration TIMEOUT = Duration.ofSeconds(10);

  @TempDir Path dir;
  LayerServer server;
  RecordingSubscriber internal;
  HttpClient http;
  String key1;
  String key2;

  @BeforeEach
  void start() throws Exception {
    server = LayerServer.start(Settings.of(Map.of(
        Option.PORT, "0",
        Option.HOST, "127.0.0.1",
        Option.DATA_DIR, dir.toString(),
        Option.APP_SECRET, APP_SECRET,
        Option.ADMIN_TOKEN, ADMIN,
        Option.MAX_SUBSCRIPTIONS_PER_NUMBER, "2",
        Option.ALLOWED_TARGET_CIDRS, "127.0.0.0/8")));
    server.layer().keys().addNumber("+13175551399", PNID_1, "366634483210360", "900", "EAAG-1");
    server.layer().keys().addNumber("+15550783881", PNID_2, "102290129340398", "900", "EAAG-2");
    key1 = server.layer().keys().createKey(PNID_1).map(CreatedKey::key).orElseThrow();
    key2 = server.layer().keys().createKey(PNID_2).map(CreatedKey::key).orElseThrow();
    internal = RecordingSubscriber.start();
    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(TIMEOUT).build();
  }

  @AfterEach
  void stop() throws Exception {
    server.close();
    internal.close();
  }

  HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
    return http.send(b.timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpRequest.Builder at(String path) {
    return HttpRequest.newBuilder(server.localUri().resolve(path));
  }

  HttpResponse<String> create(HttpRequest.Builder authorized, String url) throws Exception {
    return send(authorized.header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
        "{\"name\":\"x\",\"url\":\"" + url + "\",\"events\":[\"messages\"]}")));
  }

  @Test
  void theDeliveryLogShowsAKeyOnlyTheStatusAndErrorClassWhileTheOperatorSeesTheAnswer() throws Exception {
    // an "internal service" the layer may reach (private targets allowed): it answers with its secrets
    internal.answer(r -> new RecordingSubscriber.Answer(500, Map.of(), "{\"internal\":\"db-password=hunter2\"}"));
    HttpResponse<String> created = create(at("/v1/webhooks").header("x-api-key", key1), internal.url("/admin"));
    assertThat(created.statusCode()).isEqualTo(201);
    String id = JSON.readTree(created.body()).path("id").asText();
    byte[] body = MetaFixtures.bytes("multi-entry.json");
    send(at("/webhooks/meta").header("X-Hub-Signature-256", MetaFixtures.metaSignature(APP_SECRET, body))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)));
    internal.await(1, TIMEOUT);

    JsonNode attempt = awaitAttempt("/v1/webhooks/" + id + "/deliveries", "x-api-key", key1);
    assertThat(attempt.path("status_code").asInt()).isEqualTo(500);
    assertThat(attempt.has("response_excerpt")).isFalse();
    assertThat(attempt.has("error")).isFalse();
    assertThat(attempt.has("latency_ms")).isFalse();
    assertThat(attempt.toString()).doesNotContain("hunter2");

    JsonNode operator = awaitAttempt("/admin/v1/webhooks/" + id + "/deliveries", "Authorization", "Bearer " + ADMIN);
    assertThat(operator.path("response_excerpt").asText()).contains("hunter2");
    assertThat(operator.path("latency_ms").isNumber()).isTrue();
    // the operator finds the subscription through the number; a key never reaches the admin view
    assertThat(JSON.readTree(send(at("/admin/v1/numbers/" + PNID_1 + "/webhooks")
        .header("Authorization", "Bearer " + ADMIN).GET()).body()).path("data").path(0).path("id").asText()).isEqualTo(id);
    assertThat(send(at("/admin/v1/webhooks/" + id + "/deliveries").header("Authorization", "Bearer " + key1).GET())
        .statusCode()).isEqualTo(401);
  }

  @Test
  void aFailureWithoutAnswerShowsAKeyOnlyItsErrorClass() throws Exception {
    int closed;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort(); // free again once closed: a connection there is refused
    }
    HttpResponse<String> created = create(at("/v1/webhooks").header("x-api-key", key1), "http://127.0.0.1:" + closed + "/x");
    String id = JSON.readTree(created.body()).path("id").asText();
    byte[] body = MetaFixtures.bytes("multi-entry.json");
    send(at("/webhooks/meta").header("X-Hub-Signature-256", MetaFixtures.metaSignature(APP_SECRET, body))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)));

    JsonNode attempt = awaitAttempt("/v1/webhooks/" + id + "/deliveries", "x-api-key", key1);
    assertThat(attempt.path("status_code").isNull()).isTrue();
    assertThat(attempt.path("error_class").asText()).isEqualTo("connection_refused");
    assertThat(attempt.has("error")).isFalse();
  }

  @Test
  void anXApiKeyAndADifferentBearerKeyOnTheSubscriptionsApiAreRefusedWith400() throws Exception {
    HttpResponse<String> conflict = send(at("/v1/webhooks").header("x-api-key", key1)
        .header("Authorization", "Bearer " + key2).GET());
    assertThat(conflict.statusCode()).isEqualTo(400);
    JsonNode error = JSON.readTree(conflict.body()).path("error");
    assertThat(error.path("message").asText()).contains("Conflicting access tokens");
    assertThat(error.path("code").asInt()).isEqualTo(100);
    assertThat(conflict.body()).doesNotContain(key1).doesNotContain(key2);
    // nothing was created under either key
    assertThat(create(at("/v1/webhooks").header("x-api-key", key1).header("Authorization", "Bearer " + key2),
        internal.url("/a")).statusCode()).isEqualTo(400);
    assertThat(server.layer().relay().subscriptions().list(PNID_1)).isEmpty();
    assertThat(server.layer().relay().subscriptions().list(PNID_2)).isEmpty();

    // the same key in both places is one credential
    assertThat(send(at("/v1/webhooks").header("x-api-key", key1).header("Authorization", "Bearer " + key1).GET())
        .statusCode()).isEqualTo(200);
  }

  @Test
  void aNumberPastItsSubscriptionCapIsRefusedWithTheRuleNamed() throws Exception {
    for (int i = 0; i < 2; i++) {
      assertThat(create(at("/v1/webhooks").header("x-api-key", key1), internal.url("/" + i)).statusCode()).isEqualTo(201);
    }
    HttpResponse<String> third = create(at("/v1/webhooks").header("x-api-key", key1), internal.url("/3"));
    assertThat(third.statusCode()).isEqualTo(400);
    JsonNode error = JSON.readTree(third.body()).path("error");
    assertThat(error.path("message").asText()).contains("Subscription cap").contains("at most 2")
        .contains("LAYER_MAX_SUBSCRIPTIONS_PER_NUMBER");
    assertThat(error.path("type").asText()).isEqualTo("OAuthException");
    // another number's cap is its own
    assertThat(create(at("/v1/webhooks").header("x-api-key", key2), internal.url("/b")).statusCode()).isEqualTo(201);
  }

  @Test
  void anotherNumbersQualityNameAndAccountEventsOnASharedWabaReachOnlyThatNumbersWebhooks() throws Exception {
    // number B shares number 1's WABA; tenant A (key1) subscribes to the number-level account events
    String pnidB = "222000000000222";
    server.layer().keys().addNumber("+15550000222", pnidB, "366634483210360", "900", "EAAG-B");
    String keyB = server.layer().keys().createKey(pnidB).map(CreatedKey::key).orElseThrow();
    String events = "[\"phone_number_quality_update\",\"phone_number_name_update\",\"account_update\"]";
    try (RecordingSubscriber a = RecordingSubscriber.start(); RecordingSubscriber b = RecordingSubscriber.start()) {
      String idA = subscribe(key1, a.url("/a"), events);
      subscribe(keyB, b.url("/b"), events);
      String quality = "{\"field\":\"phone_number_quality_update\",\"value\":"
          + "{\"display_phone_number\":\"15550000222\",\"event\":\"FLAGGED\",\"current_limit\":\"TIER_1K\"}}";
      byte[] body = ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"366634483210360\","
          + "\"time\":1767225600,\"changes\":[" + quality + ","
          + "{\"field\":\"phone_number_name_update\",\"value\":{\"display_phone_number\":\"15550000222\","
          + "\"decision\":\"APPROVED\",\"requested_verified_name\":\"B Clinic Ltd\",\"rejection_reason\":null}},"
          + "{\"field\":\"account_update\",\"value\":{\"phone_number\":\"15550000222\","
          + "\"event\":\"ACCOUNT_VIOLATION\",\"violation_info\":{\"violation_type\":\"SCAM\"}}},"
          // about the whole WABA: both tenants get it
          + "{\"field\":\"account_update\",\"value\":{\"event\":\"VOLUME_BASED_PRICING_TIER_UPDATE\"}}"
          + "]}]}").getBytes(StandardCharsets.UTF_8);
      HttpResponse<String> posted = send(at("/webhooks/meta").header("Content-Type", "application/json")
          .header("X-Hub-Signature-256", MetaFixtures.metaSignature(APP_SECRET, body))
          .POST(HttpRequest.BodyPublishers.ofByteArray(body)));
      assertThat(posted.statusCode()).isEqualTo(200);

      // routing is done when Meta is answered: A's log holds every delivery it will ever get for this body
      JsonNode logA = JSON.readTree(send(at("/v1/webhooks/" + idA + "/deliveries").header("x-api-key", key1).GET())
          .body()).path("data");
      assertThat(logA).hasSize(1);
      assertThat(logA.path(0).path("field").asText()).isEqualTo("account_update");
      assertThat(a.await(1, TIMEOUT)).singleElement()
          .satisfies(r -> assertThat(r.text()).contains("VOLUME_BASED_PRICING_TIER_UPDATE")
              .doesNotContain("15550000222").doesNotContain("B Clinic"));

      assertThat(b.await(4, TIMEOUT)).hasSize(4);
      assertThat(b.received().stream().map(RecordingSubscriber.Received::text))
          .anySatisfy(t -> assertThat(t).contains("\"changes\":[" + quality + "]"))
          .anySatisfy(t -> assertThat(t).contains("B Clinic Ltd"))
          .anySatisfy(t -> assertThat(t).contains("ACCOUNT_VIOLATION"))
          .anySatisfy(t -> assertThat(t).contains("VOLUME_BASED_PRICING_TIER_UPDATE"));
      assertThat(a.count()).isEqualTo(1);
    }
  }

  private String subscribe(String key, String url, String events) throws Exception {
    HttpResponse<String> created = send(at("/v1/webhooks").header("x-api-key", key)
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
            "{\"name\":\"x\",\"url\":\"" + url + "\",\"events\":" + events + "}")));
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    return JSON.readTree(created.body()).path("id").asText();
  }

  private JsonNode awaitAttempt(String path, String header, String value) throws Exception {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (true) {
      HttpResponse<String> r = send(at(path).header(header, value).GET());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      JsonNode attempt = JSON.readTree(r.body()).path("data").path(0).path("attempts").path(0);
      if (!attempt.isMissingNode()) {
        return attempt;
      }
      assertThat(System.nanoTime()).as("an attempt in the log of " + path).isLessThan(deadline);
      java.util.concurrent.locks.LockSupport.parkNanos(20_000_000L); // a poll interval, not a timing assumption
    }
  }
}

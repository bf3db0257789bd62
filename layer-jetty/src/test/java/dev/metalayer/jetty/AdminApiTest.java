package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.json.Json;
import dev.metalayer.keys.Resolution;
import dev.metalayer.testing.MetaFixtures;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdminApiTest {
  private static final String ADMIN = "admin-token-for-tests-0123456789";
  private static final String META_TOKEN = "EAAG-real-meta-token-xyz";
  private static final String APP_SECRET = "meta-app-secret-for-admin-test";
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  @TempDir Path dir;
  LayerServer layer;

  @BeforeEach
  void start() throws Exception {
    layer = LayerServer.start(Settings.of(Map.of(
        Option.PORT, "0", Option.HOST, "127.0.0.1", Option.DATA_DIR, dir.toString(), Option.ADMIN_TOKEN, ADMIN,
        Option.APP_SECRET, APP_SECRET, Option.ALLOWED_TARGET_CIDRS, "127.0.0.0/8")));
  }

  @AfterEach
  void stop() throws Exception {
    layer.close();
  }

  private HttpResponse<String> call(String method, String path, String token, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(layer.localUri() + path))
        .timeout(Duration.ofSeconds(10))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> r) throws Exception {
    assertThat(r.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
    return Json.mapper().readTree(r.body());
  }

  private static final String NUMBER = "{\"phone\":\"+15550783881\",\"phone_number_id\":\"106540352242922\","
      + "\"waba_id\":\"102290129340398\",\"business_id\":\"555\",\"meta_token\":\"" + META_TOKEN + "\"}";

  @Test
  void numbersAndKeysLifeCycle() throws Exception {
    HttpResponse<String> added = call("POST", "/admin/v1/numbers", ADMIN, NUMBER);
    assertThat(added.statusCode()).isEqualTo(201);
    assertThat(added.body()).doesNotContain(META_TOKEN);
    assertThat(json(added).get("phone_number_id").asText()).isEqualTo("106540352242922");

    assertThat(call("POST", "/admin/v1/numbers", ADMIN, NUMBER).statusCode()).isEqualTo(409);
    HttpResponse<String> listed = call("GET", "/admin/v1/numbers", ADMIN, null);
    assertThat(json(listed).get("data")).hasSize(1);
    assertThat(listed.body()).doesNotContain(META_TOKEN);

    HttpResponse<String> created = call("POST", "/admin/v1/keys", ADMIN, "{\"phone_number_id\":\"106540352242922\"}");
    assertThat(created.statusCode()).isEqualTo(201);
    JsonNode key = json(created);
    String secret = key.get("key").asText();
    assertThat(secret).startsWith("ps_");
    assertThat(key.get("prefix").asText()).isEqualTo(secret.substring(0, 8));
    assertThat(layer.layer().tokenResolver().resolve(secret)).isInstanceOf(Resolution.Granted.class);

    HttpResponse<String> keys = call("GET", "/admin/v1/keys", ADMIN, null);
    assertThat(keys.body()).doesNotContain(secret);
    assertThat(json(keys).get("data").get(0).get("last_used_at").isNull()).isFalse();

    String id = key.get("id").asText();
    assertThat(call("DELETE", "/admin/v1/keys/" + id, ADMIN, null).statusCode()).isEqualTo(200);
    assertThat(layer.layer().tokenResolver().resolve(secret)).isInstanceOf(Resolution.Refused.class);
    assertThat(call("DELETE", "/admin/v1/keys/" + id, ADMIN, null).statusCode()).isEqualTo(404);

    assertThat(call("PATCH", "/admin/v1/numbers/106540352242922", ADMIN, "{\"meta_token\":\"EAAG-rotated\"}").statusCode())
        .isEqualTo(200);
    assertThat(call("DELETE", "/admin/v1/numbers/106540352242922", ADMIN, null).statusCode()).isEqualTo(200);
    assertThat(json(call("GET", "/admin/v1/numbers", ADMIN, null)).get("data")).isEmpty();
  }

  @Test
  void aRotatedTokenBreakingTheTokenRuleIsA400NamingTheRuleAndChangesNothing() throws Exception {
    assertThat(call("POST", "/admin/v1/numbers", ADMIN, NUMBER).statusCode()).isEqualTo(201);
    for (String bad : List.of("EAAG\\r\\nX-Injected: 1", "EAAGcaf\u00e9", "EAAG tok")) {
      HttpResponse<String> r = call("PATCH", "/admin/v1/numbers/106540352242922", ADMIN, "{\"meta_token\":\"" + bad + "\"}");
      assertThat(r.statusCode()).as(bad).isEqualTo(400);
      JsonNode error = json(r).get("error");
      assertThat(error.get("code").asInt()).isEqualTo(100);
      assertThat(error.get("message").asText()).contains("meta_token must be plain visible ASCII");
      assertThat(r.body()).doesNotContain("X-Injected").doesNotContain("caf");
    }
    Resolution.Granted granted = (Resolution.Granted) layer.layer().tokenResolver().resolve(
        json(call("POST", "/admin/v1/keys", ADMIN, "{\"phone_number_id\":\"106540352242922\"}")).get("key").asText());
    assertThat(granted.grant().metaToken()).isEqualTo(META_TOKEN);
  }

  @Test
  void removingANumberRemovesItsWebhookSubscriptionsAndTheirPendingDeliveries() throws Exception {
    String pnid = "106540352242922";
    assertThat(call("POST", "/admin/v1/numbers", ADMIN, NUMBER).statusCode()).isEqualTo(201);
    String key = json(call("POST", "/admin/v1/keys", ADMIN, "{\"phone_number_id\":\"" + pnid + "\"}")).get("key").asText();
    // nothing listens on port 1: the delivery fails and stays pending for its next attempt
    HttpResponse<String> created = withKey("POST", "/v1/webhooks", key,
        "{\"name\":\"Chatwoot\",\"url\":\"http://127.0.0.1:1/hook\",\"events\":[\"messages\"]}");
    assertThat(created.statusCode()).isEqualTo(201);
    String subscription = json(created).get("id").asText();
    byte[] message = ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"102290129340398\",\"changes\":[{"
        + "\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"phone_number_id\":\""
        + pnid + "\"},\"messages\":[{\"id\":\"wamid.1\",\"type\":\"text\"}]}}]}]}").getBytes(StandardCharsets.UTF_8);
    HttpResponse<String> posted = http.send(HttpRequest.newBuilder(URI.create(layer.localUri() + "/webhooks/meta"))
        .timeout(Duration.ofSeconds(10)).header("X-Hub-Signature-256", MetaFixtures.metaSignature(APP_SECRET, message))
        .POST(HttpRequest.BodyPublishers.ofByteArray(message)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(posted.statusCode()).isEqualTo(200);
    assertThat(json(withKey("GET", "/v1/webhooks/" + subscription + "/deliveries", key, null)).get("data")).hasSize(1);

    assertThat(call("DELETE", "/admin/v1/numbers/" + pnid, ADMIN, null).statusCode()).isEqualTo(200);

    assertThat(layer.layer().relay().subscriptions().list(pnid)).isEmpty();
    H2Store store = (H2Store) layer.store(); // the layer's own store, in this process: the file has no other user
    assertThat(rows(store, "layer_subscriptions")).isZero();
    assertThat(rows(store, "layer_deliveries")).as("the pending delivery went with its subscription").isZero();
    assertThat(rows(store, "layer_attempts")).isZero();
    // the number comes back with a new key: none of its old subscriptions is there
    assertThat(call("POST", "/admin/v1/numbers", ADMIN, NUMBER).statusCode()).isEqualTo(201);
    String newKey =
        json(call("POST", "/admin/v1/keys", ADMIN, "{\"phone_number_id\":\"" + pnid + "\"}")).get("key").asText();
    assertThat(json(withKey("GET", "/v1/webhooks", newKey, null)).get("data")).isEmpty();
    assertThat(withKey("GET", "/v1/webhooks/" + subscription, newKey, null).statusCode()).isEqualTo(404);
  }

  private HttpResponse<String> withKey(String method, String path, String key, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(layer.localUri() + path))
        .timeout(Duration.ofSeconds(10))
        .header("x-api-key", key)
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static long rows(H2Store store, String table) {
    return store.database().withConnection(c -> {
      try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM " + table)) {
        rs.next();
        return rs.getLong(1);
      }
    });
  }

  @Test
  void theAdminTokenIsCheckedAndNeverEchoed() throws Exception {
    HttpResponse<String> none = call("GET", "/admin/v1/numbers", null, null);
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(none.headers().firstValue("www-authenticate")).isPresent();
    assertThat(json(none).at("/error/code").asInt()).isEqualTo(190);
    HttpResponse<String> wrong = call("GET", "/admin/v1/numbers", "wrong-" + ADMIN, null);
    assertThat(wrong.statusCode()).isEqualTo(401);
    assertThat(wrong.body()).doesNotContain(ADMIN);
  }

  @Test
  void failedAdminTokensAreLoggedWithoutTheTokenAndLimitedPerAddressWithoutLockingOutTheRightToken() throws Exception {
    ch.qos.logback.classic.Logger logger =
        (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(AdminHandler.class);
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines =
        new ch.qos.logback.core.read.ListAppender<>();
    lines.start();
    logger.addAppender(lines);
    try {
      String guess = "guess-" + ADMIN;
      for (int i = 0; i < LayerServer.ADMIN_FAILURES; i++) {
        assertThat(call("GET", "/admin/v1/numbers", guess + i, null).statusCode()).isEqualTo(401);
      }
      HttpResponse<String> limited = call("GET", "/admin/v1/numbers", guess, null);
      assertThat(limited.statusCode()).isEqualTo(429);
      assertThat(limited.headers().firstValue("retry-after")).hasValueSatisfying(v ->
          assertThat(Long.parseLong(v)).isBetween(1L, LayerServer.ADMIN_FAILURE_WINDOW.toSeconds()));
      assertThat(json(limited).at("/error/code").asInt()).isEqualTo(4);
      assertThat(json(limited).at("/error/message").asText()).contains("Too many failed admin tokens");
      assertThat(call("GET", "/admin/v1/numbers", ADMIN, null).statusCode())
          .as("the right token from the same address: an attacker's failures never lock the operator out")
          .isEqualTo(200);
      assertThat(call("GET", "/admin/v1/numbers", guess, null).statusCode()).as("guesses stay limited").isEqualTo(429);

      List<String> logged = lines.list.stream().map(e -> e.getFormattedMessage()).toList();
      assertThat(logged).hasSize(LayerServer.ADMIN_FAILURES + 1);
      assertThat(logged.get(0)).contains("127.0.0.1").contains("1 of " + LayerServer.ADMIN_FAILURES);
      assertThat(logged.get(LayerServer.ADMIN_FAILURES)).contains("refusing 127.0.0.1");
      assertThat(String.join("\n", logged)).doesNotContain("guess-").doesNotContain(ADMIN);
    } finally {
      logger.detachAppender(lines);
    }
  }

  @Test
  void theStoreSizeIsShownToTheOperator() throws Exception {
    HttpResponse<String> r = call("GET", "/admin/v1/store", ADMIN, null);
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode store = json(r);
    assertThat(store.get("file_bytes").asLong()).isEqualTo(java.nio.file.Files.size(dir.resolve(H2Store.FILE_NAME)));
    assertThat(store.get("deliveries").asLong()).isZero();
    assertThat(store.get("envelopes").asLong()).isZero();
    assertThat(store.get("file_bytes_per_delivery").isNull()).isTrue();
    assertThat(store.has("fill_rate_percent")).isTrue();
    assertThat(call("GET", "/admin/v1/store", null, null).statusCode()).isEqualTo(401);
    assertThat(call("DELETE", "/admin/v1/store", ADMIN, null).statusCode()).isEqualTo(405);
  }

  @Test
  void badInputGetsGraphShapedErrorsAndStoresNothing() throws Exception {
    assertThat(call("POST", "/admin/v1/numbers", ADMIN, "{not json").statusCode()).isEqualTo(400);
    assertThat(call("POST", "/admin/v1/numbers", ADMIN, "[1,2]").statusCode()).isEqualTo(400);
    HttpResponse<String> invalid = call("POST", "/admin/v1/numbers", ADMIN, NUMBER.replace("+15550783881", "15550783881"));
    assertThat(invalid.statusCode()).isEqualTo(400);
    assertThat(json(invalid).at("/error/message").asText()).contains("phone");
    assertThat(invalid.body()).doesNotContain(META_TOKEN);
    assertThat(call("POST", "/admin/v1/numbers", ADMIN, "{\"x\":\"" + "a".repeat(70_000) + "\"}").statusCode())
        .isEqualTo(413);
    assertThat(call("POST", "/admin/v1/keys", ADMIN, "{\"phone_number_id\":\"404\"}").statusCode()).isEqualTo(404);
    assertThat(call("PUT", "/admin/v1/numbers", ADMIN, "{}").statusCode()).isEqualTo(405);
    assertThat(json(call("GET", "/admin/v1/numbers", ADMIN, null)).get("data")).isEmpty();
  }

  @Test
  void withoutATokenTheAdminApiAnswers403NamingTheVariableThatEnablesIt(@TempDir Path other) throws Exception {
    try (LayerServer plain = LayerServer.start(Settings.of(Map.of(
        Option.PORT, "0", Option.HOST, "127.0.0.1", Option.DATA_DIR, other.toString())))) {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(plain.localUri() + "/admin/v1/numbers"))
          .timeout(Duration.ofSeconds(10)).header("Authorization", "Bearer anything").build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(403);
      assertThat(json(r).at("/error/message").asText()).contains("admin API is disabled").contains("LAYER_ADMIN_TOKEN");
      assertThat(json(r).at("/error/fbtrace_id").asText()).isNotBlank();
    }
  }

  @Test
  void healthReadinessAndUnknownPaths() throws Exception {
    HttpResponse<String> health = call("GET", "/healthz", null, null);
    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(json(health).get("status").asText()).isEqualTo("ok");
    assertThat(json(health).get("version").asText()).isEqualTo(LayerVersion.VERSION).isNotEqualTo("unknown");
    HttpResponse<String> ready = call("GET", "/readyz", null, null);
    assertThat(ready.statusCode()).isEqualTo(200);
    assertThat(json(ready).get("status").asText()).isEqualTo("ready");
    HttpResponse<String> unknown = call("GET", "/nowhere", null, null);
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(json(unknown).at("/error/fbtrace_id").asText()).isNotBlank();
  }
}

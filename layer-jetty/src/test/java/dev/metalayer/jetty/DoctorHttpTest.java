package dev.metalayer.jetty;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static dev.metalayer.jetty.Layer.PNID;
import static dev.metalayer.jetty.Layer.PNID_B;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.core.Options;
import dev.metalayer.json.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Meta doctor through a running layer: its admin routes (the admin token required, an unknown
 * number a Graph-shaped 404, the documented JSON shape, no token in an answer) and the {@code doctor}
 * command of the CLI against it.
 */
class DoctorHttpTest {
  static final String APP_ID = "1234567890123";
  static final String V = "/v23.0/";

  WireMockServer meta;
  @TempDir Path dir;
  Layer layer;

  @BeforeEach
  void start() throws Exception {
    meta = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1")
        .useChunkedTransferEncoding(Options.ChunkedEncodingPolicy.NEVER));
    meta.start();
    meta.stubFor(get(urlPathEqualTo(V + "debug_token")).willReturn(okJson("{\"data\":{\"app_id\":\"" + APP_ID
        + "\",\"is_valid\":true,\"expires_at\":0,\"scopes\":[\"whatsapp_business_messaging\","
        + "\"whatsapp_business_management\"]}}")));
    meta.stubFor(get(urlPathMatching(V + "[0-9]+/subscribed_apps")).willReturn(okJson(
        "{\"data\":[{\"whatsapp_business_api_data\":{\"id\":\"" + APP_ID + "\"}}]}")));
    meta.stubFor(get(urlPathMatching(V + "[0-9]+/settings")).willReturn(okJson(
        "{\"calling\":{\"status\":\"ENABLED\",\"sip\":{\"status\":\"DISABLED\"}}}")));
    layer = Layer.start(dir, meta.baseUrl(), Map.of(Option.APP_ID, APP_ID));
    String callback = layer.server.localUri() + "/webhooks/meta";
    meta.stubFor(get(urlPathMatching(V + "[0-9]+")).willReturn(okJson("{\"status\":\"CONNECTED\",\"quality_rating\":"
        + "\"GREEN\",\"messaging_limit_tier\":\"TIER_10K\",\"webhook_configuration\":{\"application\":\"" + callback + "\"}}")));
    // number B's calling is off
    meta.stubFor(get(urlPathEqualTo(V + PNID_B + "/settings")).willReturn(okJson(
        "{\"calling\":{\"status\":\"DISABLED\"}}")));
  }

  @AfterEach
  void stop() throws Exception {
    layer.close();
    meta.stop();
  }

  private HttpResponse<String> admin(String path, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(layer.server.localUri() + "/admin/v1" + path)).GET();
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return layer.send(b);
  }

  @Test
  void oneNumbersChecksNeedTheAdminTokenAndShowNoToken() throws Exception {
    assertThat(admin("/numbers/" + PNID + "/doctor", null).statusCode()).isEqualTo(401);
    assertThat(admin("/numbers/" + PNID + "/doctor", "wrong-token-wrong-token-wrong-token").statusCode()).isEqualTo(401);
    assertThat(layer.key).isNotBlank();
    assertThat(admin("/numbers/" + PNID + "/doctor", layer.key).statusCode()).as("a number's key is no admin token")
        .isEqualTo(401);

    HttpResponse<String> r = admin("/numbers/" + PNID + "/doctor", Layer.ADMIN_TOKEN);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/json");
    JsonNode body = Json.mapper().readTree(r.body());
    assertThat(body.path("phone_number_id").asText()).isEqualTo(PNID);
    // no webhook yet and no subscription: two warnings, everything else ok
    assertThat(body.path("status").asText()).isEqualTo("warn");
    assertThat(body.path("checked_at").asText()).isNotEmpty();
    assertThat(body.path("checks")).hasSize(10);
    for (JsonNode c : body.path("checks")) {
      assertThat(c.path("number").asText()).isEqualTo(PNID);
      assertThat(c.path("status").asText()).isIn("ok", "warn");
      assertThat(c.has("fix")).as(c.toString()).isEqualTo(!c.path("status").asText().equals("ok"));
      assertThat(c.path("detail").asText()).isNotEmpty();
    }
    assertThat(body.path("checks").get(0).path("name").asText()).isEqualTo("token");
    assertThat(r.body()).doesNotContain(Layer.TOKEN).doesNotContain(Layer.APP_SECRET);
  }

  @Test
  void anUnknownNumberIsAGraphShaped404() throws Exception {
    HttpResponse<String> r = admin("/numbers/999999/doctor", Layer.ADMIN_TOKEN);
    assertThat(r.statusCode()).isEqualTo(404);
    JsonNode error = Json.mapper().readTree(r.body()).path("error");
    assertThat(error.path("message").asText()).isEqualTo("No such number.");
    assertThat(error.path("fbtrace_id").asText()).isNotEmpty();
    assertThat(layer.send(HttpRequest.newBuilder(URI.create(layer.server.localUri() + "/admin/v1/doctor"))
        .header("Authorization", "Bearer " + Layer.ADMIN_TOKEN).POST(HttpRequest.BodyPublishers.noBody())).statusCode())
        .isEqualTo(405);
  }

  @Test
  void everyNumbersChecksNameTheirNumber() throws Exception {
    HttpResponse<String> r = admin("/doctor", Layer.ADMIN_TOKEN);
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode body = Json.mapper().readTree(r.body());
    assertThat(body.path("status").asText()).isEqualTo("fail");
    assertThat(body.has("phone_number_id")).isFalse();
    assertThat(body.path("checks")).hasSize(20);
    JsonNode calling = null;
    for (JsonNode c : body.path("checks")) {
      if (c.path("number").asText().equals(PNID_B) && c.path("name").asText().equals("calling")) {
        calling = c;
      }
    }
    assertThat(calling).isNotNull();
    assertThat(calling.path("status").asText()).isEqualTo("fail");
    assertThat(calling.path("fix").asText()).contains("POST /" + PNID_B + "/settings");
    assertThat(r.body()).doesNotContain(Layer.TOKEN).doesNotContain(Layer.TOKEN_B);
  }

  private record Run(int status, String out, String err) {}

  private Run cli(String... args) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = Main.run(args, Map.of("LAYER_ADMIN_TOKEN", Layer.ADMIN_TOKEN), new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void theCliPrintsEachCheckWithItsFixAndFailsWhenACheckFails() throws Exception {
    String url = layer.server.localUri().toString();
    Run one = cli("doctor", "--number", PNID, "--layer-url", url);
    assertThat(one.status()).as(one.err()).isZero();
    assertThat(one.out()).contains("STATUS", "token", "messaging_limit", "TIER_10K", "last_webhook", "fix: ")
        .contains("doctor: warn (10 checks at ");
    assertThat(one.out() + one.err()).doesNotContain(Layer.TOKEN).doesNotContain(Layer.ADMIN_TOKEN);

    // as docs/operations.md writes it: the server flag first
    Run all = cli("--layer-url", url, "doctor");
    assertThat(all.status()).isEqualTo(RemoteCli.DOCTOR_FAILED);
    assertThat(all.out()).contains(PNID_B).containsPattern("fail +" + PNID_B + " +calling +Calling is disabled");

    Run unknown = cli("doctor", "--number", "999999", "--layer-url", url);
    assertThat(unknown.status()).isEqualTo(1);
    assertThat(unknown.err()).contains("No such number.", "HTTP 404");

    Run noUrl = cli("doctor", "--data-dir", dir.resolve("elsewhere").toString());
    assertThat(noUrl.status()).isEqualTo(ConfigError.STATUS);
    assertThat(noUrl.err()).contains("doctor asks a running layer", "--layer-url");

    Run typo = cli("doctor", "--numbr", PNID, "--layer-url", url);
    assertThat(typo.status()).isEqualTo(ConfigError.STATUS);
    assertThat(typo.err()).contains("did you mean --number");
  }

  @Test
  void metaDownIsAnAnswerNotA500() throws Exception {
    meta.stubFor(get(urlPathMatching(V + ".*")).willReturn(aResponse().withStatus(503).withBody("down")));
    HttpResponse<String> r = admin("/numbers/" + PNID + "/doctor", Layer.ADMIN_TOKEN);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(Json.mapper().readTree(r.body()).path("checks").get(0).path("detail").asText()).contains("HTTP 503");
  }
}

package dev.metalayer.jetty;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static dev.metalayer.jetty.Layer.PNID;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.core.Options;
import dev.metalayer.json.Json;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A helpdesk's partial {@code calling} write never erases settings made elsewhere: the layer reads the
 * current settings, merges and writes the whole; a failed read is answered and nothing is written.
 */
class CallingSettingsMergeTest {
  static final String CURRENT = "{\"calling\":{\"status\":\"DISABLED\",\"call_icon_visibility\":\"DEFAULT\","
      + "\"call_hours\":{\"status\":\"ENABLED\",\"timezone_id\":\"America/Sao_Paulo\","
      + "\"weekly_operating_hours\":[{\"day_of_week\":\"MONDAY\",\"open_time\":\"0900\",\"close_time\":\"1800\"}],"
      + "\"holiday_schedule\":[{\"date\":\"2026-12-25\",\"start_time\":\"0000\",\"end_time\":\"2359\"}]},"
      + "\"restrictions\":{\"restrictions_list\":[]}},\"id\":\"" + PNID + "\"}";

  WireMockServer meta;
  @TempDir Path dir;

  @BeforeEach
  void start() {
    meta = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1")
        .useChunkedTransferEncoding(Options.ChunkedEncodingPolicy.NEVER));
    meta.start();
    meta.stubFor(post(urlPathEqualTo("/v22.0/" + PNID + "/settings")).willReturn(okJson("{\"success\":true}")));
  }

  @AfterEach
  void stop() {
    meta.stop();
  }

  private JsonNode written() throws Exception {
    return Json.mapper().readTree(meta.findAll(postRequestedFor(urlPathEqualTo("/v22.0/" + PNID + "/settings")))
        .get(0).getBodyAsString());
  }

  @Test
  void chatwootsToggleKeepsHoursAndSchedules() throws Exception {
    meta.stubFor(get(urlPathEqualTo("/v22.0/" + PNID + "/settings")).willReturn(okJson(CURRENT)));
    try (Layer layer = Layer.start(dir, meta.baseUrl(), Map.of())) {
      HttpResponse<String> r = layer.post("/v22.0/" + PNID + "/settings", "Bearer " + layer.key,
          "{\"calling\":{\"status\":\"ENABLED\"}}");
      assertThat(r.statusCode()).isEqualTo(200);
      JsonNode w = written();
      assertThat(w.at("/calling/status").asText()).isEqualTo("ENABLED");
      assertThat(w.at("/calling/call_hours/holiday_schedule/0/date").asText()).isEqualTo("2026-12-25");
      assertThat(w.at("/calling/call_hours/weekly_operating_hours/0/open_time").asText()).isEqualTo("0900");
      assertThat(w.at("/calling/restrictions").isMissingNode()).isTrue();
    }
  }

  @Test
  void aFailedReadIsAnsweredAndNothingIsWritten() throws Exception {
    meta.stubFor(get(urlPathEqualTo("/v22.0/" + PNID + "/settings")).willReturn(aResponse().withStatus(401)
        .withHeader("Content-Type", "application/json")
        .withBody("{\"error\":{\"message\":\"Error validating access token\",\"type\":\"OAuthException\",\"code\":190,\"fbtrace_id\":\"Y\"}}")));
    try (Layer layer = Layer.start(dir, meta.baseUrl(), Map.of())) {
      HttpResponse<String> r = layer.post("/v22.0/" + PNID + "/settings", "Bearer " + layer.key,
          "{\"calling\":{\"status\":\"ENABLED\"}}");
      assertThat(r.statusCode()).isEqualTo(401);
      assertThat(Json.mapper().readTree(r.body()).at("/error/code").asInt()).isEqualTo(190);
      assertThat(meta.findAll(postRequestedFor(urlPathEqualTo("/v22.0/" + PNID + "/settings")))).isEmpty();
    }
  }

  @Test
  void aGarbledReadIsA502AndNothingIsWritten() throws Exception {
    meta.stubFor(get(urlPathEqualTo("/v22.0/" + PNID + "/settings")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/html").withBody("<html>oops</html>")));
    try (Layer layer = Layer.start(dir, meta.baseUrl(), Map.of())) {
      HttpResponse<String> r = layer.post("/v22.0/" + PNID + "/settings", "Bearer " + layer.key,
          "{\"calling\":{\"status\":\"ENABLED\"}}");
      assertThat(r.statusCode()).isEqualTo(502);
      assertThat(meta.findAll(postRequestedFor(urlPathEqualTo("/v22.0/" + PNID + "/settings")))).isEmpty();
    }
  }

  @Test
  void otherSettingsAndTheSwitchedOffMergePassAsSent() throws Exception {
    try (Layer layer = Layer.start(dir, meta.baseUrl(), Map.of(Option.MERGE_CALLING_SETTINGS, "false"))) {
      String body = "{\"calling\":{\"status\":\"ENABLED\"}}";
      assertThat(layer.post("/v22.0/" + PNID + "/settings", "Bearer " + layer.key, body).statusCode()).isEqualTo(200);
      assertThat(written().toString()).isEqualTo(body);
    }
    meta.resetRequests();
    try (Layer layer = Layer.start(dir.resolve("b"), meta.baseUrl(), Map.of())) {
      String body = "{\"payload_encryption\":{\"status\":\"ENABLED\"}}";
      assertThat(layer.post("/v22.0/" + PNID + "/settings", "Bearer " + layer.key, body).statusCode()).isEqualTo(200);
      assertThat(written().toString()).isEqualTo(body);
    }
  }
}

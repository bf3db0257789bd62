package dev.metalayer.jetty;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.delete;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static dev.metalayer.jetty.Layer.PNID;
import static dev.metalayer.jetty.Layer.TOKEN;
import static dev.metalayer.jetty.Layer.WABA;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.core.Options;
import com.github.tomakehurst.wiremock.http.HttpHeader;
import com.github.tomakehurst.wiremock.stubbing.ServeEvent;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.metalayer.crypto.Secrets;
import dev.metalayer.json.Json;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replays every request Chatwoot v4.15.1 sends through its WHATSAPP_CLOUD_BASE_URL (its
 * whatsapp_cloud_service.rb and the Enterprise calling overlay) with its exact bodies through the real layer,
 * Meta played by WireMock: each must reach Meta with the real token and the same bytes, and no trace
 * of the key; the client must get what Chatwoot reads.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ChatwootReplayTest {
  static final String SDP_ANSWER = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=setup:active\r\n";
  static final String SDP_OFFER = "v=0\r\no=- 7669997803033704573 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=setup:actpass\r\n";
  static final String CALL_ID = "wacid.HBgLMTU1NTEyMzQ1NjcVAgARGCA5QkI3";
  static final String MEDIA_ID = "1037543291543636";
  static final String SEND_OK =
      "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":\"15551234567\",\"wa_id\":\"15551234567\"}],\"messages\":[{\"id\":\"wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI1RjQ0\"}]}";
  static final String SUCCESS = "{\"messaging_product\":\"whatsapp\",\"success\":true}";

  WireMockServer meta;
  Layer layer;
  String bearer;

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    meta =
        new WireMockServer(
            options().dynamicPort().bindAddress("127.0.0.1").useChunkedTransferEncoding(Options.ChunkedEncodingPolicy.NEVER));
    meta.start();
    // Chatwoot deletes its CSAT template by name: the operator grants that number templates-delete.
    layer = Layer.start(dir, meta.baseUrl(), Map.of(Option.SURFACE_WIDENING, PNID + ":templates-delete"));
    bearer = "Bearer " + layer.key;
    String m = meta.baseUrl();
    meta.stubFor(post(urlPathEqualTo("/v13.0/" + PNID + "/messages")).willReturn(okJson(SEND_OK)));
    meta.stubFor(post(urlPathEqualTo("/v24.0/" + PNID + "/messages")).willReturn(okJson(SEND_OK)));
    meta.stubFor(post(urlPathEqualTo("/v22.0/" + PNID + "/messages")).willReturn(okJson(SEND_OK)));
    meta.stubFor(
        get(urlPathEqualTo("/v14.0/" + WABA + "/message_templates"))
            .atPriority(5)
            .willReturn(
                okJson("{\"data\":[{\"name\":\"hello_world\",\"language\":\"en_US\",\"status\":\"APPROVED\",\"category\":\"UTILITY\",\"id\":\"1192339204654487\",\"components\":[{\"type\":\"BODY\",\"text\":\"Hello {{1}}\"}]}],"
                    + "\"paging\":{\"cursors\":{\"before\":\"MAZDZD\",\"after\":\"MjQZD\"},\"next\":\"" + m.replace("/", "\\/") + "\\/v14.0\\/" + WABA
                    + "\\/message_templates?access_token=" + TOKEN + "&limit=1&after=MjQZD\"}}")));
    meta.stubFor(
        get(urlPathEqualTo("/v14.0/" + WABA + "/message_templates"))
            .withQueryParam("after", equalTo("MjQZD"))
            .atPriority(1)
            .willReturn(okJson("{\"data\":[{\"name\":\"second\",\"id\":\"2\"}],\"paging\":{\"cursors\":{\"before\":\"MjQZD\"}}}")));
    meta.stubFor(
        get(urlPathEqualTo("/v14.0/" + WABA + "/message_templates"))
            .withQueryParam("name", equalTo("csat_survey_abc"))
            .atPriority(1)
            .willReturn(okJson("{\"data\":[{\"id\":\"77\",\"name\":\"csat_survey_abc\",\"status\":\"APPROVED\",\"language\":\"en\"}]}")));
    meta.stubFor(
        post(urlPathEqualTo("/v14.0/" + WABA + "/message_templates"))
            .willReturn(okJson("{\"id\":\"77\",\"status\":\"PENDING\",\"category\":\"UTILITY\"}")));
    meta.stubFor(delete(urlPathEqualTo("/v14.0/" + WABA + "/message_templates")).willReturn(okJson("{\"success\":true}")));
    meta.stubFor(
        get(urlPathEqualTo("/v13.0/" + MEDIA_ID))
            .willReturn(
                okJson("{\"messaging_product\":\"whatsapp\",\"url\":\"" + m.replace("/", "\\/")
                    + "\\/whatsapp_business\\/attachments\\/?mid=" + MEDIA_ID + "&ext=1728904986&hash=ATta\",\"mime_type\":\"image\\/jpeg\",\"sha256\":\"e3b0c442\",\"file_size\":6,\"id\":\"" + MEDIA_ID + "\"}")));
    meta.stubFor(
        get(urlPathEqualTo("/whatsapp_business/attachments/"))
            .willReturn(
                aResponse()
                    .withStatus(200)
                    .withHeader("Content-Type", "image/jpeg")
                    .withHeader("Content-Disposition", "attachment; filename=\"photo.jpg\"")
                    .withBody(new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, 1, 2, 3})));
    meta.stubFor(post(urlPathEqualTo("/v22.0/" + PNID + "/calls")).atPriority(5).willReturn(okJson(SUCCESS)));
    meta.stubFor(
        post(urlPathEqualTo("/v22.0/" + PNID + "/calls"))
            .withRequestBody(matchingJsonPath("$.action", equalTo("connect")))
            .atPriority(2)
            .willReturn(okJson("{\"messaging_product\":\"whatsapp\",\"calls\":[{\"id\":\"wacid.HBgLMTU1NTEyMzQ1NjcVAgARGCBGRTQ1\"}]}")));
    meta.stubFor(
        post(urlPathEqualTo("/v22.0/" + PNID + "/calls"))
            .withRequestBody(matchingJsonPath("$.to", equalTo("15550000000")))
            .atPriority(1)
            .willReturn(
                aResponse()
                    .withStatus(400)
                    .withHeader("Content-Type", "application/json")
                    .withHeader("WWW-Authenticate", "OAuth \"Facebook Platform\" \"invalid_request\" \"(#138006)\"")
                    .withHeader("x-fb-trace-id", "Xtrace")
                    .withBody("{\"error\":{\"message\":\"(#138006) No approved call permission from the recipient\",\"type\":\"OAuthException\",\"code\":138006,\"error_user_msg\":\"Call permission required\",\"fbtrace_id\":\"X\"}}")));
    meta.stubFor(post(urlPathEqualTo("/v22.0/" + PNID + "/settings")).willReturn(okJson("{\"success\":true}")));
    meta.stubFor(get(urlPathEqualTo("/v22.0/" + PNID + "/settings"))
        .willReturn(okJson("{\"calling\":{\"status\":\"DISABLED\",\"call_icon_visibility\":\"DEFAULT\"}}")));
  }

  @AfterAll
  void stop() throws Exception {
    layer.close();
    meta.stop();
  }

  @BeforeEach
  void reset() {
    meta.resetRequests();
  }

  /** The one request Meta received; checks the token, the proof and that the key left no trace. */
  LoggedRequest upstream() {
    List<ServeEvent> events = meta.getAllServeEvents();
    assertThat(events).hasSize(1);
    return checked(events.get(0).getRequest());
  }

  LoggedRequest checked(LoggedRequest r) {
    assertThat(r.getHeader("Authorization")).isEqualTo("Bearer " + TOKEN);
    assertThat(r.getUrl()).contains("appsecret_proof=" + Secrets.hmacSha256Hex(Layer.APP_SECRET, TOKEN));
    assertThat(r.getUrl()).doesNotContain(layer.key).doesNotContain("access_token");
    assertThat(r.getBodyAsString()).doesNotContain(layer.key);
    for (HttpHeader h : r.getHeaders().all()) {
      assertThat(h.values().toString()).as(h.key()).doesNotContain(layer.key);
      assertThat(h.key().toLowerCase()).isNotIn("via", "forwarded", "cookie");
    }
    return r;
  }

  HttpResponse<String> replayPost(String path, String body) throws Exception {
    HttpResponse<String> r = layer.post(path, bearer, body);
    LoggedRequest up = upstream();
    assertThat(up.getMethod().getName()).isEqualTo("POST");
    assertThat(up.getUrl()).startsWith(path + "?");
    assertThat(up.getBody()).isEqualTo(body.getBytes(StandardCharsets.UTF_8));
    assertThat(up.getHeader("Content-Type")).isEqualTo("application/json");
    return r;
  }

  static JsonNode json(HttpResponse<String> r) throws Exception {
    assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
    assertThat(r.body()).doesNotContain(TOKEN);
    return Json.mapper().readTree(r.body());
  }

  @Test
  void r01_textWithNullContext() throws Exception {
    HttpResponse<String> r =
        replayPost("/v13.0/" + PNID + "/messages",
            "{\"messaging_product\":\"whatsapp\",\"context\":null,\"to\":\"15551234567\",\"text\":{\"body\":\"Hello from Chatwoot\"},\"type\":\"text\"}");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(json(r).at("/messages/0/id").asText()).isEqualTo("wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI1RjQ0");
  }

  @Test
  void r01_throughABaseUrlWithATrailingSlash() throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(layer.base() + "//v13.0/" + PNID + "/messages"))
            .header("Authorization", bearer)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"messaging_product\":\"whatsapp\",\"context\":null,\"to\":\"1\",\"text\":{\"body\":\"x\"},\"type\":\"text\"}"));
    HttpResponse<String> r = layer.send(b);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(upstream().getUrl()).startsWith("/v13.0/" + PNID + "/messages?");
  }

  @Test
  void r02_attachmentOnV24WithVoiceNote() throws Exception {
    HttpResponse<String> r =
        replayPost("/v24.0/" + PNID + "/messages",
            "{\"messaging_product\":\"whatsapp\",\"context\":{\"message_id\":\"wamid.X\"},\"to\":\"15551234567\",\"type\":\"audio\",\"audio\":{\"link\":\"https://chatwoot.example/rails/active_storage/blobs/redirect/abc/voice.ogg\",\"voice\":true}}");
    assertThat(json(r).at("/messages/0/id").asText()).startsWith("wamid.");
  }

  @Test
  void r03_interactiveWithStringEncodedAction() throws Exception {
    HttpResponse<String> r =
        replayPost("/v13.0/" + PNID + "/messages",
            "{\"messaging_product\":\"whatsapp\",\"to\":\"15551234567\",\"interactive\":{\"type\":\"button\",\"body\":{\"text\":\"Pick one\"},\"action\":\"{\\\"buttons\\\":[{\\\"type\\\":\\\"reply\\\",\\\"reply\\\":{\\\"id\\\":\\\"yes\\\",\\\"title\\\":\\\"Yes\\\"}}]}\"},\"type\":\"interactive\"}");
    assertThat(json(r).at("/messages/0/id").asText()).startsWith("wamid.");
  }

  @Test
  void r04_template() throws Exception {
    HttpResponse<String> r =
        replayPost("/v13.0/" + PNID + "/messages",
            "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\",\"to\":\"15551234567\",\"type\":\"template\",\"template\":{\"name\":\"hello_world\",\"language\":{\"policy\":\"deterministic\",\"code\":\"en_US\"},\"components\":[{\"type\":\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"Jane\"}]}]}}");
    assertThat(json(r).at("/messages/0/id").asText()).startsWith("wamid.");
  }

  @Test
  void r05_r06_templateSyncWithQueryKeyThenPagingNextVerbatimWithoutHeaders() throws Exception {
    HttpResponse<String> first = layer.get("/v14.0/" + WABA + "/message_templates?access_token=" + layer.key, null);
    assertThat(first.statusCode()).isEqualTo(200);
    LoggedRequest up = upstream();
    assertThat(up.getUrl()).startsWith("/v14.0/" + WABA + "/message_templates?appsecret_proof=");
    JsonNode page = json(first);
    assertThat(page.at("/data/0/name").asText()).isEqualTo("hello_world");
    String next = page.at("/paging/next").asText();
    assertThat(next)
        .isEqualTo(layer.base() + "/v14.0/" + WABA + "/message_templates?limit=1&after=MjQZD&access_token=" + layer.key);

    meta.resetRequests();
    HttpResponse<String> second =
        layer.send(HttpRequest.newBuilder(URI.create(next)).GET());
    assertThat(second.statusCode()).isEqualTo(200);
    assertThat(json(second).at("/data/0/name").asText()).isEqualTo("second");
    assertThat(upstream().getUrl()).contains("limit=1&after=MjQZD");
  }

  @Test
  void r07_r08_mediaLookupThenDownloadOfTheRewrittenUrlWithTheBearerKey() throws Exception {
    HttpResponse<String> lookup =
        layer.send(HttpRequest.newBuilder(URI.create(layer.base() + "/v13.0/" + MEDIA_ID)).header("Authorization", bearer).header("Content-Type", "application/json").GET());
    assertThat(lookup.statusCode()).isEqualTo(200);
    assertThat(upstream().getUrl()).startsWith("/v13.0/" + MEDIA_ID + "?phone_number_id=" + PNID + "&appsecret_proof=");
    JsonNode media = json(lookup);
    String url = media.get("url").asText();
    assertThat(url).startsWith(layer.base() + "/media/" + MEDIA_ID + "/download?ref=");
    assertThat(url).doesNotContain(meta.baseUrl()).doesNotContain("hash=ATta");
    assertThat(media.get("mime_type").asText()).isEqualTo("image/jpeg");
    assertThat(media.get("id").asText()).isEqualTo(MEDIA_ID);

    meta.resetRequests();
    HttpResponse<byte[]> file =
        layer.sendBytes(HttpRequest.newBuilder(URI.create(url)).header("Authorization", bearer).header("Content-Type", "application/json").GET());
    assertThat(file.statusCode()).isEqualTo(200);
    assertThat(file.body()).containsExactly(0xFF, 0xD8, 0xFF, 1, 2, 3);
    assertThat(file.headers().firstValue("Content-Type")).contains("image/jpeg");
    assertThat(file.headers().firstValue("Content-Disposition")).contains("attachment; filename=\"photo.jpg\"");
    assertThat(file.headers().firstValue("Content-Length")).contains("6");
    LoggedRequest fetched = meta.getAllServeEvents().get(0).getRequest();
    assertThat(fetched.getUrl()).startsWith("/whatsapp_business/attachments/?mid=" + MEDIA_ID);
    assertThat(fetched.getHeader("Authorization")).isEqualTo("Bearer " + TOKEN);

    // The link is useless without a key of the same number.
    meta.resetRequests();
    assertThat(layer.sendBytes(HttpRequest.newBuilder(URI.create(url)).GET()).statusCode()).isEqualTo(401);
    assertThat(layer.sendBytes(HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + layer.keyB).GET()).statusCode())
        .isEqualTo(403);
    assertThat(meta.getAllServeEvents()).isEmpty();
  }

  @Test
  void r09_csatTemplateCreate() throws Exception {
    HttpResponse<String> r =
        replayPost("/v14.0/" + WABA + "/message_templates",
            "{\"name\":\"csat_survey_abc\",\"language\":\"en\",\"category\":\"UTILITY\",\"components\":[{\"type\":\"BODY\",\"text\":\"How did we do?\"},{\"type\":\"BUTTONS\",\"buttons\":[{\"type\":\"URL\",\"text\":\"Rate us\",\"url\":\"https://chatwoot.example/survey/responses/{{1}}\",\"example\":[\"12345\"]}]}]}");
    assertThat(json(r).get("id").asText()).isEqualTo("77");
  }

  @Test
  void r10_csatTemplateStatusByName() throws Exception {
    HttpResponse<String> r = layer.get("/v14.0/" + WABA + "/message_templates?name=csat_survey_abc", bearer);
    assertThat(upstream().getUrl()).startsWith("/v14.0/" + WABA + "/message_templates?name=csat_survey_abc&appsecret_proof=");
    JsonNode data = json(r).at("/data/0");
    assertThat(data.get("status").asText()).isEqualTo("APPROVED");
    assertThat(data.get("language").asText()).isEqualTo("en");
  }

  @Test
  void r11_csatTemplateDeleteByName() throws Exception {
    HttpResponse<String> r =
        layer.send(HttpRequest.newBuilder(URI.create(layer.base() + "/v14.0/" + WABA + "/message_templates?name=csat_survey_abc")).header("Authorization", bearer).DELETE());
    assertThat(r.statusCode()).isEqualTo(200);
    LoggedRequest up = upstream();
    assertThat(up.getMethod().getName()).isEqualTo("DELETE");
    assertThat(up.getUrl()).startsWith("/v14.0/" + WABA + "/message_templates?name=csat_survey_abc&appsecret_proof=");
  }

  @Test
  void r12_to_r15_answerAnInboundCallThenRejectAndTerminate() throws Exception {
    for (String action : new String[] {"pre_accept", "accept"}) {
      meta.resetRequests();
      HttpResponse<String> r =
          replayPost("/v22.0/" + PNID + "/calls",
              "{\"messaging_product\":\"whatsapp\",\"call_id\":\"" + CALL_ID + "\",\"action\":\"" + action
                  + "\",\"session\":{\"sdp\":" + Json.mapper().writeValueAsString(SDP_ANSWER) + ",\"sdp_type\":\"answer\"}}");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(json(r).get("success").asBoolean()).isTrue();
    }
    for (String action : new String[] {"reject", "terminate"}) {
      meta.resetRequests();
      HttpResponse<String> r =
          replayPost("/v22.0/" + PNID + "/calls", "{\"messaging_product\":\"whatsapp\",\"call_id\":\"" + CALL_ID + "\",\"action\":\"" + action + "\"}");
      assertThat(r.statusCode()).isEqualTo(200);
    }
  }

  @Test
  void r16_outboundCallReadsCallsId() throws Exception {
    HttpResponse<String> r =
        replayPost("/v22.0/" + PNID + "/calls",
            "{\"messaging_product\":\"whatsapp\",\"to\":\"15551234567\",\"action\":\"connect\",\"session\":{\"sdp\":" + Json.mapper().writeValueAsString(SDP_OFFER) + ",\"sdp_type\":\"offer\"}}");
    assertThat(json(r).at("/calls/0/id").asText()).isEqualTo("wacid.HBgLMTU1NTEyMzQ1NjcVAgARGCBGRTQ1");
  }

  @Test
  void r16_noCallPermissionPassesTheGraphErrorThrough() throws Exception {
    HttpResponse<String> r =
        replayPost("/v22.0/" + PNID + "/calls",
            "{\"messaging_product\":\"whatsapp\",\"to\":\"15550000000\",\"action\":\"connect\",\"session\":{\"sdp\":\"v=0\",\"sdp_type\":\"offer\"}}");
    assertThat(r.statusCode()).isEqualTo(400);
    JsonNode error = json(r).get("error");
    assertThat(error.get("code").asInt()).isEqualTo(138006);
    assertThat(error.get("message").asText()).contains("No approved call permission");
    assertThat(error.get("error_user_msg").asText()).isEqualTo("Call permission required");
    assertThat(r.headers().firstValue("x-fb-trace-id")).contains("Xtrace");
    assertThat(r.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).contains("invalid_request"));
  }

  @Test
  void r17_callPermissionRequest() throws Exception {
    HttpResponse<String> r =
        replayPost("/v22.0/" + PNID + "/messages",
            "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\",\"to\":\"15551234567\",\"type\":\"interactive\",\"interactive\":{\"type\":\"call_permission_request\",\"action\":{\"name\":\"call_permission_request\"},\"body\":{\"text\":\"We would like to call you regarding your conversation.\"}}}");
    assertThat(json(r).at("/messages/0/id").asText()).startsWith("wamid.");
  }

  @Test
  void r18_callingSettingsAreMergedIntoTheCurrentOnes() throws Exception {
    HttpResponse<String> r = layer.post("/v22.0/" + PNID + "/settings", bearer, "{\"calling\":{\"status\":\"ENABLED\"}}");
    assertThat(json(r).get("success").asBoolean()).isTrue();
    List<ServeEvent> events = meta.getAllServeEvents(); // newest first
    assertThat(events).hasSize(2);
    LoggedRequest read = checked(events.get(1).getRequest());
    assertThat(read.getMethod().getName()).isEqualTo("GET");
    assertThat(read.getUrl()).startsWith("/v22.0/" + PNID + "/settings?");
    LoggedRequest up = checked(events.get(0).getRequest());
    assertThat(up.getMethod().getName()).isEqualTo("POST");
    assertThat(up.getBodyAsString())
        .isEqualTo("{\"calling\":{\"status\":\"ENABLED\",\"call_icon_visibility\":\"DEFAULT\"}}");
    assertThat(up.getBodyAsString() + up.getUrl() + up.getHeaders()).doesNotContain("ps_");
  }

  @Test
  void formBodyCredentialIsRemovedAndTheRestForwarded() throws Exception {
    HttpResponse<String> r =
        layer.send(
            HttpRequest.newBuilder(URI.create(layer.base() + "/v13.0/" + PNID + "/messages"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("messaging_product=whatsapp&access_token=" + layer.key + "&to=15551234567&type=text&text=%7B%22body%22%3A%22hi%22%7D")));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(upstream().getBodyAsString()).isEqualTo("messaging_product=whatsapp&to=15551234567&type=text&text=%7B%22body%22%3A%22hi%22%7D");
  }
}

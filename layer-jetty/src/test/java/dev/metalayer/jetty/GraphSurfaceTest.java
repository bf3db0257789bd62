package dev.metalayer.jetty;

import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static dev.metalayer.jetty.Layer.PNID;
import static dev.metalayer.jetty.Layer.PNID_B;
import static dev.metalayer.jetty.Layer.TOKEN;
import static dev.metalayer.jetty.Layer.TOKEN_B;
import static dev.metalayer.jetty.Layer.WABA;
import static dev.metalayer.jetty.Layer.WABA_B;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.core.Options;
import dev.metalayer.json.Json;
import java.net.URI;
import java.net.URLEncoder;
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
 * The Graph surface against real HTTP, Meta played by WireMock: every attack on the surface gets its
 * Graph-shaped refusal naming the rule, and nothing of it reaches Meta (the WireMock request journal
 * stays empty). Numbers: A alone on its WABA; B and C share WABA_B.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GraphSurfaceTest {
  static final String PNID_C = "306540352242922";
  static final String BATCH = "[{\"method\":\"POST\",\"relative_url\":\"v22.0/" + PNID_B + "/messages\",\"body\":\"to=1\"},"
      + "{\"method\":\"GET\",\"relative_url\":\"debug_token?input_token=x\"}]";

  WireMockServer meta;
  Layer layer;
  String bearer;
  String keyC;

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    meta = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1").useChunkedTransferEncoding(Options.ChunkedEncodingPolicy.NEVER));
    meta.start();
    layer = Layer.start(dir, meta.baseUrl(), Map.of());
    bearer = "Bearer " + layer.key;
    layer.server.layer().keys().addNumber("+15550783883", PNID_C, WABA_B, Layer.BUSINESS_B, TOKEN_B);
    keyC = layer.server.layer().keys().createKey(PNID_C).orElseThrow().key();
  }

  @AfterAll
  void stop() throws Exception {
    layer.close();
    meta.stop();
  }

  @BeforeEach
  void reset() {
    meta.resetAll();
    meta.stubFor(any(anyUrl()).willReturn(okJson("{\"success\":true}")));
  }

  /** The refusal is Graph-shaped, names its rule, shows no key or token, and Meta saw nothing at all. */
  JsonNode refusedAndNothingReachedMeta(HttpResponse<String> r, int status, String rule) throws Exception {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
    JsonNode error = Json.mapper().readTree(r.body()).get("error");
    assertThat(error.get("message").asText()).contains("(rule " + rule + ")");
    assertThat(error.get("code").asInt()).isEqualTo(status == 403 ? 200 : 100);
    assertThat(r.body()).doesNotContain(layer.key).doesNotContain(TOKEN);
    assertThat(meta.getAllServeEvents()).as("requests that reached Meta").isEmpty();
    return error;
  }

  HttpResponse<String> send(String method, String pathAndQuery, String authorization, String contentType, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(layer.base() + pathAndQuery))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    return layer.send(b);
  }

  static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  static String multipart(String... namesAndValues) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < namesAndValues.length; i += 2) {
      b.append("--XyZ\r\nContent-Disposition: form-data; name=\"").append(namesAndValues[i]).append('"')
          .append(namesAndValues[i].equals("file") ? "; filename=\"a.png\"\r\nContent-Type: image/png" : "")
          .append("\r\n\r\n").append(namesAndValues[i + 1]).append("\r\n");
    }
    return b.append("--XyZ--\r\n").toString();
  }

  @Test
  void aBatchInTheQueryIsRefusedAndNeverReachesMeta() throws Exception {
    refusedAndNothingReachedMeta(send("POST", "/v22.0/" + PNID + "?batch=" + enc(BATCH), bearer, null, null), 403, "batch");
  }

  @Test
  void aBatchAsAFormFieldIsRefusedAndNeverReachesMeta() throws Exception {
    refusedAndNothingReachedMeta(
        send("POST", "/v22.0/" + PNID, bearer, "application/x-www-form-urlencoded", "batch=" + enc(BATCH)), 403, "batch");
    refusedAndNothingReachedMeta(
        send("POST", "/v22.0/" + PNID + "/messages", null, "application/x-www-form-urlencoded",
            "access_token=" + layer.key + "&Batch=" + enc(BATCH)), 403, "batch");
  }

  @Test
  void aBatchAsAJsonTopLevelFieldIsRefusedAndNeverReachesMeta() throws Exception {
    refusedAndNothingReachedMeta(
        send("POST", "/v22.0/" + PNID + "/messages", bearer, "application/json", "{\"messaging_product\":\"whatsapp\",\"batch\":" + BATCH + "}"),
        403, "batch");
    // whatever the declared type: Graph may read the body anyway
    refusedAndNothingReachedMeta(send("POST", "/v22.0/" + PNID + "/messages", bearer, "text/plain", "{\"b\\u0061tch\":1}"), 403, "batch");
    refusedAndNothingReachedMeta(send("POST", "/v22.0/" + PNID + "/messages", bearer, "text/plain", "batch=" + enc(BATCH)), 403, "batch");
  }

  @Test
  void aBatchInAJsonBodyThatIsNotStrictJsonIsRefusedAndNeverReachesMeta() throws Exception {
    String[] lenient = {
        "{\"batch\":\"[]\",}", "{/*x*/\"batch\":\"[]\"}", "{'batch':'[]'}", "{batch:\"[]\"}", "{\"batch\":\"[]\"}xyz",
        "{\"a\":1}{\"batch\":\"[]\"}", "{\"a\":1,\"batch\":\"[]\",\"x\":NaN}", "{\"a\":01,\"batch\":\"[]\"}", "batch=%5B%5D"};
    for (String body : lenient) {
      refusedAndNothingReachedMeta(send("POST", "/v22.0/" + PNID + "/messages", bearer, "application/json", body), 400, "json-body");
    }
    // read as JSON whatever the declared type, once it starts as JSON would
    refusedAndNothingReachedMeta(send("POST", "/v22.0/" + PNID + "/messages", bearer, "text/plain", " {batch:\"[]\"}"), 400, "json-body");
  }

  @Test
  void aBatchAsAMultipartPartOfAnUploadIsRefusedAndNeverReachesMeta() throws Exception {
    HttpResponse<String> r = send("POST", "/v22.0/" + PNID + "/media", bearer, "multipart/form-data; boundary=XyZ",
        multipart("messaging_product", "whatsapp", "file", "x".repeat(20_000), "batch", BATCH));
    refusedAndNothingReachedMeta(r, 403, "multipart-part");
  }

  static final String BATCH_PART = "Content-Disposition: form-data; name=\"batch\"\r\n\r\n" + BATCH + "\r\n";

  /**
   * An upload on a client of its own: these refusals are answered before the body is read, and a
   * pooled connection reused right after one failed once with "header parser received no bytes".
   */
  HttpResponse<String> upload(String contentType, String body) throws Exception {
    HttpRequest request = HttpRequest.newBuilder(URI.create(layer.base() + "/v22.0/" + PNID + "/media"))
        .timeout(java.time.Duration.ofSeconds(20)).header("Authorization", bearer).header("Content-Type", contentType)
        .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    return java.net.http.HttpClient.newBuilder().connectTimeout(java.time.Duration.ofSeconds(5)).build()
        .send(request, HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aBatchPartBehindABareLfDelimiterIsRefusedAndNeverReachesMeta() throws Exception {
    String body = "--XX\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\n--XX\r\n" + BATCH_PART + "--XX--\r\n";
    refusedAndNothingReachedMeta(upload("multipart/form-data; boundary=XX", body), 403, "multipart-part");
    String lfOnly = "--XX\nContent-Disposition: form-data; name=\"messaging_product\"\n\nwhatsapp\n--XX\n"
        + "Content-Disposition: form-data; name=\"batch\"\n\n[]\n--XX--\n";
    refusedAndNothingReachedMeta(upload("multipart/form-data; boundary=XX", lfOnly), 403, "multipart-part");
  }

  @Test
  void aBatchPartAfterTheClosingDelimiterIsRefusedAndNeverReachesMeta() throws Exception {
    String body = "--XX\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n--XX--\r\n--XX\r\n" + BATCH_PART + "--XX--\r\n";
    refusedAndNothingReachedMeta(upload("multipart/form-data; boundary=XX", body), 403, "multipart-part");
    String key = "--XX\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n--XX--\r\n--XX\r\n"
        + "Content-Disposition: form-data; name=\"access_token\"\r\n\r\n" + keyC + "\r\n--XX--\r\n";
    refusedAndNothingReachedMeta(upload("multipart/form-data; boundary=XX", key), 403, "multipart-part");
  }

  @Test
  void aBatchPartUnderABoundaryWithACommaIsRefusedAndNeverReachesMeta() throws Exception {
    String body = "--XX\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n--XX\r\n" + BATCH_PART + "--XX--\r\n";
    refusedAndNothingReachedMeta(upload("multipart/form-data; boundary=XX,YY", body), 400, "multipart-part");
    refusedAndNothingReachedMeta(upload("multipart/form-data; boundary=\"XX;YY\"", body), 400, "multipart-part");
    refusedAndNothingReachedMeta(upload("multipart/form-data; boundary= XX", body), 400, "multipart-part");
  }

  @Test
  void aBatchPartUnderADecoyBoundaryParameterIsRefusedAndNeverReachesMeta() throws Exception {
    String body = "--AA\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n--AA\r\n" + BATCH_PART + "--AA--\r\n";
    refusedAndNothingReachedMeta(upload("multipart/form-data; xboundary=AA; boundary=XX", body), 400, "multipart-part");
    refusedAndNothingReachedMeta(upload("multipart/form-data; boundary=XX; x=boundary=AA", body), 400, "multipart-part");
    refusedAndNothingReachedMeta(upload("multipart/form-data; charset=boundary; boundary=XX", body), 400, "multipart-part");
  }

  @Test
  void aMediaUploadWithItsKnownPartsReachesMetaWhole() throws Exception {
    String body = multipart("messaging_product", "whatsapp", "type", "image/png", "file", "PNGDATA".repeat(5_000));
    HttpResponse<String> r = send("POST", "/v22.0/" + PNID + "/media", bearer, "multipart/form-data; boundary=XyZ", body);
    assertThat(r.statusCode()).isEqualTo(200);
    var seen = meta.getAllServeEvents();
    assertThat(seen).hasSize(1);
    assertThat(seen.get(0).getRequest().getBodyAsString()).isEqualTo(body);
    assertThat(seen.get(0).getRequest().getHeader("Authorization")).isEqualTo("Bearer " + TOKEN);
    // a multipart body anywhere else is refused
    meta.resetRequests();
    refusedAndNothingReachedMeta(
        send("POST", "/v22.0/" + PNID + "/messages", bearer, "multipart/form-data; boundary=XyZ", multipart("to", "1")), 403, "multipart-route");
  }

  @Test
  void idsIsRefusedAndNeverReachesMeta() throws Exception {
    refusedAndNothingReachedMeta(send("GET", "/v22.0/" + PNID + "?ids=" + PNID_B + "," + WABA_B, bearer, null, null), 403, "ids");
  }

  @Test
  void fieldExpansionInEveryFormIsRefusedAndNeverReachesMeta() throws Exception {
    for (String fields : List.of("phone_numbers{id,display_phone_number}", "id,name.as(x)", "phone_numbers.limit(50)", "owner_business_info{id}")) {
      refusedAndNothingReachedMeta(send("GET", "/v22.0/" + WABA + "?fields=" + enc(fields), bearer, null, null), 403, "field-expansion");
    }
    refusedAndNothingReachedMeta(send("GET", "/v22.0/" + PNID + "?fields[]=" + enc("a{b}"), bearer, null, null), 403, "field-expansion");
    refusedAndNothingReachedMeta(
        send("POST", "/v22.0/" + PNID + "/messages", bearer, "application/json", "{\"fields\":\"phone_numbers{id}\"}"), 403, "field-expansion");
    // the WABA's numbers as a plain field are not a WABA field a key may read
    refusedAndNothingReachedMeta(send("GET", "/v22.0/" + WABA + "?fields=id,phone_numbers", bearer, null, null), 403, "parameter");
  }

  @Test
  void aMethodOverrideInTheQueryIsRefusedAndNeverReachesMeta() throws Exception {
    refusedAndNothingReachedMeta(send("GET", "/v14.0/" + WABA + "/message_templates?name=x&method=delete", bearer, null, null), 403, "method-override");
  }

  @Test
  void aMethodOverrideInAFormIsRefusedAndNeverReachesMeta() throws Exception {
    refusedAndNothingReachedMeta(
        send("POST", "/v14.0/" + WABA + "/message_templates", bearer, "application/x-www-form-urlencoded", "name=x&METHOD=DELETE"),
        403, "method-override");
  }

  @Test
  void aMethodOverrideInAJsonBodyIsRefusedAndNeverReachesMeta() throws Exception {
    refusedAndNothingReachedMeta(
        send("POST", "/v14.0/" + WABA + "/message_templates", bearer, "application/json", "{\"name\":\"x\",\"method\":\"DELETE\"}"),
        403, "method-override");
  }

  @Test
  void aMethodOverrideHeaderIsRefusedAndNeverReachesMeta() throws Exception {
    for (String header : List.of("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override")) {
      HttpResponse<String> r = layer.send(HttpRequest.newBuilder(URI.create(layer.base() + "/v22.0/1037543291543636"))
          .header("Authorization", bearer).header(header, "DELETE").GET());
      refusedAndNothingReachedMeta(r, 403, "method-override");
    }
  }

  @Test
  void aMethodOverrideHeaderSpelledWithUnderscoresIsRefusedAndNeverReachesMeta() throws Exception {
    for (String header : List.of("X_HTTP_METHOD_OVERRIDE", "x_http_method", "X_Method-Override")) {
      HttpResponse<String> r = layer.send(HttpRequest.newBuilder(URI.create(layer.base() + "/v22.0/1037543291543636"))
          .header("Authorization", bearer).header(header, "DELETE").GET());
      refusedAndNothingReachedMeta(r, 403, "method-override");
    }
  }

  @Test
  void subscribedAppsOverrideAndDeleteAreRefusedAndNeverReachMeta() throws Exception {
    refusedAndNothingReachedMeta(send("POST", "/v22.0/" + WABA + "/subscribed_apps?override_callback_uri=" + enc("https://attacker.example/hook")
        + "&verify_token=x", bearer, null, null), 403, "widening");
    refusedAndNothingReachedMeta(send("POST", "/v22.0/" + WABA + "/subscribed_apps", bearer, "application/json",
        "{\"override_callback_uri\":\"https://attacker.example/hook\",\"verify_token\":\"x\"}"), 403, "widening");
    refusedAndNothingReachedMeta(send("DELETE", "/v22.0/" + WABA + "/subscribed_apps", bearer, null, null), 403, "widening");
    refusedAndNothingReachedMeta(send("POST", "/v22.0/" + WABA + "/assigned_users?user=1&tasks=MANAGE", bearer, null, null), 403, "widening");
  }

  @Test
  void aTemplateDeletionIsRefusedUnlessWidenedAndNeverReachesMeta() throws Exception {
    refusedAndNothingReachedMeta(send("DELETE", "/v14.0/" + WABA + "/message_templates?name=csat", bearer, null, null), 403, "widening");
    refusedAndNothingReachedMeta(send("DELETE", "/v14.0/" + WABA + "/message_templates?hsm_id=1&name=csat", bearer, null, null), 403, "widening");
  }

  @Test
  void deregisterRegisterAndTheTwoStepPinAreRefusedAndNeverReachMeta() throws Exception {
    refusedAndNothingReachedMeta(send("POST", "/v22.0/" + PNID + "/deregister", bearer, "application/json", "{\"messaging_product\":\"whatsapp\"}"),
        403, "widening");
    refusedAndNothingReachedMeta(send("POST", "/v22.0/" + PNID + "/register", bearer, "application/json",
        "{\"messaging_product\":\"whatsapp\",\"pin\":\"123456\"}"), 403, "widening");
    refusedAndNothingReachedMeta(send("POST", "/v22.0/" + PNID, bearer, "application/json", "{\"pin\":\"654321\"}"), 403, "widening");
    refusedAndNothingReachedMeta(send("POST", "/v22.0/" + PNID + "/request_code?code_method=SMS&language=en", bearer, null, null), 403, "widening");
  }

  @Test
  void aListOfASharedWabasNumbersShowsOnlyTheKeysOwnNumber() throws Exception {
    meta.stubFor(get(urlPathEqualTo("/v22.0/" + WABA_B + "/phone_numbers")).willReturn(okJson(
        "{\"data\":[{\"id\":\"" + PNID_B + "\",\"display_phone_number\":\"+1 555-078-3882\",\"verified_name\":\"Tenant B\"},"
            + "{\"id\":\"" + PNID_C + "\",\"display_phone_number\":\"+1 555-078-3883\",\"verified_name\":\"Tenant C\"}]}")));
    HttpResponse<String> r = layer.get("/v22.0/" + WABA_B + "/phone_numbers?fields=id,display_phone_number,verified_name", "Bearer " + keyC);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains(PNID_C).contains("Tenant C").doesNotContain(PNID_B).doesNotContain("Tenant B").doesNotContain("3882");
    // Chatwoot's credential check (phone_numbers?fields=id) still finds its own number
    HttpResponse<String> check = layer.get("/v22.0/" + WABA_B + "/phone_numbers?fields=id&access_token=" + layer.keyB, null);
    assertThat(Json.mapper().readTree(check.body()).get("data")).hasSize(1);
    assertThat(check.body()).contains(PNID_B).doesNotContain(PNID_C);
  }

  @Test
  void aWabasNumbersCannotBeCountedByWalkingPhoneNumbersPages() throws Exception {
    for (String paging : List.of("limit=1", "after=QVFIUmFi", "before=QVFIUmFi")) {
      refusedAndNothingReachedMeta(
          layer.get("/v22.0/" + WABA_B + "/phone_numbers?fields=id&" + paging, "Bearer " + keyC), 403, "parameter");
    }
    meta.stubFor(get(urlPathEqualTo("/v22.0/" + WABA_B + "/phone_numbers")).willReturn(okJson(
        "{\"data\":[{\"id\":\"" + PNID_B + "\"}],\"paging\":{\"cursors\":{\"before\":\"QVFIUmFi\",\"after\":\"QVFIUmFj\"},"
            + "\"next\":\"" + meta.baseUrl() + "/v22.0/" + WABA_B + "/phone_numbers?fields=id&limit=1&after=QVFIUmFj\"}}")));
    HttpResponse<String> r = layer.get("/v22.0/" + WABA_B + "/phone_numbers?fields=id", "Bearer " + keyC);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(Json.mapper().readTree(r.body()).get("data")).isEmpty();
    assertThat(r.body()).doesNotContain("paging").doesNotContain("QVFIUmFj").doesNotContain(PNID_B);
  }

  @Test
  void aWriteOnASharedWabaIsRefusedWithoutTheOperatorsSettingAndNeverReachesMeta() throws Exception {
    String template = "{\"name\":\"t\",\"language\":\"en\",\"category\":\"UTILITY\",\"components\":[]}";
    refusedAndNothingReachedMeta(send("POST", "/v14.0/" + WABA_B + "/message_templates", "Bearer " + keyC, "application/json", template),
        403, "shared-waba");
    // the same write on a WABA the number has to itself reaches Meta
    assertThat(send("POST", "/v14.0/" + WABA + "/message_templates", bearer, "application/json", template).statusCode()).isEqualTo(200);
    assertThat(meta.getAllServeEvents()).hasSize(1);
  }

  @Test
  void aZeroPrefixedIdOfAnotherNumberIsRefusedAndNeverReachesMeta() throws Exception {
    refusedAndNothingReachedMeta(layer.get("/v22.0/0" + PNID_B, bearer), 400, "canonical-id");
    refusedAndNothingReachedMeta(layer.post("/v22.0/00" + PNID_B + "/messages", bearer, "{\"to\":\"1\"}"), 400, "canonical-id");
    refusedAndNothingReachedMeta(send("DELETE", "/v22.0/0" + WABA_B, bearer, null, null), 400, "canonical-id");
    HttpResponse<String> download = layer.get("/media/0" + PNID_B + "/download", bearer);
    assertThat(download.statusCode()).isEqualTo(403);
    assertThat(meta.getAllServeEvents()).isEmpty();
  }

  @Test
  void credentialNameVariantsNeverCarryAKeyToMeta() throws Exception {
    for (String name : List.of("ACCESS_TOKEN", "access_token[]", "%20access_token", "Access_Token", "access.token", "appsecret_proof%5B%5D")) {
      refusedAndNothingReachedMeta(layer.get("/v22.0/" + PNID + "?" + name + "=" + layer.key, bearer), 400, "credential-name");
      refusedAndNothingReachedMeta(send("POST", "/v22.0/" + PNID + "/messages", bearer, "application/x-www-form-urlencoded",
          "to=1&" + name + "=" + layer.key), 400, "credential-name");
    }
    refusedAndNothingReachedMeta(layer.post("/v22.0/" + PNID + "/messages", bearer, "{\"to\":\"1\",\"access_token\":\"" + layer.key + "\"}"),
        400, "credential-name");
    refusedAndNothingReachedMeta(layer.post("/v22.0/" + PNID + "/messages", bearer, "{\"ACCESS_TOKEN \":\"" + layer.key + "\"}"),
        400, "credential-name");
  }

  @Test
  void aFormOfAMillionEmptyParametersIsA400AndNeverReachesMeta() throws Exception {
    HttpResponse<String> r = send("POST", "/v22.0/" + PNID + "/messages", bearer, "application/x-www-form-urlencoded", "a&".repeat(512 * 1024));
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(r.body()).contains("at most 1000");
    assertThat(meta.getAllServeEvents()).isEmpty();
  }

  @Test
  void aNumberWidenedInConfigurationReachesWhatItWasGrantedAndNothingMore(@TempDir Path dir) throws Exception {
    try (Layer widened = Layer.start(dir, meta.baseUrl(), Map.of(Option.SURFACE_WIDENING, PNID + ":waba-admin+number-admin"))) {
      HttpResponse<String> r = widened.send(HttpRequest.newBuilder(URI.create(widened.base() + "/v22.0/" + WABA + "/subscribed_apps"))
          .header("Authorization", "Bearer " + widened.key).POST(HttpRequest.BodyPublishers.noBody()));
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(meta.getAllServeEvents()).hasSize(1);
      meta.resetRequests();
      // B was granted nothing; A's widening never widens a request's own parameters
      assertThat(widened.send(HttpRequest.newBuilder(URI.create(widened.base() + "/v22.0/" + WABA_B + "/subscribed_apps"))
          .header("Authorization", "Bearer " + widened.keyB).POST(HttpRequest.BodyPublishers.noBody())).statusCode()).isEqualTo(403);
      assertThat(widened.send(HttpRequest.newBuilder(URI.create(widened.base() + "/v22.0/" + PNID + "/register?batch=x"))
          .header("Authorization", "Bearer " + widened.key).POST(HttpRequest.BodyPublishers.noBody())).statusCode()).isEqualTo(403);
      assertThat(meta.getAllServeEvents()).isEmpty();
    }
  }

  @Test
  void aCompressedBodyThatWouldHideABatchIsRefusedAndNeverReachesMeta() throws Exception {
    java.io.ByteArrayOutputStream zipped = new java.io.ByteArrayOutputStream();
    try (var gzip = new java.util.zip.GZIPOutputStream(zipped)) {
      gzip.write(("{\"batch\":" + BATCH + "}").getBytes(StandardCharsets.UTF_8));
    }
    HttpResponse<String> r = layer.send(HttpRequest.newBuilder(URI.create(layer.base() + "/v22.0/" + PNID + "/messages"))
        .header("Authorization", bearer).header("Content-Type", "application/json").header("Content-Encoding", "gzip")
        .POST(HttpRequest.BodyPublishers.ofByteArray(zipped.toByteArray())));
    assertThat(r.statusCode()).isEqualTo(415);
    assertThat(r.body()).contains("(rule content-encoding)");
    assertThat(meta.getAllServeEvents()).isEmpty();
  }
}

package dev.metalayer.jetty;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static dev.metalayer.jetty.Layer.BUSINESS_B;
import static dev.metalayer.jetty.Layer.PNID;
import static dev.metalayer.jetty.Layer.PNID_B;
import static dev.metalayer.jetty.Layer.TOKEN;
import static dev.metalayer.jetty.Layer.WABA;
import static dev.metalayer.jetty.Layer.WABA_B;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.core.Options;
import com.github.tomakehurst.wiremock.http.Fault;
import dev.metalayer.json.Json;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.Flow;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input from clients and from upstream: each gets its documented Graph-shaped error, nothing that
 * should not reach Meta does, and the layer keeps serving afterwards. Also: cross-tenant refusals and
 * the token scrub.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BadInputTest {
  WireMockServer meta;
  Layer layer;
  String bearer;

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    meta = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1").useChunkedTransferEncoding(Options.ChunkedEncodingPolicy.NEVER));
    meta.start();
    layer =
        Layer.start(
            dir,
            meta.baseUrl(),
            Map.of(Option.UPSTREAM_TIMEOUT, "700ms", Option.MAX_BODY_BYTES, "4096", Option.MAX_JSON_ANSWER_BYTES, "65536"));
    bearer = "Bearer " + layer.key;
  }

  @AfterAll
  void stop() throws Exception {
    layer.close();
    meta.stop();
  }

  @BeforeEach
  void reset() {
    meta.resetAll();
    meta.stubFor(get(urlPathEqualTo("/v13.0/" + PNID)).willReturn(okJson("{\"id\":\"" + PNID + "\"}")));
  }

  /** After every bad case the layer still answers a good request. */
  @AfterEach
  void stillServing() throws Exception {
    meta.resetRequests();
    HttpResponse<String> r = layer.get("/v13.0/" + PNID, bearer);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains(PNID);
  }

  static JsonNode graphError(HttpResponse<String> r, int status, int code) throws Exception {
    assertThat(r.statusCode()).isEqualTo(status);
    assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
    JsonNode error = Json.mapper().readTree(r.body()).get("error");
    assertThat(error.get("message").asText()).isNotBlank();
    assertThat(error.get("code").asInt()).isEqualTo(code);
    assertThat(error.get("fbtrace_id").asText()).isNotBlank();
    assertThat(r.body()).doesNotContain(TOKEN);
    return error;
  }

  @Test
  void noCredentialIs401WithWwwAuthenticate() throws Exception {
    HttpResponse<String> r = layer.get("/v13.0/" + PNID, null);
    assertThat(graphError(r, 401, 190).get("type").asText()).isEqualTo("OAuthException");
    assertThat(r.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("OAuth \"Facebook Platform\" \"invalid_token\""));
    assertThat(meta.getAllServeEvents()).isEmpty();
  }

  @Test
  void malformedAuthorizationIs401() throws Exception {
    for (String bad : new String[] {"Basic " + layer.key, "Bearer", layer.key}) {
      HttpResponse<String> r = layer.get("/v13.0/" + PNID, bad);
      graphError(r, 401, 190);
      assertThat(r.body()).doesNotContain(layer.key);
    }
    assertThat(meta.getAllServeEvents()).isEmpty();
  }

  @Test
  void unknownAndRevokedKeysAre401() throws Exception {
    graphError(layer.get("/v13.0/" + PNID, "Bearer ps_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 401, 190);
    String doomed = layer.server.layer().keys().createKey(PNID).orElseThrow().key();
    assertThat(layer.get("/v13.0/" + PNID, "Bearer " + doomed).statusCode()).isEqualTo(200);
    String id =
        layer.server.layer().keys().listKeys().stream().filter(k -> doomed.startsWith(k.prefix())).reduce((a, b) -> b).orElseThrow().id();
    HttpResponse<String> revoke =
        layer.send(
            HttpRequest.newBuilder(URI.create(layer.server.localUri() + "/admin/v1/keys/" + id))
                .header("Authorization", "Bearer " + Layer.ADMIN_TOKEN)
                .DELETE());
    assertThat(revoke.statusCode()).isLessThan(300);
    meta.resetRequests();
    HttpResponse<String> r = layer.get("/v13.0/" + PNID, "Bearer " + doomed);
    graphError(r, 401, 190);
    assertThat(r.body()).doesNotContain(doomed);
    assertThat(meta.getAllServeEvents()).isEmpty();
  }

  @Test
  void conflictingCredentialsAre400() throws Exception {
    graphError(layer.get("/v13.0/" + PNID + "?access_token=" + layer.keyB, bearer), 400, 100);
    assertThat(meta.getAllServeEvents()).isEmpty();
  }

  @Test
  void pathTraversalAndEncodedSeparatorsAreGraphShaped400() throws Exception {
    for (String path :
        new String[] {
          "/api/layer/meta/v13.0/../" + PNID_B + "/messages",
          "/api/layer/meta/v13.0/" + PNID + "/../../" + PNID_B,
          "/api/layer/meta/v13.0/" + PNID + "%2F..%2F" + PNID_B,
          "/api/layer/meta/v13.0/%2e%2e/" + PNID_B,
          "/api/layer/meta/v13.0/" + PNID + "%5Cx",
          "/api/layer/meta/../../admin/v1/keys",
        }) {
      String answer =
          layer.raw("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: " + bearer + "\r\nConnection: close\r\n\r\n");
      assertThat(answer).as(path).startsWith("HTTP/1.1 400");
      assertThat(answer).as(path).containsIgnoringCase("content-type: application/json");
      assertThat(answer).as(path).contains("\"error\"").contains("\"code\":100").doesNotContain(layer.key);
    }
    assertThat(meta.getAllServeEvents()).isEmpty();
  }

  @Test
  void declaredOversizedBodyIs413() throws Exception {
    HttpResponse<String> r = layer.post("/v13.0/" + PNID + "/messages", bearer, "x".repeat(5000));
    graphError(r, 413, 100);
    assertThat(meta.getAllServeEvents()).isEmpty();
  }

  /** A declared body a little over the limit is read to its end, so the 413 arrives on a connection that stays usable. */
  @Test
  void declaredOversizedBodyIs413OnAConnectionThatStaysUsable() throws Exception {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", layer.server.port())) {
      socket.setSoTimeout(10_000);
      java.io.OutputStream out = socket.getOutputStream();
      java.io.InputStream in = new java.io.BufferedInputStream(socket.getInputStream());
      byte[] body = "x".repeat(300_000).getBytes(StandardCharsets.US_ASCII);
      out.write(("POST /api/layer/meta/v13.0/" + PNID + "/messages HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer
          + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.write(body);
      out.write(("GET /api/layer/meta/v13.0/" + PNID + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer + "\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      StringBuilder answers = new StringBuilder();
      byte[] buffer = new byte[4096];
      for (int n; !answers.toString().contains("\"id\":\"" + PNID + "\"") && (n = in.read(buffer)) >= 0; ) {
        answers.append(new String(buffer, 0, n, StandardCharsets.UTF_8));
      }
      assertThat(answers.toString()).startsWith("HTTP/1.1 413").contains("HTTP/1.1 200").contains("\"id\":\"" + PNID + "\"");
    }
    assertThat(meta.getAllServeEvents()).hasSize(1); // only the GET
  }

  @Test
  void streamedOversizedBodyIs413() throws Exception {
    meta.stubFor(any(urlPathEqualTo("/v13.0/" + PNID + "/messages")).willReturn(okJson("{}")));
    byte[] chunk = new byte[1024];
    Arrays.fill(chunk, (byte) 'x');
    HttpRequest.BodyPublisher unknownLength =
        HttpRequest.BodyPublishers.fromPublisher(
            (Flow.Subscriber<? super java.nio.ByteBuffer> s) ->
                HttpRequest.BodyPublishers.ofByteArrays(java.util.Collections.nCopies(8, chunk)).subscribe(s));
    HttpResponse<String> r =
        layer.send(
            HttpRequest.newBuilder(URI.create(layer.base() + "/v13.0/" + PNID + "/messages"))
                .header("Authorization", bearer)
                .header("Content-Type", "application/octet-stream")
                .POST(unknownLength));
    graphError(r, 413, 100);
  }

  @Test
  void crossTenant_everyObjectOfAnotherNumberIs403AndNeverReachesMeta() throws Exception {
    for (String id : new String[] {PNID_B, WABA_B, BUSINESS_B, Layer.BUSINESS}) {
      for (String edge : new String[] {"", "/messages", "/calls", "/settings", "/message_templates", "/phone_numbers", "/subscribed_apps"}) {
        graphError(layer.get("/v22.0/" + id + edge, bearer), 403, 200);
        graphError(layer.post("/v22.0/" + id + edge, bearer, "{\"messaging_product\":\"whatsapp\"}"), 403, 200);
        graphError(layer.send(HttpRequest.newBuilder(URI.create(layer.base() + "/v14.0/" + id + edge)).header("Authorization", bearer).DELETE()), 403, 200);
      }
      graphError(layer.get("/" + id + "?access_token=" + layer.key, null), 403, 200);
    }
    for (String node : new String[] {"me", "debug_token?input_token=x", "oauth/access_token", "app", "v22.0/me/accounts"}) {
      graphError(layer.get("/v22.0/" + node, bearer), 403, 200);
    }
    // B's key on A's objects, the other way round.
    graphError(layer.post("/v13.0/" + PNID + "/messages", "Bearer " + layer.keyB, "{}"), 403, 200);
    graphError(layer.get("/v14.0/" + WABA + "/message_templates", "Bearer " + layer.keyB), 403, 200);
    assertThat(meta.getAllServeEvents()).isEmpty();
  }

  /**
   * A media ID is recognised by elimination only, so a key could name any other numeric object its
   * number's token can see (an app, a user, another WABA's template). The layer reads such an ID only
   * as media: the lookup must answer a media object, and a deletion is preceded by that lookup.
   */
  @Test
  void anIdThatIsNoMediaIsNeitherReadNorDeleted() throws Exception {
    String foreign = "1234567890123";
    meta.stubFor(get(urlPathEqualTo("/v22.0/" + foreign))
        .willReturn(okJson("{\"name\":\"Another business's app\",\"id\":\"" + foreign + "\"}")));
    meta.stubFor(com.github.tomakehurst.wiremock.client.WireMock.delete(urlPathEqualTo("/v22.0/" + foreign))
        .willReturn(okJson("{\"success\":true}")));

    HttpResponse<String> read = layer.get("/v22.0/" + foreign + "?fields=name,owner", bearer);
    graphError(read, 403, 200);
    assertThat(read.body()).doesNotContain("Another business");
    HttpResponse<String> deleted =
        layer.send(HttpRequest.newBuilder(URI.create(layer.base() + "/v22.0/" + foreign)).header("Authorization", bearer).DELETE());
    graphError(deleted, 403, 200);
    // Graph's own method override, and parameters in a form body, do not get through either.
    graphError(layer.get("/v22.0/" + foreign + "?method=delete", bearer), 403, 200);
    graphError(layer.send(HttpRequest.newBuilder(URI.create(layer.base() + "/v22.0/" + foreign)).header("Authorization", bearer)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .method("GET", HttpRequest.BodyPublishers.ofString("fields=name.as(error)&method=delete"))), 403, 200);

    // Meta was only asked for the whole object, with the key's own number and nothing of the client's;
    // the override and the expansion never reached it (the Graph surface refuses them).
    var seen = meta.getAllServeEvents();
    assertThat(seen).hasSize(2).allSatisfy(e -> {
      assertThat(e.getRequest().getMethod().getName()).isEqualTo("GET");
      assertThat(e.getRequest().queryParameter("phone_number_id").firstValue()).isEqualTo(PNID);
      assertThat(e.getRequest().getQueryParams().keySet()).isSubsetOf("phone_number_id", "appsecret_proof");
      assertThat(e.getRequest().getBody()).isEmpty();
    });
  }

  @Test
  void aMediaObjectIsDeletedAfterItsLookup() throws Exception {
    String media = "1037543291543636";
    meta.stubFor(get(urlPathEqualTo("/v22.0/" + media)).willReturn(okJson(
        "{\"messaging_product\":\"whatsapp\",\"url\":\"https://lookaside.fbsbx.com/x?mid=1\",\"mime_type\":\"image/jpeg\",\"id\":\"" + media + "\"}")));
    meta.stubFor(com.github.tomakehurst.wiremock.client.WireMock.delete(urlPathEqualTo("/v22.0/" + media))
        .willReturn(okJson("{\"success\":true}")));

    HttpResponse<String> deleted =
        layer.send(HttpRequest.newBuilder(URI.create(layer.base() + "/v22.0/" + media)).header("Authorization", bearer).DELETE());
    assertThat(deleted.statusCode()).isEqualTo(200);
    assertThat(deleted.body()).isEqualTo("{\"success\":true}");
    var seen = meta.getAllServeEvents();
    // newest first: the lookup came before the deletion
    assertThat(seen).extracting(e -> e.getRequest().getMethod().getName()).containsExactly("DELETE", "GET");
    assertThat(seen).allSatisfy(e -> assertThat(e.getRequest().queryParameter("phone_number_id").firstValue()).isEqualTo(PNID));

    // A lookup Meta refuses (media of another number) is the client's answer, and nothing is deleted.
    meta.resetRequests(); // the newer stub below wins over the media answer
    meta.stubFor(get(urlPathEqualTo("/v22.0/" + media)).willReturn(aResponse().withStatus(400)
        .withHeader("Content-Type", "application/json")
        .withBody("{\"error\":{\"message\":\"(#100) Param phone_number_id does not match\",\"type\":\"OAuthException\",\"code\":100,\"fbtrace_id\":\"M\"}}")));
    HttpResponse<String> refused =
        layer.send(HttpRequest.newBuilder(URI.create(layer.base() + "/v22.0/" + media)).header("Authorization", bearer).DELETE());
    graphError(refused, 400, 100);
    assertThat(refused.body()).contains("does not match");
    assertThat(meta.getAllServeEvents()).extracting(e -> e.getRequest().getMethod().getName()).containsExactly("GET");
  }

  @Test
  void upstreamResetIs502() throws Exception {
    meta.stubFor(get(urlPathMatching("/v13.0/" + PNID + "/whatsapp_business_profile")).willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
    graphError(layer.get("/v13.0/" + PNID + "/whatsapp_business_profile", bearer), 502, 2);
    meta.stubFor(get(urlPathMatching("/v13.0/" + PNID + "/whatsapp_business_profile")).willReturn(aResponse().withFault(Fault.EMPTY_RESPONSE)));
    graphError(layer.get("/v13.0/" + PNID + "/whatsapp_business_profile", bearer), 502, 2);
  }

  @Test
  void upstreamThatHangsIs504() throws Exception {
    meta.stubFor(get(urlPathEqualTo("/v13.0/" + PNID + "/whatsapp_business_profile")).willReturn(okJson("{}").withFixedDelay(3_000)));
    graphError(layer.get("/v13.0/" + PNID + "/whatsapp_business_profile", bearer), 504, 2);
  }

  @Test
  void upstreamGarbageIs502() throws Exception {
    meta.stubFor(get(urlPathEqualTo("/v13.0/" + PNID + "/whatsapp_business_profile")).willReturn(aResponse().withFault(Fault.RANDOM_DATA_THEN_CLOSE)));
    graphError(layer.get("/v13.0/" + PNID + "/whatsapp_business_profile", bearer), 502, 2);
    meta.stubFor(get(urlPathEqualTo("/v13.0/" + PNID + "/whatsapp_business_profile")).willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json").withBody("<html>oops " + TOKEN)));
    graphError(layer.get("/v13.0/" + PNID + "/whatsapp_business_profile", bearer), 502, 2);
    meta.stubFor(get(urlPathEqualTo("/v13.0/" + PNID + "/whatsapp_business_profile")).willReturn(aResponse().withStatus(500).withHeader("Content-Type", "text/html").withBody("<html>down</html>")));
    graphError(layer.get("/v13.0/" + PNID + "/whatsapp_business_profile", bearer), 502, 2);
    meta.stubFor(get(urlPathEqualTo("/v13.0/" + PNID + "/whatsapp_business_profile")).willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json").withFault(Fault.MALFORMED_RESPONSE_CHUNK)));
    graphError(layer.get("/v13.0/" + PNID + "/whatsapp_business_profile", bearer), 502, 2);
    meta.stubFor(get(urlPathEqualTo("/v13.0/" + PNID + "/whatsapp_business_profile")).willReturn(okJson("{\"data\":\"" + "x".repeat(70_000) + "\"}")));
    graphError(layer.get("/v13.0/" + PNID + "/whatsapp_business_profile", bearer), 502, 2);
  }

  @Test
  void tokenEchoedByUpstreamNeverReachesTheClient() throws Exception {
    meta.stubFor(
        get(urlPathEqualTo("/v13.0/" + PNID + "/whatsapp_business_profile"))
            .willReturn(
                okJson("{\"error\":{\"message\":\"Invalid token " + TOKEN + "\",\"code\":190},\"url\":\"https://x/?access_token=" + TOKEN + "\"}")
                    .withStatus(401)
                    .withHeader("X-Debug-Echo", "token=" + TOKEN)
                    .withHeader("Link", "<https://graph.facebook.com/x?access_token=" + TOKEN + ">; rel=next")));
    HttpResponse<String> r = layer.get("/v13.0/" + PNID + "/whatsapp_business_profile", bearer);
    assertThat(r.statusCode()).isEqualTo(401);
    assertThat(r.body()).doesNotContain(TOKEN).contains("[redacted]");
    assertThat(r.headers().map().toString()).doesNotContain(TOKEN);
    assertThat(r.headers().firstValue("X-Debug-Echo")).hasValue("token=[redacted]");
    assertThat(r.headers().firstValue("Link")).hasValueSatisfying(v -> assertThat(v).contains("[redacted]"));

    byte[] binary = ("\u0000\u0001binary " + TOKEN + " more " + TOKEN).getBytes(StandardCharsets.UTF_8);
    meta.stubFor(
        get(urlPathEqualTo("/v13.0/" + PNID + "/whatsapp_business_profile"))
            .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/octet-stream").withBody(binary)));
    HttpResponse<byte[]> b = layer.sendBytes(HttpRequest.newBuilder(URI.create(layer.base() + "/v13.0/" + PNID + "/whatsapp_business_profile")).header("Authorization", bearer).GET());
    assertThat(b.statusCode()).isEqualTo(200);
    assertThat(b.body()).hasSameSizeAs(binary);
    assertThat(new String(b.body(), StandardCharsets.UTF_8)).doesNotContain(TOKEN).startsWith("\u0000\u0001binary ");
  }
}

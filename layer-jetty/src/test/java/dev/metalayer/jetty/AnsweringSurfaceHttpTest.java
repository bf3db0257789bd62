package dev.metalayer.jetty;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
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
import dev.metalayer.graph.GraphError;
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
 * The one answering surface, the remembered limits and the answering mode through the real layer
 * (Jetty, the H2 file, the admin API and the CLI), with WireMock as Meta.
 */
class AnsweringSurfaceHttpTest {
  static final String WACID = "wacid.HBgLMTU1NTEyMzQ1NjcVAgARGCA5QkI3";
  static final String CALLS = "/v22.0/" + PNID + "/calls";

  WireMockServer meta;
  @TempDir Path dir;

  @BeforeEach
  void start() {
    meta = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1")
        .useChunkedTransferEncoding(Options.ChunkedEncodingPolicy.NEVER));
    meta.start();
    meta.stubFor(post(urlPathEqualTo(CALLS)).willReturn(okJson("{\"messaging_product\":\"whatsapp\",\"success\":true}")));
  }

  @AfterEach
  void stop() {
    meta.stop();
  }

  static String action(String action) {
    return "{\"messaging_product\":\"whatsapp\",\"call_id\":\"" + WACID + "\",\"action\":\"" + action + "\","
        + "\"session\":{\"sdp_type\":\"answer\",\"sdp\":\"v=0\\r\\n\"}}";
  }

  static String secondKey(Layer layer) {
    return layer.server.layer().keys().createKey(PNID).orElseThrow().key();
  }

  int callsSent() {
    return meta.findAll(postRequestedFor(urlPathEqualTo(CALLS))).size();
  }

  HttpResponse<String> admin(Layer layer, String method, String path, String body) throws Exception {
    return layer.send(HttpRequest.newBuilder(URI.create(layer.server.localUri() + "/admin/v1" + path))
        .header("Authorization", "Bearer " + Layer.ADMIN_TOKEN)
        .header("Content-Type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)));
  }

  @Test
  void aSecondSurfaceIsRefusedWithNothingSentToMetaAndAnyKeyTerminates() throws Exception {
    try (Layer layer = Layer.start(dir, meta.baseUrl(), Map.of())) {
      String other = secondKey(layer);
      assertThat(layer.post(CALLS, "Bearer " + layer.key, action("pre_accept")).statusCode()).isEqualTo(200);
      HttpResponse<String> refused = layer.post(CALLS, "Bearer " + other, action("accept"));
      assertThat(refused.statusCode()).isEqualTo(409);
      assertThat(refused.headers().firstValue("content-type").orElse("")).startsWith("application/json");
      JsonNode error = Json.mapper().readTree(refused.body()).path("error");
      assertThat(error.path("code").asInt()).isEqualTo(GraphError.ANSWERED_ELSEWHERE);
      assertThat(error.path("type").asText()).isEqualTo("MetaLayerException");
      assertThat(refused.body()).doesNotContain(other).doesNotContain(layer.key);
      // a form is read as Graph reads it
      HttpResponse<String> form = layer.send(HttpRequest.newBuilder(URI.create(layer.base() + CALLS))
          .header("Content-Type", "application/x-www-form-urlencoded")
          .POST(HttpRequest.BodyPublishers.ofString("access_token=" + other + "&call_id=" + WACID + "&action=reject")));
      assertThat(form.statusCode()).isEqualTo(409);
      assertThat(callsSent()).isEqualTo(1);
      assertThat(layer.post(CALLS, "Bearer " + other, action("terminate")).statusCode()).isEqualTo(200);
      assertThat(callsSent()).isEqualTo(2);
    }
  }

  /** Graph reads a POST's query parameters too: a call action named there must not slip past the answering surface. */
  @Test
  void callParametersInTheQueryAreReadWithTheBodyOrRefused() throws Exception {
    try (Layer layer = Layer.start(dir, meta.baseUrl(), Map.of())) {
      String other = secondKey(layer);
      assertThat(layer.post(CALLS, "Bearer " + layer.key, action("pre_accept")).statusCode()).isEqualTo(200);
      // the whole action in the query, a JSON body without it
      HttpResponse<String> inQuery = layer.post(CALLS + "?action=accept&call_id=" + WACID, "Bearer " + other,
          "{\"messaging_product\":\"whatsapp\"}");
      assertThat(inQuery.statusCode()).as(inQuery.body()).isIn(400, 409);
      // a terminate in the body, an accept in the query
      assertThat(layer.post(CALLS + "?action=accept", "Bearer " + other, action("terminate")).statusCode()).isEqualTo(400);
      // a form: the query's action with the body's call_id is that call's accept
      HttpResponse<String> form = layer.send(HttpRequest.newBuilder(URI.create(layer.base() + CALLS + "?action=ACCEPT&access_token=" + other))
          .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString("call_id=" + WACID)));
      assertThat(form.statusCode()).as(form.body()).isEqualTo(409);
      // one call_id in the query, another in the form: refused, not guarded on the wrong call
      HttpResponse<String> twice = layer.send(HttpRequest.newBuilder(URI.create(layer.base() + CALLS + "?call_id=" + WACID + "&access_token=" + other))
          .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString("action=accept&call_id=wacid.other")));
      assertThat(twice.statusCode()).as(twice.body()).isEqualTo(400);
      assertThat(JSON_OF(twice).path("error").path("type").asText()).isEqualTo("OAuthException");
      assertThat(callsSent()).isEqualTo(1);
      // the owner may still name its action in the query
      HttpResponse<String> owner = layer.send(HttpRequest.newBuilder(URI.create(layer.base() + CALLS + "?action=accept&access_token=" + layer.key))
          .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString("call_id=" + WACID)));
      assertThat(owner.statusCode()).as(owner.body()).isEqualTo(200);
      assertThat(callsSent()).isEqualTo(2);
    }
  }

  /** The answer from memory is Meta's error alone: nothing the layer wrote into the first key's answer (its key in a paging URL) reaches another key. */
  @Test
  void anAnswerFromMemoryCarriesMetasErrorOnlyNeverTheFirstKeysCredential() throws Exception {
    String refusal = "{\"error\":{\"message\":\"(#138009) Limit reached\",\"type\":\"OAuthException\",\"code\":138009,"
        + "\"fbtrace_id\":\"X\"},\"paging\":{\"next\":\"https://graph.facebook.com/v22.0/" + PNID + "/calls?after=A\"}}";
    meta.stubFor(post(urlPathEqualTo(CALLS)).willReturn(aResponse().withStatus(400)
        .withHeader("Content-Type", "application/json").withBody(refusal)));
    String connect = "{\"messaging_product\":\"whatsapp\",\"to\":\"15551234567\",\"action\":\"connect\","
        + "\"session\":{\"sdp_type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}}";
    try (Layer layer = Layer.start(dir, meta.baseUrl(), Map.of())) {
      String other = secondKey(layer);
      assertThat(layer.post(CALLS, "Bearer " + layer.key, connect).statusCode()).isEqualTo(400);
      HttpResponse<String> remembered = layer.post(CALLS, "Bearer " + other, connect);
      assertThat(remembered.statusCode()).isEqualTo(400);
      assertThat(remembered.headers().firstValue("x-meta-layer-remembered-until")).isPresent();
      assertThat(remembered.body()).doesNotContain(layer.key).contains("138009");
      assertThat(Json.mapper().readTree(remembered.body()).path("error").path("code").asInt()).isEqualTo(138009);
      assertThat(callsSent()).isEqualTo(1);
    }
  }

  static JsonNode JSON_OF(HttpResponse<String> r) throws Exception {
    return Json.mapper().readTree(r.body());
  }

  @Test
  void theAdminApiAndTheCliSetTheAnsweringModeAndListIt() throws Exception {
    try (Layer layer = Layer.start(dir, meta.baseUrl(), Map.of())) {
      JsonNode listed = Json.mapper().readTree(admin(layer, "GET", "/numbers", null).body());
      assertThat(listed.at("/data/0/answering").asText()).isEqualTo("single");
      assertThat(admin(layer, "GET", "/numbers/" + PNID + "/answering", null).body()).contains("\"answering\":\"single\"");
      assertThat(admin(layer, "PUT", "/numbers/" + PNID + "/answering", "{\"mode\":\"first\"}").statusCode()).isEqualTo(400);
      assertThat(admin(layer, "PUT", "/numbers/999/answering", "{\"mode\":\"any\"}").statusCode()).isEqualTo(404);
      assertThat(admin(layer, "POST", "/numbers/" + PNID + "/answering", "{\"mode\":\"any\"}").statusCode()).isEqualTo(405);
      HttpResponse<String> set = admin(layer, "PUT", "/numbers/" + PNID + "/answering", "{\"mode\":\"any\"}");
      assertThat(set.statusCode()).isEqualTo(200);
      assertThat(Json.mapper().readTree(set.body()).path("answering").asText()).isEqualTo("any");
      assertThat(Json.mapper().readTree(admin(layer, "GET", "/numbers/" + PNID, null).body()).path("answering").asText())
          .isEqualTo("any");

      String other = secondKey(layer);
      assertThat(layer.post(CALLS, "Bearer " + layer.key, action("pre_accept")).statusCode()).isEqualTo(200);
      assertThat(layer.post(CALLS, "Bearer " + other, action("accept")).statusCode()).isEqualTo(200);
      assertThat(callsSent()).isEqualTo(2);

      Map<String, String> env = Map.of("LAYER_ADMIN_TOKEN", Layer.ADMIN_TOKEN);
      String url = layer.server.localUri().toString();
      Run single = run(env, "--layer-url", url, "numbers", "answering", "--phone-number-id", PNID, "--mode", "single");
      assertThat(single.status()).isZero();
      assertThat(single.out()).isEqualTo("answering of " + PNID + ": single\n");
      Run bad = run(env, "--layer-url", url, "numbers", "answering", "--phone-number-id", PNID, "--mode", "all");
      assertThat(bad.status()).isEqualTo(2);
      assertThat(bad.err()).contains("--mode is single or any");
      Run list = run(env, "--layer-url", url, "numbers", "list");
      assertThat(list.out()).contains("ANSWERING").containsPattern(PNID + " +\\S+ +\\S+ +single ");
      // the call's record names the key whose pre_accept Meta took (in `any` mode too): back in `single`, it owns the call
      assertThat(layer.post(CALLS, "Bearer " + other, action("reject")).statusCode()).isEqualTo(409);
      String wacid2 = "wacid.second";
      assertThat(layer.post(CALLS, "Bearer " + layer.key, action("accept").replace(WACID, wacid2)).statusCode()).isEqualTo(200);
      assertThat(layer.post(CALLS, "Bearer " + other, action("accept").replace(WACID, wacid2)).statusCode()).isEqualTo(409);
    }
  }

  private record Run(int status, String out, String err) {}

  private static Run run(Map<String, String> env, String... args) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = Main.run(args, env, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void aConnectMetaRefusedForNoPermissionIsAnsweredFromMemoryAndPermissionsReadsPass() throws Exception {
    String refusal = "{\"error\":{\"message\":\"(#138006) No approved call permission from the recipient\",\"type\":\"OAuthException\","
        + "\"code\":138006,\"error_user_msg\":\"Call permission required\",\"fbtrace_id\":\"X\"}}";
    meta.stubFor(post(urlPathEqualTo(CALLS)).willReturn(aResponse().withStatus(400)
        .withHeader("Content-Type", "application/json").withBody(refusal)));
    meta.stubFor(get(urlPathEqualTo("/v22.0/" + PNID + "/call_permissions")).willReturn(okJson(
        "{\"messaging_product\":\"whatsapp\",\"permission\":{\"status\":\"no_permission\"}}")));
    String connect = "{\"messaging_product\":\"whatsapp\",\"to\":\"15551234567\",\"action\":\"connect\","
        + "\"session\":{\"sdp_type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}}";
    try (Layer layer = Layer.start(dir, meta.baseUrl(), Map.of())) {
      assertThat(layer.post(CALLS, "Bearer " + layer.key, connect).statusCode()).isEqualTo(400);
      HttpResponse<String> remembered = layer.post(CALLS, "Bearer " + layer.key, connect);
      assertThat(remembered.statusCode()).isEqualTo(400);
      assertThat(remembered.headers().firstValue("x-meta-layer-remembered-until")).isPresent();
      JsonNode error = Json.mapper().readTree(remembered.body()).path("error");
      assertThat(error.path("code").asInt()).isEqualTo(138006);
      assertThat(error.path("error_user_msg").asText()).isEqualTo("Call permission required");
      assertThat(error.path("layer_remembered").path("until").asText()).isNotEmpty();
      assertThat(callsSent()).isEqualTo(1);
      for (int i = 0; i < 2; i++) {
        HttpResponse<String> read = layer.get("/v22.0/" + PNID + "/call_permissions?user_wa_id=15551234567", "Bearer " + layer.key);
        assertThat(read.statusCode()).isEqualTo(200);
        assertThat(read.body()).contains("no_permission");
      }
      assertThat(meta.findAll(getRequestedFor(urlPathEqualTo("/v22.0/" + PNID + "/call_permissions")))).hasSize(2);
    }
  }
}

package dev.metalayer.jetty;

import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static dev.metalayer.jetty.Layer.PNID;
import static dev.metalayer.jetty.Layer.TOKEN;
import static dev.metalayer.jetty.Layer.WABA;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.core.Options;
import dev.metalayer.json.Json;
import dev.metalayer.keys.Grant.Scope;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Key scopes through the real layer (Jetty, the admin API, an H2 file), Meta played by WireMock: for each
 * scope, a key made through {@code POST /admin/v1/keys} with every scope but that one is refused on every
 * route that needs it with a Graph-shaped 403 naming the scope, and nothing reaches Meta; a key with every
 * scope passes the same requests; the admin API validates {@code scopes} and lists them.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KeyScopesHttpTest {
  static final String MEDIA_ID = "1037543291543636";
  static final String SIP_ON = "{\"calling\":{\"sip\":{\"status\":\"ENABLED\"}}}";

  /** One request a client makes: what it is, and how to send it with a key. */
  record Call(String what, String method, String pathAndQuery, String contentType, String body, boolean layerApi) {}

  /** The requests each scope guards, as clients send them (Chatwoot's shapes where it sends them). */
  static final Map<Scope, List<Call>> GUARDED = new EnumMap<>(Map.of(
      Scope.MESSAGES, List.of(
          new Call("send a message", "POST", "/v13.0/" + PNID + "/messages", "application/json",
              "{\"messaging_product\":\"whatsapp\",\"to\":\"15551234567\",\"type\":\"text\",\"text\":{\"body\":\"Hi\"}}", false)),
      Scope.CALLS, List.of(
          new Call("accept a call", "POST", "/v22.0/" + PNID + "/calls", "application/json",
              "{\"messaging_product\":\"whatsapp\",\"call_id\":\"wacid.1\",\"action\":\"accept\"}", false),
          new Call("read call permissions", "GET", "/v22.0/" + PNID + "/call_permissions?user_wa_id=15551234567", null, null,
              false)),
      Scope.SETTINGS, List.of(
          new Call("turn SIP on", "POST", "/v22.0/" + PNID + "/settings", "application/json", SIP_ON, false),
          new Call("read settings", "GET", "/v22.0/" + PNID + "/settings", null, null, false),
          new Call("write the business profile", "POST", "/v22.0/" + PNID + "/whatsapp_business_profile", "application/json",
              "{\"messaging_product\":\"whatsapp\",\"about\":\"hi\"}", false)),
      Scope.TEMPLATES, List.of(
          new Call("sync templates", "GET", "/v14.0/" + WABA + "/message_templates", null, null, false),
          new Call("create a template", "POST", "/v14.0/" + WABA + "/message_templates", "application/json",
              "{\"name\":\"csat\",\"language\":\"en\",\"category\":\"UTILITY\",\"components\":[]}", false)),
      Scope.MEDIA, List.of(
          new Call("upload media", "POST", "/v22.0/" + PNID + "/media", "multipart/form-data; boundary=XyZ",
              GraphSurfaceTest.multipart("messaging_product", "whatsapp", "type", "image/png", "file", "PNGBYTES"), false),
          new Call("look media up", "GET", "/v13.0/" + MEDIA_ID, null, null, false),
          new Call("delete media", "DELETE", "/v13.0/" + MEDIA_ID, null, null, false),
          new Call("download media through the layer", "GET", "/media/" + MEDIA_ID + "/download?ref=stale", null, null, false)),
      Scope.WEBHOOKS, List.of(
          new Call("list webhook subscriptions", "GET", "/v1/webhooks", null, null, true),
          new Call("subscribe", "POST", "/v1/webhooks", "application/json",
              "{\"name\":\"x\",\"url\":\"http://127.0.0.1:1/hook\",\"events\":[\"messages\"]}", true))));

  WireMockServer meta;
  Layer layer;
  final Map<Scope, String> allButOne = new EnumMap<>(Scope.class);
  final Map<Scope, String> onlyOne = new EnumMap<>(Scope.class);
  String allScopes;

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    meta = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1").useChunkedTransferEncoding(Options.ChunkedEncodingPolicy.NEVER));
    meta.start();
    layer = Layer.start(dir, meta.baseUrl(), Map.of(Option.ALLOWED_TARGET_CIDRS, "127.0.0.0/8"));
    for (Scope scope : Scope.values()) {
      List<String> others = new ArrayList<>();
      for (Scope s : Scope.values()) {
        if (s != scope) {
          others.add("\"" + s.wireName() + "\"");
        }
      }
      allButOne.put(scope, createKey("[" + String.join(",", others) + "]").get("key").asText());
      onlyOne.put(scope, createKey("[\"" + scope.wireName() + "\"]").get("key").asText());
    }
    allScopes = createKey(null).get("key").asText();
  }

  @AfterAll
  void stop() throws Exception {
    layer.close();
    meta.stop();
  }

  @BeforeEach
  void reset() {
    meta.resetAll();
    meta.stubFor(any(anyUrl()).willReturn(okJson("{\"success\":true,\"data\":[]}")));
    meta.stubFor(any(urlPathMatching("/(v[0-9.]+/)?" + MEDIA_ID)).willReturn(okJson("{\"messaging_product\":\"whatsapp\","
        + "\"url\":\"" + meta.baseUrl() + "/cdn/photo.jpg\",\"mime_type\":\"image/jpeg\",\"id\":\"" + MEDIA_ID + "\"}")));
  }

  HttpResponse<String> admin(String method, String path, String body) throws Exception {
    return layer.send(HttpRequest.newBuilder(URI.create(layer.server.localUri() + "/admin/v1" + path))
        .header("Authorization", "Bearer " + Layer.ADMIN_TOKEN).header("Content-Type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)));
  }

  JsonNode createKey(String scopes) throws Exception {
    HttpResponse<String> r = admin("POST", "/keys", "{\"phone_number_id\":\"" + PNID + "\""
        + (scopes == null ? "" : ",\"scopes\":" + scopes) + "}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    return Json.mapper().readTree(r.body());
  }

  HttpResponse<String> send(Call call, String key) throws Exception {
    String base = call.layerApi() ? layer.server.localUri().toString() : layer.base();
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + call.pathAndQuery()))
        .method(call.method(), call.body() == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(call.body()))
        .header("Authorization", "Bearer " + key);
    if (call.contentType() != null) {
      b.header("Content-Type", call.contentType());
    }
    return layer.send(b);
  }

  @Test
  void aKeyWithoutAScopeIsRefusedEveryRouteItGuardsNamingItAndNothingReachesMeta() throws Exception {
    for (Scope scope : Scope.values()) {
      assertThat(GUARDED.get(scope)).as(scope + " has requests to try").isNotEmpty();
      for (Call call : GUARDED.get(scope)) {
        meta.resetRequests();
        HttpResponse<String> r = send(call, allButOne.get(scope));
        String what = call.what() + " without " + scope.wireName();
        assertThat(r.statusCode()).as(what + ": " + r.body()).isEqualTo(403);
        assertThat(r.headers().firstValue("Content-Type")).as(what).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
        JsonNode error = Json.mapper().readTree(r.body()).get("error");
        assertThat(error.get("message").asText()).as(what)
            .startsWith("(#200) (rule scope) This key lacks the scope " + scope.wireName() + " ");
        assertThat(error.get("code").asInt()).as(what).isEqualTo(200);
        assertThat(error.get("type").asText()).as(what).isNotEmpty();
        assertThat(r.body()).doesNotContain(allButOne.get(scope)).doesNotContain(TOKEN);
        assertThat(meta.getAllServeEvents()).as(what + ": requests that reached Meta").isEmpty();
      }
    }
  }

  @Test
  void aKeyWithEveryScopeAndAKeyWithJustTheOneNeededPassTheSameRequests() throws Exception {
    for (Scope scope : Scope.values()) {
      for (Call call : GUARDED.get(scope)) {
        for (String key : List.of(allScopes, onlyOne.get(scope))) {
          meta.resetRequests();
          // each key accepts a call of its own: a second key's accept of one call is refused (one answering surface)
          Call own = call.body() == null ? call : new Call(call.what(), call.method(), call.pathAndQuery(), call.contentType(),
              call.body().replace("wacid.1", "wacid.1" + (key.equals(allScopes) ? "a" : "b")), call.layerApi());
          HttpResponse<String> r = send(own, key);
          String what = call.what() + (key.equals(allScopes) ? " with every scope" : " with only " + scope.wireName());
          assertThat(r.body()).as(what).doesNotContain("(rule scope)");
          if (call.what().startsWith("download")) {
            continue; // a stale link: the layer looks the media up (or refuses the link), scopes aside
          }
          if (call.layerApi()) {
            assertThat(r.statusCode()).as(what + ": " + r.body()).isIn(200, 201);
          } else {
            assertThat(r.statusCode()).as(what + ": " + r.body()).isEqualTo(200);
            assertThat(meta.getAllServeEvents()).as(what + ": reached Meta").isNotEmpty();
          }
        }
      }
    }
  }

  @Test
  void readingTheNumberAndItsWabaNeedsNoScope() throws Exception {
    for (String path : List.of("/v22.0/" + PNID, "/v22.0/" + WABA, "/v22.0/" + WABA + "/phone_numbers?fields=id")) {
      meta.resetRequests();
      HttpResponse<String> r = send(new Call("read " + path, "GET", path, null, null, false), onlyOne.get(Scope.WEBHOOKS));
      assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(200);
      assertThat(meta.getAllServeEvents()).as(path).isNotEmpty();
    }
  }

  @Test
  void theAdminApiRefusesAnUnknownScopeOrNoneNamingWhatIsWrongAndCreatesNothing() throws Exception {
    int keys = Json.mapper().readTree(admin("GET", "/keys", null).body()).get("data").size();
    Map<String, String> refused = Map.of(
        "[\"messages\",\"call\"]", "unknown scope 'call'",
        "[]", "scopes must name at least one scope",
        "\"messages\"", "scopes must be an array",
        "[\"messages\",1]", "scopes must be an array of scope names",
        "[\"MESSAGES\"]", "unknown scope 'MESSAGES'",
        "{\"messages\":true}", "scopes must be an array");
    for (Map.Entry<String, String> e : refused.entrySet()) {
      HttpResponse<String> r = admin("POST", "/keys", "{\"phone_number_id\":\"" + PNID + "\",\"scopes\":" + e.getKey() + "}");
      assertThat(r.statusCode()).as(e.getKey() + ": " + r.body()).isEqualTo(400);
      JsonNode error = Json.mapper().readTree(r.body()).get("error");
      assertThat(error.get("message").asText()).as(e.getKey()).contains(e.getValue());
      assertThat(error.get("code").asInt()).isEqualTo(100);
      assertThat(r.body()).doesNotContain("ps_");
    }
    assertThat(Json.mapper().readTree(admin("GET", "/keys", null).body()).get("data")).hasSize(keys);
  }

  @Test
  void keyListingsAndTheCreatedKeyShowTheScopes() throws Exception {
    JsonNode created = createKey("[\"calls\",\"messages\"]");
    assertThat(created.get("scopes")).extracting(JsonNode::asText).containsExactly("messages", "calls");
    JsonNode listed = Json.mapper().readTree(admin("GET", "/keys", null).body()).get("data");
    Map<String, String> scopesById = new java.util.HashMap<>();
    for (JsonNode k : listed) {
      List<String> names = new ArrayList<>();
      k.get("scopes").forEach(n -> names.add(n.asText()));
      scopesById.put(k.get("id").asText(), String.join(",", names));
    }
    assertThat(scopesById.get(created.get("id").asText())).isEqualTo("messages,calls");
    assertThat(scopesById.values()).contains("messages,calls,settings,templates,media,webhooks", "webhooks");
    assertThat(listed.toString()).doesNotContain(created.get("key").asText());
  }

  @Test
  void theSubscriptionsApiStillWorksForTheOperatorWhateverTheKeysScopes() throws Exception {
    HttpResponse<String> r = layer.send(HttpRequest.newBuilder(
            URI.create(layer.server.localUri() + "/v1/webhooks?phone_number_id=" + PNID))
        .header("Authorization", "Bearer " + Layer.ADMIN_TOKEN).GET());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(GUARDED.keySet().stream().map(Scope::wireName).collect(Collectors.toSet()))
        .as("every scope is tried").hasSize(Scope.values().length);
  }
}

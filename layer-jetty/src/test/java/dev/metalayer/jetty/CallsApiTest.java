package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.RecordingSubscriber;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The call records API through the standalone layer's HTTP surface: calls made by Meta's signed call
 * webhooks on {@code /webhooks/meta}, read on {@code /v1/calls} with each number's key and under
 * {@code /admin/v1} with the admin token. A key never sees another number's call; every bad parameter is
 * a Graph-shaped 400, never a 500.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CallsApiTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String PNID = Layer.PNID;
  static final String PNID_B = Layer.PNID_B;
  static final String USER = CallWebhooks.USER;

  Layer layer;
  RecordingSubscriber subscriber;

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    // no Graph call is made here: Meta's address is a closed port
    layer = Layer.start(dir, "http://127.0.0.1:9", Map.of(Option.ALLOWED_TARGET_CIDRS, "127.0.0.0/8"));
    subscriber = RecordingSubscriber.start();
    for (String key : List.of(layer.key, layer.keyB)) {
      HttpResponse<String> r = call("POST", "/v1/webhooks", "Bearer " + key,
          "{\"name\":\"calls\",\"url\":\"" + subscriber.url("/hook") + "\",\"events\":[\"calls\"]}");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    }
  }

  @AfterAll
  void stop() throws Exception {
    layer.close();
    subscriber.close();
  }

  // ---- refusals (answered before any call record is read)

  @Test
  void withoutAKeyOrWithAWrongOneTheAnswerIs401AndAWriteIs405() throws Exception {
    for (String auth : new String[] {null, "Bearer ps_notARealKeyxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}) {
      HttpResponse<String> r = get("/v1/calls", auth);
      assertThat(r.statusCode()).isEqualTo(401);
      assertThat(graphError(r).path("code").asInt()).isEqualTo(190);
      assertThat(get("/v1/calls/wacid.ABC", auth).statusCode()).isEqualTo(401);
    }
    for (String method : new String[] {"POST", "PUT", "PATCH", "DELETE"}) {
      HttpResponse<String> r = call(method, "/v1/calls", "Bearer " + layer.key, "{}");
      assertThat(r.statusCode()).as(method).isEqualTo(405);
      assertThat(graphError(r).path("message").asText()).contains("read-only");
      assertThat(call(method, "/admin/v1/calls", "Bearer " + Layer.ADMIN_TOKEN, "{}").statusCode()).isEqualTo(405);
    }
    // the admin API's own guard
    assertThat(get("/admin/v1/calls", "Bearer " + layer.key).statusCode()).isEqualTo(401);
  }

  @Test
  void hostileParametersAreGraphShaped400sThatNameTheParameterNeverItsValue() throws Exception {
    String huge = "9".repeat(40);
    String unicode = enc("ringing\u202e\u0000\ud83d\ude00");
    List<String> queries = List.of(
        "state=ringin", "state=ringing,", "state=RINGING%2Cbogus", "state=" + unicode, "state=ringing&state=nope",
        "state=ri%CC%87nging",
        "direction=sideways", "direction=user_%C4%B1nitiated", "direction=", "direction=user_initiated&direction=user_initiated",
        "limit=0", "limit=201", "limit=-1", "limit=" + huge, "limit=1e3", "limit=%EF%BC%91", "limit=", "limit=5&limit=6",
        "since=yesterday", "since=" + huge, "since=2026-13-01T00:00:00Z", "since=2026-12-01T00:00:00",
        "until=" + enc("2026-12-01T00:00:00Z".repeat(100)), "since=1796117400&until=1796117399",
        "after=" + enc("cursor with spaces"), "after=" + "A".repeat(513), "after=" + enc("\u00e9t\u00e9"), "after=",
        "phone_number_id=" + PNID, "states=ringing", "limit=5&" + enc("\u00e9") + "=1");
    for (String q : queries) {
      HttpResponse<String> r = get("/v1/calls?" + q, "Bearer " + layer.key);
      assertThat(r.statusCode()).as(shown(q) + " -> " + r.body()).isEqualTo(400);
      JsonNode error = graphError(r);
      assertThat(error.path("code").asInt()).as(q).isEqualTo(100);
      assertThat(error.path("fbtrace_id").asText()).isNotBlank();
      assertThat(error.path("message").asText()).as(q).doesNotContain("bogus", "nope", "yesterday", "sideways",
          "\u202e", "cursor with", huge, "AAAA");
    }
    // the operator's lists read the same parameters with the same answers
    for (String path : List.of("/admin/v1/calls?", "/admin/v1/numbers/" + PNID + "/calls?", "/v1/calls?")) {
      for (String q : List.of("limit=1000", "state=bogus", "since=x", "after=" + enc("a b"))) {
        HttpResponse<String> r = get(path + q, "Bearer " + Layer.ADMIN_TOKEN);
        assertThat(r.statusCode()).as(path + q + " -> " + r.body()).isEqualTo(400);
        assertThat(graphError(r).path("code").asInt()).isEqualTo(100);
      }
    }
    for (String q : List.of("phone_number_id=abc", "phone_number_id=" + enc("1 OR 1=1"), "phone_number_id=" + huge)) {
      assertThat(get("/admin/v1/calls?" + q, "Bearer " + Layer.ADMIN_TOKEN).statusCode()).as(q).isEqualTo(400);
      assertThat(get("/v1/calls?" + q, "Bearer " + Layer.ADMIN_TOKEN).statusCode()).as(q).isEqualTo(400);
    }
    assertThat(get("/v1/calls", "Bearer " + layer.key + "x").statusCode()).isEqualTo(401);
    // 10 KB of cursor: a request line the server does not read, answered Graph-shaped
    HttpResponse<String> tooLong = get("/v1/calls?after=" + "A".repeat(10 * 1024), "Bearer " + layer.key);
    assertThat(tooLong.statusCode()).isIn(400, 414);
    assertThat(graphError(tooLong).path("message").asText()).doesNotContain("AAAA");
    // a %-escape no URI class would send
    String raw = layer.raw("GET /v1/calls?state=%zz&limit=%G1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        + layer.key + "\r\nConnection: close\r\n\r\n");
    assertThat(raw).startsWith("HTTP/1.1 400").contains("\"error\"");
    for (String path : List.of("/v1/calls?phone_number_id=%zz", "/admin/v1/calls?phone_number_id=%zz",
        "/admin/v1/numbers/" + PNID + "/calls?limit=%zz", "/v1/calls/wacid.A%zz", "/v1/calls?state=%FF%FE")) {
      String answer = layer.raw("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
          + (path.startsWith("/admin") || path.contains("phone_number_id") ? Layer.ADMIN_TOKEN : layer.key)
          + "\r\nConnection: close\r\n\r\n");
      assertThat(answer).as(path).startsWith("HTTP/1.1 400").contains("\"error\"");
    }
    // paths around the prefix
    assertThat(get("/v1/callsx", "Bearer " + layer.key).statusCode()).isEqualTo(404);
    assertThat(get("/admin/v1/numbers/" + PNID + "/callsx", "Bearer " + Layer.ADMIN_TOKEN).statusCode()).isEqualTo(404);
  }

  @Test
  void aCallIdThatCannotBeOneIsRefusedBeforeTheStoreIsAsked() throws Exception {
    List<String> ids = List.of(enc("wacid.\u00e9\u00e9"), "wacid.a%20b", enc("wacid.<script>"), "wacid." + "A".repeat(300),
        enc("\ud83d\ude00"), enc("wacid.x\u0000"), "wacid.%C0%AF");
    for (String id : ids) {
      for (String auth : List.of("Bearer " + layer.key, "Bearer " + Layer.ADMIN_TOKEN)) {
        HttpResponse<String> r = get("/v1/calls/" + id + (auth.contains(layer.key) ? "" : "?phone_number_id=" + PNID), auth);
        assertThat(r.statusCode()).as(shown(id) + " -> " + r.body()).isEqualTo(400);
        assertThat(graphError(r).path("message").asText()).doesNotContain("script", "AAAA");
      }
      HttpResponse<String> admin = get("/admin/v1/numbers/" + PNID + "/calls/" + id, "Bearer " + Layer.ADMIN_TOKEN);
      assertThat(admin.statusCode()).as(shown(id)).isEqualTo(400);
    }
    // 10 KB of call ID: refused as a whole request line no server reads (Graph-shaped), or as no call ID
    HttpResponse<String> long10k = get("/v1/calls/wacid." + "A".repeat(10 * 1024), "Bearer " + layer.key);
    assertThat(long10k.statusCode()).as(long10k.body()).isIn(400, 414, 431);
    assertThat(graphError(long10k).path("message").asText()).isNotBlank();
    // a one-call read takes no parameters; the operator names the number
    assertThat(get("/v1/calls/wacid.ABC?limit=5", "Bearer " + layer.key).statusCode()).isEqualTo(400);
    HttpResponse<String> unnamed = get("/v1/calls/wacid.ABC", "Bearer " + Layer.ADMIN_TOKEN);
    assertThat(unnamed.statusCode()).isEqualTo(400);
    assertThat(graphError(unnamed).path("message").asText()).contains("phone_number_id");
    assertThat(get("/admin/v1/numbers/not-digits/calls/wacid.ABC", "Bearer " + Layer.ADMIN_TOKEN).statusCode())
        .isEqualTo(404);
    // still serving
    assertThat(layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/healthz")).GET()).statusCode())
        .isEqualTo(200);
  }

  // ---- call records made by Meta's webhooks (they need the call records of the core)

  @Test
  void aKeySeesItsOwnNumbersCallsOnlyAndTheOperatorSeesEvery() throws Exception {
    String mine = "wacid.API" + System.nanoTime() + "A";
    String theirs = "wacid.API" + System.nanoTime() + "B";
    webhook(PNID, mine, "connect", null);
    webhook(PNID_B, theirs, "connect", null);
    JsonNode own = awaitCall(layer.key, mine);
    assertThat(own.path("phone_number_id").asText()).isEqualTo(PNID);
    awaitCall(layer.keyB, theirs);

    // another number's key: never in its list, 404 as an unknown call, Graph-shaped
    assertThat(ids(list("/v1/calls?limit=200", layer.keyB))).contains(theirs).doesNotContain(mine);
    assertThat(ids(list("/v1/calls?limit=200", layer.key))).contains(mine).doesNotContain(theirs);
    assertThat(ids(list("/v1/calls/?limit=200", layer.key))).contains(mine).doesNotContain(theirs);
    HttpResponse<String> other = get("/v1/calls/" + mine, "Bearer " + layer.keyB);
    assertThat(other.statusCode()).isEqualTo(404);
    HttpResponse<String> unknown = get("/v1/calls/wacid.NEVERSEEN", "Bearer " + layer.keyB);
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(graphError(other).path("message").asText()).isEqualTo(graphError(unknown).path("message").asText());
    assertThat(graphError(other).path("code").asInt()).isEqualTo(graphError(unknown).path("code").asInt());

    // the operator: every number, one number, one call of a named number (not of another)
    String admin = "Bearer " + Layer.ADMIN_TOKEN;
    assertThat(ids(JSON.readTree(get("/admin/v1/calls?limit=200", admin).body()))).contains(mine, theirs);
    assertThat(ids(JSON.readTree(get("/admin/v1/calls?limit=200&phone_number_id=" + PNID_B, admin).body())))
        .contains(theirs).doesNotContain(mine);
    assertThat(ids(JSON.readTree(get("/admin/v1/numbers/" + PNID + "/calls", admin).body())))
        .contains(mine).doesNotContain(theirs);
    assertThat(ids(JSON.readTree(get("/v1/calls?phone_number_id=" + PNID, admin).body())))
        .contains(mine).doesNotContain(theirs);
    HttpResponse<String> one = get("/admin/v1/numbers/" + PNID + "/calls/" + mine, admin);
    assertThat(one.statusCode()).as(one.body()).isEqualTo(200);
    assertThat(JSON.readTree(one.body()).path("wacid").asText()).isEqualTo(mine);
    assertThat(get("/admin/v1/numbers/" + PNID_B + "/calls/" + mine, admin).statusCode()).isEqualTo(404);
    assertThat(get("/v1/calls/" + mine + "?phone_number_id=" + PNID, admin).statusCode()).isEqualTo(200);
  }

  @Test
  void aCallReadsWithItsTransitionsTimelineAndDeliveriesAndTheListFiltersIt() throws Exception {
    String wacid = "wacid.API" + System.nanoTime() + "T";
    Instant before = Instant.now().minusSeconds(5);
    webhook(PNID, wacid, "connect", null);
    webhook(PNID, wacid, "terminate", "COMPLETED");
    JsonNode call = awaitCall(layer.key, wacid, c -> c.path("state").asText().equals("terminated"));
    assertThat(call.path("direction").asText()).isEqualTo("user_initiated");
    assertThat(call.path("user_wa_id").asText()).isEqualTo(USER);
    assertThat(call.path("terminate_status").asText()).isEqualTo("COMPLETED");
    List<String> states = new ArrayList<>();
    call.path("state_changes").forEach(t -> states.add(t.path("state").asText()));
    assertThat(states).containsExactly("ringing", "terminated");
    call.path("state_changes").forEach(t -> assertThat(t.path("actor").asText()).isEqualTo("meta"));
    List<String> names = new ArrayList<>();
    call.path("timeline").forEach(e -> names.add(e.path("source").asText() + ":" + e.path("name").asText()));
    assertThat(names).containsSubsequence("webhook:connect", "webhook:terminate");
    assertThat(call.path("timeline").toString()).doesNotContain("v=0", "sdp");
    subscriber.await(2, Duration.ofSeconds(20));
    JsonNode delivered = awaitCall(layer.key, wacid, c -> c.path("deliveries").size() >= 1);
    assertThat(delivered.path("deliveries").get(0).path("field").asText()).isEqualTo("calls");
    assertThat(call.has("remembered")).isTrue();

    // filters: state (repeatable or a comma list), direction, since and until (RFC 3339 or Unix seconds)
    String key = layer.key;
    assertThat(ids(list("/v1/calls?state=terminated&limit=200", key))).contains(wacid);
    assertThat(ids(list("/v1/calls?state=ringing&state=accepted&limit=200", key))).doesNotContain(wacid);
    assertThat(ids(list("/v1/calls?state=ringing,terminated&limit=200", key))).contains(wacid);
    assertThat(ids(list("/v1/calls?direction=user_initiated&limit=200", key))).contains(wacid);
    assertThat(ids(list("/v1/calls?direction=business_initiated&limit=200", key))).doesNotContain(wacid);
    assertThat(ids(list("/v1/calls?since=" + before.getEpochSecond() + "&limit=200", key))).contains(wacid);
    assertThat(ids(list("/v1/calls?since=" + enc(before.plusSeconds(3600).toString()), key))).doesNotContain(wacid);
    assertThat(ids(list("/v1/calls?until=" + enc(before.toString()), key))).doesNotContain(wacid);
    assertThat(ids(list("/v1/calls?until=" + before.plusSeconds(3600).getEpochSecond() + "&limit=200", key)))
        .contains(wacid);
  }

  @Test
  void pagesFollowTheirCursorsNewestFirstWithoutRepeatsAndTheNextLinkCarriesTheFilters() throws Exception {
    Instant since = Instant.now().minusSeconds(1);
    List<String> made = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      String wacid = "wacid.PAGE" + System.nanoTime() + "n" + i;
      made.add(wacid);
      webhook(PNID_B, wacid, "connect", null);
      awaitCall(layer.keyB, wacid);
    }
    String first = "/v1/calls?direction=user_initiated&limit=2&since=" + since.getEpochSecond();
    JsonNode page = list(first, layer.keyB);
    List<String> seen = new ArrayList<>(ids(page));
    assertThat(seen).hasSize(2);
    int pages = 1;
    while (page.has("paging")) {
      String after = page.path("paging").path("cursors").path("after").asText();
      String next = page.path("paging").path("next").asText();
      assertThat(after).isNotBlank();
      assertThat(next).startsWith(layer.server.localUri().toString().replaceAll("/$", "") + "/v1/calls?")
          .contains("direction=user_initiated", "limit=2", "after=" + enc(after)).doesNotContain("ps_");
      page = JSON.readTree(layer.send(HttpRequest.newBuilder(URI.create(next)).header("x-api-key", layer.keyB).GET())
          .body());
      seen.addAll(ids(page));
      assertThat(++pages).isLessThan(10);
    }
    assertThat(seen).doesNotHaveDuplicates();
    List<String> newestFirst = new ArrayList<>(made);
    java.util.Collections.reverse(newestFirst);
    // calls of the class's other tests may fall in the same second: this test's own come newest first, all of them
    assertThat(seen.stream().filter(made::contains).toList()).containsExactlyElementsOf(newestFirst);
    assertThat(seen.size() - made.size()).as("at most a page of the second before").isLessThanOrEqualTo(2);
    // a cursor of the store is refused when forged
    HttpResponse<String> forged = get("/v1/calls?after=forged-cursor-0", "Bearer " + layer.keyB);
    assertThat(forged.statusCode()).as(forged.body()).isEqualTo(400);
  }

  // ---- helpers

  private void webhook(String pnid, String wacid, String event, String status) throws Exception {
    String phone = pnid.equals(PNID) ? "15550783881" : "15550783882";
    String waba = pnid.equals(PNID) ? Layer.WABA : Layer.WABA_B;
    byte[] body = status == null ? CallWebhooks.connect(waba, phone, pnid, wacid)
        : CallWebhooks.terminate(waba, phone, pnid, wacid, status);
    HttpResponse<String> r = layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/webhooks/meta"))
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", MetaFixtures.metaSignature(Layer.APP_SECRET, body))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  private JsonNode awaitCall(String key, String wacid) throws Exception {
    return awaitCall(key, wacid, c -> true);
  }

  /** Reads the call until {@code done} holds (the ingest routes an acknowledged envelope right after its 200). */
  private JsonNode awaitCall(String key, String wacid, java.util.function.Predicate<JsonNode> done) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    HttpResponse<String> r;
    do {
      r = get("/v1/calls/" + wacid, "Bearer " + key);
      if (r.statusCode() == 200 && done.test(JSON.readTree(r.body()))) {
        return JSON.readTree(r.body());
      }
      LockSupport.parkNanos(50_000_000L); // a poll interval while the envelope is routed
    } while (System.nanoTime() < deadline);
    throw new AssertionError("call " + wacid + " not as expected: " + r.statusCode() + " " + r.body());
  }

  private JsonNode list(String pathAndQuery, String key) throws Exception {
    HttpResponse<String> r = get(pathAndQuery, "Bearer " + key);
    assertThat(r.statusCode()).as(pathAndQuery + " -> " + r.body()).isEqualTo(200);
    return JSON.readTree(r.body());
  }

  private static List<String> ids(JsonNode page) {
    List<String> ids = new ArrayList<>();
    page.path("data").forEach(c -> ids.add(c.path("wacid").asText()));
    return ids;
  }

  private static JsonNode graphError(HttpResponse<String> r) throws Exception {
    assertThat(r.headers().firstValue("content-type").orElse("")).startsWith("application/json");
    JsonNode error = JSON.readTree(r.body()).path("error");
    assertThat(error.isObject()).as(r.body()).isTrue();
    return error;
  }

  private HttpResponse<String> get(String pathAndQuery, String authorization) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(layer.server.localUri().resolve(pathAndQuery)).GET();
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return layer.send(b);
  }

  private HttpResponse<String> call(String method, String path, String authorization, String json) throws Exception {
    return layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve(path))
        .header("Authorization", authorization).header("Content-Type", "application/json")
        .method(method, HttpRequest.BodyPublishers.ofString(json)));
  }

  /** A parameter as an assertion names it: its start only. */
  private static String shown(String q) {
    return q.length() > 80 ? q.substring(0, 80) + "…(" + q.length() + " chars)" : q;
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }
}

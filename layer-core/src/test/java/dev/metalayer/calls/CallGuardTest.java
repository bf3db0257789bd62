package dev.metalayer.calls;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.metalayer.MetaLayer;
import dev.metalayer.calls.CallStore.Event;
import dev.metalayer.calls.CallStore.Source;
import dev.metalayer.graph.ClientRequest;
import dev.metalayer.graph.GraphAnswer;
import dev.metalayer.graph.GraphError;
import dev.metalayer.json.Json;
import dev.metalayer.keys.KeyService.CreatedKey;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The one answering surface per call and the calling limits remembered, through the core proxy
 * ({@code GraphProxy#handle} and the JDK forwarder) with a JDK {@link HttpServer} playing Meta, on a
 * clock moved by hand.
 */
class CallGuardTest {
  static final String PNID = "106540352242922";
  static final String PNID_B = "206540352242922";
  static final String WACID = "wacid.HBgLMTU1NTEyMzQ1NjcVAgARGCA5QkI3";
  static final String USER = "15551234567";
  static final String SDP = "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\n";

  record Seen(String method, String path, String body) {}

  final ConcurrentLinkedQueue<Seen> seen = new ConcurrentLinkedQueue<>();
  final MutableClock clock = MutableClock.at("2026-03-02T10:00:00Z");
  /** What Meta answers a POST body: status and JSON; 200 success by default. */
  volatile Function<String, Map.Entry<Integer, String>> answers =
      body -> Map.entry(200, "{\"messaging_product\":\"whatsapp\",\"success\":true}");
  HttpServer meta;
  ExecutorService metaThreads;
  MetaLayer layer;
  CreatedKey one;
  CreatedKey two;
  CreatedKey other;

  @BeforeEach
  void start() throws IOException {
    meta = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 100);
    metaThreads = Executors.newCachedThreadPool();
    meta.setExecutor(metaThreads);
    meta.createContext("/", this::meta);
    meta.start();
    layer = MetaLayer.builder()
        .keyStore(Stores.inMemoryKeys())
        .masterKey(new byte[32])
        .clock(clock)
        .graphUrl(URI.create("http://127.0.0.1:" + meta.getAddress().getPort()))
        .upstreamTimeout(Duration.ofSeconds(10))
        .build();
    layer.keys().addNumber("+15550783881", PNID, "102290129340398", "900000000000001", "EAAtokenOfNumberA0123456789");
    layer.keys().addNumber("+15550783882", PNID_B, "202290129340398", "900000000000002", "EAAtokenOfNumberB0123456789");
    one = layer.keys().createKey(PNID).orElseThrow();
    two = layer.keys().createKey(PNID).orElseThrow();
    other = layer.keys().createKey(PNID_B).orElseThrow();
  }

  @AfterEach
  void stop() {
    meta.stop(0);
    metaThreads.shutdownNow();
  }

  private void meta(HttpExchange x) throws IOException {
    String body = new String(x.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
    seen.add(new Seen(x.getRequestMethod(), x.getRequestURI().getPath(), body));
    Map.Entry<Integer, String> answer = x.getRequestMethod().equals("GET")
        ? Map.entry(200, "{\"messaging_product\":\"whatsapp\",\"permission\":{\"status\":\"no_permission\"}}")
        : answers.apply(body);
    byte[] bytes = answer.getValue().getBytes(StandardCharsets.UTF_8);
    x.getResponseHeaders().add("Content-Type", answer.getValue().startsWith("{") ? "application/json" : "text/html");
    x.sendResponseHeaders(answer.getKey(), bytes.length);
    x.getResponseBody().write(bytes);
    x.close();
  }

  GraphAnswer post(CreatedKey key, String number, String edge, String contentType, String body) {
    ClientRequest r = new ClientRequest("POST", "/v22.0/" + number + "/" + edge, "", Optional.of("Bearer " + key.key()),
        Optional.empty(), "http://layer.test");
    return layer.graphProxy().handle(r, Map.of("Content-Type", List.of(contentType)), body.getBytes(StandardCharsets.UTF_8));
  }

  GraphAnswer calls(CreatedKey key, String body) {
    return post(key, PNID, "calls", "application/json", body);
  }

  static String action(String action) {
    return "{\"messaging_product\":\"whatsapp\",\"call_id\":\"" + WACID + "\",\"action\":\"" + action + "\""
        + (action.equals("pre_accept") || action.equals("accept") ? ",\"session\":{\"sdp_type\":\"answer\",\"sdp\":\"" + SDP + "\"}" : "")
        + "}";
  }

  static String permissionRequest(String to) {
    return "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\",\"to\":\"" + to + "\",\"type\":\"interactive\","
        + "\"interactive\":{\"type\":\"call_permission_request\",\"action\":{\"name\":\"call_permission_request\"},"
        + "\"body\":{\"text\":\"May we call you?\"}}}";
  }

  static String connect(String to) {
    return "{\"messaging_product\":\"whatsapp\",\"to\":\"" + to + "\",\"action\":\"connect\","
        + "\"session\":{\"sdp_type\":\"offer\",\"sdp\":\"" + SDP + "\"}}";
  }

  static String metaError(int code, String errorData) {
    return "{\"error\":{\"message\":\"(#" + code + ") refused\",\"type\":\"OAuthException\",\"code\":" + code
        + (errorData == null ? "" : ",\"error_data\":" + errorData) + ",\"fbtrace_id\":\"AbC\"}}";
  }

  static JsonNode json(GraphAnswer a) throws IOException {
    return Json.mapper().readTree(a.body());
  }

  List<Event> timeline() {
    return layer.calls().store().timeline(PNID, WACID);
  }

  // ---- one answering surface

  @Test
  void aSecondSurfaceIsRefusedAndNothingOfItReachesMeta() throws IOException {
    assertThat(calls(one, action("pre_accept")).status()).isEqualTo(200);
    GraphAnswer accept = calls(two, action("accept"));
    GraphAnswer reject = calls(two, action("reject"));
    assertThat(accept.status()).isEqualTo(409);
    assertThat(json(accept).at("/error/code").asInt()).isEqualTo(GraphError.ANSWERED_ELSEWHERE);
    assertThat(json(accept).at("/error/type").asText()).isEqualTo(GraphError.LAYER);
    assertThat(json(accept).at("/error/message").asText()).isNotBlank();
    assertThat(accept.header("content-type")).startsWith("application/json");
    assertThat(reject.status()).isEqualTo(409);
    assertThat(calls(two, action("pre_accept")).status()).isEqualTo(409);
    assertThat(seen).hasSize(1);
    // the owner goes on; any key may terminate
    assertThat(calls(one, action("accept")).status()).isEqualTo(200);
    assertThat(calls(two, action("terminate")).status()).isEqualTo(200);
    assertThat(seen).extracting(s -> Json.mapper().readTree(s.body()).path("action").asText())
        .containsExactly("pre_accept", "accept", "terminate");
    assertThat(layer.calls().store().find(PNID, WACID).orElseThrow().answeredBy()).contains(one.record().id());

    List<Event> t = timeline();
    assertThat(t).extracting(Event::name).containsExactly("pre_accept", "refused", "refused", "refused", "accept", "terminate");
    assertThat(t).extracting(Event::source).containsExactly(Source.ACTION, Source.LAYER, Source.LAYER, Source.LAYER,
        Source.ACTION, Source.ACTION);
    assertThat(t.get(0).actor()).isEqualTo("key:" + one.record().id());
    assertThat(t.get(0).httpStatus().getAsInt()).isEqualTo(200);
    Event refused = t.get(1);
    assertThat(refused.actor()).isEqualTo("key:" + two.record().id());
    assertThat(refused.httpStatus().getAsInt()).isEqualTo(409);
    JsonNode detail = Json.mapper().readTree(refused.detail().orElseThrow());
    assertThat(detail.path("action").asText()).isEqualTo("accept");
    assertThat(detail.path("answered_by").asText()).isEqualTo("key:" + one.record().id());
    assertThat(detail.at("/error/code").asInt()).isEqualTo(GraphError.ANSWERED_ELSEWHERE);
    assertThat(t.get(5).actor()).isEqualTo("key:" + two.record().id());
    assertThat(t).allSatisfy(e -> assertThat(e.detail().orElse("")).doesNotContain("v=0").doesNotContain(one.key()));
  }

  @Test
  void aRejectBeforeAnyAnswerPassesAndClaimsNothing() {
    assertThat(calls(two, action("reject")).status()).isEqualTo(200);
    assertThat(layer.calls().store().find(PNID, WACID).flatMap(CallStore.CallRecord::answeredBy)).isEmpty();
    assertThat(calls(one, action("pre_accept")).status()).isEqualTo(200);
    assertThat(seen).hasSize(2);
  }

  @Test
  void inAnyModeEveryKeyMayAnswer() {
    layer.calls().setAnswering(PNID, Calls.ANY);
    assertThat(layer.calls().answering(PNID)).isEqualTo("any");
    assertThat(layer.calls().answering(PNID_B)).isEqualTo("single");
    assertThat(calls(one, action("pre_accept")).status()).isEqualTo(200);
    assertThat(calls(two, action("accept")).status()).isEqualTo(200);
    assertThat(calls(two, action("reject")).status()).isEqualTo(200);
    assertThat(seen).hasSize(3);
    assertThat(timeline()).extracting(Event::name).containsExactly("pre_accept", "accept", "reject");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> layer.calls().setAnswering(PNID, "first"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void twoSurfacesRacingHaveOneWinner() throws Exception {
    int rounds = 20;
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      for (int round = 0; round < rounds; round++) {
        String wacid = "wacid.race" + round;
        seen.clear();
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Map.Entry<String, Integer>>> tries = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
          CreatedKey key = i % 2 == 0 ? one : two;
          String act = i % 4 < 2 ? "pre_accept" : "accept";
          tries.add(pool.submit(() -> {
            go.await();
            String body = action(act).replace(WACID, wacid);
            return Map.entry(key.record().id(), calls(key, body).status());
          }));
        }
        go.countDown();
        List<String> winners = new ArrayList<>();
        int refused = 0;
        for (Future<Map.Entry<String, Integer>> f : tries) {
          Map.Entry<String, Integer> r = f.get(20, TimeUnit.SECONDS);
          if (r.getValue() == 200) {
            winners.add(r.getKey());
          } else {
            assertThat(r.getValue()).isEqualTo(409);
            refused++;
          }
        }
        assertThat(winners).hasSize(4).containsOnly(winners.get(0));
        assertThat(refused).isEqualTo(4);
        assertThat(seen).hasSize(4);
        assertThat(layer.calls().store().find(PNID, wacid).orElseThrow().answeredBy()).contains(winners.get(0));
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void metaRefusingTheOwnersFirstAnswerFreesTheCallForAnotherSurface() {
    answers = body -> body.contains("\"pre_accept\"") && seen.size() == 1
        ? Map.entry(400, metaError(100, "{\"details\":\"Invalid SDP\"}"))
        : Map.entry(200, "{\"messaging_product\":\"whatsapp\",\"success\":true}");
    assertThat(calls(one, action("pre_accept")).status()).isEqualTo(400);
    assertThat(layer.calls().store().find(PNID, WACID).orElseThrow().answeredBy()).isEmpty();
    assertThat(calls(two, action("pre_accept")).status()).isEqualTo(200);
    assertThat(calls(one, action("accept")).status()).isEqualTo(409);
    Event failed = timeline().get(0);
    assertThat(failed.httpStatus().getAsInt()).isEqualTo(400);
    assertThat(failed.detail().orElseThrow()).contains("\"code\":100").contains("Invalid SDP");
  }

  @Test
  void aFailureOfTheLayersOwnKeepsTheClaim() {
    answers = body -> Map.entry(500, "<html>busy</html>");
    GraphAnswer a = calls(one, action("pre_accept"));
    assertThat(a.status()).isEqualTo(502);
    assertThat(layer.calls().store().find(PNID, WACID).orElseThrow().answeredBy()).contains(one.record().id());
    assertThat(calls(two, action("pre_accept")).status()).isEqualTo(409);
  }

  @Test
  void anOwnersLaterFailureKeepsTheClaim() {
    assertThat(calls(one, action("pre_accept")).status()).isEqualTo(200);
    answers = body -> Map.entry(400, metaError(138007, null));
    assertThat(calls(one, action("accept")).status()).isEqualTo(400);
    assertThat(calls(two, action("accept")).status()).isEqualTo(409);
  }

  @Test
  void formBodiesAreReadAsGraphReadsThem() {
    String form = "messaging_product=whatsapp&call_id=" + WACID + "&action=pre_accept&session=%7B%22sdp_type%22%3A%22answer%22%7D";
    assertThat(post(one, PNID, "calls", "application/x-www-form-urlencoded", form).status()).isEqualTo(200);
    String theirs = "messaging_product=whatsapp&call_id=" + WACID + "&ACTION=accept";
    assertThat(post(two, PNID, "calls", "application/x-www-form-urlencoded", theirs).status()).isEqualTo(409);
    assertThat(seen).hasSize(1);
  }

  @Test
  void ambiguousOrMalformedCallBodiesAreRefusedBeforeMeta() throws IOException {
    assertThat(calls(one, action("pre_accept")).status()).isEqualTo(200);
    seen.clear();
    String twice = "{\"call_id\":\"wacid.other\",\"call_id\":\"" + WACID + "\",\"action\":\"accept\"}";
    GraphAnswer a = calls(two, twice);
    assertThat(a.status()).isEqualTo(400);
    assertThat(json(a).at("/error/message").asText()).contains("call-body");
    assertThat(calls(two, "{\"call_id\":[\"" + WACID + "\"],\"action\":\"accept\"}").status()).isEqualTo(400);
    assertThat(calls(two, "{\"call_id\":\"" + "w".repeat(300) + "\",\"action\":\"accept\"}").status()).isEqualTo(400);
    assertThat(calls(two, "{\"call_id\":\"wacid.a b\",\"action\":\"accept\"}").status()).isEqualTo(400);
    assertThat(calls(two, "{\"call_id\":\"" + WACID + "\",\"action\":{\"x\":1}}").status()).isEqualTo(400);
    assertThat(calls(two, "{\"call_id\":\"" + WACID + "\",\"action\":\"accept\"").status()).isEqualTo(400);
    assertThat(calls(two, "{\"x\":\"&call_id=" + WACID + "&action=accept\"}").status()).isEqualTo(400);
    assertThat(post(two, PNID, "calls", "application/x-www-form-urlencoded",
        "call_id=wacid.other&call_id=" + WACID + "&action=accept").status()).isEqualTo(400);
    String huge = "{\"call_id\":\"" + WACID + "\",\"action\":\"accept\",\"session\":{\"sdp\":\"" + "a".repeat(900_000) + "\"}}";
    assertThat(calls(two, huge).status()).isEqualTo(409);
    assertThat(seen).isEmpty();
  }

  @Test
  void aKeyNeverClaimsOrSeesAnotherNumbersCall() {
    assertThat(calls(one, action("pre_accept")).status()).isEqualTo(200);
    // another number's key, on its own number, with the same call id: its own record, not A's
    assertThat(post(other, PNID_B, "calls", "application/json", action("accept")).status()).isEqualTo(200);
    // on A's number: refused by the surface before anything
    assertThat(post(other, PNID, "calls", "application/json", action("accept")).status()).isEqualTo(403);
    assertThat(layer.calls().store().find(PNID, WACID).orElseThrow().answeredBy()).contains(one.record().id());
    assertThat(layer.calls().store().find(PNID_B, WACID).orElseThrow().answeredBy()).contains(other.record().id());
    assertThat(timeline()).extracting(Event::actor).containsOnly("key:" + one.record().id());
  }

  // ---- calling limits remembered

  @Test
  void aRefusedPermissionRequestIsAnsweredFromMemoryUntilItsDefaultDayEnds() throws IOException {
    answers = body -> Map.entry(400, metaError(138009, null));
    Instant first = clock.instant();
    GraphAnswer refused = post(one, PNID, "messages", "application/json", permissionRequest(USER));
    assertThat(refused.status()).isEqualTo(400);
    assertThat(seen).hasSize(1);

    clock.advance(Duration.ofHours(24).minusSeconds(1));
    GraphAnswer remembered = post(two, PNID, "messages", "application/json", permissionRequest("+1 555-123-4567"));
    assertThat(seen).hasSize(1);
    assertThat(remembered.status()).isEqualTo(400);
    JsonNode body = json(remembered);
    assertThat(body.at("/error/code").asInt()).isEqualTo(138009);
    assertThat(body.at("/error/message").asText()).isEqualTo("(#138009) refused");
    assertThat(body.at("/error/fbtrace_id").asText()).isEqualTo("AbC");
    assertThat(body.at("/error/layer_remembered/until").asText()).isEqualTo(first.plus(Duration.ofHours(24)).toString());
    assertThat(remembered.header("x-meta-layer-remembered-until")).isEqualTo(first.plus(Duration.ofHours(24)).toString());
    assertThat(remembered.header("retry-after")).isEqualTo("1");
    assertThat(layer.calls().store().rememberedFor(PNID, USER, clock.instant()))
        .singleElement().satisfies(l -> assertThat(l.kind()).isEqualTo("permission_request"));
    // another user, another number, a plain message: not concerned
    post(one, PNID, "messages", "application/json", permissionRequest("15550000000"));
    post(other, PNID_B, "messages", "application/json", permissionRequest(USER));
    post(one, PNID, "messages", "application/json", "{\"to\":\"" + USER + "\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}");
    assertThat(seen).hasSize(4);

    clock.advance(Duration.ofSeconds(1));
    post(one, PNID, "messages", "application/json", permissionRequest(USER));
    assertThat(seen).hasSize(5);
  }

  @Test
  void aRefusedConnectIsRememberedUntilTheTimeMetaNames() throws IOException {
    Instant next = Instant.parse("2026-03-02T17:30:00Z");
    answers = body -> Map.entry(400, metaError(138012, "{\"messaging_product\":\"whatsapp\",\"details\":"
        + "\"Business initiated calls limit reached; next call allowed at " + next + "\"}"));
    assertThat(calls(one, connect(USER)).status()).isEqualTo(400);
    clock.set(next.minusMillis(1));
    GraphAnswer remembered = calls(two, connect(USER));
    assertThat(remembered.status()).isEqualTo(400);
    assertThat(json(remembered).at("/error/code").asInt()).isEqualTo(138012);
    assertThat(json(remembered).at("/error/error_data/details").asText()).contains("next call allowed");
    assertThat(seen).hasSize(1);
    // the permission request is another kind: it goes
    answers = body -> Map.entry(200, "{\"messages\":[{\"id\":\"wamid.1\"}]}");
    assertThat(post(one, PNID, "messages", "application/json", permissionRequest(USER)).status()).isEqualTo(200);
    assertThat(seen).hasSize(2);
    clock.set(next);
    answers = body -> Map.entry(200, "{\"messaging_product\":\"whatsapp\",\"calls\":[{\"id\":\"wacid.new1\"}]}");
    assertThat(calls(one, connect(USER)).status()).isEqualTo(200);
    assertThat(seen).hasSize(3);
  }

  @Test
  void anEpochTimeInErrorDataCountsAndAnUnbelievableOneFallsBackToTheDefault() {
    Instant next = clock.instant().plus(Duration.ofHours(3));
    answers = body -> Map.entry(429, metaError(138005, "{\"next_allowed_time\":" + next.getEpochSecond() + "}"));
    calls(one, connect(USER));
    assertThat(layer.calls().store().remembered(PNID, USER, "connect", clock.instant()).orElseThrow().until()).isEqualTo(next);
    answers = body -> Map.entry(429, metaError(138005, "{\"next_allowed_time\":4102444800}"));
    calls(one, connect("15550000001"));
    assertThat(layer.calls().store().remembered(PNID, "15550000001", "connect", clock.instant()).orElseThrow().until())
        .isEqualTo(clock.instant().plus(Duration.ofHours(1)));
  }

  @Test
  void noPermissionIsRememberedBrieflyAndForgottenWhenTheUserGrantsIt() {
    answers = body -> Map.entry(400, metaError(138006, null));
    calls(one, connect(USER));
    assertThat(calls(one, connect(USER)).status()).isEqualTo(400);
    assertThat(seen).hasSize(1);
    // the permission reply (the relay's ingest) forgets what Meta said before it
    layer.calls().store().forget(PNID, USER, "connect");
    answers = body -> Map.entry(200, "{\"messaging_product\":\"whatsapp\",\"calls\":[{\"id\":\"wacid.new2\"}]}");
    assertThat(calls(one, connect(USER)).status()).isEqualTo(200);
    assertThat(seen).hasSize(2);
    // and without a reply, ten minutes
    answers = body -> Map.entry(400, metaError(138006, null));
    calls(one, connect("15550000002"));
    clock.advance(Duration.ofMinutes(10).minusSeconds(1));
    calls(one, connect("15550000002"));
    assertThat(seen).hasSize(3);
    clock.advance(Duration.ofSeconds(1));
    calls(one, connect("15550000002"));
    assertThat(seen).hasSize(4);
  }

  @Test
  void errorsThatAreNoLimitAreNotRemembered() {
    answers = body -> Map.entry(400, metaError(131030, null));
    calls(one, connect(USER));
    post(one, PNID, "messages", "application/json", permissionRequest(USER));
    calls(one, connect(USER));
    post(one, PNID, "messages", "application/json", permissionRequest(USER));
    assertThat(seen).hasSize(4);
    assertThat(layer.calls().store().rememberedFor(PNID, USER, clock.instant())).isEmpty();
  }

  @Test
  void anAcceptedConnectStartsTheCallsTimeline() throws IOException {
    answers = body -> Map.entry(200, "{\"messaging_product\":\"whatsapp\",\"calls\":[{\"id\":\"wacid.bic1\"}]}");
    assertThat(calls(one, connect("+1 (555) 123-4567")).status()).isEqualTo(200);
    List<Event> t = layer.calls().store().timeline(PNID, "wacid.bic1");
    assertThat(t).singleElement().satisfies(e -> {
      assertThat(e.name()).isEqualTo("connect");
      assertThat(e.source()).isEqualTo(Source.ACTION);
      assertThat(e.actor()).isEqualTo("key:" + one.record().id());
      assertThat(e.direction()).contains(CallStore.Direction.BUSINESS_INITIATED);
      assertThat(e.userWaId()).contains(USER);
      assertThat(e.httpStatus().getAsInt()).isEqualTo(200);
      assertThat(e.at()).isEqualTo(clock.instant());
    });
  }

  @Test
  void anAcceptedCallForgetsThePermissionRequestLimits() {
    answers = body -> Map.entry(400, metaError(138009, null));
    post(one, PNID, "messages", "application/json", permissionRequest(USER));
    assertThat(layer.calls().store().rememberedFor(PNID, USER, clock.instant())).hasSize(1);
    layer.calls().callConnected(PNID, USER);
    assertThat(layer.calls().store().rememberedFor(PNID, USER, clock.instant())).isEmpty();
  }

  @Test
  void formAndTemplatePermissionRequestsAreRememberedToo() {
    answers = body -> Map.entry(400, metaError(138009, null));
    String form = "messaging_product=whatsapp&to=" + USER + "&type=interactive&interactive="
        + java.net.URLEncoder.encode("{\"type\":\"CALL_PERMISSION_REQUEST\",\"action\":{\"name\":\"call_permission_request\"}}",
            StandardCharsets.UTF_8);
    post(one, PNID, "messages", "application/x-www-form-urlencoded", form);
    post(one, PNID, "messages", "application/x-www-form-urlencoded", form);
    String template = "{\"to\":\"" + USER + "\",\"type\":\"template\",\"template\":{\"name\":\"ask\",\"language\":{\"code\":\"en\"},"
        + "\"components\":[{\"type\":\"body\"},{\"type\":\"call_permission_request\"}]}}";
    post(two, PNID, "messages", "application/json", template);
    assertThat(seen).hasSize(1);
  }

  @Test
  void callPermissionsReadsPassThroughWhateverIsRemembered() {
    answers = body -> Map.entry(400, metaError(138009, null));
    post(one, PNID, "messages", "application/json", permissionRequest(USER));
    ClientRequest r = new ClientRequest("GET", "/v22.0/" + PNID + "/call_permissions", "user_wa_id=" + USER,
        Optional.of("Bearer " + one.key()), Optional.empty(), "http://layer.test");
    GraphAnswer a = layer.graphProxy().handle(r, Map.of(), new byte[0]);
    assertThat(a.status()).isEqualTo(200);
    assertThat(a.text()).contains("no_permission");
    assertThat(seen).hasSize(2);
  }

  @Test
  void onlyBodiesThatCouldAskForPermissionAreRead() {
    assertThat(CallActions.mayAskPermission("{\"type\":\"text\",\"text\":{\"body\":\"hello\"}}".getBytes(StandardCharsets.UTF_8)))
        .isFalse();
    assertThat(CallActions.mayAskPermission("{\"interactive\":{\"type\":\"Call_Permission_Request\"}}".getBytes(StandardCharsets.UTF_8)))
        .isTrue();
    assertThat(CallActions.mayAskPermission("{\"type\":\"call\\u005fpermission_request\"}".getBytes(StandardCharsets.UTF_8))).isTrue();
    assertThat(CallActions.mayAskPermission("type=call%5Fpermission_request".getBytes(StandardCharsets.UTF_8))).isTrue();
    assertThat(CallActions.mayAskPermission(new byte[0])).isFalse();
  }
}

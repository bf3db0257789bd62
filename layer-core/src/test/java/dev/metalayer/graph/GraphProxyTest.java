package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.metalayer.MetaLayer;
import dev.metalayer.crypto.Secrets;
import dev.metalayer.json.Json;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The core proxy end to end through {@link GraphProxy#handle} and the JDK forwarder, with a JDK
 * {@link HttpServer} playing Meta: what an embedder without Jetty gets.
 */
class GraphProxyTest {
  static final String TOKEN = "EAAtokenOfNumberA0123456789";
  static final String TOKEN_B = "EAAtokenOfNumberB0123456789";
  static final String PNID = "106540352242922";
  static final String WABA = "102290129340398";

  record Seen(String method, String uri, String authorization, String body, java.util.Set<String> headerNames) {}

  final ConcurrentLinkedQueue<Seen> seen = new ConcurrentLinkedQueue<>();
  /** The X-Request-Id and traceparent Meta got, per request ("null" when absent). */
  final ConcurrentLinkedQueue<List<String>> traced = new ConcurrentLinkedQueue<>();
  final MutableClock clock = MutableClock.at("2026-01-01T00:00:00Z");
  HttpServer meta;
  String metaBase;
  MetaLayer layer;
  String key;
  String keyB;
  volatile String mediaAnswer;
  volatile int mediaStatus = 200;
  volatile String mediaType = "application/json";
  /** The path Meta's own URLs in its answers start with (as when the Graph URL has a path). */
  volatile String basePath = "";

  @BeforeEach
  void start() throws IOException {
    meta = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    meta.createContext("/", this::meta);
    meta.start();
    metaBase = "http://127.0.0.1:" + meta.getAddress().getPort();
    layer =
        MetaLayer.builder()
            .keyStore(Stores.inMemoryKeys())
            .masterKey(new byte[32])
            .clock(clock)
            .graphUrl(URI.create(metaBase))
            .appSecret("app-secret")
            .publicUrl(URI.create("http://layer.test"))
            .mediaHosts(List.of("http://127.0.0.1"))
            .upstreamTimeout(Duration.ofSeconds(5))
            .build();
    layer.keys().addNumber("+15550783881", PNID, WABA, "900000000000001", TOKEN);
    layer.keys().addNumber("+15550783882", "206540352242922", "202290129340398", "900000000000002", TOKEN_B);
    key = layer.keys().createKey(PNID).orElseThrow().key();
    keyB = layer.keys().createKey("206540352242922").orElseThrow().key();
    mediaAnswer = "{\"messaging_product\":\"whatsapp\",\"url\":\"" + metaBase + "/cdn/photo.jpg?hash=1\",\"mime_type\":\"image/jpeg\",\"id\":\"1037543291543636\"}";
  }

  @AfterEach
  void stop() {
    meta.stop(0);
  }

  private void meta(HttpExchange x) throws IOException {
    byte[] body = x.getRequestBody().readAllBytes();
    String uri = x.getRequestURI().toString();
    traced.add(java.util.Arrays.asList(x.getRequestHeaders().getFirst("X-Request-Id"), x.getRequestHeaders().getFirst("traceparent")));
    seen.add(new Seen(x.getRequestMethod(), uri, x.getRequestHeaders().getFirst("Authorization"), new String(body, StandardCharsets.UTF_8),
        x.getRequestHeaders().keySet().stream().map(n -> n.toLowerCase(java.util.Locale.ROOT)).collect(java.util.stream.Collectors.toSet())));
    String path = x.getRequestURI().getPath();
    if (path.startsWith("/graph/")) {
      path = path.substring("/graph".length());
    }
    byte[] answer;
    String type = "application/json";
    int status = 200;
    if (path.equals("/v13.0/" + PNID + "/messages")) {
      x.getResponseHeaders().add("X-Debug-Echo", "token=" + TOKEN);
      answer = "{\"messages\":[{\"id\":\"wamid.1\"}],\"echo\":\"token=EAAtokenOfNumberA0123456789\"}".getBytes(StandardCharsets.UTF_8);
    } else if (path.equals("/v14.0/" + WABA + "/message_templates")) {
      answer = ("{\"data\":[],\"paging\":{\"cursors\":{\"after\":\"MjQZD\"},\"next\":\"" + metaBase + basePath
          + "/v14.0/" + WABA + "/message_templates?access_token=" + TOKEN + "&limit=25&after=MjQZD\"}}").getBytes(StandardCharsets.UTF_8);
    } else if (path.equals("/v13.0/1037543291543636") || path.equals("/1037543291543636")) {
      answer = mediaAnswer.getBytes(StandardCharsets.UTF_8);
      status = mediaStatus;
      type = mediaType;
    } else if (path.equals("/cdn/photo.jpg")) {
      answer = ("JPEGBYTES" + TOKEN).getBytes(StandardCharsets.UTF_8);
      type = "image/jpeg";
      x.getResponseHeaders().add("Content-Disposition", "attachment; filename=\"photo.jpg\"");
    } else if (path.equals("/v22.0/" + PNID + "/settings") && x.getRequestMethod().equals("GET")) {
      answer = "{\"calling\":{\"status\":\"DISABLED\",\"call_hours\":{\"status\":\"ENABLED\",\"timezone_id\":\"UTC\"}}}"
          .getBytes(StandardCharsets.UTF_8);
    } else if (path.equals("/v22.0/" + PNID + "/settings")) {
      answer = "{\"success\":true}".getBytes(StandardCharsets.UTF_8);
    } else if (path.equals("/v13.0/" + PNID + "/whatsapp_business_profile")) {
      x.getResponseHeaders().add("Content-Encoding", "br");
      answer = ("{\"echo\":\"" + TOKEN + "\"}").getBytes(StandardCharsets.UTF_8);
    } else if (path.equals("/cdn/redirect")) {
      x.getResponseHeaders().add("Location", "https://evil.example/steal");
      answer = new byte[0];
      status = 302;
    } else {
      answer = "{\"error\":{\"message\":\"unknown\",\"code\":100}}".getBytes(StandardCharsets.UTF_8);
      status = 404;
    }
    x.getResponseHeaders().add("Content-Type", type);
    x.getResponseHeaders().add("Set-Cookie", "c=1");
    x.getResponseHeaders().add("x-fb-trace-id", "TRACE");
    x.sendResponseHeaders(status, answer.length == 0 ? -1 : answer.length);
    x.getResponseBody().write(answer);
    x.close();
  }

  GraphAnswer call(String method, String path, String query, String authorization, String body) {
    ClientRequest r = new ClientRequest(method, path, query, Optional.ofNullable(authorization), Optional.empty(), "http://layer.test");
    return layer.graphProxy().handle(r, Map.of("Content-Type", List.of("application/json"), "Cookie", List.of("s=1")), body.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void sendSwapsTheKeyForTheTokenAddsTheProofAndScrubsTheAnswer() {
    String body = "{\"messaging_product\":\"whatsapp\",\"context\":null,\"to\":\"15551234567\",\"text\":{\"body\":\"Hi\"},\"type\":\"text\"}";
    GraphAnswer a = call("POST", "//v13.0/" + PNID + "/messages", "", "Bearer " + key, body);
    assertThat(a.status()).isEqualTo(200);
    assertThat(a.text()).contains("wamid.1").doesNotContain(TOKEN).contains("[redacted]");
    assertThat(a.header("set-cookie")).isNull();
    assertThat(a.header("x-fb-trace-id")).isEqualTo("TRACE");
    assertThat(a.header("x-debug-echo")).isEqualTo("token=[redacted]");
    Seen s = seen.remove();
    assertThat(s.authorization()).isEqualTo("Bearer " + TOKEN);
    assertThat(s.body()).isEqualTo(body);
    assertThat(s.uri()).isEqualTo("/v13.0/" + PNID + "/messages?appsecret_proof=" + Secrets.hmacSha256Hex("app-secret", TOKEN));
    assertThat(s.toString()).doesNotContain(key);
  }

  @Test
  void aPartialCallingWriteIsMergedIntoTheCurrentSettings() {
    GraphAnswer a = call("POST", "/v22.0/" + PNID + "/settings", "", "Bearer " + key, "{\"calling\":{\"status\":\"ENABLED\"}}");
    assertThat(a.status()).isEqualTo(200);
    Seen read = seen.remove();
    assertThat(read.method()).isEqualTo("GET");
    assertThat(read.authorization()).isEqualTo("Bearer " + TOKEN);
    Seen write = seen.remove();
    assertThat(write.method()).isEqualTo("POST");
    assertThat(write.body())
        .isEqualTo("{\"calling\":{\"status\":\"ENABLED\",\"call_hours\":{\"status\":\"ENABLED\",\"timezone_id\":\"UTC\"}}}");
  }

  @Test
  void pagingNextBecomesALayerUrlWithTheClientsKey() throws IOException {
    GraphAnswer a = call("GET", "/v14.0/" + WABA + "/message_templates", "access_token=" + key, null, "");
    JsonNode json = Json.mapper().readTree(a.body());
    String next = json.at("/paging/next").asText();
    assertThat(next).startsWith("http://layer.test/api/layer/meta/v14.0/" + WABA + "/message_templates?limit=25&after=MjQZD&access_token=" + key);
    assertThat(a.text()).doesNotContain(TOKEN);
    assertThat(seen.remove().uri()).doesNotContain(key).startsWith("/v14.0/" + WABA + "/message_templates?appsecret_proof=");
  }

  @Test
  void mediaLookupAndDownloadOfTheRewrittenUrl() throws IOException {
    GraphAnswer lookup = call("GET", "/v13.0/1037543291543636", "", "Bearer " + key, "");
    assertThat(seen.remove().uri()).startsWith("/v13.0/1037543291543636?phone_number_id=" + PNID + "&appsecret_proof=");
    URI url = URI.create(Json.mapper().readTree(lookup.body()).get("url").asText());
    assertThat(url.toString()).startsWith("http://layer.test/api/layer/meta/media/1037543291543636/download?ref=");
    assertThat(url.toString()).doesNotContain("cdn");

    GraphAnswer file = call("GET", url.getRawPath().substring("/api/layer/meta".length()), url.getRawQuery(), "Bearer " + key, "");
    assertThat(file.status()).isEqualTo(200);
    assertThat(file.text()).startsWith("JPEGBYTES").doesNotContain(TOKEN);
    assertThat(file.header("content-type")).isEqualTo("image/jpeg");
    assertThat(file.header("content-disposition")).contains("photo.jpg");
    assertThat(seen.remove().authorization()).isEqualTo("Bearer " + TOKEN);

    // Another number's key cannot use the link.
    GraphAnswer foreign = call("GET", url.getRawPath().substring("/api/layer/meta".length()), url.getRawQuery(), "Bearer " + keyB, "");
    assertThat(foreign.status()).isEqualTo(403);
    assertThat(seen).isEmpty();

    // After the ref has aged, the layer looks the media up again.
    clock.advance(Duration.ofMinutes(10));
    GraphAnswer later = call("GET", url.getRawPath().substring("/api/layer/meta".length()), url.getRawQuery(), "Bearer " + key, "");
    assertThat(later.status()).isEqualTo(200);
    assertThat(seen.remove().uri()).startsWith("/1037543291543636?phone_number_id=" + PNID);
    assertThat(seen.remove().uri()).startsWith("/cdn/photo.jpg");
  }

  @Test
  void mediaOnAHostOutsideTheAllowListIsNotFetched() {
    mediaAnswer = "{\"messaging_product\":\"whatsapp\",\"url\":\"https://evil.example/x\"}";
    GraphAnswer a = call("GET", "/media/1037543291543636/download", "", "Bearer " + key, "");
    assertThat(a.status()).isEqualTo(502);
    assertThat(seen).hasSize(1);
  }

  @Test
  void redirectsAreFollowedOnlyToAllowedHosts() {
    mediaAnswer = "{\"messaging_product\":\"whatsapp\",\"url\":\"" + metaBase + "/cdn/redirect\"}";
    GraphAnswer a = call("GET", "/media/1037543291543636/download", "", "Bearer " + key, "");
    assertThat(a.status()).isEqualTo(502);
    assertThat(seen).hasSize(2);
  }

  /** The same rule as the Jetty adapter's, through {@link GraphProxy#handle}: an ID is read or deleted only as media. */
  @Test
  void anIdIsReadAndDeletedOnlyAsMedia() {
    GraphAnswer lookup = call("GET", "/v13.0/1037543291543636", "fields=url", "Bearer " + key, "");
    assertThat(lookup.status()).isEqualTo(200);
    assertThat(lookup.text()).contains("/media/1037543291543636/download?ref=");
    assertThat(seen.remove().uri()).isEqualTo("/v13.0/1037543291543636?phone_number_id=" + PNID + "&appsecret_proof="
        + Secrets.hmacSha256Hex("app-secret", TOKEN));

    mediaAnswer = "{\"name\":\"Another business's app\",\"id\":\"1037543291543636\"}";
    GraphAnswer read = call("GET", "/v13.0/1037543291543636", "", "Bearer " + key, "");
    assertThat(read.status()).isEqualTo(403);
    assertThat(read.text()).doesNotContain("Another business");
    seen.clear();
    GraphAnswer deleted = call("DELETE", "/v13.0/1037543291543636", "", "Bearer " + key, "");
    assertThat(deleted.status()).isEqualTo(403);
    assertThat(seen).extracting(Seen::method).containsExactly("GET");

    mediaAnswer = "{\"messaging_product\":\"whatsapp\",\"url\":\"" + metaBase + "/cdn/photo.jpg\",\"id\":\"1037543291543636\"}";
    seen.clear();
    GraphAnswer media = call("DELETE", "/v13.0/1037543291543636", "", "Bearer " + key, "");
    assertThat(media.status()).isEqualTo(200);
    assertThat(seen).extracting(Seen::method).containsExactly("GET", "DELETE");
  }

  /** The embedder path shares the Jetty path's header rule for media IDs (one reading, in {@link Headers}). */
  @Test
  void aMediaIdRequestOnTheEmbedderPathCarriesNoOverrideNorOtherHeaderOfTheClients() {
    ClientRequest r = new ClientRequest("GET", "/v13.0/1037543291543636", "", Optional.of("Bearer " + key), Optional.empty(), "http://layer.test");
    // an override header is refused by the surface before anything goes upstream
    GraphAnswer refused = layer.graphProxy().handle(r, Map.of("X-HTTP-Method-Override", List.of("DELETE")), new byte[0]);
    assertThat(refused.status()).isEqualTo(403);
    assertThat(seen).isEmpty();
    GraphAnswer a = layer.graphProxy().handle(r, Map.of("X-Tenant", List.of("t"),
        "Accept", List.of("application/json"), "User-Agent", List.of("helpdesk/1")), new byte[0]);
    assertThat(a.status()).isEqualTo(200);
    assertThat(seen.remove().headerNames()).contains("accept", "user-agent", "authorization")
        .doesNotContain("x-tenant");
    // on the number's own objects the client's other headers go on as before
    call("GET", "/v13.0/" + PNID, "", "Bearer " + key, "");
    assertThat(seen.remove().headerNames()).contains("content-type").doesNotContain("cookie");
  }

  /** The embedder path sends the layer's request ids upstream by the same rule (RequestIds), never the client's raw ones. */
  @Test
  void theEmbedderPathSendsTheRequestIdAndANewSpanToMetaOnEveryUpstreamRequest() {
    ClientRequest r = new ClientRequest("GET", "/v13.0/" + PNID, "", Optional.of("Bearer " + key), Optional.empty(), "http://layer.test");
    layer.graphProxy().handle(r, Map.of("x-request-id", List.of("helpdesk-9"),
        "traceparent", List.of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")), new byte[0]);
    List<String> sent = traced.remove();
    assertThat(sent.get(0)).isEqualTo("helpdesk-9");
    assertThat(sent.get(1)).matches("00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01")
        .isNotEqualTo("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");

    layer.graphProxy().handle(r, Map.of("X-Request-Id", List.of("bad id\r\n"), "traceparent", List.of("garbage")), new byte[0]);
    sent = traced.remove();
    assertThat(sent.get(0)).matches("[0-9a-f]{32}");
    assertThat(sent.get(1)).isNull();

    // a request to a media ID, which carries almost none of the client's headers, carries the id too
    ClientRequest lookup = new ClientRequest("GET", "/v13.0/1037543291543636", "", Optional.of("Bearer " + key), Optional.empty(),
        "http://layer.test");
    layer.graphProxy().handle(lookup, Map.of("X-Request-Id", List.of("media-1")), new byte[0]);
    assertThat(traced.remove().get(0)).isEqualTo("media-1");
  }

  @Test
  void anAnswerOnTheEmbedderPathCarriesNoUpstreamDateOrServerAndNoUndecodedBody() {
    GraphAnswer a = call("GET", "/v13.0/" + PNID + "/whatsapp_business_profile", "", "Bearer " + key, "");
    assertThat(a.status()).isEqualTo(502);
    assertThat(a.text()).contains("encoding").doesNotContain(TOKEN);
    GraphAnswer ok = call("POST", "//v13.0/" + PNID + "/messages", "", "Bearer " + key, "{}");
    assertThat(ok.status()).isEqualTo(200);
    assertThat(ok.header("date")).isNull();
    assertThat(ok.header("server")).isNull();
  }

  @Test
  void aQueryIsSentUpstreamWithWhatAUriMayNotHoldPercentEncodedByteForByte() {
    assertThat(GraphProxy.escapeQuery("fields=id,name{first^last|x}&q=caf\u00e9 x&ok=%7B&bad=%zz"))
        .isEqualTo("fields=id,name%7Bfirst%5Elast%7Cx%7D&q=caf%C3%A9%20x&ok=%7B&bad=%25zz");
    assertThat(GraphProxy.escapeQuery("limit=25&after=MjQZD")).isEqualTo("limit=25&after=MjQZD");
    assertThat(GraphProxy.escapeQuery("e=\ud83d\ude00")).isEqualTo("e=%F0%9F%98%80");
  }

  /** The JDK path used to pass such a body on; it now answers as the Jetty adapter does (the core's rule, GraphStepsTest). */
  @Test
  void aFailedMediaLookupWhoseBodyIsNotJsonIs502OnTheEmbedderPath() {
    mediaStatus = 500;
    mediaType = "text/html";
    mediaAnswer = "<html>" + TOKEN + "</html>";
    GraphAnswer a = call("GET", "/media/1037543291543636/download", "", "Bearer " + key, "");
    assertThat(a.status()).isEqualTo(502);
    assertThat(a.header("content-type")).startsWith("application/json");
    assertThat(a.text()).doesNotContain("html").doesNotContain(TOKEN);
  }

  /** The JDK path used to pass them on; it now moves only the headers the core picked. */
  @Test
  void headersNamedInTheClientsConnectionHeaderDoNotGoUpstreamOnTheEmbedderPath() {
    ClientRequest r = new ClientRequest("GET", "/v13.0/" + PNID, "", Optional.of("Bearer " + key), Optional.empty(), "http://layer.test");
    GraphAnswer a = layer.graphProxy().handle(r,
        Map.of("Connection", List.of("keep-alive, X-Hop"), "X-Hop", List.of("secret"), "X-Tenant", List.of("t")), new byte[0]);
    assertThat(a.status()).isEqualTo(404);
    assertThat(seen.remove().headerNames()).contains("x-tenant").doesNotContain("x-hop");
  }

  @Test
  void refusalsNeverReachUpstream() {
    assertThat(call("POST", "/v13.0/206540352242922/messages", "", "Bearer " + key, "{}").status()).isEqualTo(403);
    assertThat(call("GET", "/v13.0/me", "", "Bearer " + key, "").status()).isEqualTo(403);
    assertThat(call("GET", "/v13.0/" + PNID, "", null, "").status()).isEqualTo(401);
    assertThat(call("GET", "/v13.0/" + PNID, "", "Bearer ps_unknownunknownunknownunknownunknown", "").status()).isEqualTo(401);
    assertThat(call("GET", "/v13.0/../" + PNID, "", "Bearer " + key, "").status()).isEqualTo(400);
    assertThat(seen).isEmpty();
  }

  @Test
  void unreachableUpstreamIs502() {
    meta.stop(0);
    GraphAnswer a = call("GET", "/v13.0/" + PNID, "", "Bearer " + key, "");
    assertThat(a.status()).isEqualTo(502);
    assertThat(a.header("content-type")).startsWith("application/json");
  }

  @Test
  void aMultipartUploadHoldsOneOfItsKeysMediaSlotsUntilItsExchangeIsClosed() {
    MetaLayer capped = MetaLayer.builder().keyStore(Stores.inMemoryKeys()).masterKey(new byte[32]).clock(clock)
        .graphUrl(URI.create(metaBase)).appSecret("app-secret").mediaDownloadsPerKey(1).build();
    capped.keys().addNumber("+15550783881", PNID, WABA, "900000000000001", TOKEN);
    capped.keys().addNumber("+15550783882", "206540352242922", "202290129340398", "900000000000002", TOKEN_B);
    String a = capped.keys().createKey(PNID).orElseThrow().key();
    String b = capped.keys().createKey("206540352242922").orElseThrow().key();
    java.util.function.BiFunction<String, String, Outcome<GraphExchange>> upload = (pnid, k) -> capped.graphProxy().prepare(
        new ClientRequest("POST", "/v22.0/" + pnid + "/media", "", Optional.of("Bearer " + k), Optional.empty(), "http://layer.test",
            Optional.of("multipart/form-data; boundary=B"), Optional.empty(), List.of("content-type")));

    Outcome<GraphExchange> first = upload.apply(PNID, a);
    assertThat(first).isInstanceOf(Outcome.Ok.class);
    Outcome<GraphExchange> second = upload.apply(PNID, a);
    assertThat(second).isInstanceOfSatisfying(Outcome.Refused.class, r -> {
      assertThat(r.error().status()).isEqualTo(429);
      assertThat(r.error().retryAfter()).isEqualTo("2");
    });
    Outcome<GraphExchange> otherKey = upload.apply("206540352242922", b);
    assertThat(otherKey).isInstanceOf(Outcome.Ok.class); // the cap is per key
    ((Outcome.Ok<GraphExchange>) first).value().close();
    ((Outcome.Ok<GraphExchange>) first).value().close(); // idempotent: gives back one slot only
    Outcome<GraphExchange> third = upload.apply(PNID, a);
    assertThat(third).isInstanceOf(Outcome.Ok.class);
    assertThat(upload.apply(PNID, a)).isInstanceOf(Outcome.Refused.class);
    ((Outcome.Ok<GraphExchange>) third).value().close();
    ((Outcome.Ok<GraphExchange>) otherKey).value().close();
    // a GET holds no slot
    assertThat(capped.graphProxy().prepare(new ClientRequest("GET", "/v22.0/" + PNID, "", Optional.of("Bearer " + a),
        Optional.empty(), "http://layer.test"))).isInstanceOf(Outcome.Ok.class);
    assertThat(upload.apply(PNID, a)).isInstanceOf(Outcome.Ok.class);
  }

  @Test
  void anEmbeddersWholeRequestMeetsTheSameSurfaceAsTheJettyAdapter() {
    GraphAnswer json = call("POST", "/v22.0/" + PNID + "/messages", "", "Bearer " + key, "{\"batch\":[]}");
    assertThat(json.status()).isEqualTo(403);
    assertThat(json.text()).contains("(rule batch)");
    ClientRequest upload = new ClientRequest("POST", "/v22.0/" + PNID + "/media", "", Optional.of("Bearer " + key), Optional.empty(), "http://layer.test");
    String parts = "--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--B\r\nContent-Disposition: form-data; name=\"batch\"\r\n\r\n[]\r\n--B--\r\n";
    GraphAnswer multipart = layer.graphProxy().handle(upload, Map.of("Content-Type", List.of("multipart/form-data; boundary=B")),
        parts.getBytes(StandardCharsets.UTF_8));
    assertThat(multipart.status()).isEqualTo(403);
    assertThat(multipart.text()).contains("(rule multipart-part)");
    GraphAnswer header = layer.graphProxy().handle(
        new ClientRequest("GET", "/v22.0/1037543291543636", "", Optional.of("Bearer " + key), Optional.empty(), "http://layer.test"),
        Map.of("X-HTTP-Method-Override", List.of("DELETE")), new byte[0]);
    assertThat(header.status()).isEqualTo(403);
    assertThat(seen).isEmpty();
  }

  /** A layer on the same Meta stand-in, configured by {@code tune} (the fixture's layer otherwise). */
  private MetaLayer layer(java.util.function.UnaryOperator<MetaLayer.Builder> tune) {
    MetaLayer l = tune.apply(MetaLayer.builder().keyStore(Stores.inMemoryKeys()).masterKey(new byte[32]).clock(clock)
        .graphUrl(URI.create(metaBase)).appSecret("app-secret").mediaHosts(List.of("http://127.0.0.1"))
        .upstreamTimeout(Duration.ofSeconds(5))).build();
    l.keys().addNumber("+15550783881", PNID, WABA, "900000000000001", TOKEN);
    return l;
  }

  private static GraphAnswer handle(MetaLayer l, String method, String path, String query, String key, Map<String, List<String>> headers,
      String body) {
    ClientRequest r = new ClientRequest(method, path, query, Optional.ofNullable(key).map(k -> "Bearer " + k), Optional.empty(),
        "http://layer.test");
    return l.graphProxy().handle(r, headers, body.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void anAdapterReadsAFormBodyBeforeTheKeyIsKnownOnlyAsFarAsTheCredentialsInHeaderAndQueryAllow() {
    GraphProxy proxy = layer.graphProxy();
    assertThat(proxy.bodyReadLimit(Optional.of("Bearer " + key), "", true)).isEqualTo(Outcome.ok(GraphProxy.MAX_FORM_BYTES));
    assertThat(proxy.bodyReadLimit(Optional.empty(), "access_token=" + key, false)).isEqualTo(Outcome.ok(GraphProxy.MAX_FORM_BYTES));
    // no credential outside the body: only a form may carry one, and it is read only so far
    assertThat(proxy.bodyReadLimit(Optional.empty(), "", true)).isEqualTo(Outcome.ok(GraphProxy.MAX_KEYLESS_FORM_BYTES));
    assertThat(proxy.bodyReadLimit(Optional.empty(), "limit=1", false)).isEqualTo(Outcome.ok(0));
    assertThat(proxy.bodyReadLimit(Optional.of("Bearer ps_unknownunknownunknownunknownunknown"), "", true))
        .isInstanceOfSatisfying(Outcome.Refused.class, r -> assertThat(r.error().status()).isEqualTo(401));
    assertThat(proxy.bodyReadLimit(Optional.of("Bearer " + key), "access_token=" + keyB, true))
        .isInstanceOfSatisfying(Outcome.Refused.class, r -> assertThat(r.error().status()).isEqualTo(400));
    // a body limit below the form limits lowers them
    GraphProxy small = layer(b -> b.maxBodyBytes(1000)).graphProxy();
    assertThat(small.bodyReadLimit(Optional.empty(), "", true)).isEqualTo(Outcome.ok(1000));
    assertThat(small.bodyReadLimit(Optional.empty(), "", false)).isEqualTo(Outcome.ok(0));
    assertThat(seen).isEmpty();
  }

  @Test
  void aBodyOverTheLimitIs413AndOneAtTheLimitGoesOn() {
    String body = "{\"messaging_product\":\"whatsapp\",\"to\":\"15551234567\",\"type\":\"text\",\"text\":{\"body\":\"Hi\"}}";
    MetaLayer l = layer(b -> b.maxBodyBytes(body.length()));
    String k = l.keys().createKey(PNID).orElseThrow().key();
    Map<String, List<String>> json = Map.of("Content-Type", List.of("application/json"));
    GraphAnswer over = handle(l, "POST", "/v13.0/" + PNID + "/messages", "", k, json, body + " ");
    assertThat(over.status()).isEqualTo(413);
    assertThat(seen).isEmpty();
    assertThat(handle(l, "POST", "/v13.0/" + PNID + "/messages", "", k, json, body).status()).isEqualTo(200);
    assertThat(seen.remove().body()).isEqualTo(body);
  }

  @Test
  void aQueryWithBytesThatWereNoUtf8IsRefusedWhereverTheyAre() {
    for (String query : new String[] {"\uFFFDfields=id", "fields=id\uFFFD"}) {
      GraphAnswer a = call("GET", "/v13.0/" + PNID, query, "Bearer " + key, "");
      assertThat(a.status()).as(query).isEqualTo(400);
      assertThat(a.text()).contains("not UTF-8");
    }
    assertThat(seen).isEmpty();
  }

  @Test
  void aKeyInTheHeaderAndAnotherInTheQueryIsRefusedAndNeitherIsUsed() {
    GraphAnswer a = call("GET", "/v13.0/" + PNID, "access_token=" + keyB, "Bearer " + key, "");
    assertThat(a.status()).isEqualTo(400);
    assertThat(a.text()).doesNotContain(key).doesNotContain(keyB);
    assertThat(seen).isEmpty();
  }

  @Test
  void aJsonBodyThatIsNotOneStrictObjectIsRefusedBeforeItGoesUpstream() {
    GraphAnswer a = call("POST", "/v13.0/" + PNID + "/messages", "", "Bearer " + key, "{\"to\":\"1\"}{\"batch\":[]}");
    assertThat(a.status()).isEqualTo(400);
    assertThat(a.text()).contains("(rule json-body)");
    assertThat(seen).isEmpty();
  }

  /** An encoded body is not parsed (it could hide anything): the surface refuses it for its Content-Encoding. */
  @Test
  void anEncodedBodyIsRefusedForItsEncodingNotForWhatItLooksLike() {
    Outcome<GraphExchange> encoded = layer.graphProxy().prepare(new ClientRequest("POST", "/v13.0/" + PNID + "/messages", "",
        Optional.of("Bearer " + key), Optional.empty(), "http://layer.test", Optional.of("application/json"),
        Optional.of(new byte[] {0x1f, (byte) 0x8b, 8, 0}), List.of("Content-Type", "Content-Encoding")));
    assertThat(encoded).isInstanceOfSatisfying(Outcome.Refused.class, r -> {
      assertThat(r.error().status()).isEqualTo(415);
      assertThat(r.error().message()).contains("(rule content-encoding)");
    });
  }

  @Test
  void aMultipartUploadWithoutABoundaryIsRefused() {
    GraphAnswer a = layer.graphProxy().handle(
        new ClientRequest("POST", "/v22.0/" + PNID + "/media", "", Optional.of("Bearer " + key), Optional.empty(), "http://layer.test"),
        Map.of("Content-Type", List.of("multipart/form-data")), "--B\r\n".getBytes(StandardCharsets.UTF_8));
    assertThat(a.status()).isEqualTo(400);
    assertThat(seen).isEmpty();
  }

  /** The embedder names the content type in its request and in the headers it passes: one field, not two. */
  @Test
  void theContentTypeAnEmbedderNamesTwiceIsOneFieldAndItIsTheContentTypeNotAnotherHeader() {
    // read as JSON, as its type says, the text is a value; read as an untyped body, it would also be a form naming "batch"
    String body = "{\"messaging_product\":\"whatsapp\",\"to\":\"15551234567\",\"type\":\"text\",\"text\":{\"body\":\"Tom&batch=2\"}}";
    Map<String, List<String>> headers = new java.util.LinkedHashMap<>();
    headers.put("X-Tenant", List.of("t"));
    headers.put("Content-Type", List.of("application/json"));
    ClientRequest plain = new ClientRequest("POST", "/v13.0/" + PNID + "/messages", "", Optional.of("Bearer " + key), Optional.empty(),
        "http://layer.test");
    assertThat(layer.graphProxy().handle(plain, headers, body.getBytes(StandardCharsets.UTF_8)).status()).isEqualTo(200);
    assertThat(seen.remove().body()).isEqualTo(body);
    ClientRequest typed = new ClientRequest("POST", "/v13.0/" + PNID + "/messages", "", Optional.of("Bearer " + key), Optional.empty(),
        "http://layer.test", Optional.of("application/json"), Optional.empty(), List.of("content-type"));
    assertThat(layer.graphProxy().handle(typed, headers, body.getBytes(StandardCharsets.UTF_8)).status()).isEqualTo(200);
    assertThat(seen.remove().body()).isEqualTo(body);
  }

  @Test
  void aMediaDownloadTakesOnlyGet() {
    GraphAnswer a = call("POST", "/media/1037543291543636/download", "", "Bearer " + key, "");
    assertThat(a.status()).isEqualTo(405);
    assertThat(seen).isEmpty();
  }

  /** Meta's paging URLs carry the Graph URL's path; the layer's do not. */
  @Test
  void aGraphUrlWithAPathIsUsedUpstreamAndLeftOutOfTheLayersPagingUrls() throws IOException {
    basePath = "/graph";
    MetaLayer l = layer(b -> b.graphUrl(URI.create(metaBase + "/graph/")).publicUrl(URI.create("http://layer.test")));
    String k = l.keys().createKey(PNID).orElseThrow().key();
    GraphAnswer a = handle(l, "GET", "/v14.0/" + WABA + "/message_templates", "", k, Map.of(), "");
    assertThat(a.status()).isEqualTo(200);
    assertThat(seen.remove().uri()).startsWith("/graph/v14.0/" + WABA + "/message_templates?appsecret_proof=");
    assertThat(Json.mapper().readTree(a.body()).at("/paging/next").asText())
        .isEqualTo("http://layer.test/api/layer/meta/v14.0/" + WABA + "/message_templates?limit=25&after=MjQZD&access_token=" + k);
  }

  /** Without a public URL the layer's URLs are path-absolute and a paging URL carries no key: the client sends its own. */
  @Test
  void withoutAPublicUrlAPagingUrlIsPathAbsoluteAndCarriesNoKey() throws IOException {
    MetaLayer l = layer(b -> b);
    String k = l.keys().createKey(PNID).orElseThrow().key();
    GraphAnswer a = handle(l, "GET", "/v14.0/" + WABA + "/message_templates", "access_token=" + k, null, Map.of(), "");
    assertThat(Json.mapper().readTree(a.body()).at("/paging/next").asText())
        .isEqualTo("/api/layer/meta/v14.0/" + WABA + "/message_templates?limit=25&after=MjQZD");
    assertThat(a.text()).doesNotContain(k).doesNotContain(TOKEN);
  }

  /**
   * An embedder building the proxy itself ({@link GraphProxy#create}) with its own {@link dev.metalayer.keys.TokenResolver}:
   * a key store that is down is a 503 to retry, a grant whose Meta token would reach Meta changed is a 500, and
   * neither goes upstream nor shows the token.
   */
  @Test
  void anEmbeddersOwnProxyAndResolverAnswerAnOutageAndAnUnsendableTokenWithoutGoingUpstream() {
    String odd = "EAAtoken\u2026elided";
    dev.metalayer.keys.TokenResolver resolver = credential -> switch (credential) {
      case "ps_down" -> throw new dev.metalayer.keys.KeyService.StoreUnavailableException(new IOException("the store is down"));
      case "ps_odd" -> new dev.metalayer.keys.Resolution.Granted(
          new dev.metalayer.keys.Grant("k-odd", new dev.metalayer.keys.WhatsAppNumber("+15550783881", PNID, WABA, "900000000000001", clock.instant()), odd));
      default -> layer.keys().resolve(credential);
    };
    GraphSettings settings = layer.graphProxy().settings();
    GraphProxy proxy = GraphProxy.create(settings, resolver, SurfaceTest.registry(Set.of(), Set.of()), Map.of(),
        new dev.metalayer.crypto.TokenCipher(new byte[32], new java.security.SecureRandom()), clock,
        GraphForwarder.jdk(Duration.ofSeconds(5)));
    java.util.function.Function<String, GraphAnswer> get = k -> proxy.handle(new ClientRequest("GET", "/v13.0/" + PNID, "",
        Optional.of("Bearer " + k), Optional.empty(), "http://layer.test"), Map.of(), new byte[0]);

    GraphAnswer down = get.apply("ps_down");
    assertThat(down.status()).isEqualTo(503);
    GraphAnswer unsendable = get.apply("ps_odd");
    assertThat(unsendable.status()).isEqualTo(500);
    assertThat(unsendable.text()).contains("not plain visible ASCII").doesNotContain(odd);
    assertThat(seen).isEmpty();
    assertThat(get.apply(key).status()).isEqualTo(404); // the stand-in knows no such node: Meta's answer, passed on
    assertThat(seen.remove().authorization()).isEqualTo("Bearer " + TOKEN);
  }

  @Test
  void aMediaDownloadIsRefusedForABadCredentialAnotherObjectOrAKeyPastItsLimitsWithoutGoingUpstream() {
    String download = "/media/1037543291543636/download";
    assertThat(call("GET", download, "access_token=" + keyB, "Bearer " + key, "").status()).isEqualTo(400);
    assertThat(call("GET", download, "", "Bearer ps_unknownunknownunknownunknownunknown", "").status()).isEqualTo(401);
    // the layer's download route serves media only, not the number itself
    GraphAnswer number = call("GET", "/media/" + PNID + "/download", "", "Bearer " + key, "");
    assertThat(number.status()).isEqualTo(403);
    assertThat(number.text()).contains("may not download this media");
    assertThat(seen).isEmpty();

    MetaLayer one = layer(b -> b.mediaDownloadsPerKey(1).keyRate(1).keyBurst(2));
    String k = one.keys().createKey(PNID).orElseThrow().key();
    ClientRequest r = new ClientRequest("GET", download, "", Optional.of("Bearer " + k), Optional.empty(), "http://layer.test");
    Outcome<MediaDownload> first = one.graphProxy().prepareMedia(r, "1037543291543636");
    assertThat(first).isInstanceOf(Outcome.Ok.class);
    Outcome<MediaDownload> second = one.graphProxy().prepareMedia(r, "1037543291543636");
    assertThat(second).isInstanceOf(Outcome.Refused.class);
    assertThat(((Outcome.Refused<MediaDownload>) second).error().status()).isEqualTo(429);
    assertThat(((Outcome.Refused<MediaDownload>) second).reason()).isEmpty();
    ((Outcome.Ok<MediaDownload>) first).value().close();
    Outcome<MediaDownload> third = one.graphProxy().prepareMedia(r, "1037543291543636");
    assertThat(third).isInstanceOf(Outcome.Refused.class);
    assertThat(((Outcome.Refused<MediaDownload>) third).reason()).contains(Outcome.RATE_LIMITED);
    assertThat(seen).isEmpty();
  }

  @Test
  void routeClassesAndRoutesNameTheRowNeverAnId() {
    GraphProxy proxy = layer.graphProxy();
    assertThat(proxy.routeClass("/media/1037543291543636/download")).isEqualTo("media_download");
    assertThat(proxy.routeClass("/v13.0/" + PNID + "/messages")).isEqualTo("messages");
    java.util.function.Function<String, String> route = path -> ((Outcome.Ok<GraphExchange>) proxy.prepare(new ClientRequest("GET", path,
        "", Optional.of("Bearer " + key), Optional.empty(), "http://layer.test"))).value().route();
    assertThat(route.apply("/v13.0/" + PNID)).isEqualTo("/{version}/{phone-number-id}");
    assertThat(route.apply("/v13.0/" + WABA + "/message_templates")).isEqualTo("/{version}/{waba-id}/message_templates");
    assertThat(route.apply("/v13.0/1037543291543636")).isEqualTo("/{version}/{media-id}");
  }

  /** A JSON answer as large as the layer buffers is rewritten; one byte more is a 502, none of its bytes passed. */
  @Test
  void aJsonAnswerUpToTheBufferLimitIsRewrittenAndALargerOneIs502() {
    int length = "{\"messages\":[{\"id\":\"wamid.1\"}],\"echo\":\"token=EAAtokenOfNumberA0123456789\"}".length();
    for (int limit : new int[] {length, length - 1}) {
      MetaLayer l = layer(b -> b.maxJsonAnswerBytes(limit));
      String k = l.keys().createKey(PNID).orElseThrow().key();
      GraphAnswer a = handle(l, "POST", "/v13.0/" + PNID + "/messages", "", k, Map.of("Content-Type", List.of("application/json")), "{}");
      assertThat(a.status()).as("limit %d", limit).isEqualTo(limit == length ? 200 : 502);
      assertThat(a.text()).doesNotContain(TOKEN);
    }
  }

  @Test
  void escapesAreKeptOnlyWhenWholeAndEveryQueryCharacterIsKept() {
    assertThat(GraphProxy.escapeQuery("A=1&a=%0A&b=%A0")).isEqualTo("A=1&a=%0A&b=%A0");
    assertThat(GraphProxy.escapeQuery("x=%7")).isEqualTo("x=%257");
    assertThat(GraphProxy.escapeQuery("x=%")).isEqualTo("x=%25");
    assertThat(GraphProxy.escapeQuery("e=\ud83d")).isEqualTo("e=%3F"); // a lone surrogate at the end: no character to pair
    assertThat(GraphProxy.escapeQuery("\u0080=1")).isEqualTo("%C2%80=1");
  }

  /** An embedder passes the headers it received; one the JDK client cannot send is a Graph-shaped 502, not an exception. */
  @Test
  void aHeaderTheJdkClientCannotSendIsA502AndNothingGoesUpstream() {
    ClientRequest r = new ClientRequest("GET", "/v13.0/" + PNID, "", Optional.of("Bearer " + key), Optional.empty(), "http://layer.test");
    GraphAnswer a = layer.graphProxy().handle(r, Map.of("X-Tenant", List.of("t\r\nX-Injected: 1")), new byte[0]);
    assertThat(a.status()).isEqualTo(502);
    assertThat(a.header("content-type")).startsWith("application/json");
    assertThat(seen).isEmpty();
  }

  /** The call guard reads a call action whole: split between the query and a JSON body, Graph and the guard could read two actions. */
  @Test
  void aCallActionSplitBetweenTheQueryAndAJsonBodyIsRefusedBeforeItGoesUpstream() {
    GraphAnswer a = call("POST", "/v22.0/" + PNID + "/calls", "call_id=wacid.1", "Bearer " + key, "{\"action\":\"accept\"}");
    assertThat(a.status()).isEqualTo(400);
    assertThat(a.text()).contains("(rule call-body)");
    assertThat(seen).isEmpty();
  }
}

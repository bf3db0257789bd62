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
    byte[] answer;
    String type = "application/json";
    int status = 200;
    if (path.equals("/v13.0/" + PNID + "/messages")) {
      x.getResponseHeaders().add("X-Debug-Echo", "token=" + TOKEN);
      answer = "{\"messages\":[{\"id\":\"wamid.1\"}],\"echo\":\"token=EAAtokenOfNumberA0123456789\"}".getBytes(StandardCharsets.UTF_8);
    } else if (path.equals("/v14.0/" + WABA + "/message_templates")) {
      answer = ("{\"data\":[],\"paging\":{\"cursors\":{\"after\":\"MjQZD\"},\"next\":\"" + metaBase
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
}

package dev.metalayer.jetty;

import static dev.metalayer.jetty.Layer.PNID;
import static dev.metalayer.jetty.Layer.TOKEN;
import static dev.metalayer.jetty.Layer.WABA;
import static dev.metalayer.jetty.RawMeta.answer;
import static dev.metalayer.jetty.RawMeta.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.json.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The smaller leaks of the isolation promise and the Graph path's robustness defects, each attacked
 * over real HTTP with a fake Meta that writes its answers byte by byte and records every request head
 * as it arrived.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LeaksTest {
  static final String MEDIA = "1037543291543636";
  static final String JSON = "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=UTF-8\r\n";

  RawMeta meta;
  Layer layer;
  String bearer;

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    meta = new RawMeta(head -> answer(JSON, bytes("{\"id\":\"" + PNID + "\"}")));
    layer = Layer.start(dir, meta.baseUrl(), Map.of(Option.UPSTREAM_TIMEOUT, "5s"));
    bearer = "Bearer " + layer.key;
  }

  @AfterAll
  void stop() throws Exception {
    layer.close();
    meta.close();
  }

  @BeforeEach
  void reset() {
    meta.heads().clear();
    meta.answer(head -> answer(JSON, bytes("{\"id\":\"" + PNID + "\"}")));
  }

  private String mediaObject() {
    return "{\"messaging_product\":\"whatsapp\",\"url\":\"" + meta.baseUrl() + "/cdn/photo.jpg\",\"mime_type\":\"image/jpeg\",\"id\":\"" + MEDIA + "\"}";
  }

  /** A head's header lines, lower case, without the request line. */
  private static List<String> headerNames(String head) {
    return head.lines().skip(1).filter(l -> l.contains(":")).map(l -> l.substring(0, l.indexOf(':')).toLowerCase()).toList();
  }

  // ---- smaller leaks

  @Test
  void aMediaIdRequestCarriesNoMethodOverrideNorAnyOtherHeaderOfTheClients() throws Exception {
    meta.answer(head -> head.startsWith("GET /cdn/")
        ? answer("HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n", bytes("JPEG"))
        : answer(JSON, bytes(mediaObject())));
    // an override header on a Graph request is refused by the surface (GraphSurfaceTest); here the
    // other headers of the client's are dropped on the way to Meta
    HttpResponse<String> lookup = layer.send(HttpRequest.newBuilder(URI.create(layer.base() + "/v22.0/" + MEDIA))
        .header("Authorization", bearer)
        .header("X-Tenant-Secret", "mine")
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .GET());
    assertThat(lookup.statusCode()).isEqualTo(200);
    String url = Json.mapper().readTree(lookup.body()).get("url").asText();
    HttpResponse<String> download = layer.send(HttpRequest.newBuilder(URI.create(url))
        .header("Authorization", bearer)
        .header("X-HTTP-Method-Override", "DELETE")
        .header("X-Tenant-Secret", "mine"));
    assertThat(download.statusCode()).isEqualTo(200);
    assertThat(download.body()).isEqualTo("JPEG");

    assertThat(meta.heads()).hasSize(2);
    String lookupHead = meta.heads().get(0);
    assertThat(lookupHead).startsWith("GET /v22.0/" + MEDIA + "?phone_number_id=" + PNID);
    assertThat(headerNames(lookupHead)).contains("accept", "authorization")
        .doesNotContain("x-http-method-override", "x-tenant-secret", "content-type");
    String downloadHead = meta.heads().get(1);
    assertThat(downloadHead).startsWith("GET /cdn/photo.jpg");
    assertThat(headerNames(downloadHead)).doesNotContain("x-http-method-override", "x-tenant-secret");
  }

  @Test
  void anAttackersHostHeaderNeverBuildsAKeyBearingUrl() throws Exception {
    meta.answer(head -> head.contains("/message_templates")
        ? answer(JSON, bytes("{\"data\":[],\"paging\":{\"next\":\"https://graph.facebook.com/v14.0/" + WABA
            + "/message_templates?access_token=" + TOKEN + "&after=MjQZD\"}}"))
        : answer(JSON, bytes(mediaObject())));
    String request = "GET /api/layer/meta/v14.0/" + WABA + "/message_templates?access_token=" + layer.key + " HTTP/1.1\r\n"
        + "Host: attacker.example\r\nX-Forwarded-Host: attacker.example\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n";
    String answer = layer.raw(request);
    assertThat(answer).startsWith("HTTP/1.1 200").doesNotContain("attacker").doesNotContain(TOKEN)
        .contains("\"next\":\"" + layer.server.localUri() + "/api/layer/meta/v14.0/" + WABA
            + "/message_templates?after=MjQZD&access_token=" + layer.key + "\"");
  }

  @Test
  void withoutAPublicUrlPagingUrlsCarryNoKeyAndMediaUrlsAreRelative(@TempDir Path dir) throws Exception {
    meta.answer(head -> head.contains("/message_templates")
        ? answer(JSON, bytes("{\"data\":[],\"paging\":{\"next\":\"https://graph.facebook.com/v14.0/" + WABA
            + "/message_templates?access_token=" + TOKEN + "&after=MjQZD\"}}"))
        : answer(JSON, bytes(mediaObject())));
    ch.qos.logback.classic.Logger startLog =
        ((ch.qos.logback.classic.LoggerContext) org.slf4j.LoggerFactory.getILoggerFactory()).getLogger(dev.metalayer.MetaLayer.class);
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> warnings = new ch.qos.logback.core.read.ListAppender<>();
    warnings.start();
    startLog.addAppender(warnings);
    try (Layer bare = Layer.start(dir, meta.baseUrl(), Map.of(Option.PUBLIC_URL, ""))) {
      startLog.detachAppender(warnings);
      assertThat(warnings.list).singleElement().satisfies(e -> {
        assertThat(e.getLevel()).isEqualTo(ch.qos.logback.classic.Level.WARN);
        // the core names its builder setting; the launcher's start lines name the variable (StartErrorsIT)
        assertThat(e.getFormattedMessage()).contains("publicUrl").doesNotContain("\n");
      });
      String answer = bare.raw("GET /api/layer/meta/v14.0/" + WABA + "/message_templates?access_token=" + bare.key
          + " HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n");
      assertThat(answer).startsWith("HTTP/1.1 200").doesNotContain("attacker").doesNotContain(bare.key)
          .contains("\"next\":\"/api/layer/meta/v14.0/" + WABA + "/message_templates?after=MjQZD\"");

      String media = bare.raw("GET /api/layer/meta/v22.0/" + MEDIA + " HTTP/1.1\r\nHost: attacker.example\r\nAuthorization: Bearer "
          + bare.key + "\r\nConnection: close\r\n\r\n");
      assertThat(media).startsWith("HTTP/1.1 200").doesNotContain("attacker").contains("\"url\":\"/api/layer/meta/media/" + MEDIA + "/download?ref=");
      // the client resolves the relative URL against the layer URL it called, with its own credential
      String url = Json.mapper().readTree(media.substring(media.indexOf("\r\n\r\n") + 4)).get("url").asText();
      meta.answer(head -> answer("HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n", bytes("JPEG")));
      HttpResponse<String> download =
          bare.send(HttpRequest.newBuilder(bare.server.localUri().resolve(url)).header("Authorization", "Bearer " + bare.key));
      assertThat(download.statusCode()).isEqualTo(200);
      assertThat(download.body()).isEqualTo("JPEG");
    }
  }

  @Test
  void mediaOnAPlainHttpHostIsNotFetchedWithTheTokenUnlessThatHostIsWrittenHttp(@TempDir Path dir) throws Exception {
    meta.answer(head -> head.startsWith("GET /cdn/")
        ? answer("HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n", bytes("JPEG"))
        : answer(JSON, bytes(mediaObject())));
    try (Layer strict = Layer.start(dir, meta.baseUrl(), Map.of(Option.MEDIA_HOSTS, "127.0.0.1,localhost"))) {
      HttpResponse<String> r = strict.get("/media/" + MEDIA + "/download", "Bearer " + strict.key);
      BadInputTest.graphError(r, 502, 2);
      assertThat(r.body()).contains("outside the allowed media hosts");
      // the lookup went to Graph; nothing went to the plain-http media URL
      assertThat(meta.heads()).hasSize(1).allSatisfy(h -> assertThat(h).startsWith("GET /" + MEDIA + "?"));
    }
  }

  @Test
  void anAnswerInAnEncodingTheLayerDidNotDecodeIsRefusedWith502() throws Exception {
    for (String encoding : new String[] {"br", "deflate", "zstd", "gzip, br"}) {
      meta.answer(head -> answer(JSON + "Content-Encoding: " + encoding + "\r\n", bytes("{\"echo\":\"" + TOKEN + "\"}")));
      HttpResponse<String> r = layer.get("/v22.0/" + PNID, bearer);
      BadInputTest.graphError(r, 502, 2);
      assertThat(r.body()).as(encoding).contains("encoding").doesNotContain(TOKEN);
      meta.answer(head -> answer("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Encoding: " + encoding + "\r\n",
          bytes("bytes " + TOKEN)));
      BadInputTest.graphError(layer.get("/v22.0/" + PNID + "/whatsapp_business_profile", bearer), 502, 2);
    }
    // gzip the layer's client asked for is decoded, rewritten and scrubbed as usual
    meta.answer(head -> answer(JSON + "Content-Encoding: gzip\r\n", gzip("{\"id\":\"" + PNID + "\",\"echo\":\"" + TOKEN + "\"}")));
    HttpResponse<String> decoded = layer.get("/v22.0/" + PNID, bearer);
    assertThat(decoded.statusCode()).isEqualTo(200);
    assertThat(decoded.body()).contains(PNID).contains("[redacted]").doesNotContain(TOKEN);
  }

  @Test
  void aTokenInAnAnswerHeaderNameIsScrubbed() throws Exception {
    meta.answer(head -> answer(JSON + "X-" + TOKEN + ": 1\r\n", bytes("{\"id\":\"" + PNID + "\"}")));
    HttpResponse<String> r = layer.get("/v22.0/" + PNID, bearer);
    assertThat(r.statusCode()).isEqualTo(200);
    // the JDK client lower-cases header names
    assertThat(r.headers().map().keySet().toString()).doesNotContain(TOKEN.toLowerCase());
    meta.answer(head -> answer("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-" + TOKEN + ": 1\r\n", bytes("plain")));
    HttpResponse<String> streamed = layer.get("/v22.0/" + PNID + "/whatsapp_business_profile", bearer);
    assertThat(streamed.body()).isEqualTo("plain");
    assertThat(streamed.headers().map().keySet().toString()).doesNotContain(TOKEN.toLowerCase());
  }

  @Test
  void aUnicodeEscapedTokenInsideJsonDoesNotPassTheScrubber() throws Exception {
    StringBuilder escaped = new StringBuilder();
    for (char c : TOKEN.toCharArray()) {
      escaped.append(String.format("\\u%04x", (int) c));
    }
    String half = "\\u0045" + TOKEN.substring(1); // only the first character escaped
    meta.answer(head -> answer(JSON, bytes("{\"id\":\"" + PNID + "\",\"a\":\"" + escaped + "\",\"b\":\"" + half + "\",\"" + half + "\":1}")));
    HttpResponse<String> r = layer.get("/v22.0/" + PNID, bearer);
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode read = Json.mapper().readTree(r.body());
    assertThat(read.toString()).doesNotContain(TOKEN).contains("[redacted]");
    assertThat(read.get("id").asText()).isEqualTo(PNID);
    // and in an error answer Graph sends as JSON
    meta.answer(head -> answer("HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n",
        bytes("{\"error\":{\"message\":\"bad token " + half + "\",\"code\":190}}")));
    HttpResponse<String> error = layer.get("/v22.0/" + PNID, bearer);
    assertThat(error.statusCode()).isEqualTo(400);
    assertThat(Json.mapper().readTree(error.body()).toString()).doesNotContain(TOKEN);
  }

  // ---- interim answers and robustness

  @Test
  void anInterimAnswerBeforeTheFinalOneDoesNotHangTheClient() throws Exception {
    for (String interim : new String[] {
        "HTTP/1.1 100 Continue\r\n\r\n",
        "HTTP/1.1 102 Processing\r\n\r\n",
        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n"}) {
      meta.answer(head -> {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(bytes(interim));
        out.writeBytes(answer(JSON, bytes("{\"messages\":[{\"id\":\"wamid.1\"}]}")));
        return out.toByteArray();
      });
      long started = System.nanoTime();
      HttpResponse<String> r = layer.post("/v22.0/" + PNID + "/messages", bearer, "{\"messaging_product\":\"whatsapp\"}");
      long ms = (System.nanoTime() - started) / 1_000_000;
      assertThat(r.statusCode()).as(interim).isEqualTo(200);
      assertThat(r.body()).contains("wamid.1");
      assertThat(ms).as(interim).isLessThan(5_000);
    }
  }

  @Test
  void aMalformedChunkedBodyIsAGraphShaped400() throws Exception {
    for (String type : new String[] {"application/json", "application/x-www-form-urlencoded"}) {
      String answer = layer.raw("POST /api/layer/meta/v22.0/" + PNID + "/messages HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer
          + "\r\nContent-Type: " + type + "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
          + "5\r\n{\"a\":\r\nZZZ-not-a-size\r\n1}\r\n0\r\n\r\n");
      assertThat(answer).as(type).startsWith("HTTP/1.1 400").containsIgnoringCase("content-type: application/json")
          .contains("\"code\":100").doesNotContain(layer.key);
    }
    // no complete request reached Meta
    assertThat(meta.heads()).allSatisfy(h -> assertThat(h).doesNotContain("Content-Length"));
  }

  @Test
  void headOnAGraphJsonEndpointAnswersLikeGetWithoutABody() throws Exception {
    meta.answer(head -> head.startsWith("HEAD ")
        ? bytes("HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: 31\r\nConnection: close\r\n\r\n")
        : answer(JSON, bytes("{\"id\":\"" + PNID + "\"}")));
    HttpResponse<String> r = layer.send(HttpRequest.newBuilder(URI.create(layer.base() + "/v22.0/" + PNID)).header("Authorization", bearer)
        .method("HEAD", HttpRequest.BodyPublishers.noBody()));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
    assertThat(r.body()).isEmpty();
    assertThat(meta.heads()).singleElement().satisfies(h -> assertThat(h).startsWith("HEAD /v22.0/" + PNID));
  }

  /**
   * {@code { } | ^} are Graph's field-expansion characters. Raw in a query they must reach the layer's
   * rules (which may refuse field expansion, naming the rule), never end in a URI error; whatever
   * reaches Meta is percent-encoded, byte for byte.
   */
  @Test
  void fieldExpansionCharactersSentRawInAQueryReachTheRulesNotAUriError() throws Exception {
    String answer = layer.raw("GET /api/layer/meta/v22.0/" + PNID + "?fields=id,name{first^last|x} HTTP/1.1\r\nHost: x\r\nAuthorization: "
        + bearer + "\r\nConnection: close\r\n\r\n");
    assertThat(answer).doesNotStartWith("HTTP/1.1 400").doesNotContainIgnoringCase("invalid URI");
    if (answer.startsWith("HTTP/1.1 200")) {
      assertThat(meta.heads()).singleElement()
          .satisfies(h -> assertThat(h).startsWith("GET /v22.0/" + PNID + "?fields=id,name%7Bfirst%5Elast%7Cx%7D&appsecret_proof="));
    } else {
      assertThat(answer).startsWith("HTTP/1.1 403").contains("\"code\":200");
      assertThat(meta.heads()).isEmpty();
    }
  }

  @Test
  void aRawNonAsciiByteInAQueryReachesMetaPercentEncodedByteForByte() throws Exception {
    // "café" in UTF-8, sent as raw bytes in the request line
    byte[] request = bytes("GET /api/layer/meta/v14.0/" + WABA + "/message_templates?name=caf\u00c3\u00a9 HTTP/1.1\r\nHost: x\r\nAuthorization: "
        + bearer + "\r\nConnection: close\r\n\r\n");
    String answer = layer.raw(new String(request, StandardCharsets.ISO_8859_1));
    assertThat(answer).doesNotStartWith("HTTP/1.1 400");
    if (answer.startsWith("HTTP/1.1 200")) {
      assertThat(meta.heads()).singleElement()
          .satisfies(h -> assertThat(h).startsWith("GET /v14.0/" + WABA + "/message_templates?name=caf%C3%A9&appsecret_proof="));
    } else {
      assertThat(answer).startsWith("HTTP/1.1 403");
      assertThat(meta.heads()).isEmpty();
    }
  }

  /** A raw byte that is no UTF-8 cannot be passed on byte for byte (the server decodes the line): it is refused, not altered. */
  @Test
  void aRawByteThatIsNotUtf8InAQueryIsRefusedRatherThanAltered() throws Exception {
    String answer = layer.raw("GET /api/layer/meta/v14.0/" + WABA + "/message_templates?name=caf\u00e9 HTTP/1.1\r\nHost: x\r\nAuthorization: "
        + bearer + "\r\nConnection: close\r\n\r\n");
    assertThat(answer).startsWith("HTTP/1.1 400").contains("\"code\":100").contains("UTF-8");
    assertThat(meta.heads()).isEmpty();
  }

  @Test
  void anAnswerCarriesOneDateAndNoUpstreamServer() throws Exception {
    meta.answer(head -> answer(JSON + "Date: Mon, 01 Jan 2001 00:00:00 GMT\r\nServer: proxygen-bolt\r\n", bytes("{\"id\":\"" + PNID + "\"}")));
    String json = layer.raw("GET /api/layer/meta/v22.0/" + PNID + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer + "\r\nConnection: close\r\n\r\n");
    meta.answer(head -> answer("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Mon, 01 Jan 2001 00:00:00 GMT\r\nServer: proxygen-bolt\r\n",
        bytes("plain")));
    String streamed = layer.raw("GET /api/layer/meta/v22.0/" + PNID + "/whatsapp_business_profile HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer
        + "\r\nConnection: close\r\n\r\n");
    for (String answer : new String[] {json, streamed}) {
      String head = answer.substring(0, answer.indexOf("\r\n\r\n")).toLowerCase();
      assertThat(head).startsWith("http/1.1 200");
      assertThat(head.split("\r\ndate:", -1)).as(head).hasSize(2);
      // Meta's date, not merely "2001": a request id of random hex may hold those digits
      assertThat(head).doesNotContain("server:").doesNotContain("01 jan 2001");
    }
  }

  /** The adapter moves the headers the core picked: those a {@code Connection} header names stay behind, both ways. */
  @Test
  void headersNamedInAConnectionHeaderCrossTheLayerInNeitherDirection() throws Exception {
    meta.answer(head -> answer("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: X-Meta-Hop\r\nX-Meta-Hop: v\r\nX-Kept: k\r\n",
        bytes("plain")));
    String answer = layer.raw("GET /api/layer/meta/v22.0/" + PNID + "/whatsapp_business_profile HTTP/1.1\r\nHost: x\r\nAuthorization: "
        + bearer + "\r\nX-Hop: secret\r\nX-Tenant: t\r\nConnection: close, X-Hop\r\n\r\n");
    String head = answer.substring(0, answer.indexOf("\r\n\r\n")).toLowerCase();
    assertThat(head).startsWith("http/1.1 200").contains("x-kept: k").doesNotContain("x-meta-hop");
    assertThat(meta.heads()).hasSize(1);
    assertThat(headerNames(meta.heads().get(0))).contains("x-tenant").doesNotContain("x-hop");
  }

  /** The Jetty adapter and the JDK path answer alike (the core's rule): such a body could carry anything. */
  @Test
  void aFailedMediaLookupWhoseBodyIsNotJsonIs502AndNoneOfItsBytesPass() throws Exception {
    meta.answer(head -> answer("HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\n", bytes("<html>" + TOKEN + "</html>")));
    HttpResponse<String> download = layer.send(HttpRequest.newBuilder(
        URI.create(layer.base() + "/media/" + MEDIA + "/download")).header("Authorization", bearer));
    assertThat(download.statusCode()).isEqualTo(502);
    assertThat(download.body()).contains("\"code\":2").doesNotContain("html").doesNotContain(TOKEN);
  }

  private static byte[] gzip(String text) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream z = new GZIPOutputStream(out)) {
      z.write(text.getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return out.toByteArray();
  }
}

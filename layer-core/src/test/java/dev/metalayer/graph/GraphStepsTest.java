package dev.metalayer.graph;

import dev.metalayer.graph.GraphForwarder.UpstreamFailure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.MetaLayer;
import dev.metalayer.json.Json;
import dev.metalayer.keys.Grant;
import dev.metalayer.keys.KeyService.Registration;
import dev.metalayer.keys.Resolution;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The Graph proxy's rule sequence, driven step by step with real bytes and no network: what goes
 * upstream for an accepted request or download, in which order, and what the client gets from each
 * answer or failure. Both adapters (the JDK path of {@link GraphProxy#handle} and the Jetty handler)
 * only execute these steps; their own tests cover the moving of bytes.
 */
class GraphStepsTest {
  static final String TOKEN = "EAAtokenOfNumberA0123456789";
  static final String PNID = "106540352242922";
  static final String WABA = "102290129340398";
  static final String MEDIA = "1037543291543636";
  static final String CDN = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1";

  final MutableClock clock = MutableClock.at("2026-01-01T00:00:00Z");
  final ListAppender<ILoggingEvent> warnings = new ListAppender<>();
  MetaLayer layer;
  String key;

  @BeforeEach
  void start() {
    layer = MetaLayer.builder()
        .keyStore(Stores.inMemoryKeys())
        .masterKey(new byte[32])
        .clock(clock)
        .graphUrl(URI.create("https://graph.test"))
        .publicUrl(URI.create("https://layer.test"))
        .build();
    layer.keys().addNumber("+15550783881", PNID, WABA, "900000000000001", TOKEN);
    key = layer.keys().createKey(PNID).orElseThrow().key();
    warnings.start();
    ((Logger) LoggerFactory.getLogger(UpstreamWarnings.class)).addAppender(warnings);
  }

  @AfterEach
  void stop() {
    ((Logger) LoggerFactory.getLogger(UpstreamWarnings.class)).detachAppender(warnings);
  }

  // ---- helpers: the adapter's part, reduced to handing over bytes

  GraphStep start(String method, String path, String body, Map<String, List<String>> headers) {
    ClientRequest request = new ClientRequest(method, path, "", Optional.of("Bearer " + key), Optional.empty(), "https://layer.test",
        Optional.of("application/json"), body.isEmpty() ? Optional.empty() : Optional.of(bytes(body)), List.of("content-type"));
    Outcome<GraphExchange> prepared = layer.graphProxy().prepare(request);
    assertThat(prepared).isInstanceOf(Outcome.Ok.class);
    return ((Outcome.Ok<GraphExchange>) prepared).value().start(headers);
  }

  GraphStep download(String query) {
    ClientRequest request = new ClientRequest("GET", "/media/" + MEDIA + "/download", query, Optional.of("Bearer " + key),
        Optional.empty(), "https://layer.test");
    Outcome<MediaDownload> prepared = layer.graphProxy().prepareMedia(request, MEDIA);
    assertThat(prepared).isInstanceOf(Outcome.Ok.class);
    return ((Outcome.Ok<MediaDownload>) prepared).value().start();
  }

  static GraphStep.Send send(GraphStep step) {
    assertThat(step).isInstanceOf(GraphStep.Send.class);
    return (GraphStep.Send) step;
  }

  static GraphAnswer reply(GraphStep step) {
    assertThat(step).isInstanceOf(GraphStep.Reply.class);
    return ((GraphStep.Reply) step).answer();
  }

  /** The step after an answer read whole: the adapter buffers the body and hands it over. */
  static GraphStep buffered(GraphStep.Send send, int status, String contentType, String body) {
    GraphStep.Head head = send.head(status, Map.of("Content-Type", List.of(contentType)));
    assertThat(head).isInstanceOf(GraphStep.Head.Buffer.class);
    return ((GraphStep.Head.Buffer) head).then(bytes(body));
  }

  /** The step after an answer whose body is discarded. */
  static GraphStep discarded(GraphStep.Send send, int status, Map<String, List<String>> headers) {
    GraphStep.Head head = send.head(status, headers);
    assertThat(head).isInstanceOf(GraphStep.Head.Then.class);
    return ((GraphStep.Head.Then) head).next();
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static String text(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }

  static Map<String, List<String>> headers(String... nameValues) {
    Map<String, List<String>> h = new LinkedHashMap<>();
    for (int i = 0; i < nameValues.length; i += 2) {
      h.put(nameValues[i], List.of(nameValues[i + 1]));
    }
    return h;
  }

  // ---- Graph exchanges

  @Test
  void aPartialCallingWriteReadsTheSettingsFirstThenWritesTheMerge() {
    GraphStep.Send read = send(start("POST", "/v22.0/" + PNID + "/settings", "{\"calling\":{\"status\":\"ENABLED\"}}",
        headers("Content-Type", "application/json", "X-Tenant", "t")));
    assertThat(read.request().method()).isEqualTo("GET");
    assertThat(read.request().uri().getPath()).isEqualTo("/v22.0/" + PNID + "/settings");
    assertThat(read.request().headers()).containsOnlyKeys("Authorization");
    assertThat(read.request().headers().get("Authorization")).containsExactly("Bearer " + TOKEN);

    GraphStep.Send write = send(buffered(read, 200, "application/json",
        "{\"calling\":{\"status\":\"DISABLED\",\"call_hours\":{\"status\":\"ENABLED\"},\"restrictions\":{}}}"));
    assertThat(write.request().method()).isEqualTo("POST");
    assertThat(text(write.request().body()))
        .isEqualTo("{\"calling\":{\"status\":\"ENABLED\",\"call_hours\":{\"status\":\"ENABLED\"}}}");
    assertThat(write.request().headers()).containsKeys("Content-Type", "X-Tenant", "Authorization");
    assertThat(write.clientBody()).isEmpty();

    GraphAnswer done = reply(buffered(write, 200, "application/json", "{\"success\":true}"));
    assertThat(done.status()).isEqualTo(200);
    assertThat(done.text()).isEqualTo("{\"success\":true}");
  }

  @Test
  void withMergingOffAPartialCallingWriteGoesAsTheClientSentIt() {
    MetaLayer unmerged = MetaLayer.builder()
        .keyStore(Stores.inMemoryKeys())
        .masterKey(new byte[32])
        .clock(clock)
        .graphUrl(URI.create("https://graph.test"))
        .mergeCallingSettings(false)
        .build();
    unmerged.keys().addNumber("+15550783881", PNID, WABA, "900000000000001", TOKEN);
    String own = unmerged.keys().createKey(PNID).orElseThrow().key();
    String partial = "{\"calling\":{\"status\":\"ENABLED\"}}";
    ClientRequest request = new ClientRequest("POST", "/v22.0/" + PNID + "/settings", "", Optional.of("Bearer " + own), Optional.empty(),
        "https://layer.test", Optional.of("application/json"), Optional.of(bytes(partial)), List.of("content-type"));
    GraphStep.Send write = send(((Outcome.Ok<GraphExchange>) unmerged.graphProxy().prepare(request)).value()
        .start(headers("Content-Type", "application/json")));
    assertThat(write.request().method()).as("no read first").isEqualTo("POST");
    assertThat(text(write.request().body())).isEqualTo(partial);
  }

  @Test
  void aSettingsReadThatDoesNotAnswer200IsTheClientsAnswerAndNothingIsWritten() {
    String partial = "{\"calling\":{\"status\":\"ENABLED\"}}";
    GraphStep.Send read = send(start("POST", "/v22.0/" + PNID + "/settings", partial, Map.of()));
    GraphAnswer html = reply(discarded(read, 500, headers("Content-Type", "text/html")));
    assertThat(html.status()).isEqualTo(502);
    assertThat(html.text()).contains("invalid answer (HTTP 500)");

    GraphStep.Send again = send(start("POST", "/v22.0/" + PNID + "/settings", partial, Map.of()));
    GraphAnswer error = reply(buffered(again, 400, "application/json",
        "{\"error\":{\"message\":\"bad " + TOKEN + "\",\"code\":100}}"));
    assertThat(error.status()).isEqualTo(400);
    assertThat(error.text()).contains("\"code\":100").doesNotContain(TOKEN);

    GraphStep.Send garbage = send(start("POST", "/v22.0/" + PNID + "/settings", partial, Map.of()));
    assertThat(reply(buffered(garbage, 200, "application/json", "[1]")).status()).isEqualTo(502); // no object: never a blind write
  }

  @Test
  void aMediaIdIsDeletedOnlyAfterItsLookupAnswersAMediaObject() {
    GraphStep.Send lookup = send(start("DELETE", "/v13.0/" + MEDIA, "", headers("X-HTTP-Unrelated", "1")));
    assertThat(lookup.request().method()).isEqualTo("GET");
    assertThat(lookup.request().uri().getRawQuery()).isEqualTo("phone_number_id=" + PNID);
    GraphAnswer refused = reply(buffered(lookup, 200, "application/json", "{\"name\":\"Another business's app\",\"id\":\"" + MEDIA + "\"}"));
    assertThat(refused.status()).isEqualTo(403);
    assertThat(refused.text()).doesNotContain("Another business");

    GraphStep.Send again = send(start("DELETE", "/v13.0/" + MEDIA, "", Map.of()));
    GraphStep.Send delete = send(buffered(again, 200, "application/json",
        "{\"messaging_product\":\"whatsapp\",\"url\":\"" + CDN + "\",\"id\":\"" + MEDIA + "\"}"));
    assertThat(delete.request().method()).isEqualTo("DELETE");
    assertThat(delete.request().body()).isEmpty();
    assertThat(delete.request().headers()).containsOnlyKeys("Authorization");
  }

  @Test
  void aMediaIdWhoseLookupAnswersSomethingThatIsNotJsonIsNotDeleted() {
    GraphStep.Send lookup = send(start("DELETE", "/v13.0/" + MEDIA, "", Map.of()));
    GraphAnswer refused = reply(buffered(lookup, 200, "text/html", "<html>whatsapp " + CDN + "</html>"));
    assertThat(refused.status()).isEqualTo(403);
    assertThat(refused.text()).doesNotContain("html");
  }

  @Test
  void aRequestToAMediaIdNeverCarriesTheClientsBody() {
    GraphStep.Send get = send(start("GET", "/v13.0/" + MEDIA, "{\"fields\":\"id\"}", headers("Content-Type", "application/json")));
    assertThat(get.request().body()).isEmpty();
    assertThat(get.clientBody()).isEmpty();
    assertThat(get.request().headers()).containsOnlyKeys("Authorization");
  }

  @Test
  void aJsonAnswerIsRewrittenAnotherStreamsScrubbedAndAnErrorThatIsNotJsonIs502() {
    GraphStep.Send get = send(start("GET", "/v13.0/" + PNID, "", Map.of()));
    GraphAnswer json = reply(buffered(get, 200, "application/json", "{\"id\":\"" + PNID + "\",\"echo\":\"" + TOKEN + "\"}"));
    assertThat(json.text()).contains(PNID).doesNotContain(TOKEN);

    GraphStep.Head plain = get.head(200, headers("Content-Type", "text/plain", "Content-Length", "5", "X-Echo", "t=" + TOKEN,
        "Set-Cookie", "c=1", "Server", "proxygen"));
    assertThat(plain).isInstanceOfSatisfying(GraphStep.Head.Stream.class, s -> {
      assertThat(s.status()).isEqualTo(200);
      assertThat(s.length()).hasValue(5);
      assertThat(s.headers()).containsOnlyKeys("Content-Type", "X-Echo");
      assertThat(s.headers().get("X-Echo")).containsExactly("t=[redacted]");
      TokenScrubber.Stream scrubber = s.scrubber();
      byte[] body = bytes("<" + TOKEN + ">");
      byte[] out = scrubber.feed(body, 0, body.length);
      assertThat(text(out) + text(scrubber.finish())).doesNotContain(TOKEN).hasSize(body.length);
    });

    GraphAnswer html = reply(discarded(get, 503, headers("Content-Type", "text/html", "x-fb-trace-id", "MetaTrace1")));
    assertThat(html.status()).isEqualTo(502);
    assertThat(html.header("content-type")).startsWith("application/json");
    GraphAnswer encoded = reply(discarded(get, 200, headers("Content-Type", "application/json", "Content-Encoding", "br")));
    assertThat(encoded.status()).isEqualTo(502);
    assertThat(encoded.text()).contains("encoding");
    assertThat(reply(discarded(get, 200, headers("Content-Type", "text/plain", "Content-Encoding", "identity, br"))).status())
        .isEqualTo(502);
    assertThat(get.head(200, headers("Content-Type", "text/plain", "Content-Encoding", "Identity")))
        .as("identity is no encoding: the body is plain").isInstanceOf(GraphStep.Head.Stream.class);
    assertThat(reply(discarded(get, 400, headers("Content-Type", "text/html"))).status())
        .as("an error status that is not JSON: the first that does not stream").isEqualTo(502);
    assertThat(get.head(399, headers("Content-Type", "text/html"))).isInstanceOf(GraphStep.Head.Stream.class);
    GraphAnswer notJson = reply(buffered(get, 200, "application/json", "<html>" + TOKEN));
    assertThat(notJson.status()).isEqualTo(502);
    assertThat(notJson.text()).doesNotContain(TOKEN);
  }

  @Test
  void aHeadGetsStatusAndHeadersWithoutUpstreamsLength() {
    GraphStep.Send head = send(start("HEAD", "/v13.0/" + PNID, "", Map.of()));
    assertThat(head.head(200, headers("Content-Type", "application/json", "Content-Length", "120")))
        .isInstanceOfSatisfying(GraphStep.Head.Stream.class, s -> {
          assertThat(s.length()).isEmpty();
          assertThat(s.headers()).containsOnlyKeys("Content-Type");
        });
  }

  @Test
  void headersNamedInAConnectionHeaderAreDroppedBothWays() {
    GraphStep.Send get = send(start("GET", "/v13.0/" + PNID, "", headers(
        "Connection", "keep-alive, X-Hop-Secret", "X-Hop-Secret", "s", "X-Tenant", "t", "Accept", "application/json")));
    assertThat(get.request().headers()).containsOnlyKeys("X-Tenant", "Accept", "Authorization");

    GraphStep.Head answer = get.head(200, headers("Content-Type", "text/plain", "Connection", "X-Meta-Hop", "X-Meta-Hop", "v",
        "x-fb-trace-id", "T"));
    assertThat(answer).isInstanceOfSatisfying(GraphStep.Head.Stream.class,
        s -> assertThat(s.headers()).containsOnlyKeys("Content-Type", "x-fb-trace-id"));
    GraphAnswer rewritten = reply(((GraphStep.Head.Buffer) get.head(200, headers("Content-Type", "application/json",
        "Connection", "X-Meta-Hop", "X-Meta-Hop", "v"))).then(bytes("{}")));
    assertThat(rewritten.headers()).containsOnlyKeys("Content-Type");
  }

  @Test
  void aConnectionHeaderNamingContentTypeKeepsTheTypeTheBodyWasCheckedAs() {
    // checked as JSON, only its top-level names count; sent without its type, Meta could read it as a form
    GraphStep.Send post = send(start("POST", "/v22.0/" + PNID + "/messages", "{\"to\":\"1\",\"x\":\"&batch=[]&y=\"}",
        headers("Content-Type", "application/json", "Connection", "Content-Type, X-Hop", "X-Hop", "h")));
    assertThat(post.request().headers()).containsOnlyKeys("Content-Type", "Authorization");
    assertThat(post.request().headers().get("Content-Type")).containsExactly("application/json");
  }

  @Test
  void onlyTheAnswerOfACallActionOrMessageMayBlockOnTheStore() {
    Map<String, List<String>> json = headers("Content-Type", "application/json");
    assertThat(send(start("POST", "/v22.0/" + PNID + "/calls", "{\"call_id\":\"wacid.1\",\"action\":\"accept\"}", json))
        .answerMayBlock()).isTrue();
    assertThat(send(start("POST", "/v22.0/" + PNID + "/messages", "{\"to\":\"1\",\"type\":\"text\"}", json))
        .answerMayBlock()).isTrue();
    assertThat(send(start("GET", "/v22.0/" + PNID, "", Map.of())).answerMayBlock()).isFalse();
    assertThat(send(start("GET", "/v22.0/" + PNID + "/call_permissions", "", Map.of())).answerMayBlock()).isFalse();
  }

  @Test
  void aMultipartUploadStreamsTheClientsBodyCheckedPartByPart() {
    ClientRequest upload = new ClientRequest("POST", "/v22.0/" + PNID + "/media", "", Optional.of("Bearer " + key), Optional.empty(),
        "https://layer.test", Optional.of("multipart/form-data; boundary=B"), Optional.empty(), List.of("content-type"));
    try (GraphExchange exchange = ((Outcome.Ok<GraphExchange>) layer.graphProxy().prepare(upload)).value()) {
      GraphStep.Send send = send(exchange.start(headers("Content-Type", "multipart/form-data; boundary=B")));
      assertThat(send.clientBody()).isPresent();
      MultipartParts parts = send.clientBody().get().get();
      assertThat(parts.feed(bytes("--B\r\nContent-Disposition: form-data; name=\"batch\"\r\n\r\n[]\r\n--B--\r\n")))
          .hasValueSatisfying(e -> assertThat(e.message()).contains("multipart-part"));
    }
  }

  // ---- media downloads

  @Test
  void aDownloadLooksTheMediaUpAndFetchesFromAnAllowedHostWithItsBytesScrubbed() {
    GraphStep.Send lookup = send(download(""));
    assertThat(lookup.upstream()).isEqualTo(GraphStep.Upstream.GRAPH);
    assertThat(lookup.request().uri().toString()).startsWith("https://graph.test/" + MEDIA + "?phone_number_id=" + PNID);
    GraphStep.Send fetch = send(buffered(lookup, 200, "application/json",
        "{\"messaging_product\":\"whatsapp\",\"url\":\"" + CDN + "\",\"id\":\"" + MEDIA + "\"}"));
    assertThat(fetch.upstream()).isEqualTo(GraphStep.Upstream.MEDIA_HOST);
    assertThat(fetch.request().uri()).isEqualTo(URI.create(CDN));
    assertThat(fetch.request().headers()).containsOnlyKeys("Authorization", "Accept-Encoding");
    assertThat(fetch.request().timeout()).isEqualTo(layer.graphProxy().settings().mediaTimeout());
    GraphStep.Head bytes = fetch.head(200, headers("Content-Type", "image/jpeg", "Content-Length", "9",
        "Content-Disposition", "attachment; filename=\"photo.jpg\""));
    assertThat(bytes).isInstanceOfSatisfying(GraphStep.Head.Stream.class, s -> {
      assertThat(s.length()).hasValue(9);
      assertThat(s.whole(bytes("JPEG" + TOKEN)).text()).startsWith("JPEG").doesNotContain(TOKEN);
    });
  }

  @Test
  void aDownloadHoldsOneOfItsKeysMediaSlotsUntilItIsClosed() {
    int cap = layer.graphProxy().settings().mediaDownloadsPerKey();
    List<MediaDownload> downloads = new java.util.ArrayList<>();
    for (int i = 0; i < cap; i++) {
      downloads.add(prepared(mediaRequest()));
    }
    assertThat(downloads.get(0).phoneNumberId()).as("for the access log line").isEqualTo(PNID);
    Outcome<MediaDownload> busy = layer.graphProxy().prepareMedia(mediaRequest(), MEDIA);
    assertThat(busy).isInstanceOfSatisfying(Outcome.Refused.class, r -> assertThat(r.error().status()).isEqualTo(429));

    downloads.get(0).close();
    downloads.get(0).close(); // idempotent: gives back one slot, not two
    MediaDownload next = prepared(mediaRequest());
    assertThat(layer.graphProxy().prepareMedia(mediaRequest(), MEDIA)).isInstanceOf(Outcome.Refused.class);
    next.close();
    downloads.forEach(MediaDownload::close);
  }

  ClientRequest mediaRequest() {
    return new ClientRequest("GET", "/media/" + MEDIA + "/download", "", Optional.of("Bearer " + key), Optional.empty(),
        "https://layer.test");
  }

  MediaDownload prepared(ClientRequest request) {
    Outcome<MediaDownload> prepared = layer.graphProxy().prepareMedia(request, MEDIA);
    assertThat(prepared).isInstanceOf(Outcome.Ok.class);
    return ((Outcome.Ok<MediaDownload>) prepared).value();
  }

  @Test
  void aFreshLinkIsFetchedWithoutALookupAndAStaleOneIsLookedUpAgain() throws IOException {
    GraphStep.Send lookup = send(start("GET", "/v13.0/" + MEDIA, "", Map.of()));
    GraphAnswer answer = reply(buffered(lookup, 200, "application/json",
        "{\"messaging_product\":\"whatsapp\",\"url\":\"" + CDN + "\",\"id\":\"" + MEDIA + "\"}"));
    URI link = URI.create(Json.mapper().readTree(answer.body()).get("url").asText());
    assertThat(link.toString()).startsWith("https://layer.test/api/layer/meta/media/" + MEDIA + "/download?ref=");

    assertThat(send(download(link.getRawQuery())).request().uri()).isEqualTo(URI.create(CDN));
    clock.advance(Duration.ofMinutes(5));
    assertThat(send(download(link.getRawQuery())).request().uri().getHost()).isEqualTo("graph.test");
  }

  /**
   * The two adapters disagreed here: the JDK path passed such a body on, the Jetty path answered 502.
   * A body that is not JSON could carry anything (an HTML page, a proxy's echo of the request), and
   * the layer promises Graph-shaped errors: 502, none of its bytes.
   */
  @Test
  void aFailedMediaLookupWhoseBodyIsNotJsonIs502AndNoneOfItsBytesPass() {
    GraphAnswer html = reply(discarded(send(download("")), 500, headers("Content-Type", "text/html")));
    assertThat(html.status()).isEqualTo(502);
    assertThat(html.text()).contains("invalid answer (HTTP 500)");
    GraphAnswer typedJson = reply(buffered(send(download("")), 404, "application/json", "<html>" + TOKEN + "</html>"));
    assertThat(typedJson.status()).isEqualTo(502);
    assertThat(typedJson.text()).doesNotContain("html").doesNotContain(TOKEN);

    GraphAnswer graphError = reply(buffered(send(download("")), 404, "application/json",
        "{\"error\":{\"message\":\"Unsupported get request " + TOKEN + "\",\"code\":100}}"));
    assertThat(graphError.status()).isEqualTo(404);
    assertThat(graphError.text()).contains("Unsupported get request").doesNotContain(TOKEN);

    GraphAnswer noUrl = reply(buffered(send(download("")), 200, "application/json", "{\"id\":\"" + MEDIA + "\"}"));
    assertThat(noUrl.status()).isEqualTo(502);
    assertThat(noUrl.text()).contains("no URL");
  }

  @Test
  void redirectsAreFollowedOnlyToAllowedHostsAndAtMostThreeTimes() {
    GraphStep.Send fetch = send(buffered(send(download("")), 200, "application/json",
        "{\"messaging_product\":\"whatsapp\",\"url\":\"" + CDN + "\"}"));
    GraphAnswer outside = reply(discarded(fetch, 302, headers("Location", "https://evil.example/steal")));
    assertThat(outside.status()).isEqualTo(502);
    assertThat(outside.text()).contains("outside the allowed media hosts");
    GraphAnswer invalid = reply(discarded(fetch, 302, headers("Location", "https://bad host/ x")));
    assertThat(invalid.text()).contains("invalid redirect");

    GraphStep step = fetch;
    for (int hop = 1; hop <= MediaDownload.MAX_REDIRECTS; hop++) {
      step = discarded(send(step), 301, headers("Location", "/hop" + hop));
      assertThat(send(step).request().uri().toString()).isEqualTo("https://lookaside.fbsbx.com/hop" + hop);
    }
    GraphAnswer tooMany = reply(discarded(send(step), 302, headers("Location", "/hop4")));
    assertThat(tooMany.text()).contains("redirected too many times");
  }

  // ---- failures

  @Test
  void upstreamFailuresBecomeGraphErrors() {
    GraphStep.Send get = send(start("GET", "/v13.0/" + PNID, "", Map.of()));
    assertThat(get.failed(UpstreamFailure.TIMEOUT).status()).isEqualTo(504);
    assertThat(get.failed(UpstreamFailure.UNREACHABLE).status()).isEqualTo(502);
    assertThat(get.failed(UpstreamFailure.ANSWER_TOO_LARGE).text()).contains("too large to rewrite");
    assertThat(get.failed(UpstreamFailure.STOPPING).status()).isEqualTo(503);
    GraphAnswer failed = get.failed(UpstreamFailure.UNREACHABLE);
    assertThat(failed.header("content-type")).startsWith("application/json");
    assertThat(failed.header("cache-control")).isEqualTo("no-store");
  }

  @Test
  void metaOutOfReachIsLoggedOnceAMinutePerNumberAndReasonWithTheCountLeftOut() throws IOException {
    GraphStep.Send get = send(start("GET", "/v13.0/" + PNID, "", Map.of()));
    GraphAnswer first = get.failed(UpstreamFailure.UNREACHABLE);
    get.failed(UpstreamFailure.UNREACHABLE);
    get.failed(UpstreamFailure.UNREACHABLE);
    get.failed(UpstreamFailure.ANSWER_TOO_LARGE); // not a reach problem: not told
    assertThat(warnings.list).hasSize(1);
    ILoggingEvent line = warnings.list.get(0);
    assertThat(line.getLevel().toString()).isEqualTo("WARN");
    JsonNode error = Json.mapper().readTree(first.body()).get("error");
    assertThat(line.getFormattedMessage())
        .contains(PNID, "Meta could not be reached", "502", error.get("fbtrace_id").asText())
        .doesNotContain(TOKEN, key);

    get.failed(UpstreamFailure.TIMEOUT); // another reason: its own line
    assertThat(warnings.list).hasSize(2);
    assertThat(warnings.list.get(1).getFormattedMessage()).contains("did not answer in time", "504");

    clock.advance(Duration.ofSeconds(59));
    get.failed(UpstreamFailure.UNREACHABLE);
    assertThat(warnings.list).hasSize(2);
    clock.advance(Duration.ofSeconds(1));
    get.failed(UpstreamFailure.UNREACHABLE);
    assertThat(warnings.list).hasSize(3);
    assertThat(warnings.list.get(2).getFormattedMessage()).contains("3 more like it were not logged");

    reply(discarded(get, 500, headers("Content-Type", "text/html", "x-fb-trace-id", "MetaTrace1")));
    assertThat(warnings.list).hasSize(4);
    assertThat(warnings.list.get(3).getFormattedMessage()).contains("not JSON (HTTP 500)", "x-fb-trace-id MetaTrace1");
  }

  // ---- the Meta token

  /** What the core's objects show in a log line or an assertion message: what the request is, never a credential. */
  @Test
  void theToStringsNameTheRequestAndNeverATokenKeyOrSecret() {
    ClientRequest client = new ClientRequest("POST", "/v22.0/" + PNID + "/messages", "access_token=" + key + "&debug=all",
        Optional.of("Bearer " + key), Optional.of(bytes("access_token=" + key)), "https://layer.test");
    assertThat(client.toString()).contains("POST", "/v22.0/" + PNID + "/messages").doesNotContain(key, "access_token");

    GraphExchange exchange = ((Outcome.Ok<GraphExchange>) layer.graphProxy().prepare(new ClientRequest("GET", "/v13.0/" + PNID,
        "fields=id", Optional.of("Bearer " + key), Optional.empty(), "https://layer.test"))).value();
    assertThat(exchange.toString()).contains("GET", "/v13.0/" + PNID).doesNotContain(TOKEN, key);
    GraphStep.Send get = send(exchange.start(Map.of()));
    assertThat(get.toString()).contains("GET", "/v13.0/" + PNID, "GRAPH").doesNotContain(TOKEN, "Bearer");
    assertThat(get.request().toString()).contains("GET", "/v13.0/" + PNID).doesNotContain(TOKEN, "Bearer");

    MediaDownload download = prepared(mediaRequest());
    assertThat(download.toString()).contains(MEDIA).doesNotContain(TOKEN, key);
    download.close();

    GraphAnswer upstream = new GraphAnswer(500, Map.of(), bytes("{\"echo\":\"" + TOKEN + "\"}"));
    assertThat(upstream.toString()).as("an answer as received, before its scrub").contains("500").doesNotContain(TOKEN, "echo");

    GraphSettings s = layer.graphProxy().settings();
    assertThat(s.toString()).contains("https://graph.test", "appSecret=<none>");
    GraphSettings withSecret = new GraphSettings(s.graphUrl(), s.prefix(), s.publicUrl(), Optional.of("app-secret-0123"),
        s.mediaHosts(), s.connectTimeout(), s.idleTimeout(), s.upstreamTimeout(), s.mediaTimeout(), s.maxBodyBytes(),
        s.maxJsonAnswerBytes(), s.mergeCallingSettings(), s.mediaDownloadsPerKey(), s.keyRateLimit());
    assertThat(withSecret.toString()).contains("https://graph.test", "appSecret=<set>").doesNotContain("app-secret-0123");
  }

  @Test
  void aMetaTokenThatIsNotPlainVisibleAsciiIsRefusedAtRegistrationWithoutEchoingIt() {
    for (String bad : List.of("EAAG\u2026your token\u2026", "EAAGabc def", "EAAG\u0007bell", "EAAG\u00e9")) {
      Registration r = layer.keys().addNumber("+15550783882", "206540352242922", "202290129340398", "900000000000002", bad);
      assertThat(r).isInstanceOfSatisfying(Registration.Invalid.class, i ->
          assertThat(i.toString()).contains("plain visible ASCII").doesNotContain(bad).doesNotContain("EAAG"));
      assertThatThrownBy(() -> layer.keys().updateToken(PNID, bad))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("plain visible ASCII")
          .hasMessageNotContaining("EAAG");
    }
    // surrounding whitespace (a pasted line) is removed, not refused
    assertThat(layer.keys().addNumber("+15550783882", "206540352242922", "202290129340398", "900000000000002", " EAAGok123\n"))
        .isInstanceOf(Registration.Added.class);
  }

  @Test
  void aResolvedTokenThatIsNotPlainVisibleAsciiIsNeverSentUpstream() {
    MetaLayer embedded = MetaLayer.builder().keyStore(Stores.inMemoryKeys()).masterKey(new byte[32]).clock(clock).graphUrl(URI.create("https://graph.test"))
        .registeredObjects(id -> false).sharedWabas(id -> false)
        .tokenResolver(credential -> new Resolution.Granted(new Grant("k1",
            new dev.metalayer.keys.WhatsAppNumber("+15550783881", PNID, WABA, "900000000000001", clock.instant()),
            "EAAG\u2026your token\u2026")))
        .build();
    Outcome<GraphExchange> refused = embedded.graphProxy().prepare(new ClientRequest("GET", "/v13.0/" + PNID, "",
        Optional.of("Bearer anything"), Optional.empty(), "https://layer.test"));
    assertThat(refused).isInstanceOfSatisfying(Outcome.Refused.class, r -> {
      assertThat(r.error().status()).isEqualTo(500);
      assertThat(r.error().message()).contains("not plain visible ASCII").doesNotContain("EAAG");
    });
    assertThat(warnings.list).anySatisfy(e -> assertThat(e.getFormattedMessage()).contains(PNID, "not plain visible ASCII"));
  }

  // ---- answers the steps above leave out

  @Test
  void aMergedCallingWriteIsSentAsJsonKeepingTheClientsOwnType() {
    String partial = "{\"calling\":{\"status\":\"ENABLED\"}}";
    String current = "{\"calling\":{\"status\":\"DISABLED\"}}";
    GraphStep.Send untyped = send(buffered(send(start("POST", "/v22.0/" + PNID + "/settings", partial, Map.of())), 200,
        "application/json", current));
    assertThat(untyped.request().headers().get("Content-Type")).containsExactly("application/json");
    GraphStep.Send typed = send(buffered(send(start("POST", "/v22.0/" + PNID + "/settings", partial,
        headers("content-type", "application/json; charset=utf-8"))), 200, "application/json", current));
    assertThat(typed.request().headers()).containsOnlyKeys("content-type", "Authorization");
    assertThat(typed.request().headers().get("content-type")).containsExactly("application/json; charset=utf-8");
  }

  @Test
  void aReadFirstThatIsEncodedOrFailsWritesNothing() {
    String partial = "{\"calling\":{\"status\":\"ENABLED\"}}";
    GraphStep.Send read = send(start("POST", "/v22.0/" + PNID + "/settings", partial, Map.of()));
    GraphAnswer encoded = reply(discarded(read, 200, headers("Content-Type", "application/json", "Content-Encoding", "gzip")));
    assertThat(encoded.status()).isEqualTo(502);
    assertThat(encoded.text()).contains("encoding");
    assertThat(read.failed(UpstreamFailure.TIMEOUT).status()).isEqualTo(504);
  }

  @Test
  void aMediaLookupAnswersEveryStatusAsGraphWouldOrWithA502() {
    GraphAnswer error = reply(buffered(send(download("")), 400, "application/json", "{\"error\":{\"message\":\"bad\",\"code\":100}}"));
    assertThat(error.status()).isEqualTo(400);
    assertThat(error.text()).contains("\"code\":100");
    GraphAnswer notJson = reply(discarded(send(download("")), 400, headers("Content-Type", "text/plain")));
    assertThat(notJson.status()).isEqualTo(502);
    assertThat(notJson.text()).contains("invalid answer (HTTP 400)");
    GraphAnswer notModified = reply(discarded(send(download("")), 304, headers()));
    assertThat(notModified.status()).isEqualTo(502);
    assertThat(notModified.text()).contains("no URL");
    GraphAnswer encoded = reply(discarded(send(download("")), 200, headers("Content-Type", "application/json", "Content-Encoding", "br")));
    assertThat(encoded.text()).contains("encoding");
    GraphAnswer empty = reply(buffered(send(download("")), 404, "application/json", ""));
    assertThat(empty.status()).isEqualTo(502);
    assertThat(send(download("")).failed(UpstreamFailure.TIMEOUT).status()).isEqualTo(504);
  }

  @Test
  void aMediaFetchPassesItsLengthOnlyWhenItIsOneAndRefusesAnEncodedBody() {
    GraphStep.Send fetch = send(buffered(send(download("")), 200, "application/json",
        "{\"messaging_product\":\"whatsapp\",\"url\":\"" + CDN + "\"}"));
    assertThat(fetch.head(200, headers("Content-Type", "image/jpeg", "Content-Length", "0")))
        .isInstanceOfSatisfying(GraphStep.Head.Stream.class, s -> assertThat(s.length()).hasValue(0));
    for (String bad : new String[] {"-1", "many"}) {
      assertThat(fetch.head(200, headers("Content-Type", "image/jpeg", "Content-Length", bad)))
          .isInstanceOfSatisfying(GraphStep.Head.Stream.class, s -> assertThat(s.length()).isEmpty());
    }
    GraphAnswer encoded = reply(discarded(fetch, 200, headers("Content-Type", "image/jpeg", "Content-Encoding", "gzip")));
    assertThat(encoded.status()).isEqualTo(502);
    assertThat(encoded.text()).contains("encoding");
    assertThat(fetch.failed(UpstreamFailure.UNREACHABLE).status()).isEqualTo(502);
  }

  @Test
  void whenTheCallGuardAnswersInsteadThatIsTheClientsAnswerAndNothingGoesUpstream() {
    GraphAnswer refusal = GraphAnswer.of(GraphError.of(409, 138000, GraphError.LAYER, "No such call."));
    List<String> asked = new java.util.concurrent.CopyOnWriteArrayList<>();
    CallGuard refusing = new CallGuard() {
      @Override
      public Optional<GraphAnswer> before(Grant grant, String edge, byte[] body) {
        asked.add(edge + " " + text(body));
        return Optional.of(refusal);
      }

      @Override
      public void after(Grant grant, String edge, byte[] requestBody, int status, byte[] answerBody) {
        asked.add("after");
      }
    };
    GraphProxy proxy = GraphProxy.create(layer.graphProxy().settings(), layer.keys(), SurfaceTest.registry(Set.of(), Set.of()), Map.of(),
        new dev.metalayer.crypto.TokenCipher(new byte[32], new java.security.SecureRandom()), clock,
        request -> new GraphForwarder.Forwarded.Failed(UpstreamFailure.UNREACHABLE), refusing);
    String action = "{\"call_id\":\"wacid.1\",\"action\":\"accept\"}";
    GraphStep step = ((Outcome.Ok<GraphExchange>) proxy.prepare(new ClientRequest("POST", "/v22.0/" + PNID + "/calls", "",
        Optional.of("Bearer " + key), Optional.empty(), "https://layer.test", Optional.of("application/json"),
        Optional.of(bytes(action)), List.of("content-type")))).value().start(headers("Content-Type", "application/json"));
    assertThat(reply(step)).isSameAs(refusal);
    assertThat(asked).containsExactly("calls " + action);
  }

  /** A guarded exchange (a message or call action) tells its guard the status the client gets, also when the answer streams or fails. */
  @Test
  void theCallGuardIsToldOfAStreamedAnswerAndOfTheLayersErrorInsteadOfAnEncodedOne() {
    List<Integer> told = new java.util.concurrent.CopyOnWriteArrayList<>();
    CallGuard recording = new CallGuard() {
      @Override
      public Optional<GraphAnswer> before(Grant grant, String edge, byte[] body) {
        return Optional.empty();
      }

      @Override
      public void after(Grant grant, String edge, byte[] requestBody, int status, byte[] answerBody) {
        told.add(status);
      }
    };
    GraphProxy proxy = GraphProxy.create(layer.graphProxy().settings(), layer.keys(), SurfaceTest.registry(Set.of(), Set.of()), Map.of(),
        new dev.metalayer.crypto.TokenCipher(new byte[32], new java.security.SecureRandom()), clock,
        request -> new GraphForwarder.Forwarded.Failed(UpstreamFailure.UNREACHABLE), recording);
    java.util.function.Supplier<GraphStep.Send> message = () -> send(((Outcome.Ok<GraphExchange>) proxy.prepare(new ClientRequest("POST",
        "/v22.0/" + PNID + "/messages", "", Optional.of("Bearer " + key), Optional.empty(), "https://layer.test",
        Optional.of("application/json"), Optional.of(bytes("{\"to\":\"1\",\"type\":\"text\"}")), List.of("content-type"))))
        .value().start(headers("Content-Type", "application/json")));

    assertThat(message.get().head(200, headers("Content-Type", "text/plain"))).isInstanceOf(GraphStep.Head.Stream.class);
    assertThat(told).containsExactly(200);
    GraphAnswer encoded = reply(discarded(message.get(), 200, headers("Content-Type", "application/json", "Content-Encoding", "br")));
    assertThat(encoded.status()).isEqualTo(502);
    assertThat(told).containsExactly(200, 502);
  }
}

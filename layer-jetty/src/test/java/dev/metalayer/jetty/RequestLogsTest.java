package dev.metalayer.jetty;

import static dev.metalayer.jetty.Layer.PNID;
import static dev.metalayer.jetty.Layer.TOKEN;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import com.sun.net.httpserver.HttpServer;
import dev.metalayer.json.Json;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.RecordingSubscriber;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import org.slf4j.event.KeyValuePair;

/**
 * Request ids end to end, on the real layer: Meta is a JDK server that records the headers it gets,
 * the subscriber a real one. The access and delivery lines are read as logback hands them to its
 * appenders, key-value pairs and MDC included.
 */
class RequestLogsTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(20);
  private static final String PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

  @TempDir Path dir;
  HttpServer meta;
  final List<Map<String, List<String>>> metaSaw = new CopyOnWriteArrayList<>();
  Layer layer;
  RecordingSubscriber subscriber;

  /** What a logged line said: its logger, text, key-value pairs and MDC request id. */
  record Line(String logger, String text, Map<String, String> fields, String mdcRequestId) {}

  final List<Line> lines = new CopyOnWriteArrayList<>();
  final AppenderBase<ILoggingEvent> appender = new AppenderBase<>() {
    @Override
    protected void append(ILoggingEvent e) {
      Map<String, String> fields = new java.util.LinkedHashMap<>();
      if (e.getKeyValuePairs() != null) {
        for (KeyValuePair kv : e.getKeyValuePairs()) {
          fields.put(kv.key, String.valueOf(kv.value));
        }
      }
      lines.add(new Line(e.getLoggerName(), e.getFormattedMessage(), fields, e.getMDCPropertyMap().get("request_id")));
    }
  };

  @BeforeEach
  void start() throws Exception {
    meta = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    meta.createContext("/", x -> {
      x.getRequestBody().readAllBytes();
      metaSaw.add(Map.copyOf(x.getRequestHeaders()));
      byte[] body = ("{\"id\":\"" + PNID + "\",\"verified_name\":\"Layer\"}").getBytes(StandardCharsets.UTF_8);
      x.getResponseHeaders().add("Content-Type", "application/json");
      x.getResponseHeaders().add("X-Request-Id", "metas-own-id");
      x.sendResponseHeaders(200, body.length);
      x.getResponseBody().write(body);
      x.close();
    });
    meta.start();
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    appender.setContext(context);
    appender.start();
    context.getLogger(Logger.ROOT_LOGGER_NAME).addAppender(appender);
    layer = Layer.start(dir, "http://127.0.0.1:" + meta.getAddress().getPort(),
        Map.of(Option.ALLOWED_TARGET_CIDRS, "127.0.0.0/8"));
    subscriber = RecordingSubscriber.start();
  }

  @AfterEach
  void stop() throws Exception {
    try {
      layer.close();
      subscriber.close();
    } finally {
      ((LoggerContext) LoggerFactory.getILoggerFactory()).getLogger(Logger.ROOT_LOGGER_NAME).detachAppender(appender);
      meta.stop(0);
    }
  }

  private HttpResponse<String> get(String path, Map<String, String> headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(layer.base() + path)).GET();
    headers.forEach(b::header);
    return layer.send(b);
  }

  /** The first line of {@code logger} that {@code which} accepts, waited for (a line is written as its answer ends). */
  private Line awaitLine(String logger, Predicate<Line> which) throws InterruptedException {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      for (Line l : lines) {
        if (l.logger().equals(logger) && which.test(l)) {
          return l;
        }
      }
      Thread.sleep(10); // polling for a condition, not timing a rule
    }
    throw new AssertionError("no line of " + logger + " came; lines: " + lines);
  }

  private static String first(Map<String, List<String>> headers, String name) {
    return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name)).map(e -> e.getValue().get(0))
        .findFirst().orElse(null);
  }

  @Test
  void anIncomingIdIsAnsweredSentToMetaAndLoggedWithTheRequestsFields() throws Exception {
    HttpResponse<String> answer = get("/v13.0/" + PNID, Map.of("Authorization", "Bearer " + layer.key,
        "X-Request-Id", "chatwoot-req-42"));

    assertThat(answer.statusCode()).isEqualTo(200);
    assertThat(answer.headers().allValues("X-Request-Id")).containsExactly("chatwoot-req-42"); // never Meta's own
    assertThat(metaSaw).hasSize(1);
    assertThat(first(metaSaw.get(0), "X-Request-Id")).isEqualTo("chatwoot-req-42");
    assertThat(first(metaSaw.get(0), "traceparent")).isNull();
    Line access = awaitLine(AccessLog.LOGGER, l -> "chatwoot-req-42".equals(l.fields().get("request_id")));
    assertThat(access.fields()).containsEntry("number_id", PNID).containsEntry("method", "GET")
        .containsEntry("route", "/{version}/{phone-number-id}").containsEntry("status", "200")
        .containsEntry("meta_status", "200").containsEntry("outcome", "ok").containsKey("latency_ms");
    assertThat(Long.parseLong(access.fields().get("latency_ms"))).isBetween(0L, TIMEOUT.toMillis());
    assertThat(access.toString()).doesNotContain(layer.key).doesNotContain(TOKEN).doesNotContain("15550783881")
        .doesNotContain("?");
  }

  @Test
  void withoutAnIdTheLayerMakesOneAndAnswersItOnEveryRouteAndError() throws Exception {
    HttpResponse<String> noKey = get("/v13.0/" + PNID, Map.of());
    assertThat(noKey.statusCode()).isEqualTo(401);
    String id = noKey.headers().firstValue("X-Request-Id").orElseThrow();
    assertThat(id).matches("[0-9a-f]{32}");
    Line refused = awaitLine(AccessLog.LOGGER, l -> id.equals(l.fields().get("request_id")));
    assertThat(refused.fields()).containsEntry("outcome", "refused").containsEntry("status", "401")
        .containsEntry("number_id", "-").doesNotContainKey("meta_status");
    assertThat(metaSaw).isEmpty();

    HttpResponse<String> again = get("/v13.0/" + PNID, Map.of());
    assertThat(again.headers().firstValue("X-Request-Id").orElseThrow()).matches("[0-9a-f]{32}").isNotEqualTo(id);
    for (String path : List.of("/nowhere", "/admin/v1/numbers", "/healthz", "/v1/webhooks")) {
      HttpResponse<String> other = layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve(path))
          .header("X-Request-Id", "other-" + path.length()).GET());
      assertThat(other.headers().allValues("X-Request-Id")).as(path).containsExactly("other-" + path.length());
    }
    // refused by Jetty before any route: the error page has an id too
    String bad = layer.raw("GET /api/layer/meta/v13.0/%zz HTTP/1.1\r\nHost: x\r\nX-Request-Id: bad-uri-1\r\nConnection: close\r\n\r\n");
    assertThat(bad).startsWith("HTTP/1.1 400").containsIgnoringCase("X-Request-Id: ");
  }

  @Test
  void aTraceparentGivesTheIdAndGoesOnToMetaWithANewSpan() throws Exception {
    HttpResponse<String> answer = get("/v13.0/" + PNID, Map.of("Authorization", "Bearer " + layer.key, "traceparent", PARENT));

    assertThat(answer.headers().firstValue("X-Request-Id")).contains("4bf92f3577b34da6a3ce929d0e0e4736");
    String sent = first(metaSaw.get(0), "traceparent");
    assertThat(sent).matches("00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01").isNotEqualTo(PARENT);
    assertThat(first(metaSaw.get(0), "X-Request-Id")).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
    awaitLine(AccessLog.LOGGER, l -> "4bf92f3577b34da6a3ce929d0e0e4736".equals(l.fields().get("request_id")));

    // an invalid traceparent is dropped, never passed on
    get("/v13.0/" + PNID, Map.of("Authorization", "Bearer " + layer.key, "traceparent", "00-xyz-1-01"));
    assertThat(first(metaSaw.get(1), "traceparent")).isNull();
  }

  @Test
  void hostileIdsAreReplacedAndNeverEchoedSentOrLogged() throws Exception {
    List<String> hostile = List.of("x".repeat(129), "id with spaces", "quote\"d", "%0d%0aX-Evil:%201", "{\"a\":1}");
    for (String h : hostile) {
      HttpResponse<String> answer = get("/v13.0/" + PNID, Map.of("Authorization", "Bearer " + layer.key, "X-Request-Id", h));
      String id = answer.headers().firstValue("X-Request-Id").orElseThrow();
      assertThat(id).as(h).matches("[0-9a-f]{32}");
      assertThat(first(metaSaw.get(metaSaw.size() - 1), "X-Request-Id")).as(h).isEqualTo(id);
      awaitLine(AccessLog.LOGGER, l -> id.equals(l.fields().get("request_id")));
    }
    // bytes a Java client will not send: non-ASCII (UTF-8 and Latin-1) and a bare CR inside the value
    for (String raw : List.of("caf\u00c3\u00a9", "caf\u00e9", "a\rb")) {
      String answer = layer.raw("GET /api/layer/meta/v13.0/" + PNID + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
          + layer.key + "\r\nX-Request-Id: " + raw + "\r\nConnection: close\r\n\r\n");
      assertThat(answer).as(raw).matches("(?s)HTTP/1.1 \\d{3}.*\r\nX-Request-Id: [0-9a-f]{32}\r\n.*");
      assertThat(answer).doesNotContain(raw);
    }
    for (Line l : lines) {
      for (String h : hostile) {
        assertThat(l.toString()).doesNotContain(h);
      }
      assertThat(l.toString()).doesNotContain("caf\u00e9").doesNotContain("a\rb");
    }
  }

  @Test
  void aDeliveryCarriesTheIdOfTheWebhookPostThatCausedIt() throws Exception {
    HttpResponse<String> created = layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/v1/webhooks"))
        .header("x-api-key", layer.key).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"helpdesk\",\"url\":\"" + subscriber.url("/hook")
            + "\",\"events\":[\"messages\"]}")));
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    String subscription = Json.mapper().readTree(created.body()).path("id").asText();

    HttpResponse<String> traced = postWebhook("wamid.traced", "meta-post-7");
    assertThat(traced.statusCode()).isEqualTo(200);
    assertThat(traced.headers().firstValue("X-Request-Id")).contains("meta-post-7");
    RecordingSubscriber.Received got = subscriber.await(1, TIMEOUT).get(0);
    assertThat(got.header("x-request-id")).isEqualTo("meta-post-7");

    Line attempt = awaitLine("dev.metalayer.deliveries", l -> "meta-post-7".equals(l.fields().get("request_id")));
    assertThat(attempt.fields()).containsEntry("number_id", PNID).containsEntry("subscription_id", subscription)
        .containsEntry("method", "POST").containsEntry("status", "200").containsEntry("outcome", "delivered")
        .containsEntry("attempt", "1").containsEntry("lane", "default").containsKey("latency_ms").containsKey("delivery_id");
    assertThat(attempt.mdcRequestId()).isEqualTo("meta-post-7");
    assertThat(attempt.toString()).doesNotContain(subscriber.url("/hook")).doesNotContain("15550783881");

    // a webhook POST without an id: its deliveries carry the one the layer made and answered
    HttpResponse<String> plain = postWebhook("wamid.plain", null);
    String made = plain.headers().firstValue("X-Request-Id").orElseThrow();
    assertThat(subscriber.await(2, TIMEOUT).get(1).header("x-request-id")).isEqualTo(made);
  }

  private HttpResponse<String> postWebhook(String wamid, String requestId) throws Exception {
    byte[] body = ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + Layer.WABA + "\",\"changes\":[{\"value\":"
        + "{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\"15550783881\",\"phone_number_id\":\""
        + PNID + "\"},\"messages\":[{\"from\":\"16505551234\",\"id\":\"" + wamid + "\",\"timestamp\":\"1700000000\","
        + "\"type\":\"text\",\"text\":{\"body\":\"hi\"}}]},\"field\":\"messages\"}]}]}").getBytes(StandardCharsets.UTF_8);
    HttpRequest.Builder b = HttpRequest.newBuilder(layer.server.localUri().resolve("/webhooks/meta"))
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", MetaFixtures.metaSignature(Layer.APP_SECRET, body))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (requestId != null) {
      b.header("X-Request-Id", requestId);
    }
    return layer.send(b);
  }
}

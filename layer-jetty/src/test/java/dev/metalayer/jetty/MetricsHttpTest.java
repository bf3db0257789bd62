package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.RecordingSubscriber;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /metrics} of a real layer after a scripted run: Graph requests forwarded, refused and timed out
 * against an inline Meta, webhooks ingested and refused, a call event delivered to a real subscriber. The
 * counters and histograms moved by exactly what the run did; the scrape carries no key, token, secret,
 * URL or phone number. The bearer token and the separate port are checked too. Counters that Jetty
 * completes a moment after the client has its answer are polled for, never slept on.
 */
class MetricsHttpTest {
  static final String METRICS_TOKEN = "metrics-token-0123456789abcdef";
  static final Duration POLL = Duration.ofSeconds(15);

  @TempDir Path dir;
  InlineServer meta;
  RecordingSubscriber subscriber;
  Layer layer;

  @AfterEach
  void stop() throws Exception {
    if (layer != null) {
      layer.close();
    }
    if (meta != null) {
      meta.close();
    }
    if (subscriber != null) {
      subscriber.close();
    }
  }

  /** Meta: messages are accepted, the business profile hangs past the layer's upstream timeout. */
  void startMeta() throws Exception {
    meta = InlineServer.start(exchange -> {
      exchange.getRequestBody().readAllBytes();
      if (exchange.getRequestURI().getPath().endsWith("/whatsapp_business_profile")) {
        try {
          Thread.sleep(60_000); // past LAYER_UPSTREAM_TIMEOUT: the layer answers 504 first (close() interrupts this)
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      byte[] body = "{\"messaging_product\":\"whatsapp\",\"messages\":[{\"id\":\"wamid.HBgL\"}]}".getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      try {
        exchange.sendResponseHeaders(200, body.length);
        exchange.getResponseBody().write(body);
      } catch (java.io.IOException gone) {
        // the layer gave up waiting
      }
      exchange.close();
    });
  }

  HttpResponse<String> scrape(int port, String authorization) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).GET();
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return layer.send(b);
  }

  /** Scrapes until {@code until} holds (a counter Jetty completes after the answer), or fails after {@link #POLL}. */
  String scrapeUntil(int port, Predicate<String> until) throws Exception {
    long deadline = System.nanoTime() + POLL.toNanos();
    String text;
    do {
      HttpResponse<String> answer = scrape(port, "Bearer " + METRICS_TOKEN);
      assertThat(answer.statusCode()).isEqualTo(200);
      text = answer.body();
      if (until.test(text)) {
        return text;
      }
      Thread.sleep(20);
    } while (System.nanoTime() < deadline);
    throw new AssertionError("the scrape never showed what was expected:\n" + text);
  }

  /** The value of the one series {@code name} whose labels include {@code labels}; empty when none. */
  static Optional<Double> value(String scrape, String name, Map<String, String> labels) {
    List<Double> found = new ArrayList<>();
    for (String line : scrape.split("\n")) {
      if (line.startsWith("#") || !(line.startsWith(name + "{") || line.startsWith(name + " "))) {
        continue;
      }
      boolean all = labels.entrySet().stream().allMatch(e -> line.contains(e.getKey() + "=\"" + e.getValue() + "\""));
      if (all) {
        found.add(Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)));
      }
    }
    assertThat(found).as("series %s%s", name, labels).hasSizeLessThanOrEqualTo(1);
    return found.stream().findFirst();
  }

  static double count(String scrape, String name, Map<String, String> labels) {
    return value(scrape, name, labels).orElse(0.0);
  }

  @Test
  void aScriptedRunMovesEachCounterAndHistogramByWhatItDidAndNoLabelCarriesASecret() throws Exception {
    startMeta();
    subscriber = RecordingSubscriber.start();
    layer = Layer.start(dir, meta.base(), Map.of(
        Option.UPSTREAM_TIMEOUT, "5s", // long enough for a loaded machine, short enough to wait for
        Option.ALLOWED_TARGET_CIDRS, "127.0.0.0/8",
        Option.METRICS_TOKEN, METRICS_TOKEN));
    int port = layer.server.port();
    String subscription = "{\"name\":\"agent\",\"url\":\"" + subscriber.url("/hooks/calls") + "\",\"events\":[\"calls\"]}";
    assertThat(layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/v1/webhooks"))
        .header("x-api-key", layer.key).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(subscription))).statusCode()).isEqualTo(201);

    // the Graph proxy: two forwarded, one refused without a key, one refused out of scope, one timed out
    String message = "{\"messaging_product\":\"whatsapp\",\"to\":\"16315553602\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}";
    assertThat(layer.post("/v23.0/" + Layer.PNID + "/messages", "Bearer " + layer.key, message).statusCode()).isEqualTo(200);
    assertThat(layer.post("/v23.0/" + Layer.PNID + "/messages", "Bearer " + layer.key, message).statusCode()).isEqualTo(200);
    assertThat(layer.get("/v23.0/" + Layer.PNID, null).statusCode()).isEqualTo(401);
    assertThat(layer.post("/v23.0/" + Layer.PNID_B + "/messages", "Bearer " + layer.key, message).statusCode()).isEqualTo(403);
    assertThat(layer.get("/v23.0/" + Layer.PNID + "/whatsapp_business_profile", "Bearer " + layer.key).statusCode())
        .isEqualTo(504);

    // the relay: one call event ingested and delivered, one webhook refused for its signature
    byte[] ring = CallWebhooks.connect(Layer.WABA, "15550783881", Layer.PNID, "wacid.METRICS1");
    HttpRequest.Builder webhook = HttpRequest.newBuilder(layer.server.localUri().resolve("/webhooks/meta"))
        .header("Content-Type", "application/json").header("X-Hub-Signature-256", MetaFixtures.metaSignature(Layer.APP_SECRET, ring))
        .POST(HttpRequest.BodyPublishers.ofByteArray(ring));
    assertThat(layer.send(webhook).statusCode()).isEqualTo(200);
    assertThat(layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/webhooks/meta"))
        .header("Content-Type", "application/json").header("X-Hub-Signature-256", MetaFixtures.metaSignature("wrong", ring))
        .POST(HttpRequest.BodyPublishers.ofByteArray(ring))).statusCode()).isEqualTo(401);
    assertThat(subscriber.await(1, Duration.ofSeconds(10))).hasSize(1);

    String s = scrapeUntil(port, text ->
        count(text, "metalayer_proxy_requests_total", Map.of("route", "whatsapp_business_profile")) == 1
            && count(text, "metalayer_deliveries_total", Map.of("lane", "calls", "outcome", "delivered")) == 1
            && count(text, "metalayer_delivery_latency_seconds_count", Map.of("lane", "calls")) == 1);

    assertThat(count(s, "metalayer_proxy_requests_total", Map.of("route", "messages", "method", "POST",
        "status_class", "2xx", "outcome", "forwarded", "reason", "none"))).isEqualTo(2);
    assertThat(count(s, "metalayer_proxy_requests_total", Map.of("route", "node", "method", "GET",
        "status_class", "4xx", "outcome", "refused", "reason", "unauthorized"))).isEqualTo(1);
    assertThat(count(s, "metalayer_proxy_requests_total", Map.of("route", "messages", "method", "POST",
        "status_class", "4xx", "outcome", "refused", "reason", "out_of_scope"))).isEqualTo(1);
    assertThat(count(s, "metalayer_proxy_requests_total", Map.of("route", "whatsapp_business_profile",
        "status_class", "5xx", "outcome", "failed", "reason", "upstream_timeout"))).isEqualTo(1);
    assertThat(count(s, "metalayer_upstream_latency_seconds_count", Map.of("route", "messages", "status_class", "2xx")))
        .isEqualTo(2);
    assertThat(count(s, "metalayer_upstream_latency_seconds_bucket", Map.of("route", "messages", "le", "+Inf")))
        .isEqualTo(2);
    assertThat(count(s, "metalayer_upstream_failures_total", Map.of("route", "whatsapp_business_profile"))).isEqualTo(1);
    assertThat(value(s, "metalayer_upstream_latency_seconds_count", Map.of("route", "node"))).as("refused: never sent").isEmpty();

    assertThat(count(s, "metalayer_webhooks_ingested_total", Map.of())).isEqualTo(1);
    assertThat(count(s, "metalayer_webhooks_refused_total", Map.of("reason", "bad_signature"))).isEqualTo(1);
    assertThat(count(s, "metalayer_delivery_latency_seconds_count", Map.of("lane", "calls"))).isEqualTo(1);
    assertThat(count(s, "metalayer_delivery_latency_seconds_bucket", Map.of("lane", "calls", "le", "+Inf"))).isEqualTo(1);
    assertThat(value(s, "metalayer_deliveries_total", Map.of("outcome", "retried"))).isEmpty();
    assertThat(value(s, "metalayer_delivery_queue_depth", Map.of("lane", "calls"))).isPresent();
    assertThat(value(s, "metalayer_delivery_oldest_pending_seconds", Map.of("lane", "default"))).isPresent();
    // the key was read from the store once, then answered from the cache
    assertThat(count(s, "metalayer_grant_cache_lookups_total", Map.of("result", "miss"))).isGreaterThanOrEqualTo(1);
    assertThat(count(s, "metalayer_grant_cache_lookups_total", Map.of("result", "hit"))).isGreaterThanOrEqualTo(2);
    assertThat(count(s, "metalayer_store_connections", Map.of("state", "max"))).isEqualTo(32);
    assertThat(value(s, "metalayer_http_threads", Map.of("state", "busy"))).isPresent();
    assertThat(value(s, "metalayer_http_connections", Map.of())).isPresent();
    assertThat(s).contains("jvm_memory_used_bytes", "jvm_threads_live_threads", "process_uptime_seconds");

    // no label value names a key, token, secret, URL or number
    for (String secret : List.of(layer.key, layer.keyB, Layer.TOKEN, Layer.TOKEN_B, Layer.APP_SECRET, METRICS_TOKEN,
        Layer.ADMIN_TOKEN, Layer.PNID, Layer.PNID_B, Layer.WABA, "15550783881", "16315553602", "wacid.", "127.0.0.1",
        "http://", "/hooks")) {
      assertThat(s).as("the scrape names %s", secret).doesNotContain(secret);
    }
    // and the layer's own label values are short words from fixed sets
    for (String line : s.split("\n")) {
      if (line.startsWith("metalayer_")) {
        Matcher labels = Pattern.compile("=\"([^\"]*)\"").matcher(line);
        while (labels.find()) {
          assertThat(labels.group(1)).as(line).matches("[A-Za-z0-9_.+]{1,40}").doesNotContainPattern("[0-9]{6,}");
        }
      }
    }
  }

  @Test
  void withATokenOnlyABearerOfItGetsTheMetrics() throws Exception {
    layer = Layer.start(dir, "http://127.0.0.1:9", Map.of(Option.METRICS_TOKEN, METRICS_TOKEN));
    int port = layer.server.port();
    assertThat(scrape(port, null).statusCode()).isEqualTo(401);
    assertThat(scrape(port, "Bearer " + METRICS_TOKEN + "x").statusCode()).isEqualTo(401);
    assertThat(scrape(port, "Bearer " + METRICS_TOKEN.substring(1)).statusCode()).isEqualTo(401);
    assertThat(scrape(port, "Bearer " + Layer.ADMIN_TOKEN).statusCode()).isEqualTo(401);
    HttpResponse<String> refused = scrape(port, "Basic " + METRICS_TOKEN);
    assertThat(refused.statusCode()).isEqualTo(401);
    assertThat(refused.body()).contains("\"error\"").doesNotContain(METRICS_TOKEN);
    HttpResponse<String> ok = scrape(port, "Bearer " + METRICS_TOKEN);
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(ok.headers().firstValue("Content-Type").orElseThrow()).startsWith("text/plain; version=0.0.4");
    assertThat(ok.body()).contains("# TYPE metalayer_webhooks_ingested_total counter");
  }

  @Test
  void onAPortOfItsOwnTheMetricsAreServedThereAndNowhereElse() throws Exception {
    ch.qos.logback.classic.Logger starts = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(LayerServer.class);
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines =
        new ch.qos.logback.core.read.ListAppender<>();
    lines.start();
    starts.addAppender(lines);
    try {
      layer = Layer.start(dir, "http://127.0.0.1:9", Map.of(Option.METRICS_PORT, "0"));
    } finally {
      starts.detachAppender(lines);
    }
    int main = layer.server.port();
    int metrics = layer.server.metricsPort().orElseThrow();
    assertThat(lines.list.stream().map(e -> e.getFormattedMessage()).filter(m -> m.startsWith("Meta Layer listening on")))
        .as("the start line names the port that port 0 picked for /metrics")
        .containsExactly("Meta Layer listening on 127.0.0.1:" + main + " (HTTP), 127.0.0.1:" + metrics + " (/metrics)");
    assertThat(lines.list.stream().map(e -> e.getLevel() + " " + e.getFormattedMessage()).filter(m -> m.contains("Metrics at")))
        .containsExactly("INFO Metrics at http://127.0.0.1:" + metrics + "/metrics: enabled (open to this machine)");
    assertThat(metrics).isNotEqualTo(main);
    assertThat(scrape(main, null).statusCode()).isEqualTo(404);
    HttpResponse<String> ok = scrape(metrics, null);
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(ok.body()).contains("metalayer_webhooks_ingested_total");
    for (String path : List.of("/healthz", "/api/layer/meta/v23.0/" + Layer.PNID, "/admin/v1/numbers", "/metrics/x")) {
      HttpResponse<String> other = layer.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metrics + path))
          .header("Authorization", "Bearer " + Layer.ADMIN_TOKEN).GET());
      assertThat(other.statusCode()).as(path).isEqualTo(404);
      assertThat(other.body()).as(path).contains("\"error\"");
    }
    assertThat(layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/healthz")).GET()).statusCode())
        .isEqualTo(200);
  }

  @Test
  void metricsWithoutATokenOnAnAddressBeyondTheMachineAreWarnedOf() {
    assertThat(LayerServer.metricsOpenBeyondThisMachine(false, "0.0.0.0")).isTrue();
    assertThat(LayerServer.metricsOpenBeyondThisMachine(false, "192.0.2.10")).isTrue();
    assertThat(LayerServer.metricsOpenBeyondThisMachine(false, "127.0.0.1")).isFalse();
    assertThat(LayerServer.metricsOpenBeyondThisMachine(false, "::1")).isFalse();
    assertThat(LayerServer.metricsOpenBeyondThisMachine(true, "0.0.0.0")).isFalse();
  }

  @Test
  void turnedOffThereIsNoMetricsPath() throws Exception {
    layer = Layer.start(dir, "http://127.0.0.1:9", Map.of(Option.METRICS, "false"));
    assertThat(scrape(layer.server.port(), null).statusCode()).isEqualTo(404);
  }

  @Test
  void aShortMetricsTokenIsRefusedAtStartWithoutBeingShown() {
    assertThatThrownBy(() -> Settings.of(Map.of(Option.METRICS_TOKEN, "short-token")))
        .isInstanceOf(ConfigError.class)
        .hasMessageContaining("LAYER_METRICS_TOKEN")
        .hasMessageNotContaining("short-token");
  }
}

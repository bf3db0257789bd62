package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.RecordingSubscriber;
import java.io.OutputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code SIGTERM} of the real jar under load: webhooks being posted, a Graph request in flight to a slow
 * upstream, a delivery attempt hanging on its subscriber. The process exits 0; the Graph request gets its
 * answer; the hanging attempt is released when the grace ends; the log says what was drained and what was
 * released, one line each, and nothing louder than INFO; and a restart delivers every webhook that was
 * acknowledged, the released one included.
 */
class GracefulStopIT {
  static final String APP_SECRET = "graceful-stop-app-secret";
  static final String PNID = Layer.PNID;
  static final String SLOW = "wamid.GRACEFUL-HANGS";

  @TempDir Path dir;

  @Test
  void sigtermDrainsReleasesAndExitsZeroAndARestartDeliversEverythingAcknowledged() throws Exception {
    CountDownLatch graphReached = new CountDownLatch(1);
    CountDownLatch answerGraph = new CountDownLatch(1);
    CountDownLatch hangingAttempt = new CountDownLatch(1);
    CountDownLatch unhang = new CountDownLatch(1);
    AtomicBoolean hang = new AtomicBoolean(true);
    // a slow Graph: it answers once the layer is stopping (within the grace)
    try (InlineServer graph = InlineServer.start(exchange -> {
          exchange.getRequestBody().readAllBytes();
          graphReached.countDown();
          try {
            answerGraph.await(60, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          byte[] body = "{\"messaging_product\":\"whatsapp\",\"messages\":[{\"id\":\"wamid.SENT\"}]}"
              .getBytes(StandardCharsets.UTF_8);
          exchange.getResponseHeaders().add("Content-Type", "application/json");
          exchange.sendResponseHeaders(200, body.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
          }
        });
        RecordingSubscriber subscriber = RecordingSubscriber.start()) {
      // one webhook's first attempt hangs past the grace: it must be released, then delivered after the restart
      subscriber.answer(r -> {
        if (r.text().contains(SLOW) && hang.get()) {
          hangingAttempt.countDown();
          try {
            unhang.await(60, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
        return RecordingSubscriber.Answer.of(200);
      });
      LayerJar jar = LayerJar.in(dir).env("META_APP_SECRET", APP_SECRET).env("LAYER_ALLOWED_TARGET_CIDRS", "127.0.0.0/8")
          .env("LAYER_PUBLIC_URL", "http://127.0.0.1").env("LAYER_GRAPH_URL", graph.base())
          .env("LAYER_SHUTDOWN_GRACE", "6s");
      jar.addNumber("+15550783881", PNID, Layer.WABA, Layer.BUSINESS, "EAAG-graceful-stop-token");
      String key = jar.createKey(PNID);
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5)).build();
      Set<String> acknowledged = ConcurrentHashMap.newKeySet();

      LayerJar.Running layer = jar.start();
      String log;
      int exit;
      HttpResponse<String> proxied;
      try {
        HttpResponse<String> created = http.send(HttpRequest.newBuilder(layer.base().resolve("/v1/webhooks"))
            .timeout(Duration.ofSeconds(10)).header("x-api-key", key).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"helpdesk\",\"url\":\"" + subscriber.url("/hook")
                + "\",\"events\":[\"messages\"]}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        assertThat(post(http, layer, SLOW)).isEqualTo(200);
        acknowledged.add(SLOW);
        assertThat(hangingAttempt.await(30, TimeUnit.SECONDS)).as("the hanging attempt started").isTrue();

        // webhooks posted without a pause, until the layer stops taking them
        AtomicBoolean posting = new AtomicBoolean(true);
        CompletableFuture<Void> poster = CompletableFuture.runAsync(() -> {
          for (int i = 0; posting.get(); i++) {
            String id = "wamid.GRACEFUL-" + i;
            try {
              if (post(http, layer, id) == 200) {
                acknowledged.add(id);
              }
            } catch (Exception e) {
              // refused: the listener is closed
            }
          }
        });
        // the Graph request, in flight when the signal comes
        CompletableFuture<HttpResponse<String>> graphCall = http.sendAsync(HttpRequest.newBuilder(
                layer.base().resolve("/api/layer/meta/v13.0/" + PNID + "/messages")).timeout(Duration.ofSeconds(30))
            .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"messaging_product\":\"whatsapp\",\"to\":\"15551234567\","
                + "\"type\":\"text\",\"text\":{\"body\":\"hi\"}}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(graphReached.await(30, TimeUnit.SECONDS)).as("the Graph request reached the upstream").isTrue();
        while (acknowledged.size() < 10) {
          Thread.sleep(20); // a poll interval: some load before the signal
        }

        layer.process().destroy(); // SIGTERM
        long stopDeadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!layer.log().contains("Stopping Meta Layer") && System.nanoTime() < stopDeadline) {
          Thread.sleep(20); // a poll interval
        }
        Thread.sleep(200); // the upstream stays slow a little into the stop
        answerGraph.countDown();
        assertThat(layer.process().waitFor(60, TimeUnit.SECONDS)).as("stopped").isTrue();
        exit = layer.process().exitValue();
        posting.set(false);
        poster.get(30, TimeUnit.SECONDS);
        proxied = graphCall.get(30, TimeUnit.SECONDS);
        log = layer.log();
      } finally {
        layer.close();
      }

      assertThat(exit).as(log).isZero();
      assertThat(proxied.statusCode()).as("the Graph request in flight got its answer").isEqualTo(200);
      assertThat(proxied.body()).contains("wamid.SENT");
      String stopping = log.substring(log.indexOf("Stopping Meta Layer"));
      assertThat(stopping.lines().filter(l -> l.contains("Stopped accepting connections;")).toList())
          .as(log).singleElement().asString().matches(".* INFO .*[1-9][0-9]* request\\(s\\) in flight finished$");
      assertThat(stopping.lines().filter(l -> l.contains("Relay stopped:")).toList())
          .as(log).singleElement().asString().contains(" INFO ").containsPattern("[1-9][0-9]* released");
      assertThat(stopping.lines().filter(l -> l.contains(" WARN ") || l.contains(" ERROR ") || l.contains("Exception"))
          .toList()).as(log).isEmpty();
      assertThat(stopping).contains("Meta Layer stopped");

      // the restart delivers every acknowledged webhook, the released one included
      hang.set(false);
      try (LayerJar.Running again = jar.start()) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        Set<String> missing = missing(subscriber, acknowledged);
        while (!missing.isEmpty() && System.nanoTime() < deadline) {
          Thread.sleep(100); // a poll interval
          missing = missing(subscriber, acknowledged);
        }
        assertThat(missing).as("acknowledged (%d) but never delivered; log:%n%s", acknowledged.size(), again.log())
            .isEmpty();
      } finally {
        unhang.countDown();
      }
    }
  }

  private static int post(HttpClient http, LayerJar.Running layer, String wamid) throws Exception {
    byte[] webhook = PostgresLayerTest.message(wamid);
    return http.send(HttpRequest.newBuilder(layer.base().resolve("/webhooks/meta")).timeout(Duration.ofSeconds(10))
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", MetaFixtures.metaSignature(APP_SECRET, webhook))
        .POST(HttpRequest.BodyPublishers.ofByteArray(webhook)).build(), HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }

  /** The acknowledged ids no completed delivery carried (the hanging first attempt is not recorded until it ends). */
  private static Set<String> missing(RecordingSubscriber subscriber, Set<String> acknowledged) {
    List<String> bodies = subscriber.received().stream().map(RecordingSubscriber.Received::text).toList();
    return acknowledged.stream().filter(id -> bodies.stream().noneMatch(b -> b.contains("\"" + id + "\"")))
        .collect(Collectors.toSet());
  }
}

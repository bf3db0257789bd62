package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.RecordingSubscriber;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A large envelope is acknowledged before it is routed; a {@code kill -9} right after the
 * acknowledgement loses nothing: the envelope was durable, and the next start routes it. The real jar,
 * loopback only, 3,000 deliveries.
 */
class LargeEnvelopeKillIT {
  static final String APP_SECRET = "kill-app-secret";
  static final String PNID = "106540352242922";
  static final String WABA = "102290129340398";
  static final int SUBSCRIPTIONS = 10;
  static final int CHANGES = 300;
  static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);

  @TempDir Path dir;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  @Test
  void aLargeEnvelopeAcknowledgedAndKilledBeforeItsRoutingIsRoutedAndDeliveredAfterTheRestart() throws Exception {
    LayerJar jar = LayerJar.in(dir).heap("256m").env("META_APP_SECRET", APP_SECRET)
        .env("LAYER_ALLOWED_TARGET_CIDRS", "127.0.0.0/8");
    jar.addNumber("+15550783881", PNID, WABA, "900", "EAAG-k");
    String key = jar.createKey(PNID);
    Set<String> delivered = ConcurrentHashMap.newKeySet();
    try (RecordingSubscriber subscriber = RecordingSubscriber.start()) {
      subscriber.answer(r -> {
        delivered.add(r.path() + " " + r.header("webhook-id"));
        return RecordingSubscriber.Answer.of(200);
      });
      String firstLog;
      try (LayerJar.Running first = jar.start()) {
        for (int i = 0; i < SUBSCRIPTIONS; i++) {
          HttpResponse<String> r = http.send(HttpRequest.newBuilder(first.base().resolve("/v1/webhooks"))
              .timeout(CALL_TIMEOUT).header("x-api-key", key).header("Content-Type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"s\",\"url\":\"" + subscriber.url("/s" + i)
                  + "\",\"events\":[\"messages\"]}")).build(), HttpResponse.BodyHandlers.ofString());
          assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
        }
        assertThat(post(first.base(), envelope())).isEqualTo(200);
        first.process().destroyForcibly(); // SIGKILL right after the acknowledgement
        assertThat(first.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
        firstLog = first.log();
      }
      try (LayerJar.Running second = jar.start()) {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (delivered.size() < SUBSCRIPTIONS * CHANGES && System.nanoTime() < deadline) {
          subscriber.await(subscriber.count() + 1, CALL_TIMEOUT);
        }
        assertThat(delivered).as("distinct (subscription, webhook-id) pairs delivered; first layer:\n" + firstLog
            + "\nsecond layer:\n" + second.log()).hasSize(SUBSCRIPTIONS * CHANGES);
        boolean killedBeforeRouting = !firstLog.contains("Routed 1 stored envelope");
        System.out.printf("LargeEnvelopeKillIT: %d deliveries of one acknowledged envelope all delivered after a kill -9"
            + " (%s)%n", delivered.size(), killedBeforeRouting ? "killed before its routing finished; routed at the"
            + " restart" : "routed before the kill");
        if (killedBeforeRouting) {
          assertThat(second.log()).contains("Routed 1 stored envelope");
        }
      }
    }
  }

  private int post(URI base, byte[] body) throws Exception {
    return http.send(HttpRequest.newBuilder(base.resolve("/webhooks/meta")).timeout(CALL_TIMEOUT)
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", MetaFixtures.metaSignature(APP_SECRET, body))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  static byte[] envelope() {
    List<String> changes = new ArrayList<>();
    for (int i = 0; i < CHANGES; i++) {
      changes.add(FairDeliveryIT.message(PNID, "15550783881", "wamid.K" + i));
    }
    return FairDeliveryIT.envelope(WABA, changes);
  }
}

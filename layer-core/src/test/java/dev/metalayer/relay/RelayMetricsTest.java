package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.relay.CallWebhookRelay.IngestResult;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import dev.metalayer.testing.RecordingSubscriber.Answer;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the relay counts, on the real H2 store with a hand-moved clock and a real subscriber: each attempt
 * by lane and outcome, the ingest-to-delivery time, the backlog gauges (read from the store at most once
 * per period), and webhooks ingested and refused by the relay's own reason.
 */
class RelayMetricsTest {
  @TempDir Path dir;
  MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  RelayHarness h;
  RecordingSubscriber subscriber;
  volatile int status = 503;

  @BeforeEach
  void setUp() {
    h = new RelayHarness(dir, clock);
    subscriber = RecordingSubscriber.start();
    subscriber.answer(r -> Answer.of(status));
  }

  @AfterEach
  void tearDown() {
    h.close();
    subscriber.close();
  }

  double count(String name, String... tags) {
    Counter c = h.meters.find(name).tags(tags).counter();
    return c == null ? 0 : c.count();
  }

  double gauge(String name, String lane) {
    return h.meters.get(name).tag("lane", lane).gauge().value();
  }

  @Test
  void eachAttemptIsCountedByOutcomeAndADeliveryByItsTimeSinceIngest() {
    h.subscribe(RelayHarness.PNID_1, subscriber.url("/calls"), List.of("calls"), null, false);
    h.ingestSigned(RelayTimeRulesTest.callEvent("wacid.M1", "connect", clock.instant()));
    assertThat(gauge("metalayer.delivery.queue.depth", "calls")).isEqualTo(1);
    assertThat(gauge("metalayer.delivery.oldest.pending", "calls")).isZero();
    assertThat(gauge("metalayer.delivery.queue.depth", "default")).isZero();

    clock.advance(Duration.ofSeconds(6)); // the layer was busy: the ring waits
    assertThat(gauge("metalayer.delivery.oldest.pending", "calls")).isEqualTo(6.0);
    assertThat(h.layer.relay().runDueNow()).isEqualTo(1); // answered 503: retried in 250 ms
    assertThat(count("metalayer.deliveries", "lane", "calls", "outcome", "retried")).isEqualTo(1);
    assertThat(count("metalayer.deliveries", "lane", "calls", "outcome", "delivered")).isZero();

    status = 200;
    clock.advance(Duration.ofMillis(250));
    assertThat(h.layer.relay().runDueNow()).isEqualTo(1);
    assertThat(count("metalayer.deliveries", "lane", "calls", "outcome", "delivered")).isEqualTo(1);
    Timer latency = h.meters.get("metalayer.delivery.latency").tag("lane", "calls").timer();
    assertThat(latency.count()).isEqualTo(1);
    assertThat(latency.totalTime(TimeUnit.MILLISECONDS)).isEqualTo(6_250);

    // the gauges read the store at most every 5 s: still the last read, then the empty backlog
    assertThat(gauge("metalayer.delivery.queue.depth", "calls")).isEqualTo(1);
    clock.advance(Duration.ofSeconds(5));
    assertThat(gauge("metalayer.delivery.queue.depth", "calls")).isZero();
    assertThat(gauge("metalayer.delivery.oldest.pending", "calls")).isZero();
  }

  @Test
  void anExpiredRingAndRefusedWebhooksAreCountedByTheirReason() {
    h.subscribe(RelayHarness.PNID_1, subscriber.url("/calls"), List.of("calls"), null, false);
    byte[] ring = RelayTimeRulesTest.callEvent("wacid.M2", "connect", clock.instant());
    h.ingestSigned(ring);
    clock.advance(Duration.ofSeconds(46)); // past the call TTL before any attempt
    assertThat(h.layer.relay().runDueNow()).isEqualTo(1);
    assertThat(count("metalayer.deliveries", "lane", "calls", "outcome", "expired")).isEqualTo(1);
    assertThat(h.meters.find("metalayer.delivery.latency").timer()).isNull();

    assertThat(h.layer.relay().ingest(ring, MetaFixtures.metaSignature("not-the-secret", ring)))
        .isInstanceOf(IngestResult.Refused.class);
    assertThat(h.layer.relay().ingest(ring, null)).isInstanceOf(IngestResult.Refused.class);
    assertThat(h.layer.relay().ingest(ring, null)).isInstanceOf(IngestResult.Refused.class);
    assertThat(count("metalayer.webhooks.refused", "reason", "bad_signature")).isEqualTo(1);
    assertThat(count("metalayer.webhooks.refused", "reason", "unsigned")).isEqualTo(2);
    assertThat(count("metalayer.webhooks.ingested")).isEqualTo(1);
  }
  @Test
  void aWebhookRefusedOnItsHeaderAloneIsCountedOnceByItsReason() {
    assertThat(h.layer.relay().refusalBeforeBody(null)).hasValueSatisfying(
        r -> assertThat(r.reason()).isEqualTo(IngestResult.Reason.UNSIGNED));
    assertThat(h.layer.relay().refusalBeforeBody("sha256=00")).as("the body must be read to judge it").isEmpty();
    assertThat(count("metalayer.webhooks.refused", "reason", "unsigned")).isEqualTo(1);
    assertThat(h.meters.find("metalayer.webhooks.refused").counters()).hasSize(1);
  }
}

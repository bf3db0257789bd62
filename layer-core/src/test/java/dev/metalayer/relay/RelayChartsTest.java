package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import dev.metalayer.testing.RecordingSubscriber.Answer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The operator's charts, on the real H2 store with a hand-moved clock: minutes, latency, queue depth. */
class RelayChartsTest {
  @TempDir Path dir;
  final MutableClock clock = MutableClock.at("2026-03-01T10:00:30Z");
  RelayHarness h;
  RecordingSubscriber subscriber;
  volatile int status = 200;

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

  @Test
  void eachLaneHasSixtyMinutesEndingNowWithDeliveriesLatencyAndTheQueueDepth() {
    h.subscribe(RelayHarness.PNID_1, subscriber.url("/m"), List.of("messages"), null, false);
    status = 503;
    h.ingestSigned(RelayTimeRulesTest.message("wamid.waiting"));
    h.layer.relay().runDueNow(); // failed once: waits for its retry
    status = 200;
    h.ingestSigned(RelayTimeRulesTest.message("wamid.one"));
    clock.advance(Duration.ofSeconds(2));
    h.layer.relay().runDueNow(); // delivered 2 s after it arrived

    List<WebhookSubscriptions.LaneChart> charts = h.subscriptions().charts();
    assertThat(charts).extracting(WebhookSubscriptions.LaneChart::lane).containsExactly(Lane.values());
    WebhookSubscriptions.LaneChart messages = charts.stream().filter(c -> c.lane() == Lane.DEFAULT).findFirst().orElseThrow();
    assertThat(messages.minutes()).hasSize(WebhookSubscriptions.CHART_MINUTES);
    assertThat(messages.minutes().get(0).start()).isEqualTo(Instant.parse("2026-03-01T09:01:00Z"));
    WebhookSubscriptions.Minute last = messages.minutes().get(WebhookSubscriptions.CHART_MINUTES - 1);
    assertThat(last.start()).isEqualTo(Instant.parse("2026-03-01T10:00:00Z"));
    assertThat(last.delivered()).isEqualTo(1);
    assertThat(last.meanLatencyMs()).contains(2_000L);
    assertThat(last.maxLatencyMs()).contains(2_000L);
    assertThat(messages.minutes().subList(0, 59)).allSatisfy(m -> {
      assertThat(m.delivered()).isZero();
      assertThat(m.meanLatencyMs()).isEmpty();
    });
    assertThat(messages.queueDepth()).as("the failed one waits for its retry").isEqualTo(1);
    assertThat(messages.queueDepthCapped()).isFalse();

    // an hour later the delivery has left the window
    clock.advance(Duration.ofMinutes(60));
    WebhookSubscriptions.LaneChart later = h.subscriptions().charts().stream().filter(c -> c.lane() == Lane.DEFAULT)
        .findFirst().orElseThrow();
    assertThat(later.minutes()).allSatisfy(m -> assertThat(m.delivered()).isZero());
    assertThat(later.minutes().stream().map(WebhookSubscriptions.Minute::maxLatencyMs).filter(Optional::isPresent)).isEmpty();
  }
}

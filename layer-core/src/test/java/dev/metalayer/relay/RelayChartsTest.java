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

  private WebhookSubscriptions.LaneChart chart(Lane lane) {
    return h.subscriptions().charts().stream().filter(c -> c.lane() == lane).findFirst().orElseThrow();
  }

  /** Delivers one message ingested now, {@code after} later. */
  private void deliverAfter(String id, Duration after) {
    h.ingestSigned(RelayTimeRulesTest.message(id));
    clock.advance(after);
    assertThat(h.layer.relay().runDueNow()).isEqualTo(1);
  }

  @Test
  void aMinuteOfSeveralDeliveriesShowsTheirMeanAndMaximumLatency() {
    h.subscribe(RelayHarness.PNID_1, subscriber.url("/m"), List.of("messages"), null, false);
    deliverAfter("wamid.fast", Duration.ofSeconds(1));
    deliverAfter("wamid.slow", Duration.ofSeconds(3));
    deliverAfter("wamid.mid", Duration.ofSeconds(5));

    WebhookSubscriptions.Minute last = chart(Lane.DEFAULT).minutes().get(WebhookSubscriptions.CHART_MINUTES - 1);
    assertThat(last.delivered()).isEqualTo(3);
    assertThat(last.meanLatencyMs()).as("(1 s + 3 s + 5 s) / 3").contains(3_000L);
    assertThat(last.maxLatencyMs()).contains(5_000L);
  }

  /**
   * The window's edges: a delivery in its oldest minute is shown in the first entry; one recorded in a
   * minute after now (by an instance whose clock runs ahead) is left out rather than breaking the chart.
   */
  @Test
  void theOldestMinuteIsShownAndAMinuteAfterNowIsLeftOut() {
    h.subscribe(RelayHarness.PNID_1, subscriber.url("/m"), List.of("messages"), null, false);
    deliverAfter("wamid.oldest", Duration.ofSeconds(1));
    clock.advance(Duration.ofMinutes(WebhookSubscriptions.CHART_MINUTES - 1));

    List<WebhookSubscriptions.Minute> minutes = chart(Lane.DEFAULT).minutes();
    assertThat(minutes.get(0).start()).isEqualTo(Instant.parse("2026-03-01T10:00:00Z"));
    assertThat(minutes.get(0).delivered()).isEqualTo(1);

    clock.set(Instant.parse("2026-03-01T09:59:30Z")); // a minute before the delivery
    assertThat(chart(Lane.DEFAULT).minutes()).allSatisfy(m -> assertThat(m.delivered()).isZero());
  }

  /** The queue depth is counted up to its cap, and a depth of exactly the cap is said to be capped. */
  @Test
  void aQueueDepthOfExactlyTheCapIsCapped() {
    insertPending(WebhookSubscriptions.QUEUE_DEPTH_CAP - 1);
    assertThat(chart(Lane.DEFAULT).queueDepth()).isEqualTo(WebhookSubscriptions.QUEUE_DEPTH_CAP - 1);
    assertThat(chart(Lane.DEFAULT).queueDepthCapped()).isFalse();

    insertPending(1);
    WebhookSubscriptions.LaneChart capped = chart(Lane.DEFAULT);
    assertThat(capped.queueDepth()).isEqualTo(WebhookSubscriptions.QUEUE_DEPTH_CAP);
    assertThat(capped.queueDepthCapped()).isTrue();
    assertThat(chart(Lane.CALLS).queueDepth()).isZero();
  }

  /** {@code n} pending message deliveries, written straight into the store's table (the chart only counts them). */
  private void insertPending(long n) {
    long from = h.rows("layer_deliveries");
    h.db.withConnection(c -> {
      try (var st = c.createStatement()) {
        return st.executeUpdate("INSERT INTO layer_deliveries (id, subscription_id, webhook_id, field, lane, body_id, state,"
            + " attempts, max_attempts, next_attempt_at, created_at, updated_at) SELECT 'dlv_q' || X, 'sub_q',"
            + " 'whk_q' || X, 'messages', 'default', 'bdy_q', 'pending', 0, 10, 0, 0, 0 FROM SYSTEM_RANGE("
            + (from + 1) + ", " + (from + n) + ")");
      }
    });
  }
}

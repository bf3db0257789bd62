package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.relay.CallWebhookRelay.IngestResult;
import dev.metalayer.relay.WebhookSubscriptions.Outcome;
import dev.metalayer.relay.WebhookSubscriptions.Spec;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A ring is sent when it is stored, not at the lanes' next poll: every path that makes a delivery due
 * (an ingest, a large envelope routed in the background, a subscription turned back on, a replay, another
 * instance's notice) wakes its lane. The lanes here poll only every 10 minutes when nothing wakes them (in
 * the layer, every second), so a delivery that arrives within the test's wait was woken for.
 */
class RelayWakeUpsTest {
  /** Far longer than any wait of this test: a delivery left to the poll is never sent in time. */
  static final Duration IDLE_POLL = Duration.ofMinutes(10);
  static final Duration WAIT = Duration.ofSeconds(20);

  @TempDir Path dir;
  final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  final RecordingSubscriber subscriber = RecordingSubscriber.start();
  /** What the relay handed its store to hear other instances' wake-ups (PostgreSQL's notifications). */
  final AtomicReference<Consumer<Lane>> listener = new AtomicReference<>();
  RelayHarness h;
  CallWebhookRelay relay;

  @BeforeEach
  void setUp() {
    h = new RelayHarness(dir, clock, List.of(RelayHarness.APP_SECRET), false, real -> RelayHarness.hooked(real,
        (method, args) -> {
          if (method.equals("listen")) {
            @SuppressWarnings("unchecked")
            Consumer<Lane> wake = (Consumer<Lane>) args[0];
            listener.set(wake);
          }
        }));
    // the harness's own relay is never started: this one, with the long idle poll, delivers
    relay = h.relayWith(new DeliveryEngine.Timing(IDLE_POLL, DeliveryEngine.FIRST_PURGE));
  }

  @AfterEach
  void tearDown() {
    relay.close();
    subscriber.close();
    h.close();
  }

  private Subscription subscribe(List<String> events) {
    Outcome o = relay.subscriptions().create(RelayHarness.PNID_1,
        new Spec("wake-ups", subscriber.url("/hook"), events, null, false, null));
    assertThat(o).isInstanceOf(Outcome.Saved.class);
    return ((Outcome.Saved) o).subscription();
  }

  private IngestResult.Accepted ingest(byte[] body) {
    IngestResult r = relay.ingest(body, MetaFixtures.metaSignature(RelayHarness.APP_SECRET, body));
    assertThat(r).isInstanceOf(IngestResult.Accepted.class);
    return (IngestResult.Accepted) r;
  }

  /** Starts the relay and lets its first polls find nothing: from here on, only a wake-up pumps a lane soon. */
  private void startIdle() throws InterruptedException {
    relay.start();
    Thread.sleep(300); // the start's own pumps run and find nothing; the next polls are 10 minutes away
    assertThat(subscriber.count()).isZero();
  }

  @Test
  void aCallStoredWhileItsLaneIdlesIsSentAtOnce() throws Exception {
    subscribe(List.of("calls"));
    startIdle();

    ingest(RelayTimeRulesTest.callEvent("wacid.W1", "connect", clock.instant()));

    assertThat(subscriber.await(1, WAIT).get(0).text()).contains("wacid.W1");
  }

  @Test
  void aMessageStoredWhileItsLaneIdlesIsSentAtOnce() throws Exception {
    subscribe(List.of("messages"));
    startIdle();

    ingest(RelayTimeRulesTest.message("wamid.W1"));

    assertThat(subscriber.await(1, WAIT).get(0).text()).contains("wamid.W1");
  }

  @Test
  void theMessagesOfALargeEnvelopeRoutedInTheBackgroundAreSentAtOnce() throws Exception {
    subscribe(List.of("messages", "calls"));
    startIdle();

    IngestResult.Accepted a = ingest(LargeEnvelopeTest.envelope(1_001, clock.instant()));
    assertThat(a.routingLater()).as("routed in the background").isEqualTo(1_001);

    assertThat(subscriber.await(1_002, Duration.ofSeconds(60))).hasSize(1_002);
  }

  @Test
  void theBacklogOfASubscriptionTurnedBackOnIsSentAtOnce() throws Exception {
    Subscription s = subscribe(List.of("messages", "calls"));
    ingest(RelayTimeRulesTest.message("wamid.W2"));
    ingest(RelayTimeRulesTest.callEvent("wacid.W2", "connect", clock.instant()));
    // turned off before the relay starts: its two deliveries are paused, not sent
    assertThat(relay.subscriptions().update(RelayHarness.PNID_1, s.id(), new Spec(null, null, null, null, null, false)))
        .isInstanceOf(Outcome.Saved.class);
    startIdle();

    assertThat(relay.subscriptions().update(RelayHarness.PNID_1, s.id(), new Spec(null, null, null, null, null, true)))
        .isInstanceOf(Outcome.Saved.class);

    assertThat(subscriber.await(2, WAIT)).extracting(RecordingSubscriber.Received::text)
        .anySatisfy(t -> assertThat(t).contains("wamid.W2")).anySatisfy(t -> assertThat(t).contains("wacid.W2"));
  }

  @Test
  void aReplayedDeliveryIsSentAtOnce() throws Exception {
    Subscription s = subscribe(List.of("messages"));
    relay.start();
    ingest(RelayTimeRulesTest.message("wamid.W3"));
    subscriber.await(1, WAIT);
    Delivery sent = awaitDelivered(s);
    Thread.sleep(300); // the pumps woken by the attempt find nothing more; the next polls are 10 minutes away

    assertThat(relay.subscriptions().retry(RelayHarness.PNID_1, s.id(), sent.id())).isPresent();

    assertThat(subscriber.await(2, WAIT).get(1).text()).contains("wamid.W3");
  }

  @Test
  void aWakeUpFromAnotherInstanceSendsWhatItStoredAtOnce() throws Exception {
    subscribe(List.of("messages"));
    startIdle();
    // another instance stores a delivery: this one's lane is not woken by the ingest (its engine is told
    // nothing), only by the notice the store passes on
    CallWebhookRelay other = h.relayWith(new DeliveryEngine.Timing(IDLE_POLL, DeliveryEngine.FIRST_PURGE));
    try {
      byte[] body = RelayTimeRulesTest.message("wamid.W4");
      assertThat(other.ingest(body, MetaFixtures.metaSignature(RelayHarness.APP_SECRET, body)))
          .isInstanceOf(IngestResult.Accepted.class);
      Thread.sleep(300);
      assertThat(subscriber.count()).as("not sent before the notice").isZero();

      listener.get().accept(Lane.DEFAULT);

      assertThat(subscriber.await(1, WAIT).get(0).text()).contains("wamid.W4");
    } finally {
      other.close();
    }
  }

  private Delivery awaitDelivered(Subscription s) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (System.nanoTime() < deadline) {
      Delivery d = relay.subscriptions().deliveries(RelayHarness.PNID_1, s.id(), Optional.empty(), 10).orElseThrow().get(0);
      if (d.state() == DeliveryState.DELIVERED) {
        return d;
      }
      Thread.sleep(20); // the attempt is recorded right after the answer
    }
    throw new AssertionError("not recorded as delivered within " + WAIT);
  }
}

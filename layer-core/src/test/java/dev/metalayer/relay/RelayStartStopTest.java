package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What starting and closing a relay does, on H2 with a real subscriber that holds its answer: a started
 * relay tells the store its instance is alive (at once, then every second) and retires it at close; an
 * attempt that ends within close's grace keeps its outcome; one still running when the grace ends has its
 * claim released, so that its delivery is pending again at once, with no attempt counted, instead of
 * waiting for its lease to run out.
 */
class RelayStartStopTest {
  static final Duration WAIT = Duration.ofSeconds(10);
  @TempDir Path dir;
  MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  RelayHarness h;
  RecordingSubscriber subscriber;
  final CountDownLatch arrived = new CountDownLatch(1);
  final CountDownLatch answer = new CountDownLatch(1);

  @BeforeEach
  void setUp() {
    h = new RelayHarness(dir, clock);
    subscriber = RecordingSubscriber.start();
    subscriber.answer(r -> {
      arrived.countDown();
      try {
        answer.await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return RecordingSubscriber.Answer.of(200);
    });
  }

  @AfterEach
  void tearDown() {
    answer.countDown();
    h.close();
    subscriber.close();
  }

  /** Before its first claim: from then on the other instances leave this one's call deliveries to it. */
  @Test
  void aStartedRelayIsAliveInTheStoreAtOnceBeatsEverySecondAndIsRetiredAtClose() throws Exception {
    h.layer.relay().start();
    assertThat(seenAt()).as("recorded by start itself").contains(clock.instant());

    clock.advance(Duration.ofMinutes(1));
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!seenAt().equals(Optional.of(clock.instant())) && System.nanoTime() < deadline) {
      Thread.sleep(50); // a poll interval: the heartbeat runs every second of real time
    }
    assertThat(seenAt()).as("a later beat").contains(clock.instant());

    h.layer.relay().close();
    assertThat(h.rows("layer_instances")).as("retired").isZero();
  }

  @Test
  void anAttemptStillRunningWhenTheGraceEndsIsPendingAgainAtOnceWithNoAttemptCounted() throws Exception {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/m"), List.of("messages"), null, false);
    h.layer.relay().start();
    h.ingestSigned(RelayTimeRulesTest.message("wamid.held"));
    assertThat(arrived.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).as("the attempt reached the subscriber").isTrue();

    h.layer.relay().close(Duration.ofMillis(100)); // the subscriber still holds its answer

    Delivery d = only(s);
    assertThat(d.state()).isEqualTo(DeliveryState.PENDING);
    assertThat(d.nextAttemptAt()).contains(clock.instant());
    assertThat(d.attempts()).isEmpty();

    answer.countDown(); // the released attempt ends late: its outcome is dropped, the row is claimed anew
    assertThat(h.layer.relay().runDueNow()).isEqualTo(1);
    subscriber.await(2, WAIT);
    d = only(s);
    assertThat(d.state()).isEqualTo(DeliveryState.DELIVERED);
    assertThat(d.attempts()).hasSize(1);
  }

  @Test
  void anAttemptThatEndsWithinTheGraceKeepsItsOutcome() throws Exception {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/m"), List.of("messages"), null, false);
    h.layer.relay().start();
    h.ingestSigned(RelayTimeRulesTest.message("wamid.held"));
    assertThat(arrived.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).as("the attempt reached the subscriber").isTrue();
    // the subscriber answers once close has begun to wait (a thread of its own, the test's one is in close)
    Thread answering = new Thread(() -> {
      try {
        Thread.sleep(300); // a subscriber that answers a little late, well within the grace
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      answer.countDown();
    });
    answering.start();

    h.layer.relay().close(WAIT);

    Delivery d = only(s);
    assertThat(d.state()).isEqualTo(DeliveryState.DELIVERED);
    assertThat(d.attempts()).hasSize(1);
    assertThat(h.layer.relay().runDueNow()).isZero();
    assertThat(subscriber.count()).isEqualTo(1);
    answering.join();
  }

  /**
   * Each lane is pumped on a timer too (at least every second): a retry whose time comes by the clock alone
   * is attempted, with no webhook or finished attempt to wake the lane, however far ahead it was when the
   * lane last looked (here an hour: a Retry-After).
   */
  @Test
  void aRetryIsAttemptedWhenTheClockReachesItWithNothingToWakeTheLane() throws Exception {
    java.util.concurrent.atomic.AtomicInteger answered = new java.util.concurrent.atomic.AtomicInteger();
    subscriber.answer(r -> answered.incrementAndGet() == 1
        ? new RecordingSubscriber.Answer(503, java.util.Map.of("Retry-After", "3600"), "")
        : RecordingSubscriber.Answer.of(200));
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/m"), List.of("messages"), null, false);
    h.layer.relay().start();
    h.ingestSigned(RelayTimeRulesTest.message("wamid.retried"));
    subscriber.await(1, WAIT);
    awaitAttempts(s, 1);
    assertThat(only(s).state()).isEqualTo(DeliveryState.PENDING);

    clock.advance(Duration.ofHours(1).plusSeconds(1));
    subscriber.await(2, WAIT);
    awaitAttempts(s, 2);
    assertThat(only(s).state()).isEqualTo(DeliveryState.DELIVERED);
  }

  /** A close on an interrupted thread still stops the relay, and leaves the thread's interrupt set. */
  @Test
  void aCloseOnAnInterruptedThreadKeepsItsInterrupt() {
    // on the in-memory store: an interrupt during an H2 write closes its file
    dev.metalayer.MetaLayer layer = dev.metalayer.MetaLayer.builder().keyStore(dev.metalayer.store.Stores.inMemoryKeys())
        .masterKey(RelayHarness.MASTER_KEY).clock(clock).relayStore(dev.metalayer.store.Stores.inMemoryRelay()).build();
    layer.relay().start();
    Thread.currentThread().interrupt();
    boolean interrupted;
    try {
      layer.relay().close();
    } finally {
      interrupted = Thread.interrupted();
    }
    assertThat(interrupted).isTrue();
    assertThat(((WebhookRelay) layer.relay()).deadWorkers()).as("stopped").isEmpty();
  }

  /** A host that forgets to close the relay can still exit: the relay's threads never keep a JVM alive. */
  @Test
  void theRelaysThreadsAreDaemons() {
    h.layer.relay().start();
    List<Thread> relayThreads =
        Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("relay-")).toList();
    assertThat(relayThreads).extracting(Thread::getName).anyMatch(n -> n.startsWith("relay-heartbeat"));
    assertThat(relayThreads).allMatch(Thread::isDaemon);
  }

  /**
   * A wake-up another instance sends through the store (PostgreSQL's notifications; here the listener the
   * relay handed to its store, called as the store would) is counted for its lane.
   */
  @Test
  void aWakeUpHeardFromAnotherInstanceIsCountedForItsLane() {
    java.util.concurrent.atomic.AtomicReference<java.util.function.Consumer<Lane>> listener =
        new java.util.concurrent.atomic.AtomicReference<>();
    h.close();
    h = new RelayHarness(dir.resolve("listened"), clock, List.of(RelayHarness.APP_SECRET), false,
        real -> RelayHarness.hooked(real, (method, args) -> {
          if (method.equals("listen")) {
            @SuppressWarnings("unchecked")
            java.util.function.Consumer<Lane> wake = (java.util.function.Consumer<Lane>) args[0];
            listener.set(wake);
          }
        }));
    h.layer.relay().start();
    assertThat(listener.get()).as("the relay listens once started").isNotNull();
    listener.get().accept(Lane.DEFAULT);
    listener.get().accept(Lane.DEFAULT);
    WebhookRelay relay = (WebhookRelay) h.layer.relay();
    assertThat(relay.remoteWakes(Lane.DEFAULT)).isEqualTo(2);
    assertThat(relay.remoteWakes(Lane.CALLS)).isZero();
  }

  private void awaitAttempts(Subscription s, int n) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (only(s).attempts().size() < n && System.nanoTime() < deadline) {
      Thread.sleep(20); // a poll interval: the attempt is recorded right after its answer
    }
    assertThat(only(s).attempts()).hasSize(n);
  }

  /** When the store last saw the relay's instance (the only one on this file); empty when it has no row. */
  private Optional<Instant> seenAt() {
    return h.db.withConnection(c -> {
      try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT seen_at FROM layer_instances")) {
        return rs.next() ? Optional.of(Instant.ofEpochMilli(rs.getLong(1))) : Optional.<Instant>empty();
      }
    });
  }

  private Delivery only(Subscription s) {
    List<Delivery> log = h.subscriptions().deliveries(RelayHarness.PNID_1, s.id(), Optional.empty(), 50).orElseThrow();
    assertThat(log).hasSize(1);
    return log.get(0);
  }
}

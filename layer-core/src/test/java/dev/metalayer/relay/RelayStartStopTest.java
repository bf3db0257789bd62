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
    Subscription s = startWithAHeldAttempt();

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
    Subscription s = startWithAHeldAttempt();
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

  /** The instance the relay names is the one it records in the store: the owner of the call deliveries it receives. */
  @Test
  void theRelaysInstanceIdIsTheOneItBeatsAs() {
    h.layer.relay().start();
    String id = h.db.withConnection(c -> {
      try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT id FROM layer_instances")) {
        assertThat(rs.next()).isTrue();
        return rs.getString(1);
      }
    });
    assertThat(((WebhookRelay) h.layer.relay()).instanceId()).isNotEmpty().isEqualTo(id);
  }

  /**
   * A second start of a running sole deliverer changes nothing: it does not release the leases of the
   * attempts running now (as a start does for those left by the previous run), which would send them twice.
   */
  @Test
  void aSecondStartOfARunningSoleDelivererLeavesItsRunningAttemptsAlone() throws Exception {
    dev.metalayer.MetaLayer sole = dev.metalayer.MetaLayer.builder().keyStore(dev.metalayer.store.Stores.inMemoryKeys())
        .masterKey(RelayHarness.MASTER_KEY).clock(clock).relayStore(dev.metalayer.store.Stores.relay(h.db))
        .egressGuard(EgressGuard.of(false, List.of("127.0.0.0/8"))).appSecrets(List.of(RelayHarness.APP_SECRET))
        .soleDeliverer(true).build();
    sole.keys().addNumber("+13175551399", RelayHarness.PNID_1, RelayHarness.WABA_1, "900", "EAAG-token-1");
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/m"), List.of("messages"), null, false);
    try {
      sole.relay().start();
      byte[] body = RelayTimeRulesTest.message("wamid.held");
      assertThat(sole.relay().ingest(body, dev.metalayer.testing.MetaFixtures.metaSignature(RelayHarness.APP_SECRET, body)))
          .isInstanceOf(CallWebhookRelay.IngestResult.Accepted.class);
      assertThat(arrived.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).as("the attempt reached the subscriber").isTrue();

      sole.relay().start();
      answer.countDown();
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (only(s).state() != DeliveryState.DELIVERED && System.nanoTime() < deadline) {
        Thread.sleep(20); // a poll interval: the outcome is recorded right after the answer
      }
    } finally {
      sole.relay().close();
    }
    assertThat(only(s).state()).isEqualTo(DeliveryState.DELIVERED);
    assertThat(only(s).attempts()).as("the running attempt's outcome stands").hasSize(1);
    assertThat(subscriber.count()).as("sent once").isEqualTo(1);
  }

  /**
   * An instance one of whose lanes has stopped (here its pump died of an {@link OutOfMemoryError}) stops
   * beating: it no longer claims, so the other instances must take its call deliveries over after
   * {@link RelayStore#OWNER_TIMEOUT} instead of leaving them to it.
   */
  @Test
  void anInstanceWhoseLaneStoppedNoLongerBeats() throws Exception {
    java.util.concurrent.atomic.AtomicBoolean outOfMemory = new java.util.concurrent.atomic.AtomicBoolean();
    Instant later = clock.instant().plus(Duration.ofMinutes(1));
    CountDownLatch beatLater = new CountDownLatch(1);
    useStore(real -> RelayHarness.hooked(real, (method, args) -> {
      if (method.equals("claimDue") && outOfMemory.get()) {
        throw new OutOfMemoryError("Java heap space (simulated)");
      }
      if (method.equals("heartbeat") && !((Instant) args[1]).isBefore(later)) {
        beatLater.countDown();
      }
    }));
    WebhookRelay relay = (WebhookRelay) h.layer.relay();
    relay.start();
    assertThat(seenAt()).contains(clock.instant());

    outOfMemory.set(true);
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (relay.deadWorkers().isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(50); // a poll interval: each lane pumps at least every second
    }
    assertThat(relay.deadWorkers()).isNotEmpty();
    clock.advance(Duration.ofMinutes(1));

    // two and a half heartbeat periods of real time: a beat that still ran would record the new time
    assertThat(beatLater.await(2500, TimeUnit.MILLISECONDS)).as("a beat after the lane stopped").isFalse();
    assertThat(seenAt()).as("last seen before the lane stopped").contains(later.minus(Duration.ofMinutes(1)));
  }

  /**
   * The retirement is close's last word on the instance: a beat running when close begins ends before the
   * instance is retired, so that it cannot record the instance alive again after its retirement (the others
   * would then leave its calls to it until {@link RelayStore#OWNER_TIMEOUT}).
   */
  @Test
  void closeRetiresTheInstanceOnlyOnceARunningBeatHasEnded() throws Exception {
    HeldUntilRetired beat = new HeldUntilRetired("heartbeat");
    useStore(beat::wrap);
    h.layer.relay().start();
    beat.arm();

    h.layer.relay().close();

    assertThat(beat.heldAtRetire).as("retired while a beat was still running").isFalse();
    assertThat(h.rows("layer_instances")).as("retired").isZero();
  }

  /**
   * Close lets a running pump end before it goes on (and releases the claims still running): a claim made
   * after that would keep its rows leased, sent by no one, until the lease ends.
   */
  @Test
  void closeRetiresTheInstanceOnlyOnceARunningClaimHasEnded() throws Exception {
    HeldUntilRetired claim = new HeldUntilRetired("claimDue");
    useStore(claim::wrap);
    h.layer.relay().start();
    claim.arm(); // each lane pumps at least every second

    h.layer.relay().close();

    assertThat(claim.heldAtRetire).as("retired while a claim was still running").isFalse();
  }

  /**
   * A close on a thread interrupted while it waits for the attempts in flight stops waiting, releases them,
   * and leaves the thread's interrupt set.
   */
  @Test
  void aCloseOnAnInterruptedThreadReleasesTheAttemptsInFlightAndKeepsItsInterrupt() throws Exception {
    // on the in-memory store: an interrupt during an H2 write closes its file
    useStore(real -> dev.metalayer.store.Stores.inMemoryRelay());
    Subscription s = startWithAHeldAttempt();

    Thread.currentThread().interrupt();
    boolean interrupted;
    long start = System.nanoTime();
    try {
      h.layer.relay().close(WAIT);
    } finally {
      interrupted = Thread.interrupted();
    }
    assertThat(interrupted).isTrue();
    assertThat(Duration.ofNanos(System.nanoTime() - start)).as("did not wait out the grace").isLessThan(WAIT);
    assertThat(only(s).state()).as("released").isEqualTo(DeliveryState.PENDING);
  }

  /** A closed relay stops listening for the other instances' wake-ups (on PostgreSQL, that frees a connection). */
  @Test
  void aClosedRelayStopsListening() {
    java.util.concurrent.atomic.AtomicInteger closed = new java.util.concurrent.atomic.AtomicInteger();
    useStore(real -> RelayHarness.answered(real, (method, args, answer) -> {
      Object result = answer.call();
      if (method.equals("listen")) {
        RelayStore.Listening listening = (RelayStore.Listening) result;
        return (RelayStore.Listening) () -> {
          closed.incrementAndGet();
          listening.close();
        };
      }
      return result;
    }));
    h.layer.relay().start();
    assertThat(closed).hasValue(0);
    h.layer.relay().close();
    assertThat(closed).hasValue(1);
  }

  /**
   * Close waits for each of its executors at most 10 seconds, then interrupts what still runs there (a pump
   * or a purge stuck in a store call), so that it cannot keep running after the relay was closed.
   */
  @Test
  void aTaskStillRunningTenSecondsAfterItsExecutorStoppedIsInterrupted() throws Exception {
    java.util.concurrent.ExecutorService executor = java.util.concurrent.Executors.newSingleThreadExecutor();
    CountDownLatch started = new CountDownLatch(1);
    java.util.concurrent.CompletableFuture<Boolean> interrupted = new java.util.concurrent.CompletableFuture<>();
    executor.execute(() -> {
      started.countDown();
      try {
        new CountDownLatch(1).await(1, TimeUnit.MINUTES); // stuck
        interrupted.complete(false);
      } catch (InterruptedException e) {
        interrupted.complete(true);
      }
    });
    assertThat(started.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
    executor.shutdown();

    DeliveryEngine.awaitStopped(executor);

    assertThat(interrupted.get(2, TimeUnit.SECONDS)).isTrue();
    assertThat(executor.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
  }

  /**
   * A call of the relay's store ({@code method}), once armed, held until the instance is retired or for 2
   * seconds at most; records whether the retirement came while it was held.
   */
  private static final class HeldUntilRetired {
    final String method;
    final java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean();
    final java.util.concurrent.atomic.AtomicBoolean holding = new java.util.concurrent.atomic.AtomicBoolean();
    final CountDownLatch held = new CountDownLatch(1);
    final CountDownLatch retired = new CountDownLatch(1);
    volatile boolean heldAtRetire;

    HeldUntilRetired(String method) {
      this.method = method;
    }

    RelayStore wrap(RelayStore real) {
      return RelayHarness.hooked(real, (called, args) -> {
        if (called.equals(method) && armed.compareAndSet(true, false)) {
          holding.set(true);
          held.countDown();
          retired.await(2, TimeUnit.SECONDS); // the longest close may wait for it is 10 s
          holding.set(false);
        } else if (called.equals("retire")) {
          heldAtRetire = holding.get();
          retired.countDown();
        }
      });
    }

    /** Holds the next call, and returns once it is held. */
    void arm() throws InterruptedException {
      armed.set(true);
      assertThat(held.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).as(method + " called").isTrue();
    }
  }

  /** Replaces the harness by one whose relay sees {@code wrap} of its store. */
  private void useStore(java.util.function.UnaryOperator<RelayStore> wrap) {
    h.close();
    h = new RelayHarness(dir.resolve("wrapped"), clock, List.of(RelayHarness.APP_SECRET), false, wrap);
  }

  /** Starts the relay with one message attempt in flight, its subscriber holding the answer until {@code answer}. */
  private Subscription startWithAHeldAttempt() throws InterruptedException {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/m"), List.of("messages"), null, false);
    h.layer.relay().start();
    h.ingestSigned(RelayTimeRulesTest.message("wamid.held"));
    assertThat(arrived.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).as("the attempt reached the subscriber").isTrue();
    return s;
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

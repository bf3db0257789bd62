package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The started relay's claims never exceed a lane's free workers nor a subscription's cap, counted with the
 * attempts in flight: a real H2 file and a real subscriber that holds its answers. The clock stands still;
 * each check waits for two more ends of the lane's claim loop (its {@code nextWake} reads), so that the
 * claims it counts are all those the relay makes at that point.
 */
class RelayClaimCapsTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  @TempDir Path dir;
  final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  final AtomicInteger claimLoopsEnded = new AtomicInteger();
  /** Requests that reached the subscriber (it records one only once answered). */
  final AtomicInteger arrived = new AtomicInteger();
  final CountDownLatch release = new CountDownLatch(1);
  final RecordingSubscriber subscriber = RecordingSubscriber.start();
  RelayHarness h;

  @AfterEach
  void tearDown() {
    release.countDown();
    if (h != null) {
      h.close();
    }
    subscriber.close();
  }

  /** One calls-lane worker and three due deliveries: one is claimed, the other two wait, however often the lane polls. */
  @Test
  void aLaneClaimsNoMoreThanItsFreeWorkers() throws Exception {
    relay(b -> b.relayThreads(1, 1).concurrencyPerSubscription(8).concurrencyPerNumber(8));
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/calls"), List.of("calls"), null, false);
    answer(0);
    for (int i = 0; i < 3; i++) {
      h.ingestSigned(RelayTimeRulesTest.callEvent("wacid.Free" + i, "connect", clock.instant()));
    }

    h.layer.relay().start();
    await(arrived, 1);
    awaitClaimLoops(2);

    assertThat(inState(s, DeliveryState.DELIVERING)).as("claimed").isEqualTo(1);
    assertThat(inState(s, DeliveryState.PENDING)).as("waiting for the worker").isEqualTo(2);
  }

  /**
   * A subscription capped at 2, one of its two attempts ended and the other hanging: the lane starts one
   * more, not two (the ended one no longer counts, the hanging one still does), and never a third.
   */
  @Test
  void aSubscriptionsCapCountsTheAttemptsStillInFlight() throws Exception {
    relay(b -> b.relayThreads(4, 4).concurrencyPerSubscription(2).concurrencyPerNumber(8));
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/calls"), List.of("calls"), null, false);
    answer(1); // the first attempt ends at once, the others hang
    for (int i = 0; i < 5; i++) {
      h.ingestSigned(RelayTimeRulesTest.callEvent("wacid.Cap" + i, "connect", clock.instant()));
    }

    h.layer.relay().start();
    await(arrived, 3); // the two of the first claim, then one in place of the ended one
    awaitClaimLoops(2);

    assertThat(inState(s, DeliveryState.DELIVERED)).as("ended").isEqualTo(1);
    assertThat(inState(s, DeliveryState.DELIVERING)).as("in flight, at the cap").isEqualTo(2);
    assertThat(inState(s, DeliveryState.PENDING)).as("waiting for the cap").isEqualTo(2);
    assertThat(arrived).hasValue(3);
  }

  private void relay(UnaryOperator<dev.metalayer.MetaLayer.Builder> options) {
    h = new RelayHarness(dir, clock, List.of(RelayHarness.APP_SECRET), false,
        real -> RelayHarness.hooked(real, (method, args) -> {
          if (method.equals("nextWake") && args[0] == Lane.CALLS) {
            claimLoopsEnded.incrementAndGet();
          }
        }), options);
  }

  /** The subscriber answers the first {@code atOnce} requests, and holds the others until the test ends. */
  private void answer(int atOnce) {
    subscriber.answer(r -> {
      if (arrived.incrementAndGet() > atOnce) {
        try {
          release.await(WAIT.toMillis() * 2, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return RecordingSubscriber.Answer.of(200);
    });
  }

  /** Waits until the calls lane has ended {@code more} claim loops from now: the last one began after this call. */
  private void awaitClaimLoops(int more) {
    await(claimLoopsEnded, claimLoopsEnded.get() + more);
  }

  private static void await(AtomicInteger counter, int atLeast) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (counter.get() < atLeast) {
      assertThat(System.nanoTime()).as("reaching %d, at %d", atLeast, counter.get()).isLessThan(deadline);
      java.util.concurrent.locks.LockSupport.parkNanos(5_000_000L); // a poll interval, not a timing assumption
    }
  }

  private int inState(Subscription s, DeliveryState state) {
    return h.subscriptions().deliveries(RelayHarness.PNID_1, s.id(), Optional.of(state), 50).orElseThrow().size();
  }
}

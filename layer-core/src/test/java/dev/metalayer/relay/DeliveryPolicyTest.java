package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.relay.DeliveryTransport.Result;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class DeliveryPolicyTest {
  static final Instant NOW = Instant.parse("2026-03-01T10:00:00Z");
  final DeliveryPolicy policy = new DeliveryPolicy(Duration.ofSeconds(45), () -> 0.5);

  static Result answered(int status) {
    return new Result.Answered(status, Optional.empty(), "");
  }

  /** A live attempt is never taken over: its lease, renewed right before the send, outlasts its deadline. */
  @Test
  void theLeaseOfEveryLaneOutlastsItsAttemptsDeadlineWithAMargin() {
    for (Lane lane : Lane.values()) {
      assertThat(policy.lease(lane)).as(lane.wire())
          .isGreaterThanOrEqualTo(policy.timeout(lane).plus(DeliveryPolicy.LEASE_MARGIN));
    }
    assertThat(policy.lease(Lane.CALLS)).isEqualTo(Duration.ofSeconds(10));
    assertThat(policy.lease(Lane.DEFAULT)).isEqualTo(Duration.ofSeconds(30));
  }

  @Test
  void twoHundredsSucceedAndEverythingElseFails() {
    assertThat(policy.decide(Lane.DEFAULT, 1, 8, Optional.empty(), answered(200), NOW)).isInstanceOf(DeliveryPolicy.Delivered.class);
    assertThat(policy.decide(Lane.DEFAULT, 1, 8, Optional.empty(), answered(204), NOW)).isInstanceOf(DeliveryPolicy.Delivered.class);
    for (int status : new int[] {301, 302, 400, 404, 429, 500, 503}) {
      assertThat(policy.decide(Lane.DEFAULT, 1, 8, Optional.empty(), answered(status), NOW)).as("%d", status)
          .isEqualTo(new DeliveryPolicy.Retry(NOW.plusSeconds(5)));
    }
    assertThat(policy.decide(Lane.DEFAULT, 1, 8, Optional.empty(), new Result.Failed("timeout", true), NOW))
        .isEqualTo(new DeliveryPolicy.Retry(NOW.plusSeconds(5)));
    assertThat(policy.decide(Lane.DEFAULT, 1, 8, Optional.empty(), answered(410), NOW)).isEqualTo(new DeliveryPolicy.Dead(true));
    assertThat(policy.decide(Lane.DEFAULT, 8, 8, Optional.empty(), answered(500), NOW)).isEqualTo(new DeliveryPolicy.Dead(false));
  }

  @Test
  void aCallEventExpiresItsTtlAfterTheEarlierOfReceiptAndItsOwnTime() {
    assertThat(policy.expiry(Lane.DEFAULT, NOW, Optional.of(NOW.minusSeconds(600)))).isEmpty();
    assertThat(policy.expiry(Lane.CALLS, NOW, Optional.empty())).contains(NOW.plusSeconds(45));
    assertThat(policy.expiry(Lane.CALLS, NOW, Optional.of(NOW.minusSeconds(10)))).contains(NOW.plusSeconds(35));
    assertThat(policy.expiry(Lane.CALLS, NOW, Optional.of(NOW.minusSeconds(600)))).contains(NOW.minusSeconds(555));
    // an event time ahead of the layer's clock never lengthens the TTL
    assertThat(policy.expiry(Lane.CALLS, NOW, Optional.of(NOW.plusSeconds(30)))).contains(NOW.plusSeconds(45));
    assertThat(policy.expiry(Lane.CALLS, NOW, Optional.of(NOW.plusSeconds(3600)))).contains(NOW.plusSeconds(45));
  }

  @Test
  void jitterStaysWithinTwentyPercent() {
    DeliveryPolicy low = new DeliveryPolicy(Duration.ofSeconds(45), () -> 0.0);
    DeliveryPolicy high = new DeliveryPolicy(Duration.ofSeconds(45), () -> 0.999999);
    assertThat(low.decide(Lane.DEFAULT, 2, 8, Optional.empty(), answered(500), NOW))
        .isEqualTo(new DeliveryPolicy.Retry(NOW.plus(Duration.ofMinutes(4))));
    assertThat(high.decide(Lane.DEFAULT, 2, 8, Optional.empty(), answered(500), NOW))
        .isEqualTo(new DeliveryPolicy.Retry(NOW.plus(Duration.ofMinutes(6))));
  }

  @Test
  void callsRetryFastWithoutJitterAndExpireAtTheTtl() {
    Optional<Instant> ttl = Optional.of(NOW.plusSeconds(45));
    assertThat(policy.decide(Lane.CALLS, 1, 1000, ttl, answered(500), NOW)).isEqualTo(new DeliveryPolicy.Retry(NOW.plusMillis(250)));
    assertThat(policy.decide(Lane.CALLS, 2, 1000, ttl, answered(500), NOW)).isEqualTo(new DeliveryPolicy.Retry(NOW.plusMillis(500)));
    assertThat(policy.decide(Lane.CALLS, 9, 1000, ttl, answered(500), NOW)).isEqualTo(new DeliveryPolicy.Retry(NOW.plusSeconds(8)));
    assertThat(policy.decide(Lane.CALLS, 9, 1000, ttl, answered(500), NOW.plusSeconds(40))).isInstanceOf(DeliveryPolicy.Expired.class);
    assertThat(policy.timeout(Lane.CALLS)).isLessThan(policy.timeout(Lane.DEFAULT));
    assertThat(policy.lease(Lane.CALLS)).isGreaterThan(policy.timeout(Lane.CALLS));
  }

  @Test
  void retryAfterIsReadAsSecondsOrDateAndClamped() {
    assertThat(DeliveryPolicy.parseRetryAfter("120", NOW)).contains(Duration.ofSeconds(120));
    assertThat(DeliveryPolicy.parseRetryAfter("Sun, 01 Mar 2026 10:02:00 GMT", NOW)).contains(Duration.ofMinutes(2));
    assertThat(DeliveryPolicy.parseRetryAfter("Sun, 01 Mar 2026 09:00:00 GMT", NOW)).contains(Duration.ZERO);
    assertThat(DeliveryPolicy.parseRetryAfter("999999", NOW)).contains(Duration.ofHours(10));
    assertThat(DeliveryPolicy.parseRetryAfter("soon", NOW)).isEmpty();
    // a shorter Retry-After never brings the schedule forward
    Result shortHint = new Result.Answered(503, Optional.of("1"), "");
    assertThat(policy.decide(Lane.DEFAULT, 2, 8, Optional.empty(), shortHint, NOW))
        .isEqualTo(new DeliveryPolicy.Retry(NOW.plus(Duration.ofMinutes(5))));
  }

  @Test
  void onlyAFirstTerminateIsHeldAndAZeroWindowHoldsNothing() {
    assertThat(policy.holdUntil(Optional.of(RelayStore.CallEvent.TERMINATE), NOW)).contains(NOW.plusSeconds(2));
    for (RelayStore.CallEvent other : new RelayStore.CallEvent[] {RelayStore.CallEvent.CONNECT,
        RelayStore.CallEvent.STATUS, RelayStore.CallEvent.OTHER}) {
      assertThat(policy.holdUntil(Optional.of(other), NOW)).as(other.wire()).isEmpty();
    }
    assertThat(policy.holdUntil(Optional.empty(), NOW)).isEmpty();
    DeliveryPolicy off = new DeliveryPolicy(Duration.ofSeconds(45), Duration.ZERO, () -> 0.5);
    assertThat(off.holdUntil(Optional.of(RelayStore.CallEvent.TERMINATE), NOW)).isEmpty();
  }

  /** A permission reply or a voicemail on the calls lane is no ring: no TTL, the messages' retries. */
  @Test
  void theMessagesCallEventsOnTheCallsLaneKeepTheDefaultSchedule() {
    assertThat(DeliveryPolicy.schedule(Lane.CALLS, "messages")).isEqualTo(Lane.DEFAULT);
    assertThat(DeliveryPolicy.schedule(Lane.CALLS, "calls")).isEqualTo(Lane.CALLS);
    assertThat(DeliveryPolicy.schedule(Lane.DEFAULT, "messages")).isEqualTo(Lane.DEFAULT);
    assertThat(policy.expiry(Lane.CALLS, "messages", NOW, Optional.empty())).isEmpty();
    assertThat(policy.expiry(Lane.CALLS, "calls", NOW, Optional.empty())).contains(NOW.plusSeconds(45));
    assertThat(policy.maxAttempts(Lane.CALLS, "messages")).isEqualTo(DeliveryPolicy.DEFAULT_MAX_ATTEMPTS);
    assertThat(policy.maxAttempts(Lane.CALLS, "calls")).isEqualTo(DeliveryPolicy.CALLS_MAX_ATTEMPTS);
  }

  @Test
  void theHoldWindowIsBoundedAndShorterThanTheCallTtl() {
    CallWebhookRelay.Builder b = CallWebhookRelay.builder();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.callTerminateHold(Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.callTerminateHold(Duration.ofSeconds(11)))
        .isInstanceOf(IllegalArgumentException.class);
    b.callTerminateHold(Duration.ZERO).callTerminateHold(Duration.ofSeconds(10));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> dev.metalayer.MetaLayer.builder()
            .keyStore(dev.metalayer.store.Stores.inMemoryKeys()).masterKey(new byte[32])
            .relayStore(dev.metalayer.store.Stores.inMemoryRelay()).callTtl(Duration.ofSeconds(5))
            .callTerminateHold(Duration.ofSeconds(5)).build())
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("callTerminateHold must be shorter");
  }

  /** The edges of the 2xx range, the last allowed attempt, and the end of the long schedule. */
  @Test
  void onlyTheTwoHundredsSucceedAndTheLastAttemptIsTheMaximum() {
    assertThat(policy.decide(Lane.DEFAULT, 1, 8, Optional.empty(), answered(199), NOW))
        .isEqualTo(new DeliveryPolicy.Retry(NOW.plusSeconds(5)));
    assertThat(policy.decide(Lane.DEFAULT, 1, 8, Optional.empty(), answered(299), NOW)).isInstanceOf(DeliveryPolicy.Delivered.class);
    assertThat(policy.decide(Lane.DEFAULT, 1, 8, Optional.empty(), answered(300), NOW))
        .isEqualTo(new DeliveryPolicy.Retry(NOW.plusSeconds(5)));
    assertThat(policy.decide(Lane.DEFAULT, 7, 8, Optional.empty(), answered(500), NOW))
        .isEqualTo(new DeliveryPolicy.Retry(NOW.plus(Duration.ofHours(10))));
    // a replayed delivery past its eighth attempt keeps the last delay
    assertThat(policy.decide(Lane.DEFAULT, 9, 10, Optional.empty(), answered(500), NOW))
        .isEqualTo(new DeliveryPolicy.Retry(NOW.plus(Duration.ofHours(10))));
    assertThat(policy.decide(Lane.CALLS, 1, 1, Optional.empty(), answered(500), NOW)).isEqualTo(new DeliveryPolicy.Dead(false));
  }

  @Test
  void aLongerRetryAfterPostponesTheNextAttemptAndCanExpireACallEvent() {
    Result hint = new Result.Answered(503, Optional.of("600"), "");
    assertThat(policy.decide(Lane.DEFAULT, 2, 8, Optional.empty(), hint, NOW))
        .isEqualTo(new DeliveryPolicy.Retry(NOW.plus(Duration.ofMinutes(10))));
    Result soon = new Result.Answered(503, Optional.of("30"), "");
    assertThat(policy.decide(Lane.CALLS, 1, 1000, Optional.of(NOW.plusSeconds(45)), soon, NOW))
        .isEqualTo(new DeliveryPolicy.Retry(NOW.plusSeconds(30)));
    assertThat(policy.decide(Lane.CALLS, 1, 1000, Optional.of(NOW.plusSeconds(45)), hint, NOW))
        .isInstanceOf(DeliveryPolicy.Expired.class);
    // a retry due exactly at the expiry is too late
    assertThat(policy.decide(Lane.CALLS, 1, 1000, Optional.of(NOW.plusMillis(250)), answered(500), NOW))
        .isInstanceOf(DeliveryPolicy.Expired.class);
    assertThat(policy.decide(Lane.CALLS, 1, 1000, Optional.of(NOW.plusMillis(251)), answered(500), NOW))
        .isEqualTo(new DeliveryPolicy.Retry(NOW.plusMillis(250)));
    assertThat(DeliveryPolicy.parseRetryAfter(" 120 ", NOW)).contains(Duration.ofSeconds(120));
    assertThat(DeliveryPolicy.parseRetryAfter("0", NOW)).contains(Duration.ZERO);
    assertThat(DeliveryPolicy.parseRetryAfter("Sun, 01 Mar 2026 09:59:59 GMT", NOW)).contains(Duration.ZERO);
    assertThat(DeliveryPolicy.parseRetryAfter("Mon, 02 Mar 2026 10:00:00 GMT", NOW)).contains(Duration.ofHours(10));
  }

  @Test
  void aTestEventIsAttemptedOnceAndKeepsItsLanesTimeouts() {
    assertThat(policy.maxAttempts(Lane.CALLS, "test")).isEqualTo(1);
    assertThat(policy.maxAttempts(Lane.DEFAULT, "test")).isEqualTo(1);
    assertThat(policy.maxAttempts(Lane.DEFAULT, "messages")).isEqualTo(DeliveryPolicy.DEFAULT_MAX_ATTEMPTS).isEqualTo(8);
    assertThat(DeliveryPolicy.schedule(Lane.CALLS, "test")).isEqualTo(Lane.CALLS);
    assertThat(policy.timeout(Lane.CALLS)).isEqualTo(Duration.ofSeconds(5));
    assertThat(policy.timeout(Lane.DEFAULT)).isEqualTo(Duration.ofSeconds(15));
    assertThat(policy.callTtl()).isEqualTo(Duration.ofSeconds(45));
    assertThat(policy.expiry(Lane.CALLS, NOW, Optional.of(NOW))).contains(NOW.plusSeconds(45));
  }
}

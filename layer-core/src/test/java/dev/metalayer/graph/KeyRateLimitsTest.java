package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.json.Json;
import dev.metalayer.keys.Grant;
import dev.metalayer.keys.WhatsAppNumber;
import dev.metalayer.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The per-key token buckets on a fake clock: no sleeps. */
class KeyRateLimitsTest {
  static final WhatsAppNumber NUMBER =
      new WhatsAppNumber("+15550783881", "106540352242922", "102290129340398", "900000000000001", Instant.EPOCH);
  final MutableClock clock = MutableClock.at("2026-01-01T00:00:00Z");

  static Grant grant(String keyId) {
    return new Grant(keyId, NUMBER, "EAAtoken", Grant.Scope.ALL);
  }

  static Grant grant(String keyId, Grant.RateLimit own) {
    return new Grant(keyId, NUMBER, "EAAtoken", Grant.Scope.ALL, Optional.of(own));
  }

  static int passing(KeyRateLimits limits, Grant grant, int tries) {
    int passed = 0;
    for (int i = 0; i < tries; i++) {
      if (limits.take(grant).isEmpty()) {
        passed++;
      }
    }
    return passed;
  }

  @Test
  void aBurstPassesThenA429NamesTheLimitAndTheWaitInWholeSeconds() throws Exception {
    KeyRateLimits limits = new KeyRateLimits(new Grant.RateLimit(2, 5), clock);
    assertThat(passing(limits, grant("key_a"), 5)).isEqualTo(5);
    GraphError refused = limits.take(grant("key_a")).orElseThrow();
    assertThat(refused.status()).isEqualTo(429);
    assertThat(refused.code()).isEqualTo(4);
    assertThat(refused.type()).isEqualTo("OAuthException");
    assertThat(refused.retryAfter()).as("one token at 2/s: 0.5 s, rounded up").isEqualTo("1");
    assertThat(refused.message()).startsWith("(#4) Application request limit reached")
        .contains("2 requests per second, 5 at once").contains("retry after 1 s");
    JsonNode body = Json.mapper().readTree(refused.toJson());
    assertThat(body.path("error").path("code").asInt()).isEqualTo(4);
    assertThat(body.path("error").path("fbtrace_id").asText()).hasSize(23);
    assertThat(GraphAnswer.of(refused).header("retry-after")).isEqualTo("1");
  }

  @Test
  void theBucketRefillsAtTheRateOverInjectedTimeAndNeverAboveTheBurst() {
    KeyRateLimits limits = new KeyRateLimits(new Grant.RateLimit(10, 20), clock);
    assertThat(passing(limits, grant("key_a"), 25)).isEqualTo(20);
    clock.advance(Duration.ofMillis(99));
    assertThat(limits.take(grant("key_a"))).as("0.99 of a token").isPresent();
    clock.advance(Duration.ofMillis(1));
    assertThat(passing(limits, grant("key_a"), 3)).isEqualTo(1);
    clock.advance(Duration.ofSeconds(1));
    assertThat(passing(limits, grant("key_a"), 30)).isEqualTo(10);
    clock.advance(Duration.ofHours(1));
    assertThat(passing(limits, grant("key_a"), 30)).as("an idle hour fills the bucket, no more").isEqualTo(20);
  }

  @Test
  void aFractionalRateWaitsSecondsRoundedUp() {
    KeyRateLimits limits = new KeyRateLimits(new Grant.RateLimit(0.25, 1), clock);
    assertThat(limits.take(grant("key_a"))).isEmpty();
    assertThat(limits.take(grant("key_a")).orElseThrow().retryAfter()).isEqualTo("4");
    clock.advance(Duration.ofMillis(2500));
    assertThat(limits.take(grant("key_a")).orElseThrow().retryAfter()).as("1.5 s left").isEqualTo("2");
    clock.advance(Duration.ofMillis(1500));
    assertThat(limits.take(grant("key_a"))).isEmpty();
  }

  @Test
  void eachKeyHasItsOwnBucketAndItsOwnLimitReplacesTheDefault() {
    KeyRateLimits limits = new KeyRateLimits(new Grant.RateLimit(1, 2), clock);
    assertThat(passing(limits, grant("key_a"), 10)).isEqualTo(2);
    assertThat(passing(limits, grant("key_b"), 10)).as("another key of the same number").isEqualTo(2);
    assertThat(passing(limits, grant("key_c", new Grant.RateLimit(1, 7)), 10)).isEqualTo(7);
    assertThat(passing(limits, grant("key_d", Grant.RateLimit.OFF), 1000)).as("off for this key").isEqualTo(1000);
    KeyRateLimits none = new KeyRateLimits(Grant.RateLimit.OFF, clock);
    assertThat(passing(none, grant("key_a"), 1000)).as("no default").isEqualTo(1000);
    assertThat(passing(none, grant("key_e", new Grant.RateLimit(1, 3)), 10)).as("a key's own without a default").isEqualTo(3);
  }

  @Test
  void aChangedLimitAppliesToTheTokensHeldAtOnce() {
    KeyRateLimits limits = new KeyRateLimits(new Grant.RateLimit(1, 100), clock);
    assertThat(passing(limits, grant("key_a"), 10)).isEqualTo(10);
    assertThat(passing(limits, grant("key_a", new Grant.RateLimit(1, 5)), 10)).as("90 held, capped to 5").isEqualTo(5);
    assertThat(passing(limits, grant("key_a", Grant.RateLimit.OFF), 50)).isEqualTo(50);
  }

  @Test
  void aClockGoingBackAddsNothing() {
    KeyRateLimits limits = new KeyRateLimits(new Grant.RateLimit(1, 1), clock);
    assertThat(limits.take(grant("key_a"))).isEmpty();
    clock.set(clock.instant().minus(Duration.ofHours(1)));
    assertThat(limits.take(grant("key_a"))).isPresent();
    clock.set(clock.instant().plus(Duration.ofHours(1)).plusMillis(500));
    assertThat(limits.take(grant("key_a"))).as("half a token since the last refill").isPresent();
  }

  @Test
  void concurrentRequestsOfOneKeyPassAtMostTheBurst() throws Exception {
    KeyRateLimits limits = new KeyRateLimits(new Grant.RateLimit(1, 50), clock);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      for (int round = 0; round < 20; round++) {
        String key = "key_" + round;
        AtomicInteger passed = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> all = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
          all.add(pool.submit(() -> {
            go.await();
            for (int i = 0; i < 100; i++) {
              if (limits.take(grant(key)).isEmpty()) {
                passed.incrementAndGet();
              }
            }
            return null;
          }));
        }
        go.countDown();
        for (Future<?> f : all) {
          f.get(10, TimeUnit.SECONDS);
        }
        assertThat(passed.get()).as("800 at once, the clock standing still").isEqualTo(50);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void concurrentRequestsRacingTheSweepStillPassAtMostTheBurst() throws Exception {
    KeyRateLimits limits = new KeyRateLimits(new Grant.RateLimit(1, 5), clock);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      AtomicInteger passed = new AtomicInteger();
      CountDownLatch go = new CountDownLatch(1);
      List<Future<?>> all = new ArrayList<>();
      for (int t = 0; t < 3; t++) {
        all.add(pool.submit(() -> {
          go.await();
          for (int i = 0; i < 2000; i++) {
            if (limits.take(grant("key_hot")).isEmpty()) {
              passed.incrementAndGet();
            }
          }
          return null;
        }));
      }
      // another thread floods distinct keys whose buckets are full again a microsecond later: sweeps run meanwhile
      all.add(pool.submit(() -> {
        go.await();
        for (int i = 0; i < 40_000; i++) {
          clock.advance(Duration.ofNanos(1000));
          limits.take(grant("key_cold_" + i, new Grant.RateLimit(1_000_000, 1)));
        }
        return null;
      }));
      go.countDown();
      for (Future<?> f : all) {
        f.get(30, TimeUnit.SECONDS);
      }
      assertThat(passed.get()).as("40 ms refill 0.04 of a token").isEqualTo(5);
      assertThat(limits.size()).as("the cold keys' buckets were swept").isLessThan(KeyRateLimits.SWEEP_FLOOR + 2);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void manyKeysKeepTheMapBoundedOnceTheirBucketsAreFullAgain() {
    KeyRateLimits limits = new KeyRateLimits(new Grant.RateLimit(10, 10), clock);
    for (int i = 0; i < 100_000; i++) {
      limits.take(grant("key_" + i));
      if (i % 1000 == 999) {
        clock.advance(Duration.ofSeconds(1)); // the earlier keys' buckets fill again
      }
    }
    assertThat(limits.size()).as("100,000 keys; only the last second's buckets are not full").isLessThanOrEqualTo(
        KeyRateLimits.SWEEP_FLOOR + 1);
  }

  @Test
  void aSweepRunsOnlyOnceTheBucketsOutnumberTheFloorAndDropsTheBucketsFullAgain() {
    KeyRateLimits limits = new KeyRateLimits(new Grant.RateLimit(1, 2), clock);
    for (int i = 0; i < KeyRateLimits.SWEEP_FLOOR - 1; i++) {
      limits.take(grant("key_" + i)); // one of two tokens left: not full
    }
    clock.advance(Duration.ofSeconds(1)); // one token refilled: every one of those buckets is exactly full again
    limits.take(grant("key_last"));
    assertThat(limits.size()).as("as many buckets as the floor: not yet swept").isEqualTo(KeyRateLimits.SWEEP_FLOOR);
    limits.take(grant("key_one_more"));
    assertThat(limits.size()).as("the full buckets dropped, the two used this second kept").isEqualTo(2);
    assertThat(limits.take(grant("key_0"))).as("a dropped bucket was full: its key starts again at the burst").isEmpty();
    assertThat(limits.take(grant("key_0"))).isEmpty();
    assertThat(limits.take(grant("key_0"))).isPresent();
  }

  @Test
  void aSweepThatKeepsManyBucketsLetsTheMapGrowToTwiceThatBeforeTheNext() {
    KeyRateLimits limits = new KeyRateLimits(new Grant.RateLimit(1, 2), clock);
    int kept = KeyRateLimits.SWEEP_FLOOR + 1;
    for (int i = 0; i < kept; i++) {
      limits.take(grant("key_" + i)); // the last one sweeps and keeps every bucket: none is full
    }
    assertThat(limits.size()).isEqualTo(kept);
    clock.advance(Duration.ofSeconds(1)); // all of them full again: the next sweep drops them
    for (int i = 0; i < kept; i++) {
      limits.take(grant("key_new_" + i));
    }
    assertThat(limits.size()).as("up to twice what the last sweep kept, no sweep").isEqualTo(2 * kept);
    limits.take(grant("key_one_more"));
    assertThat(limits.size()).as("one more: the sweep drops the full ones").isEqualTo(kept + 1);
  }

  @Test
  void keysThatAreNotLimitedGetNoBucket() {
    KeyRateLimits limits = new KeyRateLimits(Grant.RateLimit.OFF, clock);
    for (int i = 0; i < 10_000; i++) {
      limits.take(grant("key_" + i));
    }
    assertThat(limits.size()).isZero();
  }
}

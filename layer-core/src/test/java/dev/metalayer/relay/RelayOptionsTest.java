package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.keys.KeyService;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The bounds of the relay's options, each at its edge: a value just inside is taken, one just outside is
 * refused with a message that names the option (the operator reads it as the one line of a failed start).
 */
class RelayOptionsTest {
  final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  final TokenCipher cipher = new TokenCipher(new byte[32], new SecureRandom());
  final KeyService keys = new KeyService(Stores.inMemoryKeys(), cipher, clock, new SecureRandom(), Duration.ofSeconds(30));

  static CallWebhookRelay.Builder builder() {
    return CallWebhookRelay.builder();
  }

  CallWebhookRelay build(CallWebhookRelay.Builder b) {
    return b.clock(clock).build(Stores.inMemoryRelay(), keys, cipher);
  }

  @Test
  void theCallTtlIsFromOneSecondToOneHour() {
    assertThat(build(builder().callTtl(Duration.ofSeconds(1)).callTerminateHold(Duration.ZERO))).isNotNull();
    assertThat(build(builder().callTtl(Duration.ofHours(1)))).isNotNull();
    assertThatThrownBy(() -> builder().callTtl(Duration.ofMillis(999))).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("callTtl must be between 1 second and 1 hour");
    assertThatThrownBy(() -> builder().callTtl(Duration.ofHours(1).plusMillis(1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("callTtl must be between 1 second and 1 hour");
    assertThatThrownBy(() -> builder().callTtl(null)).isInstanceOf(NullPointerException.class).hasMessage("ttl");
  }

  @Test
  void theTerminateHoldIsFromZeroToTenSecondsAndShorterThanTheTtl() {
    assertThat(build(builder().callTerminateHold(Duration.ZERO))).isNotNull();
    assertThat(build(builder().callTerminateHold(Duration.ofSeconds(10)))).isNotNull();
    assertThatThrownBy(() -> builder().callTerminateHold(Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("callTerminateHold must be between 0 and 10 seconds");
    assertThatThrownBy(() -> builder().callTerminateHold(Duration.ofSeconds(10).plusMillis(1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("callTerminateHold must be between 0 and 10 seconds");
    assertThatThrownBy(() -> builder().callTerminateHold(null)).isInstanceOf(NullPointerException.class).hasMessage("hold");

    assertThat(build(builder().callTtl(Duration.ofSeconds(3)).callTerminateHold(Duration.ofMillis(2999)))).isNotNull();
    assertThatThrownBy(() -> build(builder().callTtl(Duration.ofSeconds(3)).callTerminateHold(Duration.ofSeconds(3))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("callTerminateHold must be shorter than callTtl (3 s): a held terminate would expire");
    assertThatThrownBy(() -> build(builder().callTtl(Duration.ofSeconds(1))))
        .as("the default hold of 2 s against a 1 s TTL").isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("callTerminateHold must be shorter than callTtl (1 s)");
  }

  @Test
  void theRetentionIsAtLeastEightDaysSinceMetaRedeliversForSeven() {
    assertThat(build(builder().retention(CallWebhookRelay.MIN_RETENTION))).isNotNull();
    assertThatThrownBy(() -> builder().retention(CallWebhookRelay.MIN_RETENTION.minusMillis(1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("retention must be at least 8 days");
    assertThatThrownBy(() -> builder().retention(null)).isInstanceOf(NullPointerException.class).hasMessage("retention");
  }

  @Test
  void everyLaneNeedsAThreadAndEveryBoundOfConcurrencyIsAtLeastOne() {
    assertThat(build(builder().relayThreads(1, 1).concurrencyPerSubscription(1).concurrencyPerNumber(1))).isNotNull();
    assertThatThrownBy(() -> builder().relayThreads(0, 1)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("each lane needs at least one thread");
    assertThatThrownBy(() -> builder().relayThreads(1, 0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("each lane needs at least one thread");
    assertThatThrownBy(() -> builder().concurrencyPerSubscription(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("concurrencyPerSubscription must be at least 1");
    assertThatThrownBy(() -> builder().concurrencyPerNumber(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("concurrencyPerNumber must be at least 1");
  }

  @Test
  void aNumberMayHaveFromOneToAThousandSubscriptions() {
    assertThat(build(builder().maxSubscriptionsPerNumber(1))).isNotNull();
    assertThat(build(builder().maxSubscriptionsPerNumber(1000))).isNotNull();
    assertThatThrownBy(() -> builder().maxSubscriptionsPerNumber(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxSubscriptionsPerNumber must be from 1 to 1000");
    assertThatThrownBy(() -> builder().maxSubscriptionsPerNumber(1001)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxSubscriptionsPerNumber must be from 1 to 1000");
  }

  @Test
  void theRequiredPartsAreNamedWhenMissing() {
    assertThatThrownBy(() -> builder().build(null, keys, cipher)).isInstanceOf(NullPointerException.class)
        .hasMessage("store");
    assertThatThrownBy(() -> builder().build(Stores.inMemoryRelay(), null, cipher))
        .isInstanceOf(NullPointerException.class).hasMessage("keys");
    assertThatThrownBy(() -> builder().build(Stores.inMemoryRelay(), keys, null))
        .isInstanceOf(NullPointerException.class).hasMessage("cipher");
    assertThatThrownBy(() -> builder().clock(null)).isInstanceOf(NullPointerException.class).hasMessage("clock");
    assertThatThrownBy(() -> builder().transport(null)).isInstanceOf(NullPointerException.class).hasMessage("transport");
    assertThatThrownBy(() -> builder().appSecrets(List.of("a", null))).isInstanceOf(NullPointerException.class);
  }
}

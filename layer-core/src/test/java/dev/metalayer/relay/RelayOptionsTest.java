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
import java.util.function.BiFunction;
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

  /**
   * The option {@code set} takes every value of {@code inside} (the relay builds) and refuses every value
   * of {@code outside} at once, with a message starting {@code message}.
   */
  private <T> void edges(BiFunction<CallWebhookRelay.Builder, T, CallWebhookRelay.Builder> set, List<T> inside,
      List<T> outside, String message) {
    for (T ok : inside) {
      assertThat(build(set.apply(builder(), ok))).as("%s is taken", ok).isNotNull();
    }
    for (T bad : outside) {
      assertThatThrownBy(() -> set.apply(builder(), bad)).as("%s is refused", bad)
          .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith(message);
    }
  }

  @Test
  void theCallTtlIsFromOneSecondToOneHour() {
    edges((b, ttl) -> b.callTerminateHold(Duration.ZERO).callTtl(ttl), List.of(Duration.ofSeconds(1), Duration.ofHours(1)),
        List.of(Duration.ofMillis(999), Duration.ofHours(1).plusMillis(1)), "callTtl must be between 1 second and 1 hour");
    assertThatThrownBy(() -> builder().callTtl(null)).isInstanceOf(NullPointerException.class).hasMessage("ttl");
  }

  @Test
  void theTerminateHoldIsFromZeroToTenSecondsAndShorterThanTheTtl() {
    edges(CallWebhookRelay.Builder::callTerminateHold, List.of(Duration.ZERO, Duration.ofSeconds(10)),
        List.of(Duration.ofMillis(-1), Duration.ofSeconds(10).plusMillis(1)), "callTerminateHold must be between 0 and 10 seconds");
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
    edges(CallWebhookRelay.Builder::retention, List.of(CallWebhookRelay.MIN_RETENTION),
        List.of(CallWebhookRelay.MIN_RETENTION.minusMillis(1)), "retention must be at least 8 days");
    assertThatThrownBy(() -> builder().retention(null)).isInstanceOf(NullPointerException.class).hasMessage("retention");
  }

  @Test
  void everyLaneNeedsAThreadAndEveryBoundOfConcurrencyIsAtLeastOne() {
    edges((b, n) -> b.relayThreads(n, 1), List.of(1), List.of(0), "each lane needs at least one thread");
    edges((b, n) -> b.relayThreads(1, n), List.of(1), List.of(0), "each lane needs at least one thread");
    edges(CallWebhookRelay.Builder::concurrencyPerSubscription, List.of(1), List.of(0),
        "concurrencyPerSubscription must be at least 1");
    edges(CallWebhookRelay.Builder::concurrencyPerNumber, List.of(1), List.of(0), "concurrencyPerNumber must be at least 1");
  }

  @Test
  void aNumberMayHaveFromOneToAThousandSubscriptions() {
    edges(CallWebhookRelay.Builder::maxSubscriptionsPerNumber, List.of(1, 1000), List.of(0, 1001),
        "maxSubscriptionsPerNumber must be from 1 to 1000");
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
  @Test
  void everyOptionReturnsTheBuilderSoThatOptionsChain() {
    CallWebhookRelay.Builder b = builder();
    assertThat(b.metrics(dev.metalayer.metrics.LayerMetrics.none())).isSameAs(b);
    assertThat(b.transport(DeliveryTransport.jdk(EgressGuard.publicOnly()))).isSameAs(b);
    assertThat(b.egressGuard(EgressGuard.publicOnly())).isSameAs(b);
    assertThat(b.random(new SecureRandom())).isSameAs(b);
    assertThat(b.appSecrets(List.of("s"))).isSameAs(b);
    assertThat(b.allowUnsignedWebhooks(true)).isSameAs(b);
    assertThat(b.soleDeliverer(true)).isSameAs(b);
    assertThat(build(b)).isNotNull();
  }
}

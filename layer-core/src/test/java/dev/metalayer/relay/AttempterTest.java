package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.log.WarnLimiter;
import dev.metalayer.metrics.LayerMetrics;
import dev.metalayer.relay.RelayStore.Claimed;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * One attempt on a store of its own, with a transport written for the case: what a transport that
 * breaks its contract (throws instead of answering a failure) leaves in the delivery log.
 */
class AttempterTest {
  final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  final RelayStore store = Stores.inMemoryRelay();
  final DeliveryPolicy policy = new DeliveryPolicy(Duration.ofSeconds(45), () -> 0.5);

  Attempter attempter(DeliveryTransport transport) {
    return new Attempter(store, new TokenCipher(new byte[32], new SecureRandom()), transport, policy, clock,
        new WarnLimiter(clock), LayerMetrics.none());
  }

  Claimed queued() {
    store.insertSubscription(new RelayStore.StoredSubscription(RelayStoreTest.subscription("wh_a", "111"), null));
    store.ingest(new RelayStore.Envelope("env_1", new byte[] {1}, clock.instant()),
        List.of(RelayStoreTest.delivery("dlv_1", "wh_a").createdAt(clock.instant()).maxAttempts(5).build()));
    List<Claimed> claimed =
        store.claimDue(Lane.DEFAULT, clock.instant(), clock.instant().plusSeconds(60), 1, Set.of());
    assertThat(claimed).hasSize(1);
    return claimed.get(0);
  }

  @Test
  void aTransportThatThrowsIsAFailedAttemptNamingTheFailureAndRetried() {
    attempter(request -> {
      throw new IllegalStateException("broken transport");
    }).attempt(queued());

    Delivery d = store.findDelivery("dlv_1").orElseThrow();
    assertThat(d.state()).isEqualTo(DeliveryState.PENDING);
    assertThat(d.attempts()).hasSize(1);
    assertThat(d.attempts().get(0).error()).contains("transport failure: IllegalStateException");
    assertThat(d.attempts().get(0).status()).isEmpty();
    assertThat(d.nextAttemptAt()).get().isNotEqualTo(clock.instant());
  }

  /** The outcome each attempt wrote to the delivery log. */
  List<Object> outcomes(Runnable attempts) {
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logged =
        new ch.qos.logback.core.read.ListAppender<>();
    logged.start();
    ch.qos.logback.classic.Logger deliveries = (ch.qos.logback.classic.Logger) Attempter.deliveries;
    deliveries.addAppender(logged);
    try {
      attempts.run();
    } finally {
      deliveries.detachAppender(logged);
    }
    return logged.list.stream().flatMap(e -> e.getKeyValuePairs().stream()).filter(p -> p.key.equals("outcome"))
        .map(p -> p.value).toList();
  }

  @Test
  void anOutcomeWrittenAfterAnotherClaimTookTheRowIsDroppedAsLeaseLost() {
    Claimed first = queued();
    List<Object> outcomes = outcomes(() -> attempter(request -> {
      // the sender stalls past its lease: another claim takes the row meanwhile
      clock.advance(Duration.ofMinutes(5));
      assertThat(store.claimDue(Lane.DEFAULT, clock.instant(), clock.instant().plusSeconds(60), 1, Set.of())).hasSize(1);
      return new DeliveryTransport.Result.Answered(200, Optional.empty(), "");
    }).attempt(first));

    assertThat(outcomes).containsExactly("lease_lost");
    Delivery d = store.findDelivery("dlv_1").orElseThrow();
    assertThat(d.state()).as("the later claim's outcome stands").isEqualTo(DeliveryState.DELIVERING);
    assertThat(d.attempts()).isEmpty();
  }

  @Test
  void aCallEventWhoseNextRetryWouldComeAfterItsTtlIsLoggedExpired() {
    store.insertSubscription(new RelayStore.StoredSubscription(RelayStoreTest.subscription("wh_a", "111"), null));
    store.ingest(new RelayStore.Envelope("env_1", new byte[] {1}, clock.instant()),
        List.of(callDelivery()));
    Claimed c = store.claimDue(Lane.CALLS, clock.instant(), clock.instant().plusSeconds(60), 1, Set.of()).get(0);

    List<Object> outcomes =
        outcomes(() -> attempter(request -> new DeliveryTransport.Result.Answered(503, Optional.empty(), "")).attempt(c));

    assertThat(outcomes).containsExactly("expired");
    assertThat(store.findDelivery("dlv_c").orElseThrow().state()).isEqualTo(DeliveryState.EXPIRED);
  }

  RelayStore.NewDelivery callDelivery() {
    return RelayStore.NewDelivery.builder().ids("dlv_c", "wh_a", "env_1")
        .change("msg_c", "calls", Lane.CALLS, new byte[] {'{', '}'}).createdAt(clock.instant()).maxAttempts(10)
        .expiresAt(Optional.of(clock.instant().plusMillis(100))).build();
  }

  @Test
  void theRequestGoesToTheSubscriptionsUrlWithItsBodyAndTheLanesTimeout() {
    AtomicReference<DeliveryTransport.Request> sent = new AtomicReference<>();
    attempter(request -> {
      sent.set(request);
      return new DeliveryTransport.Result.Answered(204, Optional.empty(), "");
    }).attempt(queued());

    assertThat(sent.get().url()).hasToString("https://example.com/wh_a");
    assertThat(sent.get().body()).containsExactly('{', '}');
    assertThat(sent.get().timeout()).isEqualTo(policy.timeout(Lane.DEFAULT));
    assertThat(sent.get().headers()).containsEntry("webhook-id", "msg_dlv_1").doesNotContainKey("webhook-signature");
    assertThat(store.findDelivery("dlv_1").orElseThrow().state()).isEqualTo(DeliveryState.DELIVERED);
  }
}

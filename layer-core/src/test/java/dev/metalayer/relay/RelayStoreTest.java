package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.relay.RelayStore.CallEvent;
import dev.metalayer.relay.RelayStore.Claimed;
import dev.metalayer.relay.RelayStore.NewDelivery;
import dev.metalayer.relay.RelayStore.Purged;
import dev.metalayer.store.Stores;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * What the relay's store interface promises on its own: a new delivery's defaults and checks, the
 * call order's ranks, and the shorthand methods every store inherits.
 */
class RelayStoreTest {
  static final Instant T0 = Instant.parse("2026-03-01T10:00:00Z");

  static NewDelivery.Builder delivery(String id, String subscription) {
    return NewDelivery.builder().ids(id, subscription, "env_1").change("msg_" + id, "messages", Lane.DEFAULT,
        new byte[] {'{', '}'}).createdAt(T0);
  }

  static Subscription subscription(String id, String number) {
    return new Subscription(id, number, "n-" + id, "https://example.com/" + id, List.of("messages"), true, false, false,
        T0, T0);
  }

  @Test
  void aNewDeliveryIsPendingAtItsCreationWithOneAttemptUnlessTold() {
    NewDelivery d = delivery("dlv_1", "wh_a").build();

    assertThat(d.state()).isEqualTo(DeliveryState.PENDING);
    assertThat(d.nextAttemptAt()).contains(T0);
    assertThat(d.maxAttempts()).isEqualTo(1);
    assertThat(d.expiresAt()).isEmpty();
    assertThat(d.orderingKey()).isEmpty();
    assertThat(d.owner()).isEmpty();
    assertThat(d.holdUntil()).isEmpty();
    assertThat(d.callEvent()).isEmpty();
    assertThat(d.callRank()).isEqualTo(CallEvent.UNRANKED);
    assertThat(d.id()).isEqualTo("dlv_1");
    assertThat(d.subscriptionId()).isEqualTo("wh_a");
    assertThat(d.envelopeId()).isEqualTo("env_1");
    assertThat(d.webhookId()).isEqualTo("msg_dlv_1");
    assertThat(d.field()).isEqualTo("messages");
    assertThat(d.lane()).isEqualTo(Lane.DEFAULT);
    assertThat(d.createdAt()).isEqualTo(T0);
  }

  @Test
  void aDeliveryExpiredOnArrivalIsRecordedWithoutANextAttempt() {
    NewDelivery d = delivery("dlv_1", "wh_a").expired(true).build();

    assertThat(d.state()).isEqualTo(DeliveryState.EXPIRED);
    assertThat(d.nextAttemptAt()).isEmpty();
  }

  @Test
  void aDeliveryMakesAtLeastOneAttempt() {
    assertThatThrownBy(() -> delivery("dlv_1", "wh_a").maxAttempts(0).build())
        .isInstanceOf(IllegalArgumentException.class).hasMessage("a delivery makes at least one attempt");
    assertThat(delivery("dlv_1", "wh_a").maxAttempts(1).build().maxAttempts()).isEqualTo(1);
    assertThat(delivery("dlv_1", "wh_a").maxAttempts(9).build().maxAttempts()).isEqualTo(9);
  }

  @Test
  void aDeliveryWithoutItsRequiredPartsIsRefused() {
    assertThatThrownBy(() -> NewDelivery.builder().ids("dlv_1", "wh_a", "env_1").createdAt(T0).build())
        .isInstanceOf(NullPointerException.class).hasMessage("webhookId");
    assertThatThrownBy(() -> delivery("dlv_1", "wh_a").createdAt(null).build())
        .isInstanceOf(NullPointerException.class).hasMessage("createdAt");
  }

  @Test
  void aCallsEventsRankOrdersItsDeliveriesConnectStatusTerminateThenTheRest() {
    assertThat(List.of(CallEvent.values())).extracting(CallEvent::rank).containsExactly(0, 1, 2, 3);
    assertThat(List.of(CallEvent.values())).extracting(CallEvent::wire)
        .containsExactly("connect", "status", "terminate", "other");
    assertThat(delivery("dlv_1", "wh_a").callEvent(Optional.of(CallEvent.TERMINATE)).build().callRank()).isEqualTo(2);
    assertThat(delivery("dlv_1", "wh_a").callEvent(Optional.of(CallEvent.CONNECT)).build().callRank()).isZero();
  }

  @Test
  void purgedCountsAddUpKindByKind() {
    assertThat(new Purged(1, 2, 3).plus(new Purged(10, 20, 30))).isEqualTo(new Purged(11, 22, 33));
    assertThat(Purged.NOTHING.plus(Purged.NOTHING)).isEqualTo(Purged.NOTHING);
  }

  @Test
  void theShorthandsOfAStoreIngestWithoutCallEventsAndClaimForAnyInstanceWithoutANumberCap() {
    RelayStore store = Stores.inMemoryRelay();
    store.insertSubscription(new RelayStore.StoredSubscription(subscription("wh_a", "111"), null));
    assertThat(store.findSubscription("wh_a")).isPresent();
    List<NewDelivery> three =
        List.of(delivery("dlv_1", "wh_a").build(), delivery("dlv_2", "wh_a").build(), delivery("dlv_3", "wh_a").build());

    List<String> stored = store.ingest(new RelayStore.Envelope("env_1", new byte[] {1}, T0), three);

    assertThat(stored).containsExactly("dlv_1", "dlv_2", "dlv_3");
    List<Claimed> claimed = store.claimDue(Lane.DEFAULT, T0, T0.plusSeconds(30), 10, Set.of());
    assertThat(claimed).extracting(Claimed::id).containsExactly("dlv_1", "dlv_2", "dlv_3");
    assertThat(store.claimDue(Lane.DEFAULT, T0, T0.plusSeconds(30), 10, 1, Set.of())).isEmpty();
  }

  @Test
  void aDeliveryOwnedByAnInstanceSaysWhich() {
    assertThat(delivery("dlv_1", "wh_a").owner(Optional.of("ins_1")).build().owner()).contains("ins_1");
  }

  @Test
  void theShorthandOfAnUnroutedIngestStoresItsDeliveriesWithoutCallEvents() {
    RelayStore store = Stores.inMemoryRelay();
    store.insertSubscription(new RelayStore.StoredSubscription(subscription("wh_a", "111"), null));

    List<String> stored = store.ingestUnrouted(new RelayStore.Envelope("env_1", new byte[] {1}, T0),
        List.of(delivery("dlv_1", "wh_a").build()));

    assertThat(stored).containsExactly("dlv_1");
    assertThat(store.unrouted(10)).extracting(RelayStore.Envelope::id).containsExactly("env_1");
  }

  /** A store that implements none of the interface's abstract methods: only its defaults answer. */
  static RelayStore defaultsOnly() {
    return (RelayStore) java.lang.reflect.Proxy.newProxyInstance(RelayStore.class.getClassLoader(),
        new Class<?>[] {RelayStore.class}, (proxy, method, args) -> {
          if (method.isDefault()) {
            return java.lang.reflect.InvocationHandler.invokeDefault(proxy, method, args);
          }
          throw new UnsupportedOperationException(method.getName());
        });
  }

  @Test
  void aStoreThatCannotCountItsBacklogReportsAnEmptyOne() {
    assertThat(defaultsOnly().backlog(Lane.CALLS)).isEqualTo(dev.metalayer.metrics.LayerMetrics.Backlog.EMPTY);
  }

  @Test
  void aStoreWithoutWakeUpsListensToNothingAndHasNoBacklogToReport() {
    RelayStore store = Stores.inMemoryRelay();
    RelayStore.Listening listening = store.listen(lane -> {
      throw new AssertionError("no wake-up");
    });
    assertThat(listening).isNotNull();
    listening.close();
  }

  @Test
  void aStoreErrorSaysWhetherAKeyWasTaken() {
    RuntimeException cause = new RuntimeException("unique");
    assertThat(new StoreException("write failed", cause).duplicate()).isFalse();
    assertThat(new StoreException("write failed", cause, true).duplicate()).isTrue();
    assertThat(new StoreException("write failed", cause, true)).hasMessage("write failed").hasCause(cause);
  }
}

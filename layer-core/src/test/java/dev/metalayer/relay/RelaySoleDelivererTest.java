package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.MetaLayer;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A delivery left in flight by a process that stopped (its lease still running, on the real H2 file): a
 * relay that is the store's sole deliverer resumes it at its start; one that shares the store leaves it to
 * its lease, which another instance may still hold. The clock does not move, so no lease expires here.
 */
class RelaySoleDelivererTest {
  @TempDir Path dir;
  final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  RelayHarness h;
  RecordingSubscriber subscriber;
  Subscription s;

  @BeforeEach
  void setUp() {
    h = new RelayHarness(dir, clock);
    subscriber = RecordingSubscriber.start();
    s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/m"), List.of("messages"), null, false);
    h.ingestSigned(RelayTimeRulesTest.message("wamid.inflight"));
    // the process that stopped: its worker had claimed the delivery, under a lease of five minutes
    RelayStore.Claimed claimed = Stores.relay(h.db)
        .claimDue(Lane.DEFAULT, clock.instant(), clock.instant().plus(Duration.ofMinutes(5)), 10, Set.of()).get(0);
    assertThat(h.subscriptions().deliveriesForOperator(s.id(), java.util.Optional.empty(), 10).orElseThrow())
        .singleElement().satisfies(d -> {
          assertThat(d.id()).isEqualTo(claimed.id());
          assertThat(d.state()).isEqualTo(DeliveryState.DELIVERING);
        });
  }

  @AfterEach
  void tearDown() {
    h.close();
    subscriber.close();
  }

  /** The next run of the layer on the same database, started. */
  private CallWebhookRelay nextRun(boolean sole) {
    CallWebhookRelay relay = MetaLayer.builder().keyStore(Stores.inMemoryKeys()).masterKey(RelayHarness.MASTER_KEY)
        .clock(clock).relayStore(Stores.relay(h.db)).egressGuard(EgressGuard.of(false, List.of("127.0.0.0/8")))
        .appSecrets(List.of(RelayHarness.APP_SECRET)).soleDeliverer(sole).build().relay();
    relay.start();
    return relay;
  }

  private DeliveryState state() {
    return h.subscriptions().deliveriesForOperator(s.id(), java.util.Optional.empty(), 10).orElseThrow().get(0).state();
  }

  @Test
  void theSoleDelivererResumesADeliveryLeftInFlightAtItsStart() throws Exception {
    try (CallWebhookRelay relay = nextRun(true)) {
      assertThat(subscriber.await(1, Duration.ofSeconds(10))).as("sent without waiting for the lease").hasSize(1);
    }
  }

  @Test
  void aRelaySharingTheStoreLeavesADeliveryInFlightToItsLease() {
    CallWebhookRelay relay = nextRun(false);
    relay.close();
    assertThat(state()).as("still leased by the instance that claimed it").isEqualTo(DeliveryState.DELIVERING);
    assertThat(subscriber.count()).isZero();
  }
  @Test
  void eachRunOfTheRelayIsAnInstanceOfItsOwn() {
    CallWebhookRelay next = nextRun(false);
    next.close();
    String first = ((WebhookRelay) h.layer.relay()).instanceId();
    assertThat(first).startsWith("ins");
    assertThat(((WebhookRelay) next).instanceId()).startsWith("ins").isNotEqualTo(first);
  }
}

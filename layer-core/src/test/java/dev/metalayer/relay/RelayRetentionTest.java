package dev.metalayer.relay;

import dev.metalayer.relay.CallWebhookRelay.IngestResult;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.MetaLayer;
import dev.metalayer.relay.RelayStore.Purged;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retention through the real relay on H2: what the default 14 days keep and remove, driven by a
 * hand-moved clock and {@code purge()} (the hourly run calls the same).
 */
class RelayRetentionTest {
  @TempDir Path dir;
  MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  RelayHarness h;
  RecordingSubscriber subscriber;

  @BeforeEach
  void setUp() {
    h = new RelayHarness(dir, clock);
    subscriber = RecordingSubscriber.start();
  }

  @AfterEach
  void tearDown() {
    h.close();
    subscriber.close();
  }

  @Test
  void aDeliveredChangeIsKeptThroughMetasRedeliveriesAndPurgedAfterTheRetention() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/m"), List.of("messages"), null, false);
    byte[] change = RelayTimeRulesTest.message("wamid.kept");
    h.ingestSigned(change);
    assertThat(h.layer.relay().runDueNow()).isEqualTo(1);

    clock.advance(Duration.ofDays(7));
    assertThat(h.layer.relay().purge()).isEqualTo(Purged.NOTHING);
    // Meta's last redelivery is still recognised: not sent twice
    assertThat(h.ingestSigned(change)).isEqualTo(new IngestResult.Accepted(1, 0, 1));
    assertThat(h.layer.relay().runDueNow()).isZero();

    clock.advance(Duration.ofDays(7).minusMillis(1)); // 14 days after the delivery, less 1 ms
    assertThat(h.layer.relay().purge()).isEqualTo(Purged.NOTHING);
    clock.advance(Duration.ofMillis(2));
    // the delivery with its attempt, and the first envelope; the redelivery's envelope is 7 days old
    assertThat(h.layer.relay().purge()).isEqualTo(new Purged(1, 1, 1));

    assertThat(h.rows("layer_deliveries")).isZero();
    assertThat(h.rows("layer_attempts")).isZero();
    assertThat(h.rows("layer_envelopes")).isEqualTo(1);
    assertThat(h.subscriptions().deliveries(RelayHarness.PNID_1, s.id(), Optional.empty(), 50).orElseThrow()).isEmpty();
    assertThat(h.subscriptions().find(RelayHarness.PNID_1, s.id())).as("subscriptions are kept").isPresent();
    assertThat(subscriber.count()).isEqualTo(1);
  }

  @Test
  void aPendingDeliveryIsNeverPurgedHoweverOldItIs() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/m"), List.of("messages"), null, false);
    h.ingestSigned(RelayTimeRulesTest.message("wamid.waiting"));

    clock.advance(Duration.ofDays(30)); // nothing ran meanwhile (the layer was stopped)
    assertThat(h.layer.relay().purge()).isEqualTo(Purged.NOTHING);
    assertThat(h.rows("layer_envelopes")).isEqualTo(1);

    assertThat(h.layer.relay().runDueNow()).isEqualTo(1);
    assertThat(subscriber.count()).isEqualTo(1);
    List<Delivery> log = h.subscriptions().deliveries(RelayHarness.PNID_1, s.id(), Optional.empty(), 50).orElseThrow();
    assertThat(log).extracting(Delivery::state).containsExactly(DeliveryState.DELIVERED);
    // once finished, its retention starts
    clock.advance(Duration.ofDays(14).plusMillis(1));
    assertThat(h.layer.relay().purge()).isEqualTo(new Purged(1, 1, 1));
  }

  @Test
  void aRetentionShorterThanMetasRedeliveryWindowIsRefused() {
    MetaLayer.Builder builder = MetaLayer.builder();
    assertThatThrownBy(() -> builder.retention(Duration.ofDays(8).minusSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least 8 days")
        .hasMessageContaining("7 days");
    assertThat(builder.retention(Duration.ofDays(8))).isSameAs(builder);
    assertThat(CallWebhookRelay.MIN_RETENTION).isEqualTo(Duration.ofDays(8));
  }

  /**
   * A purge goes on in batches of {@link DeliveryEngine#PURGE_BATCH} while a batch comes back full, of
   * deliveries or of envelopes: more history than one batch is removed in one run. On the in-memory
   * store, with call events recorded expired at ingest, so that nothing is sent.
   */
  @Test
  void aPurgeRemovesMoreThanOneBatchOfDeliveriesOrOfEnvelopes() {
    MetaLayer layer = MetaLayer.builder().keyStore(dev.metalayer.store.Stores.inMemoryKeys())
        .masterKey(RelayHarness.MASTER_KEY).clock(clock).relayStore(dev.metalayer.store.Stores.inMemoryRelay())
        .egressGuard(EgressGuard.of(false, List.of("127.0.0.0/8"))).appSecrets(List.of(RelayHarness.APP_SECRET))
        .build();
    try {
      layer.keys().addNumber("+13175551399", RelayHarness.PNID_1, RelayHarness.WABA_1, "900", "EAAG-token-1");
      for (String path : List.of("/a", "/b")) {
        layer.relay().subscriptions().create(RelayHarness.PNID_1,
            new WebhookSubscriptions.Spec("t" + path, subscriber.url(path), List.of("calls"), null, false, null));
      }
      int calls = DeliveryEngine.PURGE_BATCH / 2 + 1; // two deliveries each: more than a batch, in fewer envelopes
      for (int i = 0; i < calls; i++) {
        ingest(layer, RelayTimeRulesTest.callEvent("wacid.P" + i, "connect", clock.instant().minus(Duration.ofMinutes(10))));
      }
      clock.advance(Duration.ofDays(15));
      assertThat(layer.relay().purge()).isEqualTo(new Purged(2 * calls, 0, calls));

      for (int i = 0; i <= DeliveryEngine.PURGE_BATCH; i++) { // no subscription to messages: envelopes only
        ingest(layer, RelayTimeRulesTest.message("wamid.P" + i));
      }
      clock.advance(Duration.ofDays(15));
      assertThat(layer.relay().purge()).isEqualTo(new Purged(0, 0, DeliveryEngine.PURGE_BATCH + 1));
      assertThat(subscriber.count()).isZero();
    } finally {
      layer.close();
    }
  }

  /**
   * The purge marks calls left ringing expired in batches of {@link DeliveryEngine#PURGE_BATCH} while a
   * batch comes back full: one more than a batch are all expired in one run, not the last at the next hour.
   */
  @Test
  void aPurgeExpiresMoreThanOneBatchOfCallsLeftRinging() {
    List<String> changes = new java.util.ArrayList<>();
    for (int i = 0; i <= DeliveryEngine.PURGE_BATCH; i++) { // one envelope (Meta batches up to 1,000 call updates)
      changes.add("{\"field\":\"calls\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{"
          + "\"display_phone_number\":\"13175551399\",\"phone_number_id\":\"" + RelayHarness.PNID_1 + "\"},\"calls\":"
          + "[{\"id\":\"wacid.Ring" + i + "\",\"from\":\"12185552828\",\"to\":\"13175551399\",\"event\":\"connect\","
          + "\"timestamp\":\"" + clock.instant().getEpochSecond() + "\",\"direction\":\"USER_INITIATED\"}]}}");
    }
    h.ingestSigned(("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + RelayHarness.WABA_1
        + "\",\"changes\":[" + String.join(",", changes) + "]}]}").getBytes(java.nio.charset.StandardCharsets.UTF_8));
    assertThat(h.layer.calls().store().find(RelayHarness.PNID_1, "wacid.Ring0").orElseThrow().state())
        .isEqualTo(dev.metalayer.calls.CallStore.State.RINGING);

    clock.advance(Duration.ofMinutes(11)); // past the ringing bound, well within the retention
    h.layer.relay().purge();

    for (int i = 0; i <= DeliveryEngine.PURGE_BATCH; i++) {
      assertThat(h.layer.calls().store().find(RelayHarness.PNID_1, "wacid.Ring" + i).orElseThrow().state())
          .as("wacid.Ring" + i).isEqualTo(dev.metalayer.calls.CallStore.State.EXPIRED);
    }
  }

  /**
   * The hourly purge of a running relay goes on while batches come back full, as {@code purge()} does:
   * more history than one batch is removed in one scheduled run. The first run is made to come at once
   * (in the layer, a minute after the start).
   */
  @Test
  void theScheduledPurgeOfARunningRelayRemovesMoreThanOneBatch() throws InterruptedException {
    for (int i = 0; i <= DeliveryEngine.PURGE_BATCH; i++) { // no subscription: envelopes only
      h.ingestSigned(RelayTimeRulesTest.message("wamid.S" + i));
    }
    clock.advance(Duration.ofDays(15));
    CallWebhookRelay relay = h.relayWith(new DeliveryEngine.Timing(DeliveryEngine.MAX_IDLE, Duration.ZERO));
    try {
      relay.start();
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (h.rows("layer_envelopes") > 0 && System.nanoTime() < deadline) {
        Thread.sleep(20); // a poll interval: the purge runs on the relay's housekeeping thread
      }
      assertThat(h.rows("layer_envelopes")).isZero();
    } finally {
      relay.close();
    }
  }

  private static void ingest(MetaLayer layer, byte[] body) {
    assertThat(layer.relay().ingest(body, dev.metalayer.testing.MetaFixtures.metaSignature(RelayHarness.APP_SECRET, body)))
        .isInstanceOf(IngestResult.Accepted.class);
  }
}

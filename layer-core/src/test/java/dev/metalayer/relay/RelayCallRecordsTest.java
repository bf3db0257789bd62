package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.MetaLayer;
import dev.metalayer.calls.CallStore;
import dev.metalayer.calls.CallStore.State;
import dev.metalayer.calls.Calls;
import dev.metalayer.relay.CallWebhookRelay.IngestResult;
import dev.metalayer.store.Database;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Call records through the real relay on an H2 file, with a real subscriber: written in the ingest's
 * transaction, shown with their deliveries, kept once per Meta redelivery, purged with the retention.
 */
class RelayCallRecordsTest {
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

  byte[] call(String wacid, String event) {
    return RelayTimeRulesTest.callEvent(wacid, event, clock.instant());
  }

  /** Meta batches at most 1,000 call updates: an envelope holding more records the first 1,000, and the rest only as deliveries. */
  @Test
  void anEnvelopeRecordsAtMostOneThousandCallEvents() {
    List<String> changes = new java.util.ArrayList<>();
    for (int i = 0; i <= Router.MAX_CALL_EVENTS; i++) {
      changes.add("{\"field\":\"calls\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{"
          + "\"display_phone_number\":\"13175551399\",\"phone_number_id\":\"" + RelayHarness.PNID_1 + "\"},\"calls\":"
          + "[{\"id\":\"wacid.Cap" + i + "\",\"from\":\"12185552828\",\"to\":\"13175551399\",\"event\":\"connect\","
          + "\"timestamp\":\"" + clock.instant().getEpochSecond() + "\",\"direction\":\"USER_INITIATED\"}]}}");
    }
    byte[] body = ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + RelayHarness.WABA_1
        + "\",\"changes\":[" + String.join(",", changes) + "]}]}").getBytes(StandardCharsets.UTF_8);

    h.ingestSigned(body);

    assertThat(h.layer.calls().view(RelayHarness.PNID_1, "wacid.Cap0")).isPresent();
    assertThat(h.layer.calls().view(RelayHarness.PNID_1, "wacid.Cap" + (Router.MAX_CALL_EVENTS - 1))).isPresent();
    assertThat(h.layer.calls().view(RelayHarness.PNID_1, "wacid.Cap" + Router.MAX_CALL_EVENTS)).as("over the bound")
        .isEmpty();
  }

  @Test
  void aCallsWebhooksMakeItsRecordWithTheirDeliveriesAndTheSdpIsNotKept() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/calls"), List.of("calls"), null, false);
    h.ingestSigned(call("wacid.R1", "connect"));
    assertThat(h.layer.relay().runDueNow()).isEqualTo(1);
    clock.advance(Duration.ofSeconds(30));
    h.ingestSigned(call("wacid.R1", "terminate"));
    assertThat(h.layer.relay().runDueNow()).isEqualTo(1);

    Calls.View view = h.layer.calls().view(RelayHarness.PNID_1, "wacid.R1").orElseThrow();
    assertThat(view.call().state()).isEqualTo(State.TERMINATED);
    assertThat(view.call().direction()).contains(CallStore.Direction.USER_INITIATED);
    assertThat(view.call().userWaId()).contains("16315553602");
    assertThat(view.timeline()).extracting(CallStore.Event::name).containsExactly("connect", "terminate");
    assertThat(view.timeline()).allSatisfy(e -> assertThat(e.detail().orElse("")).doesNotContain("v=0"));
    assertThat(view.deliveries()).extracting(CallStore.DeliveryEntry::subscriptionId).containsExactly(s.id(), s.id());
    assertThat(view.deliveries()).extracting(CallStore.DeliveryEntry::state).containsExactly("delivered", "delivered");
    assertThat(view.deliveries()).allSatisfy(d -> assertThat(d.lastAttemptAt()).isPresent());
    assertThat(subscriber.count()).isEqualTo(2);
    assertThat(h.layer.calls().view(RelayHarness.PNID_2, "wacid.R1")).as("another number's view").isEmpty();

    // Meta redelivers the connect: one event still, and no second delivery
    h.ingestSigned(RelayTimeRulesTest.callEvent("wacid.R1", "connect", clock.instant().minusSeconds(30)));
    assertThat(h.layer.calls().view(RelayHarness.PNID_1, "wacid.R1").orElseThrow().timeline()).hasSize(2);
  }

  @Test
  void aCallIsRecordedWithoutAnySubscriberButNotForANumberTheLayerDoesNotKnow() {
    h.ingestSigned(call("wacid.R2", "connect"));
    assertThat(h.layer.calls().view(RelayHarness.PNID_1, "wacid.R2").orElseThrow().call().state())
        .isEqualTo(State.RINGING);

    byte[] unknown = new String(call("wacid.R3", "connect"), StandardCharsets.UTF_8)
        .replace(RelayHarness.PNID_1, "999999999999").getBytes(StandardCharsets.UTF_8);
    h.ingestSigned(unknown);
    assertThat(h.rows("layer_calls")).isEqualTo(1);
  }

  @Test
  void aCallLeftRingingExpiresOnReadAndTheRetentionRemovesOldRecords() {
    h.ingestSigned(call("wacid.R4", "connect"));
    clock.advance(Duration.ofMinutes(10).minusMillis(1));
    assertThat(h.layer.calls().view(RelayHarness.PNID_1, "wacid.R4").orElseThrow().call().state())
        .isEqualTo(State.RINGING);
    clock.advance(Duration.ofMillis(1));
    Calls.View view = h.layer.calls().view(RelayHarness.PNID_1, "wacid.R4").orElseThrow();
    assertThat(view.call().state()).isEqualTo(State.EXPIRED);
    assertThat(view.timeline()).extracting(CallStore.Event::actor).containsExactly("meta", "layer");
    assertThat(h.layer.calls().list(new CallStore.Query(Optional.of(RelayHarness.PNID_1), Set.of(State.RINGING),
        Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), 10)).calls()).isEmpty();

    // the hourly purge marks the others expired, and removes what the retention no longer keeps
    h.ingestSigned(call("wacid.R5", "connect"));
    clock.advance(Duration.ofMinutes(11));
    h.layer.relay().purge();
    assertThat(h.layer.calls().store().find(RelayHarness.PNID_1, "wacid.R5").orElseThrow().state())
        .isEqualTo(State.EXPIRED);
    clock.advance(Duration.ofDays(14));
    h.layer.relay().purge();
    assertThat(h.rows("layer_calls")).isZero();
    assertThat(h.rows("layer_call_events")).isZero();
  }

  @Test
  void aPermissionGrantForgetsTheRefusalsItEndsOnceTheIngestIsStored() {
    CallStore store = h.layer.calls().store();
    store.remember(new CallStore.Limit(RelayHarness.PNID_1, "12185552828", Calls.CONNECT, 138006, 401, "{}",
        clock.instant(), clock.instant().plus(Duration.ofDays(1))));
    byte[] envelope = MetaFixtures.bytes("multi-entry.json");

    h.ingestSigned(envelope);

    assertThat(store.rememberedFor(RelayHarness.PNID_1, "12185552828", clock.instant())).isEmpty();
    assertThat(store.find(RelayHarness.PNID_1, "wacid.HBgLMTIxODU1NTI4MjgVAgARGCAyODRQIAFRoA")).isPresent();
  }

  /** Meta's ACCEPTED status of a business-initiated call: the connected call resets Meta's permission-request limits. */
  @Test
  void aConnectedCallForgetsTheRefusedPermissionRequestsOfItsUser() {
    CallStore store = h.layer.calls().store();
    Instant now = clock.instant();
    store.remember(new CallStore.Limit(RelayHarness.PNID_1, "12185552828", Calls.PERMISSION_REQUEST, 138009, 400, "{}",
        now, now.plus(Duration.ofDays(1))));
    store.remember(new CallStore.Limit(RelayHarness.PNID_1, "12185550000", Calls.PERMISSION_REQUEST, 138009, 400, "{}",
        now, now.plus(Duration.ofDays(1))));
    String accepted = "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + RelayHarness.WABA_1
        + "\",\"changes\":[{\"field\":\"calls\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":"
        + "{\"display_phone_number\":\"13175551399\",\"phone_number_id\":\"" + RelayHarness.PNID_1 + "\"},"
        + "\"statuses\":[{\"id\":\"wacid.B1\",\"type\":\"call\",\"status\":\"ACCEPTED\",\"timestamp\":\""
        + now.getEpochSecond() + "\",\"recipient_id\":\"12185552828\"}]}}]}]}";

    h.ingestSigned(accepted.getBytes(java.nio.charset.StandardCharsets.UTF_8));

    assertThat(store.rememberedFor(RelayHarness.PNID_1, "12185552828", now)).isEmpty();
    assertThat(store.rememberedFor(RelayHarness.PNID_1, "12185550000", now)).as("another user's stays").hasSize(1);
    assertThat(store.find(RelayHarness.PNID_1, "wacid.B1").orElseThrow().state()).isEqualTo(CallStore.State.ACCEPTED);
  }

  /**
   * The database fails the ingest's commit: Meta is answered 503, and neither the envelope nor the
   * call's record exists; Meta's retry then stores both and the subscriber gets the call once.
   */
  @Test
  void aFailedIngestLeavesNoCallRecordAndMetasRetryStoresBoth() {
    h.close();
    AtomicBoolean failCommit = new AtomicBoolean();
    JdbcConnectionPool pool = JdbcConnectionPool.create("jdbc:h2:file:" + dir.resolve("failing") + ";WRITE_DELAY=0",
        "sa", "");
    DataSource failing = failingCommits(pool, failCommit);
    MetaLayer layer = MetaLayer.builder().keyStore(Stores.inMemoryKeys()).masterKey(RelayHarness.MASTER_KEY).clock(clock)
        .relayStore(Stores.relay(Database.open(failing)))
        .egressGuard(EgressGuard.of(false, List.of("127.0.0.0/8"))).appSecrets(List.of(RelayHarness.APP_SECRET)).build();
    try {
      layer.keys().addNumber("+13175551399", RelayHarness.PNID_1, RelayHarness.WABA_1, "900", "EAAG-token-1");
      layer.relay().subscriptions().create(RelayHarness.PNID_1, new WebhookSubscriptions.Spec("t",
          subscriber.url("/calls"), List.of("calls"), null, false, null));
      byte[] connect = call("wacid.R6", "connect");
      String signature = MetaFixtures.metaSignature(RelayHarness.APP_SECRET, connect);

      failCommit.set(true);
      IngestResult refused = layer.relay().ingest(connect, signature);
      failCommit.set(false);

      assertThat(refused).isInstanceOf(IngestResult.Refused.class);
      assertThat(((IngestResult.Refused) refused).reason()).isEqualTo(IngestResult.Reason.STORE_UNAVAILABLE);
      assertThat(layer.calls().view(RelayHarness.PNID_1, "wacid.R6")).isEmpty();
      assertThat(layer.calls().store().timeline(RelayHarness.PNID_1, "wacid.R6")).isEmpty();
      assertThat(layer.relay().runDueNow()).isZero();

      // the store answers again, but until STORE_PROBE has passed a webhook is refused without asking it
      clock.advance(WebhookRelay.STORE_PROBE.minusMillis(1));
      IngestResult tooSoon = layer.relay().ingest(connect, signature);
      assertThat(tooSoon).isInstanceOf(IngestResult.Refused.class);
      assertThat(((IngestResult.Refused) tooSoon).reason()).isEqualTo(IngestResult.Reason.STORE_UNAVAILABLE);
      assertThat(layer.calls().view(RelayHarness.PNID_1, "wacid.R6")).isEmpty();
      clock.advance(Duration.ofMillis(1));
      assertThat(layer.relay().ingest(connect, signature)).isInstanceOf(IngestResult.Accepted.class);
      assertThat(layer.calls().view(RelayHarness.PNID_1, "wacid.R6").orElseThrow().call().state())
          .isEqualTo(State.RINGING);
      assertThat(layer.relay().runDueNow()).isEqualTo(1);
      assertThat(subscriber.count()).isEqualTo(1);
    } finally {
      layer.close();
      pool.dispose();
    }
  }

  /**
   * {@code real}, whose transactions that store an envelope fail to commit while {@code fail} is set (the
   * store then rolls them back).
   */
  static DataSource failingCommits(DataSource real, AtomicBoolean fail) {
    return (DataSource) Proxy.newProxyInstance(DataSource.class.getClassLoader(), new Class<?>[] {DataSource.class},
        (proxy, method, args) -> {
          Object result = invoke(real, method, args);
          if (!method.getName().equals("getConnection")) {
            return result;
          }
          Connection c = (Connection) result;
          AtomicBoolean storesAnEnvelope = new AtomicBoolean();
          return Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
              (p, m, a) -> {
                if (m.getName().equals("prepareStatement") && String.valueOf(a[0]).contains("INTO layer_envelopes")) {
                  storesAnEnvelope.set(true);
                }
                // only the transaction that stores the envelope fails: a call record written apart would stay
                if (m.getName().equals("commit") && fail.get() && storesAnEnvelope.get()) {
                  throw new SQLException("the disk is full (simulated)", "53100");
                }
                if (m.getName().equals("commit") || m.getName().equals("rollback")) {
                  storesAnEnvelope.set(false);
                }
                return invoke(c, m, a);
              });
        });
  }

  private static Object invoke(Object target, java.lang.reflect.Method method, Object[] args) throws Throwable {
    try {
      return method.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }
}

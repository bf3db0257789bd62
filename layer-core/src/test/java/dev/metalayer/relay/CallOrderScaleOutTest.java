package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.metalayer.MetaLayer;
import dev.metalayer.relay.CallWebhookRelay.IngestResult;
import dev.metalayer.relay.WebhookSubscriptions.Outcome;
import dev.metalayer.relay.WebhookSubscriptions.Spec;
import dev.metalayer.store.Database;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import dev.metalayer.testing.RecordingSubscriber.Answer;
import dev.metalayer.testing.TestDatabases;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The call order across two instances on one PostgreSQL schema: a terminate claimed by one instance
 * while the other ingests its connect never lets that connect reach the subscriber after the terminate.
 * Real PostgreSQL, a real subscriber, the shared clock moved by hand, each engine driven by
 * {@code runDueNow()} on its own thread.
 */
class CallOrderScaleOutTest {
  static final Duration HOLD = CallWebhookRelay.DEFAULT_TERMINATE_HOLD;
  TestDatabases.PgSchema pg;
  final List<HikariDataSource> pools = new ArrayList<>();
  final List<MetaLayer> layers = new ArrayList<>();
  final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  RecordingSubscriber subscriber;
  /** What arrived at the subscriber, as "event wacid", in the order the requests came in. */
  final List<String> arrivals = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() {
    pg = TestDatabases.postgres();
    subscriber = RecordingSubscriber.start();
  }

  @AfterEach
  void tearDown() {
    layers.forEach(l -> l.relay().close());
    subscriber.close();
    pools.forEach(HikariDataSource::close);
    pg.close();
  }

  MetaLayer instance() {
    HikariDataSource pool = pg.pool(8);
    pools.add(pool);
    Database db = Database.open(pool);
    MetaLayer layer = MetaLayer.builder()
        .keyStore(Stores.keys(db))
        .masterKey(RelayHarness.MASTER_KEY)
        .clock(clock)
        .relayStore(Stores.relay(db))
        .egressGuard(EgressGuard.of(false, List.of("127.0.0.0/8")))
        .appSecrets(List.of(RelayHarness.APP_SECRET))
        .build();
    if (layers.isEmpty()) {
      layer.keys().addNumber("+13175551399", RelayHarness.PNID_1, RelayHarness.WABA_1, "900", "EAAG-token-1");
    }
    layers.add(layer);
    return layer;
  }

  Subscription subscribe(MetaLayer layer) {
    Outcome o = layer.relay().subscriptions().create(RelayHarness.PNID_1,
        new Spec("calls", subscriber.url("/calls"), List.of("calls"), null, false, null));
    return ((Outcome.Saved) o).subscription();
  }

  void ingest(MetaLayer layer, String callId, String event) {
    byte[] body = RelayTimeRulesTest.callEvent(callId, event, clock.instant());
    IngestResult r = layer.relay().ingest(body, MetaFixtures.metaSignature(RelayHarness.APP_SECRET, body));
    assertThat(r).isInstanceOf(IngestResult.Accepted.class);
  }

  void record(RecordingSubscriber.Received r) {
    String t = r.text();
    arrivals.add((t.contains("\"event\":\"connect\"") ? "connect " : "terminate ") + CallOrderTest.callId(t));
  }

  List<String> arrivalsOf(String callId) {
    return arrivals.stream().filter(a -> a.endsWith(" " + callId)).map(a -> a.split(" ")[0]).toList();
  }

  @Test
  void aConnectIngestedByOneInstanceWhileTheOtherSendsItsTerminateIsSupersededNeverSent() throws Exception {
    MetaLayer a = instance();
    MetaLayer b = instance();
    Subscription s = subscribe(a);
    CountDownLatch sending = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    subscriber.answer(r -> {
      record(r);
      sending.countDown();
      try {
        release.await(10, TimeUnit.SECONDS); // the terminate is in flight at A while B ingests
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return Answer.of(200);
    });
    ingest(a, "wacid.X", "terminate");
    clock.advance(HOLD);
    Thread attempt = new Thread(() -> a.relay().runDueNow(), "instance-a");
    attempt.start();
    assertThat(sending.await(10, TimeUnit.SECONDS)).isTrue();

    ingest(b, "wacid.X", "connect");
    assertThat(b.relay().runDueNow()).isZero();
    release.countDown();
    attempt.join(10_000);
    b.relay().runDueNow();
    a.relay().runDueNow();

    assertThat(arrivalsOf("wacid.X")).containsExactly("terminate");
    Map<DeliveryState, Long> states = b.relay().subscriptions()
        .deliveries(s.phoneNumberId(), s.id(), Optional.empty(), 50).orElseThrow().stream()
        .collect(Collectors.groupingBy(Delivery::state, Collectors.counting()));
    assertThat(states).isEqualTo(Map.of(DeliveryState.DELIVERED, 1L, DeliveryState.SUPERSEDED, 1L));
  }

  @Test
  void racingAClaimOfTheTerminateAgainstTheConnectsIngestNeverSendsTheConnectAfterTheTerminate() throws Exception {
    MetaLayer a = instance();
    MetaLayer b = instance();
    Subscription s = subscribe(a);
    subscriber.answer(r -> {
      record(r);
      return Answer.of(200);
    });
    int calls = 25;
    for (int i = 0; i < calls; i++) {
      String id = "wacid.R" + i;
      ingest(a, id, "terminate");
      clock.advance(HOLD); // due now: the claim at A and the ingest at B race
      CyclicBarrier start = new CyclicBarrier(2);
      Thread claimA = new Thread(() -> {
        await(start);
        a.relay().runDueNow();
      });
      Thread ingestB = new Thread(() -> {
        await(start);
        ingest(b, id, "connect");
        b.relay().runDueNow();
      });
      claimA.start();
      ingestB.start();
      claimA.join(20_000);
      ingestB.join(20_000);
      a.relay().runDueNow();
      b.relay().runDueNow();
    }

    int superseded = 0;
    for (int i = 0; i < calls; i++) {
      List<String> seen = arrivalsOf("wacid.R" + i);
      // connect then terminate, or the terminate alone (its connect superseded): never a late ring
      assertThat(seen).as("wacid.R%d", i).isIn(List.of("connect", "terminate"), List.of("terminate"));
      superseded += seen.size() == 1 ? 1 : 0;
    }
    List<Delivery> log = a.relay().subscriptions().deliveries(s.phoneNumberId(), s.id(), Optional.empty(), 200)
        .orElseThrow();
    assertThat(log).extracting(Delivery::state).containsOnly(DeliveryState.DELIVERED, DeliveryState.SUPERSEDED);
    assertThat(log.stream().filter(d -> d.state() == DeliveryState.SUPERSEDED).count()).isEqualTo(superseded);
    System.out.printf("Call order race on PostgreSQL: %d of %d connects superseded, %d delivered before their"
        + " terminate%n", superseded, calls, calls - superseded);
  }

  static void await(CyclicBarrier barrier) {
    try {
      barrier.await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}

package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.metalayer.MetaLayer;
import dev.metalayer.relay.CallWebhookRelay.IngestResult;
import dev.metalayer.relay.RelayStore.Claimed;
import dev.metalayer.relay.WebhookSubscriptions.Outcome;
import dev.metalayer.relay.WebhookSubscriptions.Spec;
import dev.metalayer.store.Database;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import dev.metalayer.testing.RecordingSubscriber.Answer;
import dev.metalayer.testing.TestDatabases;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Several layer instances on one real PostgreSQL schema, in one JVM: each a {@link MetaLayer} with its
 * own pool, store and delivery engine, as separate processes would be; real subscribers on loopback.
 * Where time matters the instances share a {@link MutableClock} and are driven by {@code runDueNow()}.
 */
class ScaleOutTest {
  static final Duration WAIT = Duration.ofSeconds(15);
  static final String PNID_1 = RelayHarness.PNID_1;
  static final String PNID_2 = RelayHarness.PNID_2;

  TestDatabases.PgSchema pg;
  final List<HikariDataSource> pools = new ArrayList<>();
  final List<MetaLayer> layers = new ArrayList<>();
  final List<RecordingSubscriber> subscribers = new ArrayList<>();
  /** The bodies each instance claimed, by instance (its index in {@link #layers}). */
  final Map<Integer, List<String>> claimedBy = new ConcurrentHashMap<>();
  /** Calls of {@code claimDue} in the default lane, by instance. */
  final Map<Integer, AtomicInteger> claimCalls = new ConcurrentHashMap<>();
  MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");

  @BeforeEach
  void setUp() {
    pg = TestDatabases.postgres();
  }

  @AfterEach
  void tearDown() {
    for (MetaLayer l : layers) {
      l.relay().close();
    }
    subscribers.forEach(RecordingSubscriber::close);
    pools.forEach(HikariDataSource::close);
    pg.close();
  }

  /** A fault of a store as one instance sees it: runs before each call; true skips the call (a crash). */
  @FunctionalInterface
  interface Fault {
    boolean before(String method) throws Exception;
  }

  static final Fault NONE = m -> false;

  /** A new instance on the schema; the first one registers the two numbers. */
  MetaLayer instance(Clock c, Fault fault, int callsThreads, int defaultThreads) {
    HikariDataSource pool = pg.pool(8);
    pools.add(pool);
    Database db = Database.open(pool);
    int index = layers.size();
    claimedBy.put(index, new CopyOnWriteArrayList<>());
    claimCalls.put(index, new AtomicInteger());
    RelayStore store = observed(Stores.relay(db), index, fault);
    MetaLayer layer = MetaLayer.builder()
        .keyStore(Stores.keys(db))
        .masterKey(RelayHarness.MASTER_KEY)
        .clock(c)
        .relayStore(store)
        .egressGuard(EgressGuard.of(false, List.of("127.0.0.0/8")))
        .appSecrets(List.of(RelayHarness.APP_SECRET))
        .relayThreads(callsThreads, defaultThreads)
        .build();
    if (layers.isEmpty()) {
      layer.keys().addNumber("+13175551399", PNID_1, RelayHarness.WABA_1, "900", "EAAG-token-1");
      layer.keys().addNumber("+15550783881", PNID_2, RelayHarness.WABA_2, "900", "EAAG-token-2");
    }
    layers.add(layer);
    return layer;
  }

  MetaLayer instance(Clock c) {
    return instance(c, NONE, 16, 16);
  }

  /** The store with {@code fault} before each call, recording the bodies this instance claims. */
  RelayStore observed(RelayStore store, int index, Fault fault) {
    return (RelayStore) Proxy.newProxyInstance(RelayStore.class.getClassLoader(), new Class<?>[] {RelayStore.class},
        (proxy, method, args) -> {
          if (fault.before(method.getName())) {
            return null;
          }
          Object result;
          try {
            result = method.invoke(store, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
          if (method.getName().equals("claimDue")) {
            if (args[0] == Lane.DEFAULT) {
              claimCalls.get(index).incrementAndGet();
            }
            for (Object c : (List<?>) result) {
              claimedBy.get(index).add(new String(((Claimed) c).body(), StandardCharsets.UTF_8));
            }
          }
          return result;
        });
  }

  RecordingSubscriber subscriber() {
    RecordingSubscriber s = RecordingSubscriber.start();
    subscribers.add(s);
    return s;
  }

  static Subscription subscribe(MetaLayer layer, String pnid, String url, List<String> events) {
    Outcome o = layer.relay().subscriptions().create(pnid, new Spec("test " + url, url, events, null, false, null));
    assertThat(o).isInstanceOf(Outcome.Saved.class);
    return ((Outcome.Saved) o).subscription();
  }

  static void ingest(MetaLayer layer, byte[] body) {
    IngestResult r = layer.relay().ingest(body, MetaFixtures.metaSignature(RelayHarness.APP_SECRET, body));
    assertThat(r).isInstanceOf(IngestResult.Accepted.class);
  }

  static byte[] message(String pnid, String id) {
    boolean first = pnid.equals(PNID_1);
    return ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\""
        + (first ? RelayHarness.WABA_1 : RelayHarness.WABA_2) + "\",\"changes\":[{\"field\":\"messages\",\"value\":{"
        + "\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\""
        + (first ? "13175551399" : "15550783881") + "\",\"phone_number_id\":\"" + pnid + "\"},\"messages\":[{\"from\":"
        + "\"16315553602\",\"id\":\"" + id + "\",\"timestamp\":\"1749196801\",\"type\":\"text\",\"text\":{\"body\":"
        + "\"hi\"}}]}}]}]}").getBytes(StandardCharsets.UTF_8);
  }

  static Delivery only(MetaLayer layer, Subscription s) {
    List<Delivery> all =
        layer.relay().subscriptions().deliveries(s.phoneNumberId(), s.id(), Optional.empty(), 50).orElseThrow();
    assertThat(all).hasSize(1);
    return all.get(0);
  }

  static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within " + WAIT + ": " + what);
      }
      Thread.sleep(10);
    }
  }

  static Thread inBackground(Runnable r) {
    Thread t = new Thread(r, "stalled-instance");
    t.setDaemon(true);
    t.start();
    return t;
  }

  // ---- a claim that lost its lease

  @Test
  void anAttemptStalledPastItsLeaseSendsNothingOnceAnotherInstanceTookItOver() throws Exception {
    CountDownLatch stalled = new CountDownLatch(1);
    CountDownLatch resume = new CountDownLatch(1);
    java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean();
    // instance 1 stalls between its claim and its send (a long GC pause, a frozen VM)
    MetaLayer one = instance(clock, m -> {
      if (m.equals("findSubscription") && armed.compareAndSet(true, false)) {
        stalled.countDown();
        resume.await();
      }
      return false;
    }, 2, 2);
    MetaLayer two = instance(clock);
    RecordingSubscriber app = subscriber();
    Subscription s = subscribe(two, PNID_1, app.url("/m"), List.of("messages"));
    ingest(two, message(PNID_1, "wamid.1"));
    armed.set(true);

    Thread first = inBackground(() -> one.relay().runDueNow());
    assertThat(stalled.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
    clock.advance(new DeliveryPolicy(Duration.ofSeconds(45), () -> 0.5).lease(Lane.DEFAULT).plusSeconds(1));
    assertThat(two.relay().runDueNow()).isEqualTo(1);
    resume.countDown();
    first.join(WAIT.toMillis());

    assertThat(first.isAlive()).isFalse();
    assertThat(app.count()).as("sent once, by the instance that took it over").isEqualTo(1);
    Delivery d = only(two, s);
    assertThat(d.state()).isEqualTo(DeliveryState.DELIVERED);
    assertThat(d.attempts()).hasSize(1);
  }

  @Test
  void aSlowAttemptEndingAfterTheTakeoverDoesNotOverwriteTheLaterResult() throws Exception {
    MetaLayer one = instance(clock);
    MetaLayer two = instance(clock);
    RecordingSubscriber app = subscriber();
    CountDownLatch arrived = new CountDownLatch(1);
    CountDownLatch answer = new CountDownLatch(1);
    AtomicInteger requests = new AtomicInteger();
    app.answer(r -> {
      if (requests.incrementAndGet() > 1) {
        return Answer.of(200);
      }
      arrived.countDown();
      try {
        answer.await(); // the first attempt hangs (under its 15 s deadline), then fails
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return Answer.of(500);
    });
    Subscription s = subscribe(one, PNID_1, app.url("/m"), List.of("messages"));
    ingest(one, message(PNID_1, "wamid.1"));

    Thread slow = inBackground(() -> one.relay().runDueNow());
    assertThat(arrived.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
    clock.advance(Duration.ofSeconds(31)); // the default lane's 30 s lease ran out
    assertThat(two.relay().runDueNow()).isEqualTo(1);
    answer.countDown();
    slow.join(WAIT.toMillis());

    Delivery d = only(one, s);
    assertThat(d.state()).isEqualTo(DeliveryState.DELIVERED);
    assertThat(d.attempts()).as("the slow 500 is dropped").hasSize(1);
    assertThat(d.attempts().get(0).status()).contains(200);
    assertThat(app.count()).isEqualTo(2);
  }

  // ---- calls stay with the instance that received them

  @Test
  void aCallIsRungByTheInstanceThatReceivedItWhileItLives() throws Exception {
    MetaLayer one = instance(clock);
    MetaLayer two = instance(clock);
    RecordingSubscriber app = subscriber();
    subscribe(one, PNID_1, app.url("/calls"), List.of("calls"));
    one.relay().start();
    two.relay().start();

    for (int i = 0; i < 10; i++) {
      ingest(one, RelayEndToEndTest.callConnect("wacid.one-" + i, clock.instant()));
      ingest(two, RelayEndToEndTest.callConnect("wacid.two-" + i, clock.instant()));
    }

    app.await(20, WAIT);
    Thread.sleep(300); // nothing more comes
    assertThat(app.count()).isEqualTo(20);
    assertThat(claimedBy.get(0)).hasSize(10).allMatch(b -> b.contains("wacid.one-"));
    assertThat(claimedBy.get(1)).hasSize(10).allMatch(b -> b.contains("wacid.two-"));
  }

  @Test
  void aDeadInstancesCallIsTakenOverAfterTheOwnerTimeoutAndRetriedThere() throws Exception {
    // instance 1 dies without a word: its engine stops, and it never retires
    MetaLayer one = instance(clock, m -> m.equals("retire"), 16, 16);
    MetaLayer two = instance(clock);
    RecordingSubscriber app = subscriber();
    AtomicInteger requests = new AtomicInteger();
    app.answer(r -> Answer.of(requests.incrementAndGet() == 1 ? 503 : 200));
    Subscription s = subscribe(one, PNID_1, app.url("/calls"), List.of("calls"));
    one.relay().start();
    ingest(one, RelayEndToEndTest.callConnect("wacid.1", clock.instant()));
    app.await(1, WAIT);
    await(() -> only(one, s).attempts().size() == 1, "the failed ring recorded, its retry owned by instance 1");
    one.relay().close();

    clock.advance(Duration.ofSeconds(1));
    assertThat(two.relay().runDueNow()).as("its owner was seen 1 s ago").isZero();
    clock.advance(RelayStore.OWNER_TIMEOUT.minusSeconds(1));
    assertThat(two.relay().runDueNow()).isEqualTo(1);

    assertThat(app.count()).isEqualTo(2);
    Delivery d = only(two, s);
    assertThat(d.state()).isEqualTo(DeliveryState.DELIVERED);
    assertThat(d.attempts()).extracting(a -> a.status().orElse(0)).containsExactly(503, 200);
  }

  @Test
  void aTakeoverNeverRingsLate() throws Exception {
    MetaLayer one = instance(clock, m -> m.equals("retire"), 16, 16);
    MetaLayer two = instance(clock);
    RecordingSubscriber app = subscriber();
    app.answer(r -> Answer.of(503));
    Subscription s = subscribe(one, PNID_1, app.url("/calls"), List.of("calls"));
    one.relay().start();
    ingest(one, RelayEndToEndTest.callConnect("wacid.1", clock.instant()));
    app.await(1, WAIT);
    await(() -> only(one, s).attempts().size() == 1, "the failed ring recorded");
    one.relay().close();
    app.answer(r -> Answer.of(200));

    clock.advance(Duration.ofSeconds(46)); // past the 45 s TTL, and past the owner timeout

    assertThat(two.relay().runDueNow()).isEqualTo(1);
    Delivery d = only(two, s);
    assertThat(d.state()).isEqualTo(DeliveryState.EXPIRED);
    assertThat(d.attempts()).hasSize(1);
    assertThat(app.count()).as("no late ring").isEqualTo(1);
  }

  @Test
  void aStoppedInstancesCallsAreTakenOverAtOnce() throws Exception {
    MetaLayer one = instance(clock);
    MetaLayer two = instance(clock);
    RecordingSubscriber app = subscriber();
    AtomicInteger requests = new AtomicInteger();
    app.answer(r -> Answer.of(requests.incrementAndGet() == 1 ? 503 : 200));
    Subscription s = subscribe(one, PNID_1, app.url("/calls"), List.of("calls"));
    one.relay().start();
    ingest(one, RelayEndToEndTest.callConnect("wacid.1", clock.instant()));
    await(() -> only(one, s).attempts().size() == 1, "the failed ring recorded");

    one.relay().close(); // retires its instance

    clock.advance(Duration.ofMillis(250));
    assertThat(two.relay().runDueNow()).isEqualTo(1);
    assertThat(only(two, s).state()).isEqualTo(DeliveryState.DELIVERED);
  }

  // ---- wake-ups across instances

  @Test
  void aReplayOnOneInstanceWakesTheOtherWithoutWaitingForItsPoll() throws Exception {
    MetaLayer one = instance(clock); // takes requests, never started: it delivers nothing itself
    MetaLayer two = instance(clock);
    RecordingSubscriber app = subscriber();
    List<Long> arrivals = new CopyOnWriteArrayList<>();
    app.answer(r -> {
      arrivals.add(System.nanoTime());
      return Answer.of(200);
    });
    Subscription s = subscribe(one, PNID_1, app.url("/m"), List.of("messages"));
    two.relay().start();
    Thread.sleep(1500); // instance 2 is idle: its next poll is up to a second away

    ingest(one, message(PNID_1, "wamid.1"));
    long ingested = System.nanoTime(); // committed (the first ingest of a JVM is slow: timed from its commit)
    app.await(1, WAIT);
    List<Long> latencies = new ArrayList<>();
    latencies.add(arrivals.get(0) - ingested);
    String deliveryId = only(one, s).id();
    for (int i = 1; i <= 5; i++) {
      await(() -> only(one, s).state() == DeliveryState.DELIVERED, "delivered");
      Thread.sleep(1100 + 97L * i); // idle again, at a different phase of its poll each time
      long replayed = System.nanoTime();
      assertThat(one.relay().subscriptions().retry(PNID_1, s.id(), deliveryId)).isPresent();
      app.await(i + 1, WAIT);
      latencies.add(arrivals.get(i) - replayed);
    }

    List<Long> ms = latencies.stream().map(n -> TimeUnit.NANOSECONDS.toMillis(n)).toList();
    List<Long> sorted = new ArrayList<>(ms);
    Collections.sort(sorted);
    System.out.println("ScaleOutTest: ingest (committed), then 5 replays, on instance 1 to delivery by instance 2, ms: " + ms + " (median "
        + sorted.get(sorted.size() / 2) + ", poll interval " + DeliveryEngine.MAX_IDLE.toMillis() + ")");
    WebhookRelay relay = (WebhookRelay) two.relay();
    assertThat(relay.remoteWakes(Lane.DEFAULT)).as("woken by instance 1's notifications").isGreaterThanOrEqualTo(6);
  }

  // ---- many deliveries, two engines

  @Test
  void twoEnginesDeliverEveryDeliveryExactlyOnce() throws Exception {
    MetaLayer one = instance(Clock.systemUTC(), NONE, 4, 4);
    MetaLayer two = instance(Clock.systemUTC(), NONE, 4, 4);
    RecordingSubscriber app1 = subscriber();
    RecordingSubscriber app2 = subscriber();
    Subscription s1 = subscribe(one, PNID_1, app1.url("/1"), List.of("messages", "calls"));
    Subscription s2 = subscribe(two, PNID_2, app2.url("/2"), List.of("messages"));
    one.relay().start();
    two.relay().start();
    int n = 100;

    for (int i = 0; i < n; i++) {
      MetaLayer via = i % 2 == 0 ? one : two;
      ingest(via, message(i % 4 < 2 ? PNID_1 : PNID_2, "wamid.m" + i));
    }
    for (int i = 0; i < 20; i++) {
      ingest(i % 2 == 0 ? one : two, RelayEndToEndTest.callConnect("wacid." + i, Instant.now()));
    }

    app1.await(n / 2 + 20, WAIT);
    app2.await(n / 2, WAIT);
    Thread.sleep(500); // nothing more comes
    assertThat(app1.count() + app2.count()).isEqualTo(n + 20);
    Set<String> ids = new HashSet<>();
    app1.received().forEach(r -> ids.add(r.header("webhook-id")));
    app2.received().forEach(r -> ids.add(r.header("webhook-id")));
    assertThat(ids).as("no webhook twice").hasSize(n + 20);
    for (Subscription s : List.of(s1, s2)) {
      List<Delivery> log = one.relay().subscriptions().deliveries(s.phoneNumberId(), s.id(), Optional.empty(), 200)
          .orElseThrow();
      assertThat(log).allSatisfy(d -> {
        assertThat(d.state()).isEqualTo(DeliveryState.DELIVERED);
        assertThat(d.attempts()).hasSize(1);
      });
    }
    System.out.println("ScaleOutTest: claims by instance: " + claimedBy.get(0).size() + " and " + claimedBy.get(1).size());
    assertThat(claimedBy.get(0)).isNotEmpty();
    assertThat(claimedBy.get(1)).isNotEmpty();
  }

  // ---- fairness across instances

  @Test
  void aBacklogOfOneNumberOnBothInstancesNeverHoldsAnotherNumbersFirstDelivery() throws Exception {
    // 4 default-lane workers per instance: a number holds at most 2 at a time, whichever instance claims
    MetaLayer one = instance(Clock.systemUTC(), NONE, 2, 4);
    MetaLayer two = instance(Clock.systemUTC(), NONE, 2, 4);
    RecordingSubscriber slowA = subscriber();
    RecordingSubscriber fastB = subscriber();
    CountDownLatch hang = new CountDownLatch(1);
    AtomicInteger inFlightA = new AtomicInteger();
    AtomicInteger mostInFlightA = new AtomicInteger();
    slowA.answer(r -> {
      mostInFlightA.accumulateAndGet(inFlightA.incrementAndGet(), Math::max);
      try {
        hang.await(); // number A's subscribers hang until the test lets them answer
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        inFlightA.decrementAndGet();
      }
      return Answer.of(200);
    });
    subscribe(one, PNID_1, slowA.url("/a"), List.of("messages"));
    subscribe(one, PNID_1, slowA.url("/a2"), List.of("messages"));
    subscribe(two, PNID_2, fastB.url("/b"), List.of("messages"));
    int backlog = 12;
    for (int i = 0; i < backlog / 2; i++) {
      ingest(i % 2 == 0 ? one : two, message(PNID_1, "wamid.a" + i)); // two subscriptions: two deliveries each
    }
    one.relay().start();
    await(() -> inFlightA.get() == 2, "instance 1 holds number A's cap of 2");
    two.relay().start(); // 4 free workers, and A's backlog of 10 due
    int calls = claimCalls.get(1).get();
    await(() -> claimCalls.get(1).get() >= calls + 2, "instance 2 claiming");

    long ingested = System.nanoTime();
    ingest(two, message(PNID_2, "wamid.b0"));
    fastB.await(1, WAIT);
    long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - ingested);

    assertThat(slowA.count()).as("B did not wait for A's backlog: A's first two still hang").isZero();
    assertThat(claimedBy.get(1)).as("instance 2 left A alone: its cap counts instance 1's two")
        .noneMatch(b -> b.contains("wamid.a"));
    hang.countDown();
    slowA.await(backlog, Duration.ofSeconds(30));
    System.out.println("ScaleOutTest: number B's first delivery took " + tookMs + " ms while A's backlog of " + backlog
        + " hung; A's most in flight across both instances: " + mostInFlightA.get() + "; claims by instance: "
        + claimedBy.get(0).size() + " and " + claimedBy.get(1).size());
    assertThat(mostInFlightA.get()).as("A's cap counts what both instances hold").isEqualTo(2);
  }
}

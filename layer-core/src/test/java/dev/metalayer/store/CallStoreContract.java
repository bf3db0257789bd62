package dev.metalayer.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.calls.CallStore;
import dev.metalayer.calls.CallStore.CallRecord;
import dev.metalayer.calls.CallStore.Direction;
import dev.metalayer.calls.CallStore.Event;
import dev.metalayer.calls.CallStore.Limit;
import dev.metalayer.calls.CallStore.Query;
import dev.metalayer.calls.CallStore.Source;
import dev.metalayer.calls.CallStore.State;
import dev.metalayer.relay.Lane;
import dev.metalayer.relay.RelayStore;
import dev.metalayer.relay.RelayStore.Envelope;
import dev.metalayer.relay.RelayStore.NewDelivery;
import dev.metalayer.relay.RelayStore.StoredSubscription;
import dev.metalayer.relay.Subscription;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What every {@link CallStore} must do, as a relay store hands it out ({@link RelayStore#calls()}); run on each. */
abstract class CallStoreContract {
  static final Instant T0 = Instant.parse("2026-06-01T10:00:00Z");
  static final String PNID = "436666719526789";
  static final String OTHER = "106540352242922";
  static final String WACID = "wacid.ABGGFjFVU2AfAgo6V-Hc5eCgK5Gh";
  RelayStore relay;
  CallStore calls;

  /** A fresh relay store of the implementation under test. */
  abstract RelayStore newRelayStore() throws Exception;

  /** A second relay store on the same database (another instance); the same store when there is one process only. */
  RelayStore sameDatabase() throws Exception {
    return relay;
  }

  @BeforeEach
  void open() throws Exception {
    relay = newRelayStore();
    calls = relay.calls();
  }

  @AfterEach
  void closeDown() throws Exception {
    pool.shutdownNow();
  }

  private final ExecutorService pool = Executors.newFixedThreadPool(8);

  static Event webhook(String pnid, String wacid, Instant at, String name, String detail) {
    return new Event(pnid, wacid, at, Source.WEBHOOK, "meta", name, Optional.of(Direction.USER_INITIATED),
        Optional.of("16315553602"), OptionalInt.empty(), Optional.ofNullable(detail));
  }

  static Event action(String wacid, Instant at, String key, String name, int status) {
    return new Event(PNID, wacid, at, Source.ACTION, "key:" + key, name, Optional.empty(), Optional.empty(),
        OptionalInt.of(status), Optional.empty());
  }

  @Test
  void aCallIsFoldedFromItsEventsAndItsTimelineIsOldestFirst() {
    calls.record(List.of(webhook(PNID, WACID, T0, "connect", null)));
    calls.record(List.of(action(WACID, T0.plusMillis(300), "k1", "pre_accept", 200),
        action(WACID, T0.plusMillis(900), "k1", "accept", 200)));
    calls.record(List.of(webhook(PNID, WACID, T0.plusSeconds(120), "terminate",
        "{\"status\":\"COMPLETED\",\"duration\":118,\"start_time\":1780308002,\"end_time\":\"1780308120\"}")));

    CallRecord c = calls.find(PNID, WACID).orElseThrow();
    assertThat(c.state()).isEqualTo(State.TERMINATED);
    assertThat(c.stateChanges()).extracting(CallStore.Transition::state)
        .containsExactly(State.RINGING, State.PRE_ACCEPTED, State.ACCEPTED, State.TERMINATED);
    assertThat(c.stateChanges()).extracting(CallStore.Transition::actor).containsExactly("meta", "key:k1", "key:k1", "meta");
    assertThat(c.stateChanges().get(1).at()).isEqualTo(T0.plusMillis(300));
    assertThat(c.direction()).contains(Direction.USER_INITIATED);
    assertThat(c.userWaId()).contains("16315553602");
    assertThat(c.answeredBy()).contains("k1");
    assertThat(c.terminateStatus()).contains("COMPLETED");
    assertThat(c.durationSeconds()).contains(118L);
    assertThat(c.startTime()).contains(Instant.ofEpochSecond(1780308002));
    assertThat(c.endTime()).contains(Instant.ofEpochSecond(1780308120));
    assertThat(c.createdAt()).isEqualTo(T0);
    assertThat(c.updatedAt()).isEqualTo(T0.plusSeconds(120));
    assertThat(calls.timeline(PNID, WACID)).extracting(Event::name)
        .containsExactly("connect", "pre_accept", "accept", "terminate");
    assertThat(calls.timeline(PNID, WACID).get(1).httpStatus()).isEqualTo(OptionalInt.of(200));
    assertThat(calls.timeline(PNID, WACID).get(3).detail().orElseThrow()).contains("COMPLETED");
    assertThat(calls.find(OTHER, WACID)).as("another number's call of the same id").isEmpty();
    assertThat(calls.timeline(OTHER, WACID)).isEmpty();
  }

  @Test
  void aTerminateBeforeItsConnectCreatesTheCallTerminatedAndTheLateConnectChangesNoState() {
    calls.record(List.of(webhook(PNID, WACID, T0.plusSeconds(2), "terminate", "{\"status\":\"FAILED\"}")));
    calls.record(List.of(webhook(PNID, WACID, T0, "connect", null)));

    CallRecord c = calls.find(PNID, WACID).orElseThrow();
    assertThat(c.state()).isEqualTo(State.TERMINATED);
    assertThat(c.stateChanges()).hasSize(1);
    assertThat(c.createdAt()).as("the earliest event's time").isEqualTo(T0);
    assertThat(calls.timeline(PNID, WACID)).extracting(Event::name).containsExactly("connect", "terminate");
  }

  @Test
  void aRedeliveredEventIsKeptOnceAndDroppedEventsAreNotKept() {
    Event connect = webhook(PNID, WACID, T0, "connect", null);
    calls.record(List.of(connect, connect));
    calls.record(List.of(connect));
    assertThat(calls.timeline(PNID, WACID)).hasSize(1);

    String longId = "wacid." + "x".repeat(300);
    calls.record(List.of(webhook(PNID, longId, T0, "connect", null)));
    assertThat(calls.find(PNID, longId)).isEmpty();
    // an expiry that no longer applies (the call moved on) leaves no trace
    calls.record(List.of(new Event(PNID, WACID, T0.minusSeconds(1), Source.LAYER, "layer", "expired", Optional.empty(),
        Optional.empty(), OptionalInt.empty(), Optional.empty())));
    assertThat(calls.timeline(PNID, WACID)).hasSize(1);
    assertThat(calls.find(PNID, WACID).orElseThrow().state()).isEqualTo(State.RINGING);
  }

  @Test
  void aHugeDetailIsKeptTruncatedAndATimelineIsBounded() {
    calls.record(List.of(webhook(PNID, WACID, T0, "terminate", "{\"errors\":\"" + "x".repeat(10_000) + "\"}")));
    assertThat(calls.timeline(PNID, WACID).get(0).detail()).contains("{\"truncated\":true}");

    List<Event> flood = new ArrayList<>();
    for (int i = 0; i < CallStore.MAX_TIMELINE + 50; i++) {
      flood.add(action(WACID, T0.plusMillis(i + 1), "k" + i, "reject", 400));
    }
    calls.record(flood.subList(0, 300));
    calls.record(flood.subList(300, flood.size()));
    assertThat(calls.timeline(PNID, WACID)).hasSize(CallStore.MAX_TIMELINE);
    assertThat(calls.find(PNID, WACID).orElseThrow().updatedAt()).as("later events still fold in")
        .isEqualTo(T0.plusMillis(CallStore.MAX_TIMELINE + 50));
  }

  @Test
  void listIsNewestFirstFilteredAndPagedWithAStableCursor() {
    List<Event> events = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      // three calls share one creation time: the cursor must still page through them exactly once
      Instant at = T0.plusSeconds(i < 3 ? 0 : i);
      events.add(webhook(PNID, "wacid.c" + i, at, i % 2 == 0 ? "connect" : "terminate", null));
    }
    events.add(new Event(PNID, "wacid.b", T0.plusSeconds(30), Source.WEBHOOK, "meta", "RINGING",
        Optional.of(Direction.BUSINESS_INITIATED), Optional.of("12185552828"), OptionalInt.empty(), Optional.empty()));
    events.add(webhook(OTHER, "wacid.o", T0.plusSeconds(40), "connect", null));
    calls.record(events);

    List<String> seen = new ArrayList<>();
    Optional<String> after = Optional.empty();
    do {
      CallStore.Page page = calls.list(new Query(Optional.of(PNID), Set.of(), Optional.empty(), Optional.empty(),
          Optional.empty(), after, 3));
      assertThat(page.calls()).hasSizeLessThanOrEqualTo(3);
      page.calls().forEach(c -> seen.add(c.wacid()));
      after = page.next();
    } while (after.isPresent());
    assertThat(seen).containsExactly("wacid.b", "wacid.c6", "wacid.c5", "wacid.c4", "wacid.c3", "wacid.c2", "wacid.c1",
        "wacid.c0");

    assertThat(calls.list(new Query(Optional.of(PNID), Set.of(State.TERMINATED), Optional.empty(), Optional.empty(),
        Optional.empty(), Optional.empty(), 50)).calls()).extracting(CallRecord::wacid)
        .containsExactly("wacid.c5", "wacid.c3", "wacid.c1");
    assertThat(calls.list(new Query(Optional.of(PNID), Set.of(), Optional.of(Direction.BUSINESS_INITIATED),
        Optional.empty(), Optional.empty(), Optional.empty(), 50)).calls()).extracting(CallRecord::wacid)
        .containsExactly("wacid.b");
    assertThat(calls.list(new Query(Optional.of(PNID), Set.of(), Optional.empty(), Optional.of(T0.plusSeconds(4)),
        Optional.of(T0.plusSeconds(6)), Optional.empty(), 50)).calls()).extracting(CallRecord::wacid)
        .containsExactly("wacid.c5", "wacid.c4");
    assertThat(calls.list(new Query(Optional.empty(), Set.of(), Optional.empty(), Optional.empty(), Optional.empty(),
        Optional.empty(), 2)).calls()).extracting(CallRecord::wacid).as("every number: the admin view")
        .containsExactly("wacid.o", "wacid.b");
    assertThat(calls.list(new Query(Optional.of(OTHER), Set.of(), Optional.empty(), Optional.empty(), Optional.empty(),
        Optional.empty(), 0)).calls()).as("a limit under 1 is 1").hasSize(1);
    assertThatThrownBy(() -> calls.list(new Query(Optional.of(PNID), Set.of(), Optional.empty(), Optional.empty(),
        Optional.empty(), Optional.of("not a cursor!"), 5))).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theFirstKeyToClaimACallAnswersItAndTheClaimCreatesTheRecord() {
    assertThat(calls.claimAnswering(PNID, WACID, "k1", T0)).isEqualTo("k1");
    assertThat(calls.claimAnswering(PNID, WACID, "k2", T0)).isEqualTo("k1");
    CallRecord c = calls.find(PNID, WACID).orElseThrow();
    assertThat(c.answeredBy()).contains("k1");
    assertThat(c.state()).isEqualTo(State.RINGING);

    // the claim survives the events folded later, and a later key's 2xx accept does not take it over
    calls.record(List.of(webhook(PNID, WACID, T0, "connect", null), action(WACID, T0.plusSeconds(1), "k2", "accept", 200)));
    assertThat(calls.find(PNID, WACID).orElseThrow().answeredBy()).contains("k1");
  }

  @Test
  void onlyTheAnsweringKeyReleasesItsClaimAndThenTheNextKeyMayClaim() {
    assertThat(calls.releaseAnswering(PNID, WACID, "k1")).as("no record yet").isFalse();
    calls.claimAnswering(PNID, WACID, "k1", T0);
    assertThat(calls.releaseAnswering(PNID, WACID, "k2")).as("not k2's to release").isFalse();
    assertThat(calls.find(PNID, WACID).orElseThrow().answeredBy()).contains("k1");
    assertThat(calls.releaseAnswering(OTHER, WACID, "k1")).as("another number's call of that id").isFalse();
    assertThat(calls.releaseAnswering(PNID, WACID, "k1")).isTrue();
    assertThat(calls.find(PNID, WACID).orElseThrow().answeredBy()).isEmpty();
    assertThat(calls.releaseAnswering(PNID, WACID, "k1")).as("released once").isFalse();
    assertThat(calls.claimAnswering(PNID, WACID, "k2", T0)).isEqualTo("k2");
  }

  @Test
  void concurrentClaimsOfOneCallHaveOneWinnerAcrossInstances() throws Exception {
    RelayStore other = sameDatabase();
    for (int round = 0; round < 5; round++) {
      String wacid = "wacid.race" + round;
      List<Future<String>> claims = new ArrayList<>();
      for (int k = 0; k < 8; k++) {
        CallStore store = (k % 2 == 0 ? relay : other).calls();
        String key = "k" + k;
        claims.add(pool.submit(() -> store.claimAnswering(PNID, wacid, key, T0)));
      }
      String winner = claims.get(0).get(30, TimeUnit.SECONDS);
      for (Future<String> f : claims) {
        assertThat(f.get(30, TimeUnit.SECONDS)).isEqualTo(winner);
      }
      assertThat(calls.find(PNID, wacid).orElseThrow().answeredBy()).contains(winner);
    }
  }

  @Test
  void concurrentEventsOfOneNewCallAreAllFoldedIn() throws Exception {
    RelayStore other = sameDatabase();
    for (int round = 0; round < 5; round++) {
      String wacid = "wacid.both" + round;
      Callable<Void> connect = () -> {
        relay.calls().record(List.of(webhook(PNID, wacid, T0, "connect", null)));
        return null;
      };
      Callable<Void> terminate = () -> {
        other.calls().record(List.of(webhook(PNID, wacid, T0.plusSeconds(1), "terminate", "{\"status\":\"COMPLETED\"}")));
        return null;
      };
      Future<Void> a = pool.submit(connect);
      Future<Void> b = pool.submit(terminate);
      a.get(30, TimeUnit.SECONDS);
      b.get(30, TimeUnit.SECONDS);
      CallRecord c = calls.find(PNID, wacid).orElseThrow();
      assertThat(c.state()).isEqualTo(State.TERMINATED);
      assertThat(c.terminateStatus()).contains("COMPLETED");
      assertThat(c.createdAt()).isEqualTo(T0);
      assertThat(calls.timeline(PNID, wacid)).extracting(Event::name).containsExactly("connect", "terminate");
    }
  }

  @Test
  void aRefusalIsRememberedUntilItsTimeReplacedByTheNextAndForgotten() {
    Limit first = new Limit(PNID, "16315553602", "permission_request", 138009, 400, "{\"error\":{\"code\":138009}}", T0,
        T0.plus(Duration.ofHours(24)));
    calls.remember(first);
    assertThat(calls.remembered(PNID, "16315553602", "permission_request", T0.plusSeconds(60))).contains(first);
    assertThat(calls.remembered(PNID, "16315553602", "permission_request", T0.plus(Duration.ofHours(24)))).isEmpty();
    assertThat(calls.remembered(OTHER, "16315553602", "permission_request", T0)).isEmpty();
    assertThat(calls.remembered(PNID, "16315553602", "connect", T0)).isEmpty();

    Limit again = new Limit(PNID, "16315553602", "permission_request", 138009, 400, "{}", T0.plusSeconds(5),
        T0.plus(Duration.ofDays(2)));
    Limit connect = new Limit(PNID, "16315553602", "connect", 138006, 401, "{}", T0, T0.plus(Duration.ofHours(1)));
    calls.remember(again);
    calls.remember(connect);
    assertThat(calls.rememberedFor(PNID, "16315553602", T0.plusSeconds(10))).containsExactly(connect, again);
    assertThat(calls.rememberedFor(PNID, "16315553602", T0.plus(Duration.ofHours(2)))).containsExactly(again);

    calls.forget(PNID, "16315553602", "permission_request");
    assertThat(calls.rememberedFor(PNID, "16315553602", T0)).containsExactly(connect);
    assertThatThrownBy(() -> calls.remember(new Limit(PNID, "1", "connect", 1, 400, "x".repeat(70_000), T0, T0)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void answeringIsSingleUnlessSetAndOnlyTwoModesExist() {
    assertThat(calls.answering(PNID)).isEqualTo("single");
    calls.setAnswering(PNID, "any");
    assertThat(calls.answering(PNID)).isEqualTo("any");
    assertThat(calls.answering(OTHER)).isEqualTo("single");
    calls.setAnswering(PNID, "single");
    assertThat(calls.answering(PNID)).isEqualTo("single");
    assertThatThrownBy(() -> calls.setAnswering(PNID, "many")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void unansweredCallsAreListedOldestFirstAndPurgeRemovesOldCallsWithTheirEvents() {
    calls.record(List.of(webhook(PNID, "wacid.old", T0, "connect", null),
        webhook(PNID, "wacid.pre", T0.plusSeconds(5), "connect", null),
        action("wacid.pre", T0.plusSeconds(6), "k1", "pre_accept", 200),
        webhook(PNID, "wacid.acc", T0, "connect", null),
        webhook(PNID, "wacid.acc", T0.plusSeconds(1), "ACCEPTED", null),
        webhook(PNID, "wacid.new", T0.plus(Duration.ofDays(20)), "connect", null)));
    calls.remember(new Limit(PNID, "1", "connect", 138006, 401, "{}", T0, T0.plusSeconds(60)));

    assertThat(calls.unanswered(T0.plus(Duration.ofDays(1)), 10)).extracting(CallRecord::wacid)
        .containsExactly("wacid.old", "wacid.pre");
    assertThat(calls.unanswered(T0.plus(Duration.ofDays(1)), 1)).hasSize(1);

    assertThat(calls.purge(T0.plus(Duration.ofDays(14)))).isEqualTo(3);
    assertThat(calls.find(PNID, "wacid.old")).isEmpty();
    assertThat(calls.timeline(PNID, "wacid.pre")).isEmpty();
    assertThat(calls.find(PNID, "wacid.new")).isPresent();
    assertThat(calls.rememberedFor(PNID, "1", T0)).isEmpty();
  }

  @Test
  void aCallsDeliveriesAreThoseOfItsOrderingKeyToTheNumbersSubscriptions() {
    relay.insertSubscription(new StoredSubscription(sub("wh_a", PNID), null));
    relay.insertSubscription(new StoredSubscription(sub("wh_o", OTHER), null));
    relay.ingest(new Envelope("env_1", new byte[] {1}, T0), List.of(call("d1", "wh_a", "w1", WACID),
        call("d2", "wh_o", "w1", WACID), call("d3", "wh_a", "w2", "wacid.other")),
        List.of(webhook(PNID, WACID, T0, "connect", null)));
    relay.ingest(new Envelope("env_2", new byte[] {2}, T0.plusSeconds(1)), List.of(call("d4", "wh_a", "w3", WACID)),
        List.of(webhook(PNID, WACID, T0.plusSeconds(1), "terminate", null)));

    assertThat(calls.deliveries(PNID, WACID)).extracting(CallStore.DeliveryEntry::deliveryId).containsExactly("d1", "d4");
    CallStore.DeliveryEntry d1 = calls.deliveries(PNID, WACID).get(0);
    assertThat(d1.subscriptionId()).isEqualTo("wh_a");
    assertThat(d1.field()).isEqualTo("calls");
    assertThat(d1.state()).isEqualTo("pending");
    assertThat(d1.attempts()).isZero();
    assertThat(d1.lastAttemptAt()).isEmpty();
    assertThat(calls.find(PNID, WACID).orElseThrow().state()).as("the ingest wrote the events").isEqualTo(State.TERMINATED);
    assertThat(calls.deliveries(OTHER, "wacid.nothing")).isEmpty();
  }

  static Subscription sub(String id, String number) {
    return new Subscription(id, number, "n-" + id, "https://example.com/" + id, List.of("calls"), true, false, false, T0,
        T0);
  }

  static NewDelivery call(String id, String sub, String webhookId, String wacid) {
    return NewDelivery.builder().ids(id, sub, "env_1")
        .change(webhookId, "calls", Lane.CALLS, ("{\"id\":\"" + id + "\"}").getBytes(StandardCharsets.UTF_8))
        .orderingKey(Optional.of(dev.metalayer.calls.Calls.orderingKey(wacid))).maxAttempts(8)
        .expiresAt(Optional.of(T0.plusSeconds(45))).createdAt(T0).build();
  }
}

package dev.metalayer.calls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.calls.CallStore.CallRecord;
import dev.metalayer.calls.CallStore.Direction;
import dev.metalayer.calls.CallStore.Event;
import dev.metalayer.calls.CallStore.Limit;
import dev.metalayer.calls.CallStore.Page;
import dev.metalayer.calls.CallStore.Query;
import dev.metalayer.calls.CallStore.Source;
import dev.metalayer.calls.CallStore.State;
import dev.metalayer.graph.Outcome;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * {@link Calls} over the in-memory store on a clock moved by hand: a call read or listed after ten
 * minutes without an event shows expired, the refusals shown beside a call, the answering mode, and
 * what a grant or a connected call makes the layer forget.
 */
class CallsTest {
  static final String PNID = "106540352242922";
  static final String USER = "15551234567";
  static final Instant T0 = Instant.parse("2026-03-02T10:00:00Z");

  final MutableClock clock = new MutableClock(T0);
  final Calls calls = new Calls(Stores.inMemoryCalls(), clock);

  static Event meta(String wacid, String name, Instant at, Optional<String> user) {
    return new Event(PNID, wacid, at, Source.WEBHOOK, "meta", name, Optional.of(Direction.USER_INITIATED), user,
        OptionalInt.empty(), Optional.empty());
  }

  static Event key(String wacid, String action, Instant at) {
    return new Event(PNID, wacid, at, Source.ACTION, "key:k1", action, Optional.empty(), Optional.empty(),
        OptionalInt.of(200), Optional.empty());
  }

  void ring(String wacid, Instant at) {
    calls.store().record(List.of(meta(wacid, "connect", at, Optional.of(USER))));
  }

  static Limit limit(String kind, int code, Instant until) {
    return new Limit(PNID, USER, kind, code, 400, "{\"error\":{\"code\":" + code + "}}", T0, until);
  }

  static Query all() {
    return new Query(Optional.of(PNID), Set.of(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
        50);
  }

  @Test
  void aCallReadTenMinutesAfterItsLastEventShowsExpiredAtThatTimeAndNotAMomentBefore() {
    ring("wacid.a", T0);
    calls.store().record(List.of(key("wacid.a", "pre_accept", T0.plusSeconds(5))));
    Instant due = T0.plusSeconds(5).plus(CallStates.UNANSWERED);

    clock.set(due.minusMillis(1));
    Calls.View early = calls.view(PNID, "wacid.a").orElseThrow();
    assertThat(early.call().state()).isEqualTo(State.PRE_ACCEPTED);
    assertThat(early.timeline()).extracting(Event::name).containsExactly("connect", "pre_accept");

    clock.set(due);
    Calls.View late = calls.view(PNID, "wacid.a").orElseThrow();
    assertThat(late.call().state()).isEqualTo(State.EXPIRED);
    assertThat(late.call().updatedAt()).isEqualTo(due);
    assertThat(late.timeline()).extracting(Event::name).containsExactly("connect", "pre_accept", "expired");
    Event expired = late.timeline().get(2);
    assertThat(expired.source()).isEqualTo(Source.LAYER);
    assertThat(expired.actor()).isEqualTo("layer");
    assertThat(expired.at()).isEqualTo(due);

    // read again later: still one expiry, dated when it was due
    clock.advance(Duration.ofHours(1));
    assertThat(calls.view(PNID, "wacid.a").orElseThrow().timeline()).extracting(Event::name)
        .containsExactly("connect", "pre_accept", "expired");
  }

  @Test
  void anAcceptedOrEndedCallNeverShowsExpired() {
    ring("wacid.acc", T0);
    calls.store().record(List.of(key("wacid.acc", "accept", T0.plusSeconds(1))));
    ring("wacid.end", T0);
    calls.store().record(List.of(meta("wacid.end", "terminate", T0.plusSeconds(1), Optional.empty())));
    clock.advance(Duration.ofDays(1));

    assertThat(calls.view(PNID, "wacid.acc").orElseThrow().call().state()).isEqualTo(State.ACCEPTED);
    assertThat(calls.view(PNID, "wacid.end").orElseThrow().call().state()).isEqualTo(State.TERMINATED);
    assertThat(calls.view(PNID, "wacid.end").orElseThrow().timeline()).extracting(Event::name)
        .containsExactly("connect", "terminate");
    assertThat(calls.expireUnanswered(10)).isZero();
    assertThat(calls.view(PNID, "wacid.unknown")).isEmpty();
  }

  @Test
  void aCallShowsTheRefusalsInForceForItsUserAndNoneWithoutAUser() {
    ring("wacid.a", T0);
    calls.store().record(List.of(meta("wacid.nouser", "connect", T0, Optional.empty())));
    calls.store().remember(limit(Calls.PERMISSION_REQUEST, 138009, T0.plus(Duration.ofHours(24))));
    calls.store().remember(limit(Calls.CONNECT, 138005, T0.plus(Duration.ofMinutes(5))));

    assertThat(calls.view(PNID, "wacid.a").orElseThrow().remembered()).extracting(Limit::kind)
        .containsExactlyInAnyOrder(Calls.PERMISSION_REQUEST, Calls.CONNECT);
    assertThat(calls.remembered(calls.store().find(PNID, "wacid.a").orElseThrow())).hasSize(2);
    assertThat(calls.view(PNID, "wacid.nouser").orElseThrow().remembered()).isEmpty();

    clock.advance(Duration.ofMinutes(5));
    assertThat(calls.view(PNID, "wacid.a").orElseThrow().remembered()).extracting(Limit::kind)
        .containsExactly(Calls.PERMISSION_REQUEST);
    assertThat(calls.remembered(calls.store().find(PNID, "wacid.a").orElseThrow())).hasSize(1);
  }

  @Test
  void aListMarksTheCallsPastTheirRingExpiredFirst() {
    ring("wacid.old", T0);
    ring("wacid.new", T0.plus(Duration.ofMinutes(5)));
    clock.set(T0.plus(Duration.ofMinutes(10)).plusSeconds(1));

    Page page = calls.list(all());
    assertThat(page.calls()).extracting(CallRecord::wacid).containsExactly("wacid.new", "wacid.old");
    assertThat(page.calls()).extracting(CallRecord::state).containsExactly(State.RINGING, State.EXPIRED);
    assertThat(((Outcome.Ok<Page>) calls.page(all())).value().calls()).extracting(CallRecord::state)
        .containsExactly(State.RINGING, State.EXPIRED);
  }

  @Test
  void theSweepExpiresAtMostItsLimitAndTellsHowMany() {
    ring("wacid.1", T0);
    ring("wacid.2", T0.plusSeconds(1));
    ring("wacid.3", T0.plusSeconds(2));
    ring("wacid.4", T0.plus(Duration.ofMinutes(5)));
    clock.set(T0.plus(Duration.ofMinutes(11)));

    assertThat(calls.expireUnanswered(2)).isEqualTo(2);
    assertThat(calls.store().find(PNID, "wacid.1").orElseThrow().state()).isEqualTo(State.EXPIRED);
    assertThat(calls.store().find(PNID, "wacid.2").orElseThrow().state()).isEqualTo(State.EXPIRED);
    assertThat(calls.store().find(PNID, "wacid.3").orElseThrow().state()).isEqualTo(State.RINGING);
    assertThat(calls.store().find(PNID, "wacid.1").orElseThrow().updatedAt())
        .isEqualTo(T0.plus(CallStates.UNANSWERED));
    assertThat(calls.expireUnanswered(2)).isEqualTo(1);
    assertThat(calls.expireUnanswered(2)).isZero();
    assertThat(calls.store().find(PNID, "wacid.4").orElseThrow().state()).isEqualTo(State.RINGING);
  }

  @Test
  void aCursorTheStoreDidNotMakeIsTheClientsMistake() {
    Query forged = new Query(Optional.of(PNID), Set.of(), Optional.empty(), Optional.empty(), Optional.empty(),
        Optional.of("forged"), 50);
    Outcome<Page> refused = calls.page(forged);
    assertThat(refused).isInstanceOf(Outcome.Refused.class);
    Outcome.Refused<Page> r = (Outcome.Refused<Page>) refused;
    assertThat(r.error().status()).isEqualTo(400);
    assertThat(new String(r.error().toJson(), StandardCharsets.UTF_8)).contains("paging.cursors.after");
  }

  @Test
  void metasAcceptedStatusForgetsThePermissionRequestRefusalsOfItsUserOnly() {
    Instant day = T0.plus(Duration.ofHours(24));
    calls.store().remember(limit(Calls.PERMISSION_REQUEST, 138009, day));
    calls.store().remember(limit(Calls.CONNECT, 138012, day));
    Event ringing = new Event(PNID, "wacid.b", T0, Source.WEBHOOK, "meta", "RINGING",
        Optional.of(Direction.BUSINESS_INITIATED), Optional.of(USER), OptionalInt.empty(), Optional.empty());
    Event acceptedWithoutUser = new Event(PNID, "wacid.b", T0, Source.WEBHOOK, "meta", "ACCEPTED",
        Optional.of(Direction.BUSINESS_INITIATED), Optional.empty(), OptionalInt.empty(), Optional.empty());
    Event keysAccept = new Event(PNID, "wacid.b", T0, Source.ACTION, "key:k1", "accept", Optional.empty(),
        Optional.of(USER), OptionalInt.of(200), Optional.empty());
    calls.stored(List.of(ringing, acceptedWithoutUser, keysAccept));
    assertThat(calls.store().rememberedFor(PNID, USER, T0)).hasSize(2);

    Event accepted = new Event(PNID, "wacid.b", T0, Source.WEBHOOK, "meta", "accepted",
        Optional.of(Direction.BUSINESS_INITIATED), Optional.of(USER), OptionalInt.empty(), Optional.empty());
    calls.stored(List.of(ringing, accepted));
    assertThat(calls.store().rememberedFor(PNID, USER, T0)).extracting(Limit::kind).containsExactly(Calls.CONNECT);
  }

  @Test
  void aGrantForgetsPermissionRequestsAndAConnectRefusedForWantOfPermissionOnly() {
    Instant later = T0.plus(Duration.ofHours(1));
    calls.store().remember(limit(Calls.PERMISSION_REQUEST, 138009, later));
    calls.store().remember(limit(Calls.CONNECT, RememberedLimits.NO_PERMISSION, later));
    calls.permissionReply(PNID, USER, false, T0);
    assertThat(calls.store().rememberedFor(PNID, USER, T0)).as("a refusal changes nothing").hasSize(2);

    calls.permissionReply(PNID, USER, true, T0);
    assertThat(calls.store().rememberedFor(PNID, USER, T0)).isEmpty();

    calls.store().remember(limit(Calls.PERMISSION_REQUEST, 138009, later));
    calls.store().remember(limit(Calls.CONNECT, 138012, later));
    calls.permissionReply(PNID, USER, true, T0);
    assertThat(calls.store().rememberedFor(PNID, USER, T0)).extracting(Limit::code).containsExactly(138012);
  }

  @Test
  void theAnsweringModeIsSingleOrAnyAndNothingElse() {
    assertThat(calls.answering(PNID)).isEqualTo(Calls.SINGLE);
    calls.setAnswering(PNID, Calls.ANY);
    assertThat(calls.answering(PNID)).isEqualTo("any");
    calls.setAnswering(PNID, Calls.SINGLE);
    assertThat(calls.answering(PNID)).isEqualTo("single");
    assertThat(Calls.answeringMode("any")).isEqualTo("any");
    assertThat(Calls.answeringMode("single")).isEqualTo("single");
    for (String bad : List.of("ANY", "multi", "", " single")) {
      assertThatThrownBy(() -> calls.setAnswering(PNID, bad)).isInstanceOf(IllegalArgumentException.class)
          .hasMessage("the answering mode is single or any");
    }
    assertThat(calls.answering(PNID)).isEqualTo("single");
  }

  @Test
  void anEventOfTheSameCallIdOnAnotherNumberIsAnotherCall() {
    CallRecord c = Calls.apply(Optional.empty(), meta("wacid.a", "connect", T0, Optional.empty()));
    Event otherNumber = new Event("206540352242922", "wacid.a", T0, Source.WEBHOOK, "meta", "terminate",
        Optional.empty(), Optional.empty(), OptionalInt.empty(), Optional.empty());
    assertThatThrownBy(() -> Calls.apply(Optional.of(c), otherNumber)).isInstanceOf(IllegalArgumentException.class);
    assertThat(Calls.apply(Optional.of(c), meta("wacid.a", "terminate", T0, Optional.empty())).state())
        .isEqualTo(State.TERMINATED);
  }
}

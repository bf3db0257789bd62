package dev.metalayer.calls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.calls.CallStore.CallRecord;
import dev.metalayer.calls.CallStore.Direction;
import dev.metalayer.calls.CallStore.Event;
import dev.metalayer.calls.CallStore.Source;
import dev.metalayer.calls.CallStore.State;
import dev.metalayer.calls.CallStore.Transition;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** The state machine ({@link Calls#apply}): every transition, out-of-order arrival, terminal states. Pure. */
class CallStatesTest {
  static final Instant T0 = Instant.parse("2026-06-01T10:00:00Z");
  static final String PNID = "436666719526789";
  static final String WACID = "wacid.HBgLMTU1NTEyMzQ1NjcVAgARGCA5QkI3";

  static Event meta(String name, Instant at) {
    return meta(name, at, null);
  }

  static Event meta(String name, Instant at, String detail) {
    return new Event(PNID, WACID, at, Source.WEBHOOK, "meta", name, Optional.empty(), Optional.empty(), OptionalInt.empty(),
        Optional.ofNullable(detail));
  }

  static Event key(String key, String action, int status, Instant at) {
    return new Event(PNID, WACID, at, Source.ACTION, "key:" + key, action, Optional.empty(), Optional.empty(),
        OptionalInt.of(status), Optional.empty());
  }

  static Event layer(String name, Instant at) {
    return new Event(PNID, WACID, at, Source.LAYER, "layer", name, Optional.empty(), Optional.empty(), OptionalInt.empty(),
        Optional.empty());
  }

  /** The record after the events, in order, from nothing. */
  static CallRecord fold(Event... events) {
    Optional<CallRecord> c = Optional.empty();
    for (Event e : events) {
      if (!Calls.dropped(c, e)) {
        c = Optional.of(Calls.apply(c, e));
      }
    }
    return c.orElseThrow();
  }

  static State stateAfter(Event... events) {
    return fold(events).state();
  }

  @Test
  void aUserInitiatedCallRingsIsPreAcceptedAcceptedAndTerminated() {
    CallRecord c = fold(
        new Event(PNID, WACID, T0, Source.WEBHOOK, "meta", "connect", Optional.of(Direction.USER_INITIATED),
            Optional.of("15551234567"), OptionalInt.empty(), Optional.empty()),
        key("k1", "pre_accept", 200, T0.plusSeconds(1)),
        key("k1", "accept", 200, T0.plusSeconds(3)),
        meta("terminate", T0.plusSeconds(90), "{\"status\":\"COMPLETED\",\"duration\":80,\"start_time\":\"1750000010\","
            + "\"end_time\":\"1750000090\"}"));

    assertThat(c.stateChanges()).containsExactly(new Transition(State.RINGING, T0, "meta"),
        new Transition(State.PRE_ACCEPTED, T0.plusSeconds(1), "key:k1"),
        new Transition(State.ACCEPTED, T0.plusSeconds(3), "key:k1"),
        new Transition(State.TERMINATED, T0.plusSeconds(90), "meta"));
    assertThat(c.state()).isEqualTo(State.TERMINATED);
    assertThat(c.direction()).contains(Direction.USER_INITIATED);
    assertThat(c.userWaId()).contains("15551234567");
    assertThat(c.answeredBy()).contains("k1");
    assertThat(c.terminateStatus()).contains("COMPLETED");
    assertThat(c.durationSeconds()).contains(80L);
    assertThat(c.startTime()).contains(Instant.ofEpochSecond(1750000010));
    assertThat(c.endTime()).contains(Instant.ofEpochSecond(1750000090));
    assertThat(c.lastError()).isEmpty();
    assertThat(c.createdAt()).isEqualTo(T0);
    assertThat(c.updatedAt()).isEqualTo(T0.plusSeconds(90));
  }

  @Test
  void aBusinessInitiatedCallIsCreatedByItsConnectAndMovedByMetasStatuses() {
    CallRecord c = fold(
        new Event(PNID, WACID, T0, Source.ACTION, "key:k1", "connect", Optional.of(Direction.BUSINESS_INITIATED),
            Optional.of("12185552828"), OptionalInt.of(200), Optional.empty()),
        meta("RINGING", T0.plusSeconds(1)),
        meta("ACCEPTED", T0.plusSeconds(8)),
        meta("terminate", T0.plusSeconds(60), "{\"status\":\"COMPLETED\"}"));

    assertThat(c.stateChanges()).extracting(Transition::state)
        .containsExactly(State.RINGING, State.ACCEPTED, State.TERMINATED);
    assertThat(c.stateChanges().get(0).actor()).isEqualTo("key:k1");
    assertThat(c.direction()).contains(Direction.BUSINESS_INITIATED);
    assertThat(c.answeredBy()).as("a connect does not answer").isEmpty();

    assertThat(stateAfter(meta("RINGING", T0), meta("REJECTED", T0.plusSeconds(5)))).isEqualTo(State.REJECTED);
  }

  @ParameterizedTest(name = "{0} then {1} {2} -> {3}")
  @CsvSource({
      // from ringing
      "connect, meta, call_created, RINGING",
      "connect, meta, RINGING, RINGING",
      "connect, meta, ACCEPTED, ACCEPTED",
      "connect, meta, REJECTED, REJECTED",
      "connect, meta, terminate, TERMINATED",
      "connect, key, pre_accept, PRE_ACCEPTED",
      "connect, key, accept, ACCEPTED",
      "connect, key, reject, REJECTED",
      "connect, key, terminate, TERMINATED",
      "connect, key, connect, RINGING",
      "connect, meta, voicemail, RINGING",
      "connect, meta, call_recording_available, RINGING",
      "connect, layer, refused, RINGING",
      // from accepted: only forward
      "ACCEPTED, key, pre_accept, ACCEPTED",
      "ACCEPTED, meta, RINGING, ACCEPTED",
      "ACCEPTED, meta, connect, ACCEPTED",
      "ACCEPTED, key, terminate, TERMINATED",
      // terminal states stay
      "terminate, meta, connect, TERMINATED",
      "terminate, meta, ACCEPTED, TERMINATED",
      "terminate, key, accept, TERMINATED",
      "terminate, key, reject, TERMINATED",
      "REJECTED, meta, terminate, REJECTED",
      "REJECTED, key, accept, REJECTED",
      "REJECTED, meta, RINGING, REJECTED",
  })
  void eachTransition(String first, String by, String second, State expected) {
    Event a = meta(first, T0);
    Event b = switch (by) {
      case "meta" -> meta(second, T0.plusSeconds(1));
      case "key" -> key("k1", second, 200, T0.plusSeconds(1));
      default -> layer(second, T0.plusSeconds(1));
    };
    assertThat(stateAfter(a, b)).isEqualTo(expected);
  }

  @Test
  void theLayersRefusalOfASecondSurfaceIsOnTheTimelineButNotTheCallsError() {
    CallRecord c = fold(meta("connect", T0), key("k1", "accept", 200, T0.plusSeconds(1)),
        new Event(PNID, WACID, T0.plusSeconds(2), Source.LAYER, "key:k2", "refused", Optional.empty(), Optional.empty(),
            OptionalInt.of(409), Optional.of("{\"action\":\"accept\",\"answered_by\":\"key:k1\","
                + "\"error\":{\"code\":409001,\"type\":\"MetaLayerException\"}}")));

    assertThat(c.state()).isEqualTo(State.ACCEPTED);
    assertThat(c.lastError()).isEmpty();
    assertThat(c.updatedAt()).isEqualTo(T0.plusSeconds(2));
  }

  @Test
  void anActionThatMetaRefusedOrThatFailedIsRecordedWithoutATransition() {
    CallRecord c = fold(meta("connect", T0), key("k1", "pre_accept", 400, T0.plusSeconds(1)),
        new Event(PNID, WACID, T0.plusSeconds(2), Source.ACTION, "key:k2", "accept", Optional.empty(), Optional.empty(),
            OptionalInt.of(500), Optional.of("{\"error\":{\"code\":138004,\"message\":\"Connection error\"}}")),
        new Event(PNID, WACID, T0.plusSeconds(3), Source.ACTION, "key:k3", "accept", Optional.empty(), Optional.empty(),
            OptionalInt.empty(), Optional.empty()));

    assertThat(c.state()).isEqualTo(State.RINGING);
    assertThat(c.stateChanges()).hasSize(1);
    assertThat(c.answeredBy()).isEmpty();
    assertThat(c.lastError()).contains("{\"code\":138004,\"message\":\"Connection error\"}");
    assertThat(c.updatedAt()).isEqualTo(T0.plusSeconds(3));
  }

  @Test
  void theFirstKeyWhoseAnswerMetaAcceptedAnswersTheCall() {
    CallRecord c = fold(meta("connect", T0), key("k2", "pre_accept", 400, T0.plusSeconds(1)),
        key("k1", "pre_accept", 200, T0.plusSeconds(2)), key("k2", "accept", 200, T0.plusSeconds(3)));
    assertThat(c.answeredBy()).contains("k1");
  }

  @Test
  void eventsArrivingOutOfOrderLeaveTheStateOfTheLatestStepAndTheEarliestCreation() {
    CallRecord c = fold(meta("terminate", T0.plusSeconds(2), "{\"status\":\"FAILED\"}"), meta("connect", T0));
    assertThat(c.state()).isEqualTo(State.TERMINATED);
    assertThat(c.stateChanges()).containsExactly(new Transition(State.TERMINATED, T0.plusSeconds(2), "meta"));
    assertThat(c.createdAt()).isEqualTo(T0);
    assertThat(c.updatedAt()).isEqualTo(T0.plusSeconds(2));
    assertThat(c.terminateStatus()).contains("FAILED");

    // an ACCEPTED status that overtakes the pre_accept's answer: the late pre_accept does not step back
    assertThat(stateAfter(meta("connect", T0), meta("ACCEPTED", T0.plusSeconds(2)), key("k", "pre_accept", 200,
        T0.plusSeconds(1)))).isEqualTo(State.ACCEPTED);
  }

  @Test
  void eventsThatFollowTheEndCreateATerminatedCallAndOthersARingingOne() {
    assertThat(fold(meta("voicemail", T0)).state()).isEqualTo(State.TERMINATED);
    assertThat(fold(meta("call_transcription_available", T0)).state()).isEqualTo(State.TERMINATED);
    assertThat(fold(layer("refused", T0)).state()).isEqualTo(State.RINGING);
    assertThat(fold(key("k", "accept", 409, T0)).state()).isEqualTo(State.RINGING);
    assertThat(fold(key("k", "accept", 200, T0)).state()).isEqualTo(State.ACCEPTED);
  }

  @Test
  void aCallRingingWithNoEventForTenMinutesExpiresAndOnlyMetasTerminateReplacesThat() {
    Instant due = T0.plus(Duration.ofMinutes(10));
    assertThat(stateAfter(meta("connect", T0), layer("expired", due))).isEqualTo(State.EXPIRED);
    assertThat(stateAfter(meta("connect", T0), key("k", "pre_accept", 200, T0), layer("expired", due)))
        .isEqualTo(State.EXPIRED);
    assertThat(stateAfter(meta("connect", T0), layer("expired", due.minusMillis(1)))).as("too early")
        .isEqualTo(State.RINGING);
    assertThat(Calls.dropped(Optional.of(fold(meta("connect", T0))), layer("expired", due.minusMillis(1)))).isTrue();
    assertThat(stateAfter(meta("connect", T0), meta("ACCEPTED", T0), layer("expired", due.plus(Duration.ofDays(1)))))
        .as("an accepted call never expires").isEqualTo(State.ACCEPTED);

    CallRecord expired = fold(meta("connect", T0), layer("expired", due));
    assertThat(expired.stateChanges().get(1)).isEqualTo(new Transition(State.EXPIRED, due, "layer"));
    assertThat(stateAfter(meta("connect", T0), layer("expired", due), meta("ACCEPTED", due.plusSeconds(1))))
        .isEqualTo(State.EXPIRED);
    assertThat(stateAfter(meta("connect", T0), layer("expired", due), key("k", "accept", 200, due.plusSeconds(1))))
        .isEqualTo(State.EXPIRED);
    assertThat(stateAfter(meta("connect", T0), layer("expired", due), meta("terminate", due.plusSeconds(1))))
        .isEqualTo(State.TERMINATED);
  }

  @Test
  void terminateFactsFoldIntoARejectedCallAndMetasErrorsAreKept() {
    CallRecord c = fold(meta("RINGING", T0), meta("REJECTED", T0.plusSeconds(1)), meta("terminate", T0.plusSeconds(2),
        "{\"status\":\"FAILED\",\"errors\":[{\"code\":138021,\"message\":\"Media receive timeout\"}]}"));
    assertThat(c.state()).isEqualTo(State.REJECTED);
    assertThat(c.terminateStatus()).contains("FAILED");
    assertThat(c.lastError()).contains("[{\"code\":138021,\"message\":\"Media receive timeout\"}]");
    assertThat(c.stateChanges()).hasSize(2);
  }

  @Test
  void applyRefusesAnEventOfAnotherCall() {
    CallRecord c = fold(meta("connect", T0));
    Event other = new Event(PNID, "wacid.other", T0, Source.WEBHOOK, "meta", "terminate", Optional.empty(),
        Optional.empty(), OptionalInt.empty(), Optional.empty());
    assertThatThrownBy(() -> Calls.apply(Optional.of(c), other)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aDetailThatIsNotJsonCarriesNoFacts() {
    CallRecord c = fold(meta("terminate", T0, "not json {"));
    assertThat(c.state()).isEqualTo(State.TERMINATED);
    assertThat(c.terminateStatus()).isEmpty();
    assertThat(c.lastError()).isEmpty();
  }

  @Test
  void theMachineNeverHasMoreThanFiveTransitions() {
    CallRecord c = fold(meta("connect", T0), key("a", "pre_accept", 200, T0.plusSeconds(1)),
        key("a", "accept", 200, T0.plusSeconds(2)), meta("RINGING", T0.plusSeconds(3)),
        key("a", "pre_accept", 200, T0.plusSeconds(4)), layer("expired", T0.plus(Duration.ofHours(1))),
        meta("terminate", T0.plus(Duration.ofHours(2))), meta("connect", T0.plus(Duration.ofHours(3))));
    assertThat(c.stateChanges()).hasSizeLessThanOrEqualTo(5);
    assertThat(List.of(State.values())).hasSize(6);
  }

  @Test
  void aWholeNumberHasAtMostTwelveDigitsInEitherShapeAndWireNamesRoundTrip() throws Exception {
    com.fasterxml.jackson.databind.ObjectMapper m = dev.metalayer.json.Json.mapper();
    assertThat(CallStates.whole(m.readTree("\"999999999999\""))).contains(999_999_999_999L);
    assertThat(CallStates.whole(m.readTree("999999999999"))).contains(999_999_999_999L);
    assertThat(CallStates.whole(m.readTree("\"1000000000000\""))).isEmpty();
    assertThat(CallStates.whole(m.readTree("\"\""))).isEmpty();
    assertThat(CallStates.whole(m.readTree("\"12a\""))).isEmpty();
    assertThat(CallStates.whole(m.readTree("-5"))).isEmpty();
    assertThat(CallStates.whole(m.readTree("1.5"))).isEmpty();
    for (State s : State.values()) {
      assertThat(State.fromWire(s.wire())).isEqualTo(s);
    }
    for (Direction d : Direction.values()) {
      assertThat(Direction.fromWire(d.wire())).isEqualTo(d);
    }
    for (Source s : Source.values()) {
      assertThat(Source.fromWire(s.wire())).isEqualTo(s);
    }
    assertThat(State.PRE_ACCEPTED.wire()).isEqualTo("pre_accepted");
    assertThat(Direction.USER_INITIATED.wire()).isEqualTo("user_initiated");
    assertThat(Source.LAYER.wire()).isEqualTo("layer");
  }

  @Test
  void aDetailThatIsNoObjectOrNamesNoErrorCarriesNoFactsAndKeepsTheLastError() {
    assertThat(fold(meta("terminate", T0, "[1,2]")).terminateStatus()).isEmpty();
    assertThat(fold(meta("terminate", T0, "\"FAILED\"")).state()).isEqualTo(State.TERMINATED);
    CallRecord c = fold(meta("connect", T0),
        meta("RINGING", T0.plusSeconds(1), "{\"errors\":[{\"code\":131000}]}"),
        meta("RINGING", T0.plusSeconds(2), "{\"errors\":[]}"),
        meta("RINGING", T0.plusSeconds(3), "{\"error\":null}"),
        meta("RINGING", T0.plusSeconds(4), "{\"errors\":null}"),
        meta("RINGING", T0.plusSeconds(5), "{\"status\":\"x\"}"));
    assertThat(c.lastError()).contains("[{\"code\":131000}]");
    assertThat(fold(meta("connect", T0), meta("RINGING", T0.plusSeconds(1), "{\"error\":null}")).lastError()).isEmpty();
    assertThat(fold(meta("connect", T0), meta("RINGING", T0.plusSeconds(1), "{\"errors\":[]}")).lastError()).isEmpty();
    assertThat(fold(meta("connect", T0), meta("RINGING", T0.plusSeconds(1), "{\"error\":{\"code\":1}}")).lastError())
        .contains("{\"code\":1}");
  }
}

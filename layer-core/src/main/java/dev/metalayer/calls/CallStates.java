package dev.metalayer.calls;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.calls.CallStore.CallRecord;
import dev.metalayer.calls.CallStore.Direction;
import dev.metalayer.calls.CallStore.Event;
import dev.metalayer.calls.CallStore.Source;
import dev.metalayer.calls.CallStore.State;
import dev.metalayer.calls.CallStore.Transition;
import dev.metalayer.json.Json;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * The rules of a call's state machine ({@link Calls#apply}), pure. {@code docs/calls.md} draws it:
 *
 * <ul>
 *   <li>Each event names a <i>target</i> state, or none. Meta's {@code connect}, {@code call_created}
 *       and status {@code RINGING}: ringing; status {@code ACCEPTED}: accepted; {@code REJECTED}:
 *       rejected; {@code terminate}: terminated. A key's action counts only when Meta answered it 2xx:
 *       {@code connect} ringing (a business-initiated call), {@code pre_accept} pre-accepted,
 *       {@code accept} accepted, {@code reject} rejected, {@code terminate} terminated. Anything else (an
 *       action refused or failed, a layer refusal, a voicemail, a recording) is recorded, no transition.
 *   <li>The first event of a call creates its record in its target state; an event without one creates
 *       it ringing, except the events that only follow a call's end (voicemail, recording and
 *       transcription available), which create it terminated.
 *   <li>The machine only moves forward: ringing, then pre-accepted, then accepted, then a terminal state
 *       (rejected, terminated, expired). A late event that points back is recorded and changes nothing
 *       (a {@code connect} that arrives after its {@code terminate}: the record stays terminated).
 *   <li>Terminal states never change, with one exception: {@code expired} is the layer's guess, and
 *       Meta's {@code terminate} (or a key's, answered 2xx) replaces it with terminated.
 *   <li>Expired: a call ringing or pre-accepted with no event for {@link #UNANSWERED} (ten minutes, ten
 *       times Meta's longest ring window) is over as far as anyone can tell; the layer records an
 *       {@code expired} event for it (lazily, when the call is read, and by the hourly purge) dated
 *       {@code UNANSWERED} after its last event. An accepted call never expires: calls have no length
 *       limit, and Meta sends its terminate.
 *   <li>Facts fold in whatever the state: direction and user when first known, a terminate's status,
 *       duration, start and end, Meta's errors (the last one wins; never a layer event's), the answering key (the first key
 *       whose {@code pre_accept} or {@code accept} Meta answered 2xx, unless a claim came first). The
 *       record's creation time is its earliest event's, its update time its latest event's.
 * </ul>
 */
final class CallStates {
  /** How long a ringing or pre-accepted call may go without an event before it counts as expired. */
  static final Duration UNANSWERED = Duration.ofMinutes(10);
  /** The events that only follow the end of a call. */
  private static final Set<String> AFTER_THE_END =
      Set.of("voicemail", "call_recording_available", "call_transcription_available");

  private CallStates() {}

  static CallRecord apply(Optional<CallRecord> current, Event event) {
    Optional<State> target = target(event);
    CallRecord base = current.orElseGet(() -> created(event,
        target.orElse(AFTER_THE_END.contains(event.name()) ? State.TERMINATED : State.RINGING)));
    State state = base.state();
    List<Transition> changes = new ArrayList<>(base.stateChanges());
    if (current.isPresent() && target.isPresent() && moves(base, state, target.get(), event)) {
      state = target.get();
      changes.add(new Transition(state, event.at(), event.actor()));
    }
    Facts facts = Facts.of(event);
    Optional<String> answeredBy = base.answeredBy();
    if (answeredBy.isEmpty() && event.source() == Source.ACTION && ok(event)
        && ("pre_accept".equals(event.name()) || "accept".equals(event.name()))
        && event.actor().startsWith("key:")) {
      answeredBy = Optional.of(event.actor().substring("key:".length()));
    }
    return new CallRecord(
        base.phoneNumberId(),
        base.wacid(),
        base.direction().or(event::direction),
        base.userWaId().or(event::userWaId),
        state,
        changes,
        answeredBy,
        facts.terminateStatus.or(base::terminateStatus),
        facts.duration.or(base::durationSeconds),
        facts.start.or(base::startTime),
        facts.end.or(base::endTime),
        facts.error.or(base::lastError),
        event.at().isBefore(base.createdAt()) ? event.at() : base.createdAt(),
        event.at().isAfter(base.updatedAt()) ? event.at() : base.updatedAt());
  }

  /** A record of no event yet, in {@code state}, entered at {@code at} by {@code actor}. */
  static CallRecord empty(String phoneNumberId, String wacid, State state, Instant at, String actor) {
    return new CallRecord(phoneNumberId, wacid, Optional.empty(), Optional.empty(), state,
        List.of(new Transition(state, at, actor)), Optional.empty(), Optional.empty(), Optional.empty(),
        Optional.empty(), Optional.empty(), Optional.empty(), at, at);
  }

  private static CallRecord created(Event event, State state) {
    return empty(event.phoneNumberId(), event.wacid(), state, event.at(), event.actor());
  }

  /** Whether the record may go from {@code from} to {@code to} on {@code event}. */
  private static boolean moves(CallRecord record, State from, State to, Event event) {
    if (from == to) {
      return false;
    }
    if (to == State.EXPIRED) {
      return (from == State.RINGING || from == State.PRE_ACCEPTED)
          && !record.updatedAt().plus(UNANSWERED).isAfter(event.at());
    }
    if (from == State.EXPIRED) {
      return to == State.TERMINATED;
    }
    if (terminal(from)) {
      return false;
    }
    return terminal(to) || rank(to) > rank(from);
  }

  /**
   * Whether the store keeps {@code event} at all: a layer {@code expired} event that no longer applies
   * (the call had an event meanwhile) is dropped, so that the timeline never shows an expiry that did
   * not happen.
   */
  static boolean inert(Optional<CallRecord> current, Event event) {
    return event.source() == Source.LAYER && "expired".equals(event.name())
        && (current.isEmpty() || !moves(current.get(), current.get().state(), State.EXPIRED, event));
  }

  static boolean terminal(State state) {
    return state == State.REJECTED || state == State.TERMINATED || state == State.EXPIRED;
  }

  private static int rank(State state) {
    return switch (state) {
      case RINGING -> 0;
      case PRE_ACCEPTED -> 1;
      case ACCEPTED -> 2;
      case REJECTED, TERMINATED, EXPIRED -> 3;
    };
  }

  /** The state an event points to, if any. */
  static Optional<State> target(Event event) {
    String name = event.name();
    switch (event.source()) {
      case WEBHOOK -> {
        return switch (name.toUpperCase(Locale.ROOT)) {
          case "CONNECT", "CALL_CREATED", "RINGING" -> Optional.of(State.RINGING);
          case "ACCEPTED" -> Optional.of(State.ACCEPTED);
          case "REJECTED" -> Optional.of(State.REJECTED);
          case "TERMINATE" -> Optional.of(State.TERMINATED);
          default -> Optional.empty();
        };
      }
      case ACTION -> {
        if (!ok(event)) {
          return Optional.empty();
        }
        return switch (name) {
          case "connect" -> Optional.of(State.RINGING);
          case "pre_accept" -> Optional.of(State.PRE_ACCEPTED);
          case "accept" -> Optional.of(State.ACCEPTED);
          case "reject" -> Optional.of(State.REJECTED);
          case "terminate" -> Optional.of(State.TERMINATED);
          default -> Optional.empty();
        };
      }
      case LAYER -> {
        return "expired".equals(name) ? Optional.of(State.EXPIRED) : Optional.empty();
      }
      default -> throw new IllegalStateException("unknown source " + event.source());
    }
  }

  /** Whether an action's answer was 2xx. */
  private static boolean ok(Event event) {
    return event.httpStatus().isPresent() && event.httpStatus().getAsInt() / 100 == 2;
  }

  /** What an event's detail says of the call (see {@link Event#detail}). */
  private record Facts(Optional<String> terminateStatus, Optional<Long> duration, Optional<Instant> start,
      Optional<Instant> end, Optional<String> error) {
    static final Facts NONE = new Facts(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
        Optional.empty());

    static Facts of(Event event) {
      if (event.detail().isEmpty()) {
        return NONE;
      }
      JsonNode d;
      try {
        d = Json.mapper().readTree(event.detail().get());
      } catch (IOException e) {
        return NONE; // a detail is the layer's own JSON; one that does not parse carries no facts
      }
      if (d == null || !d.isObject()) {
        return NONE;
      }
      boolean terminate = "terminate".equalsIgnoreCase(event.name()) && event.source() == Source.WEBHOOK;
      Optional<String> status = terminate && d.path("status").isTextual()
          ? Optional.of(d.path("status").asText()) : Optional.empty();
      Optional<Long> duration = terminate ? whole(d.path("duration")) : Optional.empty();
      Optional<Instant> start = terminate ? whole(d.path("start_time")).map(Instant::ofEpochSecond) : Optional.empty();
      Optional<Instant> end = terminate ? whole(d.path("end_time")).map(Instant::ofEpochSecond) : Optional.empty();
      // Meta's errors only: the layer's refusal of a second surface is on the timeline, not the call's error
      JsonNode error = event.source() == Source.LAYER ? null : d.has("errors") ? d.get("errors") : d.get("error");
      Optional<String> err = error == null || error.isNull() || (error.isArray() && error.isEmpty())
          ? Optional.empty() : Optional.of(error.toString());
      return new Facts(status, duration, start, end, err);
    }
  }

  /** A whole number written as a JSON number or a string of digits (Meta writes both), if sane. */
  static Optional<Long> whole(JsonNode node) {
    String text = node.isIntegralNumber() || node.isTextual() ? node.asText() : "";
    if (text.isEmpty() || text.length() > 12 || !text.chars().allMatch(Character::isDigit)) {
      return Optional.empty();
    }
    return Optional.of(Long.parseLong(text));
  }

  /** Direction from Meta's word for it. */
  static Optional<Direction> direction(String text) {
    return switch (text) {
      case "USER_INITIATED" -> Optional.of(Direction.USER_INITIATED);
      case "BUSINESS_INITIATED" -> Optional.of(Direction.BUSINESS_INITIATED);
      default -> Optional.empty();
    };
  }
}

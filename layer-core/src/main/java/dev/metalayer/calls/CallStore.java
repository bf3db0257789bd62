package dev.metalayer.calls;

import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Where call records live (an SPI; the layer's implementations are in {@code dev.metalayer.store} and
 * share the relay store's transactions, see {@code RelayStore#calls()}). A call record is one
 * WhatsApp call ({@code wacid}) of one number, built from both halves the layer sees: Meta's call
 * webhooks on the way in and the keys' {@code /calls} actions on the way out. The state machine is
 * {@link Calls#apply}: a store only persists what it answers. Every method is scoped to one number
 * (its phone number ID) but {@link #list} with no number (the admin view). Implementations are
 * thread-safe.
 */
public interface CallStore {

  /** A call's state; {@code docs/calls.md} draws the machine. */
  enum State {
    RINGING,
    PRE_ACCEPTED,
    ACCEPTED,
    REJECTED,
    TERMINATED,
    EXPIRED;

    /** The lower-case name used in the store and the API. */
    public String wire() {
      return name().toLowerCase(Locale.ROOT);
    }

    public static State fromWire(String value) {
      return valueOf(value.toUpperCase(Locale.ROOT));
    }
  }

  /** Who placed the call, in Meta's words. */
  enum Direction {
    USER_INITIATED,
    BUSINESS_INITIATED;

    public String wire() {
      return name().toLowerCase(Locale.ROOT);
    }

    public static Direction fromWire(String value) {
      return valueOf(value.toUpperCase(Locale.ROOT));
    }
  }

  /** Which half of the layer saw an event. */
  enum Source {
    /** A webhook from Meta (actor {@code meta}). */
    WEBHOOK,
    /** A key's proxied action (actor {@code key:<key id>}). */
    ACTION,
    /**
     * The layer itself: a refusal of the answering surface (actor {@code key:<key id>}, the refused key) or an
     * expiry (actor {@code layer}).
     */
    LAYER;

    public String wire() {
      return name().toLowerCase(Locale.ROOT);
    }

    public static Source fromWire(String value) {
      return valueOf(value.toUpperCase(Locale.ROOT));
    }
  }

  /**
   * One thing that happened to a call: what {@link Calls#apply} folds into its record and what the
   * timeline lists.
   *
   * @param name the webhook event ({@code connect}, {@code terminate}, a status such as {@code RINGING},
   *     {@code call_created}, {@code voicemail}) or the action ({@code connect},
   *     {@code pre_accept}, {@code accept}, {@code reject}, {@code terminate}), or the layer's own
   *     ({@code refused}, {@code expired}); a remembered limit is no event (it names a user, not a call:
   *     {@link Limit}), a superseded ring is a delivery's state
   * @param direction what the event says of the call's direction, when it says it
   * @param userWaId the user's WhatsApp ID, when the event names it
   * @param httpStatus an action's answer status
   * @param detail a JSON object of the event's facts (terminate {@code status}, {@code duration},
   *     {@code start_time}, {@code end_time}, {@code errors}, Meta's {@code error} of an action); never a
   *     secret, never an SDP
   */
  record Event(
      String phoneNumberId,
      String wacid,
      Instant at,
      Source source,
      String actor,
      String name,
      Optional<Direction> direction,
      Optional<String> userWaId,
      OptionalInt httpStatus,
      Optional<String> detail) {
    public Event {
      Objects.requireNonNull(phoneNumberId, "phoneNumberId");
      Objects.requireNonNull(wacid, "wacid");
      Objects.requireNonNull(at, "at");
      Objects.requireNonNull(source, "source");
      Objects.requireNonNull(actor, "actor");
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(direction, "direction");
      Objects.requireNonNull(userWaId, "userWaId");
      Objects.requireNonNull(httpStatus, "httpStatus");
      Objects.requireNonNull(detail, "detail");
    }
  }

  /**
   * A call as the layer knows it.
   *
   * @param answeredBy the key that owns the answering of the call (the first to {@code pre_accept} or
   *     {@code accept} it), as its key id
   * @param stateChanges each transition: the state entered, when and who caused it
   * @param lastError the last error Meta gave for the call (an action's error or a terminate's
   *     {@code errors}), as JSON
   */
  record CallRecord(
      String phoneNumberId,
      String wacid,
      Optional<Direction> direction,
      Optional<String> userWaId,
      State state,
      List<Transition> stateChanges,
      Optional<String> answeredBy,
      Optional<String> terminateStatus,
      Optional<Long> durationSeconds,
      Optional<Instant> startTime,
      Optional<Instant> endTime,
      Optional<String> lastError,
      Instant createdAt,
      Instant updatedAt) {
    public CallRecord {
      stateChanges = List.copyOf(stateChanges);
    }
  }

  /** One transition of a call's state machine: the state entered, when, and by whom ({@code meta}, {@code key:<id>}, {@code layer}). */
  record Transition(State state, Instant at, String actor) {}

  /** One webhook delivery of a call's changes to a subscription, as the delivery log shows it. */
  record DeliveryEntry(
      String deliveryId,
      String subscriptionId,
      String field,
      String state,
      int attempts,
      Instant createdAt,
      Optional<Instant> lastAttemptAt) {}

  /**
   * A refusal of Meta's the layer answers from memory until {@code until}: Meta's own answer (its
   * status and JSON body, as the client got it) to a call permission request or a {@code connect} to one
   * user of one number.
   *
   * @param kind {@code permission_request} or {@code connect}
   * @param code Meta's error code
   */
  record Limit(
      String phoneNumberId,
      String userWaId,
      String kind,
      int code,
      int httpStatus,
      String answer,
      Instant at,
      Instant until) {}

  /**
   * A page request of {@link #list}.
   *
   * @param phoneNumberId the one number, or empty for every number (the admin view)
   * @param states the states wanted; empty for all
   * @param after the cursor of the previous page's {@link Page#next}
   */
  record Query(
      Optional<String> phoneNumberId,
      Set<State> states,
      Optional<Direction> direction,
      Optional<Instant> since,
      Optional<Instant> until,
      Optional<String> after,
      int limit) {}

  /** A page of calls, newest first, and the cursor of the next page. */
  record Page(List<CallRecord> calls, Optional<String> next) {}

  /**
   * Folds the events into their calls' records with {@link Calls#apply} (in its own transaction; the
   * relay store writes the events of an ingest in the ingest's) and appends them to the timelines. An
   * event equal to one the call already has (a redelivery of Meta's: same source, actor, name, time,
   * status and detail) is skipped, and so is an event {@link Calls#dropped} names. A timeline keeps at
   * most {@link #MAX_TIMELINE} events (later ones still fold into the record); a detail over
   * {@link #MAX_DETAIL} characters is kept as {@code {"truncated":true}}. On PostgreSQL the records
   * of one call are written one instance at a time (a row lock).
   */
  void record(List<Event> events);

  /** The most events a call's timeline keeps. */
  int MAX_TIMELINE = 500;
  /** The longest event detail kept, in characters. */
  int MAX_DETAIL = 4_096;

  Optional<CallRecord> find(String phoneNumberId, String wacid);

  /** The events of a call, oldest first. */
  List<Event> timeline(String phoneNumberId, String wacid);

  /** The webhook deliveries of a call's changes, oldest first (empty for a store without a relay). */
  List<DeliveryEntry> deliveries(String phoneNumberId, String wacid);

  /**
   * A page of calls, newest first (creation time, then number, then call id, descending), after the
   * cursor; {@code limit} is clamped to 1–500; {@code since} is inclusive, {@code until} exclusive (on
   * the creation time).
   *
   * @throws IllegalArgumentException for a cursor this store did not make
   */
  Page list(Query query);

  /**
   * Makes {@code keyId} the call's answering key unless another key already is, atomically across
   * instances sharing the store; creates the record if needed.
   *
   * @return the answering key after the claim (this key, or the one that was first)
   */
  String claimAnswering(String phoneNumberId, String wacid, String keyId, Instant now);

  /**
   * Gives up {@code keyId}'s answering of the call, atomically: the call then has no answering key, unless
   * another key is it (then nothing changes). For a claim whose action Meta refused ({@code docs/calls.md}).
   *
   * @return whether {@code keyId} was the answering key and is no longer
   */
  boolean releaseAnswering(String phoneNumberId, String wacid, String keyId);

  /** Keeps a refusal (replacing one of the same number, user and kind). */
  void remember(Limit limit);

  /** The refusal kept for the number, user and kind that is still in force at {@code now}. */
  Optional<Limit> remembered(String phoneNumberId, String userWaId, String kind, Instant now);

  /** The refusals in force for the user of a number (for a call record and {@code /v1/calls}). */
  List<Limit> rememberedFor(String phoneNumberId, String userWaId, Instant now);

  /** Forgets the refusals of the number and user of {@code kind} (a permission granted, a call connected). */
  void forget(String phoneNumberId, String userWaId, String kind);

  /** {@code single} (the default: one answering key per call) or {@code any}, per number. */
  String answering(String phoneNumberId);

  /** @throws IllegalArgumentException for a mode other than {@code single} and {@code any} */
  void setAnswering(String phoneNumberId, String mode);

  /**
   * The calls ringing or pre-accepted whose last event is older than {@code before}, oldest first, at
   * most {@code limit}: those {@link Calls#expireUnanswered} marks expired.
   */
  List<CallRecord> unanswered(Instant before, int limit);

  /**
   * Deletes the calls whose last event is older than {@code before}, with their events, and the
   * remembered refusals that ended before it; returns how many calls.
   */
  int purge(Instant before);
}

package dev.metalayer.calls;

import dev.metalayer.calls.CallStore.CallRecord;
import dev.metalayer.calls.CallStore.DeliveryEntry;
import dev.metalayer.calls.CallStore.Event;
import dev.metalayer.calls.CallStore.Limit;
import dev.metalayer.graph.CallGuard;
import dev.metalayer.graph.GraphAnswer;
import dev.metalayer.keys.Grant;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The layer's knowledge of WhatsApp calls, built from both halves it sees: the call records (one per
 * {@code wacid}), the state machine ({@link #apply}), the one answering surface per call and the
 * calling limits it remembers ({@link CallGuard}). Obtain it from {@code MetaLayer#calls()}.
 * Thread-safe.
 */
public final class Calls implements CallGuard {
  /** A call as {@code GET /v1/calls/{wacid}} shows it: its record, its timeline, its deliveries and the refusals in force. */
  public record View(CallRecord call, List<Event> timeline, List<DeliveryEntry> deliveries, List<Limit> remembered) {}

  /** The longest call id the layer records (Meta's are about 60 characters): a longer one is never a call of the layer's. */
  public static final int MAX_CALL_ID = CallEvents.MAX_WACID;

  /** The answering mode of a number with one answering surface per call (the default). */
  public static final String SINGLE = CallActions.SINGLE;
  /** The answering mode of a number whose every key may pre-accept, accept and reject any of its calls. */
  public static final String ANY = CallActions.ANY;

  private final CallStore store;
  private final Clock clock;
  private final CallActions actions;

  public Calls(CallStore store, Clock clock) {
    this.store = Objects.requireNonNull(store, "store");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.actions = new CallActions(store, clock);
  }

  public CallStore store() {
    return store;
  }

  /**
   * The state machine: the record of a call after {@code event}, from the record before it (empty for
   * the call's first event). Pure; the stores call it inside their transactions.
   */
  public static CallRecord apply(Optional<CallRecord> current, Event event) {
    Objects.requireNonNull(current, "current");
    Objects.requireNonNull(event, "event");
    current.ifPresent(c -> {
      if (!c.phoneNumberId().equals(event.phoneNumberId()) || !c.wacid().equals(event.wacid())) {
        throw new IllegalArgumentException("the event is of another call");
      }
    });
    return CallStates.apply(current, event);
  }

  /**
   * Whether a store drops {@code event} instead of keeping it: a layer {@code expired} event for a call
   * that had another event meanwhile, or an event whose ids exceed what a store holds (a call id over
   * 200 characters, a phone number or user id over 64, an actor over 100, a name over 64). Pure.
   */
  public static boolean dropped(Optional<CallRecord> current, Event event) {
    return !CallEvents.storable(event) || CallStates.inert(current, event);
  }

  /**
   * The ordering key of a call's webhook deliveries (the relay delivers the changes of one key in
   * order, and finds a call's deliveries by it): the call id, or, for an id over 120 characters (Meta's
   * are about 60), {@code sha256:} and its SHA-256 in hex, so that an odd id can never make a batch fail
   * to store.
   */
  public static String orderingKey(String wacid) {
    return CallEvents.orderingKey(wacid);
  }

  /**
   * Whether a change may hold call events or permission replies, decided without parsing it (the relay
   * parses only those): a {@code calls} change with call ids, or a {@code messages} change whose bytes
   * mention a {@code wacid.} id or a {@code call_permission_reply}.
   *
   * @param callIds whether the change's {@code value.calls[]} or call {@code value.statuses[]} have ids
   */
  public static boolean mayConcernCalls(String field, boolean callIds, byte[] change, int offset, int length) {
    if ("calls".equals(field)) {
      return callIds;
    }
    return "messages".equals(field) && (CallEvents.voicemailCandidate(change, offset, length)
        || CallEvents.permissionReplyCandidate(change, offset, length));
  }

  /**
   * The call events of one verified webhook change of a registered number ({@code field} {@code calls},
   * or the call events of {@code messages}): what the relay stores with the envelope, in the same
   * transaction. Empty for a change that is not about a call.
   *
   * @param change the change's own bytes ({@code {"field":…,"value":{…}}})
   */
  public List<Event> eventsOf(String phoneNumberId, byte[] change, int offset, int length, Instant receivedAt) {
    Objects.requireNonNull(phoneNumberId, "phoneNumberId");
    Objects.checkFromIndexSize(offset, length, change.length);
    return CallEvents.of(phoneNumberId, change, offset, length, receivedAt);
  }

  /**
   * Acts on the call permission replies of one verified {@code messages} change of a registered number
   * (see {@link #permissionReply}). @return how many replies it held
   */
  public int permissionReplies(String phoneNumberId, byte[] change, int offset, int length, Instant at) {
    Objects.checkFromIndexSize(offset, length, change.length);
    List<CallEvents.Reply> replies = CallEvents.permissionReplies(change, offset, length);
    for (CallEvents.Reply r : replies) {
      permissionReply(phoneNumberId, r.userWaId(), r.accepted(), at);
    }
    return replies.size();
  }

  /**
   * Acts on call events once the relay has stored them: a call Meta reports connected (its
   * {@code ACCEPTED} status, sent for business-initiated calls) resets Meta's permission-request limits
   * for the user, so the layer forgets its refusals of them ({@link #callConnected}).
   */
  public void stored(List<Event> events) {
    for (Event e : events) {
      // the state machine's reading of the event (a status in any case), not a second one
      if (e.source() == CallStore.Source.WEBHOOK && e.userWaId().isPresent()
          && CallStates.target(e).filter(s -> s == CallStore.State.ACCEPTED).isPresent()) {
        callConnected(e.phoneNumberId(), e.userWaId().get());
      }
    }
  }

  /**
   * A user answered a call permission request of the number. When they granted it, the refusals the
   * layer remembered for them that the grant ends are forgotten: those of permission requests, and a
   * {@code connect} refused for want of permission (Meta's code 138006); a {@code connect} refused for
   * another limit (a rate, the calls per day) stays until its time. A refusal changes nothing: Meta's
   * limits on requests run on.
   */
  void permissionReply(String phoneNumberId, String userWaId, boolean accepted, Instant at) {
    if (accepted) {
      actions.permissionGranted(phoneNumberId, userWaId, at);
    }
  }

  /** The {@link Limit#kind} of a refused call permission request. */
  public static final String PERMISSION_REQUEST = RememberedLimits.PERMISSION_REQUEST;
  /** The {@link Limit#kind} of a refused {@code connect}. */
  public static final String CONNECT = RememberedLimits.CONNECT;

  /** One call with its timeline, deliveries and the refusals in force for its user. */
  public Optional<View> view(String phoneNumberId, String wacid) {
    Instant now = clock.instant();
    Optional<CallRecord> found = store.find(phoneNumberId, wacid);
    if (found.isPresent() && expiry(found.get(), now).isPresent()) {
      store.record(List.of(expiry(found.get(), now).get()));
      found = store.find(phoneNumberId, wacid);
    }
    return found.map(call -> new View(call, store.timeline(phoneNumberId, wacid), store.deliveries(phoneNumberId, wacid),
        remembered(call, now)));
  }

  /**
   * The refusals of Meta the layer answers from memory for the call's user and number, in force now:
   * what a call shows beside its record ({@link View#remembered}, and each call of a {@link #list}).
   * Empty for a call whose user is not known yet.
   */
  public List<Limit> remembered(CallRecord call) {
    return remembered(call, clock.instant());
  }

  private List<Limit> remembered(CallRecord call, Instant now) {
    return call.userWaId().map(u -> store.rememberedFor(call.phoneNumberId(), u, now)).orElse(List.of());
  }

  /** The parameters of a calls list ({@link #query}): {@code state}, {@code direction}, {@code since}, {@code until}, {@code limit}, {@code after}. */
  public static final Set<String> LIST_PARAMETERS = CallQueries.PARAMETERS;

  /**
   * The query of a calls list from its request parameters ({@code docs/calls.md}), or the Graph-shaped
   * 400 that names the bad one (never its value). Pure.
   *
   * @param phoneNumberId the one number, or empty for every number (the operator's view)
   * @param parameters the request's parameters, each with its values in order
   * @param allowed the parameters the list takes ({@link #LIST_PARAMETERS}, and any the caller reads itself)
   */
  public static dev.metalayer.graph.Outcome<CallStore.Query> query(Optional<String> phoneNumberId,
      java.util.Map<String, List<String>> parameters, Set<String> allowed) {
    return CallQueries.read(phoneNumberId, parameters, allowed);
  }

  /** A page of calls, newest first (the calls past their ring are marked expired first, see {@link #expireUnanswered}). */
  public CallStore.Page list(CallStore.Query query) {
    expireUnanswered(EXPIRY_BATCH);
    return store.list(query);
  }

  /**
   * {@link #list}, with a cursor the store did not make (another list's, a forged one) refused as the
   * client's mistake: a Graph-shaped 400.
   */
  public dev.metalayer.graph.Outcome<CallStore.Page> page(CallStore.Query query) {
    try {
      return dev.metalayer.graph.Outcome.ok(list(query));
    } catch (IllegalArgumentException notACursor) {
      return dev.metalayer.graph.Outcome.refused(dev.metalayer.graph.GraphError.invalidParameter(CallQueries.BAD_CURSOR));
    }
  }

  /** Calls expired per {@link #list}; the rest wait for the next read or the hourly sweep. */
  private static final int EXPIRY_BATCH = 200;

  /**
   * Marks expired, at most {@code limit} of them, the calls that have been ringing or pre-accepted with
   * no event for ten minutes (see {@code docs/calls.md}): each gets an {@code expired} event by the
   * layer, dated ten minutes after its last event. The relay's hourly purge runs it too. @return how
   * many calls it expired
   */
  public int expireUnanswered(int limit) {
    Instant now = clock.instant();
    int n = 0;
    for (CallRecord call : store.unanswered(now.minus(CallStates.UNANSWERED), limit)) {
      Optional<Event> expiry = expiry(call, now);
      if (expiry.isPresent()) {
        store.record(List.of(expiry.get()));
        n++;
      }
    }
    return n;
  }

  /** The {@code expired} event a call is due, if it is. */
  private static Optional<Event> expiry(CallRecord call, Instant now) {
    if (call.state() != CallStore.State.RINGING && call.state() != CallStore.State.PRE_ACCEPTED) {
      return Optional.empty();
    }
    Instant at = call.updatedAt().plus(CallStates.UNANSWERED);
    if (at.isAfter(now)) {
      return Optional.empty();
    }
    return Optional.of(new Event(call.phoneNumberId(), call.wacid(), at, CallStore.Source.LAYER, "layer", "expired",
        Optional.empty(), Optional.empty(), java.util.OptionalInt.empty(), Optional.empty()));
  }

  /**
   * The one answering surface and the remembered limits ({@code docs/calls.md}): answers a
   * {@code pre_accept}, {@code accept} or {@code reject} of a call another key of the number answers
   * (409, code {@link dev.metalayer.graph.GraphError#ANSWERED_ELSEWHERE}), and a call permission request
   * or a {@code connect} Meta refused for a limit still in force (Meta's answer, from memory); empty for
   * anything else. Reads nothing from the store for a message that is no call permission request.
   */
  @Override
  public Optional<GraphAnswer> before(Grant grant, String edge, byte[] body) {
    return actions.before(grant, edge, body);
  }

  /** Records a call action's answer in the call's timeline, and remembers Meta's refusal for a limit. */
  @Override
  public void after(Grant grant, String edge, byte[] requestBody, int status, byte[] answerBody) {
    actions.after(grant, edge, requestBody, status, answerBody);
  }

  /** The number's answering mode: {@link #SINGLE} (the default) or {@link #ANY}. */
  public String answering(String phoneNumberId) {
    return store.answering(phoneNumberId);
  }

  /**
   * Sets the number's answering mode.
   *
   * @throws IllegalArgumentException for a mode other than {@link #SINGLE} and {@link #ANY}
   */
  public void setAnswering(String phoneNumberId, String mode) {
    store.setAnswering(phoneNumberId, answeringMode(mode));
  }

  /**
   * {@code mode} when it is an answering mode, {@link #SINGLE} or {@link #ANY} (the one check, for the
   * stores and the adapters too).
   *
   * @throws IllegalArgumentException for any other
   */
  public static String answeringMode(String mode) {
    if (!SINGLE.equals(mode) && !ANY.equals(mode)) {
      throw new IllegalArgumentException("the answering mode is single or any");
    }
    return mode;
  }

  /**
   * A call of the number with {@code userWaId} connected: Meta resets the user's permission request
   * limits, and the layer forgets its refusals of them (for the relay's ingest of an {@code ACCEPTED}
   * status; an {@code accept} answered 2xx does it already).
   */
  void callConnected(String phoneNumberId, String userWaId) {
    actions.connected(phoneNumberId, userWaId);
  }
}

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

/**
 * The layer's knowledge of WhatsApp calls, built from both halves it sees: the call records (one per
 * {@code wacid}), the state machine ({@link #apply}), the one answering surface per call and the
 * calling limits it remembers ({@link CallGuard}). Obtain it from {@code MetaLayer#calls()}.
 * Thread-safe.
 */
public final class Calls implements CallGuard {
  /** A call as {@code GET /v1/calls/{wacid}} shows it: its record, its timeline, its deliveries and the refusals in force. */
  public record View(CallRecord call, List<Event> timeline, List<DeliveryEntry> deliveries, List<Limit> remembered) {}

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
    throw new UnsupportedOperationException("issue 13: call records");
  }

  /**
   * The call events of one verified webhook change of a registered number ({@code field} {@code calls},
   * or the call events of {@code messages}): what the relay stores with the envelope, in the same
   * transaction. Empty for a change that is not about a call.
   *
   * @param change the change's own bytes ({@code {"field":…,"value":{…}}})
   */
  public List<Event> eventsOf(String phoneNumberId, byte[] change, int offset, int length, Instant receivedAt) {
    throw new UnsupportedOperationException("issue 13: call records");
  }

  /** One call with its timeline, deliveries and the refusals in force for its user. */
  public Optional<View> view(String phoneNumberId, String wacid) {
    throw new UnsupportedOperationException("issue 13: call records");
  }

  /** A page of calls, newest first. */
  public CallStore.Page list(CallStore.Query query) {
    throw new UnsupportedOperationException("issue 13: call records");
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
    if (!SINGLE.equals(mode) && !ANY.equals(mode)) {
      throw new IllegalArgumentException("the answering mode is single or any");
    }
    store.setAnswering(phoneNumberId, mode);
  }

  /**
   * A call of the number with {@code userWaId} connected: Meta resets the user's permission request
   * limits, and the layer forgets its refusals of them (for the relay's ingest of an {@code ACCEPTED}
   * status; an {@code accept} answered 2xx does it already).
   */
  public void callConnected(String phoneNumberId, String userWaId) {
    actions.connected(phoneNumberId, userWaId);
  }

  Clock clock() {
    return clock;
  }
}

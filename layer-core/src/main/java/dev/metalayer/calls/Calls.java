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

  private final CallStore store;
  private final Clock clock;

  public Calls(CallStore store, Clock clock) {
    this.store = Objects.requireNonNull(store, "store");
    this.clock = Objects.requireNonNull(clock, "clock");
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

  @Override
  public Optional<GraphAnswer> before(Grant grant, String edge, byte[] body) {
    throw new UnsupportedOperationException("issue 13: answering surface and remembered limits");
  }

  @Override
  public void after(Grant grant, String edge, byte[] requestBody, int status, byte[] answerBody) {
    throw new UnsupportedOperationException("issue 13: answering surface and remembered limits");
  }

  Clock clock() {
    return clock;
  }
}

package dev.metalayer.relay;

import dev.metalayer.calls.Calls;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * One {@code entry[] × changes[]} item of an envelope, ready to deliver.
 *
 * @param envelope the single-change envelope to send: the original bytes when Meta sent exactly one
 *     change, otherwise {@code {"object":…,"entry":[{"id":…,("time":…,)"changes":[<slice>]}]}}
 * @param changeOffset where the change's own bytes start inside {@code envelope}
 * @param changeLength how many bytes the change spans
 * @param entryId the entry's id (the WABA id) as text; empty when absent
 * @param field the change's {@code field}; empty when absent
 * @param phoneNumberId {@code value.metadata.phone_number_id}; empty for WABA-level fields
 * @param namedPhones what a WABA-level change says about one number's phone: the text of
 *     {@code value.display_phone_number} and of {@code value.phone_number}, as Meta wrote it (empty text
 *     for a value that is neither a string nor a number), in that order; empty when it has neither
 * @param namedPhoneNumberIds the text of {@code value.phone_number_id}, of
 *     {@code value.phone_number_settings.phone_number_id} and, when {@code value.entity_type} is
 *     {@code PHONE_NUMBER}, of {@code value.entity_id}, likewise; see {@link NumberRouting}
 * @param callIds ids of {@code value.calls[]} and of call {@code value.statuses[]}, in order
 * @param permissionReply whether this is a {@code messages} change of {@code call_permission_reply}s
 * @param terminateReasons for each {@code value.calls[]} item, the {@code terminate_reason} the
 *     Chatwoot enrichment would add (empty for items that get none), in order
 * @param eventTime the earliest {@code timestamp} (Unix seconds, as a string of digits or a whole
 *     number) among the {@code connect} items of {@code value.calls[]}: when the phone rang. Items
 *     without a readable one are skipped; empty when none has one, and for changes without a ring
 *     (terminates, call statuses). Meta's clock, not checked against ours here.
 * @param callEvent what the change is to its call, when it is a call event: for a {@code calls} change,
 *     its first {@code value.calls[]} item's {@code event} ({@code connect} and {@code call_created}: a
 *     ring; {@code terminate}; any other: other), else a call status when it has call
 *     {@code value.statuses[]}; for a {@code messages} change, other when it holds only
 *     {@code call_permission_reply}s or is a voicemail (see {@code messageCallKey}); empty otherwise
 * @param messageCallKey the ordering key of a call event of the {@code messages} field: for a voicemail
 *     (an {@code audio} message whose id starts with {@code wacid.}: how Meta says voicemail arrives,
 *     not yet confirmed by its documentation) its id, the call's; for permission replies
 *     {@code "user:"} and the {@code from} of the first, so that one user's replies keep their order
 *     (they name no call); empty otherwise
 */
record Change(
    byte[] envelope,
    int changeOffset,
    int changeLength,
    String entryId,
    String field,
    Optional<String> phoneNumberId,
    List<String> namedPhones,
    List<String> namedPhoneNumberIds,
    List<String> callIds,
    boolean permissionReply,
    List<Optional<String>> terminateReasons,
    Optional<Instant> eventTime,
    Optional<RelayStore.CallEvent> callEvent,
    Optional<String> messageCallKey) {

  /**
   * The ordering key of a call delivery: the first call id, else the {@code messageCallKey}, through
   * {@link Calls#orderingKey} (the one rule).
   */
  Optional<String> orderingKey() {
    if (callIds.isEmpty() && messageCallKey.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(Calls.orderingKey(callIds.isEmpty() ? messageCallKey.get() : callIds.get(0)));
  }

  /**
   * Whether the change rides the calls lane: every {@code calls} change, and the call events of the
   * {@code messages} field (permission replies, voicemail).
   */
  boolean callsLane() {
    return Events.CALLS.equals(field) || callEvent.isPresent();
  }

  /** Whether the Chatwoot enrichment would change anything. */
  boolean hasTerminateReasons() {
    return terminateReasons.stream().anyMatch(Optional::isPresent);
  }
}

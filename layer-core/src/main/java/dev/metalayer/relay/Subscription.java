package dev.metalayer.relay;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * A webhook subscription of one number: where to deliver which events. The secret itself is never
 * part of this value (it is sealed at rest); {@link #hasSecret()} says whether deliveries are signed.
 *
 * @param events Meta fields ({@code calls}, {@code messages}…), {@code call_permission_replies} or
 *     {@code *}; see {@link Events}
 * @param chatwootTerminateReason whether {@code terminate} call events get a {@code terminate_reason}
 */
public record Subscription(
    String id,
    String phoneNumberId,
    String name,
    String url,
    List<String> events,
    boolean active,
    boolean chatwootTerminateReason,
    boolean hasSecret,
    Instant createdAt,
    Instant updatedAt) {
  public Subscription {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(phoneNumberId, "phoneNumberId");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(url, "url");
    events = List.copyOf(events);
    Objects.requireNonNull(createdAt, "createdAt");
    Objects.requireNonNull(updatedAt, "updatedAt");
  }

  /** Whether a change of {@code field} (a permission reply or not) is wanted by this subscription. */
  public boolean wants(String field, boolean permissionReply) {
    return events.contains(Events.ALL)
        || events.contains(field)
        || (permissionReply && events.contains(Events.CALL_PERMISSION_REPLIES));
  }
}

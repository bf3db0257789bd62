package dev.metalayer.relay;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * One change queued for one subscription, as the delivery log shows it.
 *
 * @param webhookId the Standard Webhooks {@code webhook-id}: the same for every attempt and for a Meta
 *     redelivery of the same change
 * @param nextAttemptAt when the next attempt is due; empty in a final state
 * @param expiresAt for call events, when the delivery stops being useful; empty otherwise
 * @param attempts the attempts made so far, oldest first
 */
public record Delivery(
    String id,
    String subscriptionId,
    String webhookId,
    String field,
    Lane lane,
    DeliveryState state,
    Optional<Instant> nextAttemptAt,
    Optional<Instant> expiresAt,
    Instant createdAt,
    List<Attempt> attempts) {
  public Delivery {
    attempts = List.copyOf(attempts);
  }
}

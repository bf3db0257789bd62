package dev.metalayer.relay;

import dev.metalayer.graph.GraphError;
import java.util.Objects;

/** The outcome of handing one webhook POST to the relay. */
public sealed interface IngestResult {

  /**
   * The envelope is stored durably, with its deliveries: answer Meta 200 now.
   *
   * @param changes the {@code entry[] × changes[]} items the envelope held
   * @param deliveries deliveries newly stored (one per change and matching subscription), a call event
   *     already past its TTL included (stored as {@code expired}, never sent)
   * @param duplicates deliveries not queued because the same change was already queued for that
   *     subscription (a Meta redelivery)
   * @param routingLater deliveries of a large envelope that are queued in the background after this
   *     answer (the envelope is durable and is routed even if the process stops first); 0 for most
   * @param overFanOut deliveries not queued because they exceed the fan-out bound of one envelope for
   *     one number ({@link CallWebhookRelay#MAX_FANOUT_PER_NUMBER}); logged, and the envelope is kept
   */
  record Accepted(int changes, int deliveries, int duplicates, int routingLater, int overFanOut)
      implements IngestResult {
    /** Everything routed before the answer, nothing over the bound. */
    public Accepted(int changes, int deliveries, int duplicates) {
      this(changes, deliveries, duplicates, 0, 0);
    }
  }

  /** Nothing was stored; {@code error} is the Graph-shaped answer (401, 400 or 413). */
  record Refused(Reason reason, GraphError error) implements IngestResult {
    public Refused {
      Objects.requireNonNull(reason, "reason");
      Objects.requireNonNull(error, "error");
    }
  }

  /** Why a webhook was refused. */
  enum Reason {
    /** No {@code X-Hub-Signature-256}, and unsigned webhooks are not allowed. 401. */
    UNSIGNED,
    /** The signature matches none of the configured app secrets. 401. */
    BAD_SIGNATURE,
    /** Not JSON, or not an object with {@code object} and an {@code entry} array. 400. */
    MALFORMED,
    /** {@code object} is not {@code whatsapp_business_account}. 400. */
    WRONG_OBJECT,
    /** The body is over 3 MB, Meta's own limit. 413. */
    TOO_LARGE
  }
}

package dev.metalayer.relay;

import java.util.Objects;

/** The outcome of creating or changing a subscription. */
public sealed interface SubscriptionOutcome {

  record Saved(Subscription subscription) implements SubscriptionOutcome {
    public Saved {
      Objects.requireNonNull(subscription, "subscription");
    }
  }

  /** The request was refused; {@code message} is safe to show the client (it never echoes a secret). */
  record Invalid(String message) implements SubscriptionOutcome {
    public Invalid {
      Objects.requireNonNull(message, "message");
    }
  }

  /** No such subscription for this number (another number's subscriptions are not found either). */
  record NotFound() implements SubscriptionOutcome {}
}

package dev.metalayer.relay;

import java.util.Locale;
import java.util.Optional;

/** Where a delivery is in its life. */
public enum DeliveryState {
  /** Waiting for its next attempt (possibly due now). */
  PENDING,
  /** Claimed by a worker, under a lease: an attempt is in flight. */
  DELIVERING,
  /**
   * Its subscription is turned off (by the operator, or by a 410 answer): kept, never claimed, until the
   * subscription is turned back on, which makes it {@code pending} at once. Not final: retention keeps it.
   */
  PAUSED,
  /** A 2xx answer was received. Final. */
  DELIVERED,
  /** A call event whose TTL passed before it could be delivered: never sent late. Final. */
  EXPIRED,
  /** Every attempt failed, or this delivery was answered 410 Gone. Final until replayed. */
  DEAD,
  /**
   * A ring ({@code connect} or {@code call_created}) that arrived, or was due, after its call's
   * {@code terminate} was sent to the same subscription (or was being sent): never sent, since it would
   * ring a call that has ended. Final; a replay of it is refused. See {@link RelayStore}.
   */
  SUPERSEDED;

  public String wire() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static DeliveryState fromWire(String value) {
    return valueOf(value.toUpperCase(Locale.ROOT));
  }

  /** Parses an API filter value; empty when it names no state. */
  public static Optional<DeliveryState> parse(String value) {
    for (DeliveryState s : values()) {
      if (s.wire().equals(value)) {
        return Optional.of(s);
      }
    }
    return Optional.empty();
  }

  public boolean isFinal() {
    return this == DELIVERED || this == EXPIRED || this == DEAD || this == SUPERSEDED;
  }
}

package dev.metalayer.relay;

import java.util.Locale;
import java.util.Optional;

/** Where a delivery is in its life. */
public enum DeliveryState {
  /** Waiting for its next attempt (possibly due now). */
  PENDING,
  /** Claimed by a worker, under a lease: an attempt is in flight. */
  DELIVERING,
  /** A 2xx answer was received. Final. */
  DELIVERED,
  /** A call event whose TTL passed before it could be delivered: never sent late. Final. */
  EXPIRED,
  /** Every attempt failed, the subscription answered 410 or was deactivated. Final until replayed. */
  DEAD;

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
    return this == DELIVERED || this == EXPIRED || this == DEAD;
  }
}

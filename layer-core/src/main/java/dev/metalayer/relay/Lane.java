package dev.metalayer.relay;

import java.util.Locale;

/** The two delivery lanes: each has its own workers, so a message backlog never delays a ring. */
public enum Lane {
  /** {@code calls} changes: attempted at once, fast retries, a TTL, per-call order. */
  CALLS,
  /** Every other field: a long retry schedule with jitter, then dead-lettered. */
  DEFAULT;

  /** The lower-case name used in the store and the API. */
  public String wire() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Lane fromWire(String value) {
    return valueOf(value.toUpperCase(Locale.ROOT));
  }
}

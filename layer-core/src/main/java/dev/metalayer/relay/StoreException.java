package dev.metalayer.relay;

/**
 * The store failed (connection lost, disk full, constraint broken unexpectedly). Keeps its cause.
 * {@link #duplicate()} tells a unique-key conflict (the same row written twice, for example by two
 * concurrent ingests of one change) from every other failure, so that callers can retry without
 * knowing how a store reports it.
 */
public final class StoreException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final boolean duplicate;

  public StoreException(String message, Throwable cause) {
    this(message, cause, false);
  }

  public StoreException(String message, Throwable cause, boolean duplicate) {
    super(message, cause);
    this.duplicate = duplicate;
  }

  /** Whether the failure was a unique-key conflict. */
  public boolean duplicate() {
    return duplicate;
  }
}

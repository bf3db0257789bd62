package dev.metalayer.relay;

/** The store failed (connection lost, disk full, constraint broken unexpectedly). Keeps its cause. */
public final class StoreException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final boolean duplicate;

  public StoreException(String message, Throwable cause) {
    this(message, cause, false);
  }

  /** @param duplicate whether a unique key was already taken (see {@link #duplicate()}) */
  public StoreException(String message, Throwable cause, boolean duplicate) {
    super(message, cause);
    this.duplicate = duplicate;
  }

  /**
   * Whether the write failed because a unique key was already taken: a concurrent write of the same
   * row. The relay then writes once more, and the store skips what is already there.
   */
  public boolean duplicate() {
    return duplicate;
  }
}

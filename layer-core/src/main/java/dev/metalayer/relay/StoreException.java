package dev.metalayer.relay;

/** The store failed (connection lost, disk full, constraint broken unexpectedly). Keeps its cause. */
public final class StoreException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public StoreException(String message, Throwable cause) {
    super(message, cause);
  }
}

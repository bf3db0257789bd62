package dev.metalayer.graph;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The cap on media transfers in flight per key, downloads and multipart uploads counted together, so
 * that one tenant's slow readers or stalled uploads hold at most that many upstream connections and
 * cannot starve other tenants. A transfer beyond the cap is refused at once ({@link #busy()}: 429 with
 * {@code Retry-After}), before anything is sent upstream. Thread-safe.
 */
final class MediaConcurrency {
  /** Default cap per key: more than a helpdesk fetching the attachments of a busy inbox needs at once. */

  private final int perKey;
  private final ConcurrentHashMap<String, Integer> inFlight = new ConcurrentHashMap<>();

  /** @param perKey downloads a key may have in flight at once; at least 1 */
  public MediaConcurrency(int perKey) {
    if (perKey < 1) {
      throw new IllegalArgumentException("the media downloads per key must be at least 1, got " + perKey);
    }
    this.perKey = perKey;
  }

  /** A place taken by one download; {@link #close()} gives it back (once, whoever calls it again). */
  public final class Slot implements AutoCloseable {
    private final String keyId;
    private final AtomicBoolean released = new AtomicBoolean();

    private Slot(String keyId) {
      this.keyId = keyId;
    }

    @Override
    public void close() {
      if (released.compareAndSet(false, true)) {
        inFlight.computeIfPresent(keyId, (k, n) -> n <= 1 ? null : n - 1);
      }
    }
  }

  /** @return a slot for a download by {@code keyId}, or null when the key already has its cap in flight */
  public Slot tryAcquire(String keyId) {
    boolean[] taken = {false};
    inFlight.compute(keyId, (k, n) -> {
      int now = n == null ? 0 : n;
      if (now >= perKey) {
        return n;
      }
      taken[0] = true;
      return now + 1;
    });
    return taken[0] ? new Slot(keyId) : null;
  }

  /** Downloads in flight for {@code keyId}. */
  public int inFlight(String keyId) {
    return inFlight.getOrDefault(keyId, 0);
  }

  public int perKey() {
    return perKey;
  }

  /** The refusal of a download or upload over the cap: a Graph-shaped 429 (the adapter adds {@code Retry-After}). */
  public static GraphError busy() {
    return GraphError.of(429, 4, GraphError.LAYER, "Too many media downloads and uploads in flight for this key; retry shortly.");
  }
}

package dev.metalayer.graph;

import dev.metalayer.keys.Grant;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The rule "a key sends at most its {@link Grant.RateLimit}": one token bucket per key, in this instance's
 * memory. A bucket holds at most {@code burst} tokens, starts full and refills at {@code perSecond} on the
 * injected {@link Clock}; each Graph request of the key takes one, and a request that finds none is
 * refused with a 429 in Meta's code 4 family ({@link #refusal}) whose {@code Retry-After} is the whole
 * seconds, rounded up, until the bucket holds a token again. The limit is the key's own when it has one
 * ({@link Grant#rateLimit()}), else the layer's default; {@link Grant.RateLimit#OFF} takes nothing.
 *
 * <p>Memory: only a key that was {@linkplain dev.metalayer.keys.TokenResolver resolved} gets a bucket
 * (an unknown or malformed credential never reaches this class), and a full bucket is the same as none:
 * whenever the buckets outnumber twice what the last sweep kept (at least {@link #SWEEP_FLOOR}), the full
 * ones are dropped. So the map holds at most about twice the keys that sent a request within the time
 * their bucket takes to refill.
 *
 * <p>Thread-safe: a bucket is taken from under its own lock, and a bucket the sweep drops is marked so that
 * a request holding it takes from a fresh one instead; however many requests of one key arrive at once, at
 * most its burst (plus what refills meanwhile) pass. The limit holds per layer instance: instances sharing
 * a database each keep their own buckets.
 */
final class KeyRateLimits {
  /** Buckets kept before the first sweep. */
  static final int SWEEP_FLOOR = 4096;

  private final Grant.RateLimit defaultLimit;
  private final Clock clock;
  private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();
  private final AtomicInteger sweepAt = new AtomicInteger(SWEEP_FLOOR);
  private final AtomicBoolean sweeping = new AtomicBoolean();

  /** @param defaultLimit the limit of a key without one of its own ({@link Grant.RateLimit#OFF}: none) */
  KeyRateLimits(Grant.RateLimit defaultLimit, Clock clock) {
    this.defaultLimit = Objects.requireNonNull(defaultLimit, "defaultLimit");
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /** The limit that applies to {@code grant}'s key. */
  Grant.RateLimit limitOf(Grant grant) {
    return grant.rateLimit().orElse(defaultLimit);
  }

  /**
   * Takes one request from the bucket of {@code grant}'s key.
   *
   * @return empty when the request may go; else the 429 to answer (nothing was taken)
   */
  Optional<GraphError> take(Grant grant) {
    Grant.RateLimit limit = limitOf(grant);
    if (!limit.limits()) {
      return Optional.empty();
    }
    long now = nanos(clock.instant());
    double missing;
    while (true) {
      Bucket bucket = buckets.computeIfAbsent(grant.keyId(), id -> new Bucket(limit, now));
      synchronized (bucket) {
        if (bucket.dropped) {
          continue; // the sweep took it away meanwhile: take from the fresh one
        }
        bucket.refill(limit, now);
        if (bucket.tokens >= 1) {
          bucket.tokens -= 1;
          missing = 0;
        } else {
          missing = 1 - bucket.tokens;
        }
      }
      break;
    }
    if (buckets.size() > sweepAt.get()) {
      sweep(now);
    }
    if (missing == 0) {
      return Optional.empty();
    }
    return Optional.of(refusal(limit, (long) Math.ceil(missing / limit.perSecond())));
  }

  /**
   * The answer to a key past its limit: 429, {@code OAuthException}, code 4 ({@code (#4) Application request
   * limit reached}, Meta's app-level throttle: the key is the client's application here), naming the limit,
   * with {@code Retry-After} (at least 1 s).
   */
  static GraphError refusal(Grant.RateLimit limit, long retryAfterSeconds) {
    long seconds = Math.max(1, retryAfterSeconds);
    return GraphError.of(429, GraphError.APPLICATION_REQUEST_LIMIT, GraphError.OAUTH,
        "(#4) Application request limit reached: this key may send " + Grant.RateLimit.rateText(limit.perSecond())
            + " requests per second, " + limit.burst() + " at once; retry after " + seconds + " s.")
        .withRetryAfter(seconds);
  }

  /** Buckets held now (for tests of the memory bound). */
  int size() {
    return buckets.size();
  }

  /** Drops the full buckets (one sweep at a time), then lets the map grow to twice what is left. */
  private void sweep(long now) {
    if (!sweeping.compareAndSet(false, true)) {
      return;
    }
    try {
      for (Map.Entry<String, Bucket> e : buckets.entrySet()) {
        Bucket bucket = e.getValue();
        synchronized (bucket) {
          if (bucket.fullAt(now)) {
            bucket.dropped = true;
            buckets.remove(e.getKey(), bucket);
          }
        }
      }
      sweepAt.set(Math.max(SWEEP_FLOOR, buckets.size() * 2));
    } finally {
      sweeping.set(false);
    }
  }

  /** Nanoseconds since the epoch: fits a long until the year 2262. */
  private static long nanos(Instant at) {
    return at.getEpochSecond() * 1_000_000_000L + at.getNano();
  }

  /** One key's bucket; guarded by its own lock. */
  private static final class Bucket {
    private Grant.RateLimit limit;
    private double tokens;
    private long at;
    private boolean dropped;

    Bucket(Grant.RateLimit limit, long now) {
      this.limit = limit;
      this.tokens = limit.burst();
      this.at = now;
    }

    /**
     * Adds what {@code limit} refilled since the last time (a clock that went back adds nothing), up to
     * its burst: a changed limit applies from now on, and a smaller burst caps what is held.
     */
    void refill(Grant.RateLimit current, long now) {
      if (now > at) {
        tokens += (now - at) / 1e9 * current.perSecond();
        at = now;
      }
      limit = current;
      tokens = Math.min(tokens, current.burst());
    }

    boolean fullAt(long now) {
      return !limit.limits() || tokens + Math.max(0, now - at) / 1e9 * limit.perSecond() >= limit.burst();
    }
  }
}

package dev.metalayer.keys;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The rule against guessing a secret (the admin token): each source may fail {@link #limit()} times
 * within a {@link #window()}; then it is refused, right guess or not, until that window ends. The
 * window starts at a source's first failure and ends {@code window} later; a success does not reset
 * it. At most {@value #MAX_SOURCES} sources are remembered (the least recently seen is forgotten
 * first), so the memory is bounded whatever the number of addresses. Thread-safe.
 */
public final class FailedAttempts {
  /** The most sources remembered at once. */
  public static final int MAX_SOURCES = 10_000;

  private final int limit;
  private final Duration window;
  private final Clock clock;
  private final Map<String, Failures> sources = new LinkedHashMap<>(64, 0.75f, true) {
    private static final long serialVersionUID = 1L;

    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Failures> eldest) {
      return size() > MAX_SOURCES;
    }
  };

  private static final class Failures {
    Instant windowEnd;
    int count;
    boolean refusalReported;
  }

  /** What {@link #failed} observed: the failures of the source in its window so far. */
  public record Failure(int count, boolean nowLimited) {}

  /**
   * @param limit failures allowed per source and window (at least 1)
   * @param window how long a source's failures count, from its first
   */
  public FailedAttempts(int limit, Duration window, Clock clock) {
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be at least 1");
    }
    if (window.isNegative() || window.isZero()) {
      throw new IllegalArgumentException("window must be positive");
    }
    this.limit = limit;
    this.window = window;
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  public int limit() {
    return limit;
  }

  public Duration window() {
    return window;
  }

  /**
   * Whether {@code source} is refused now, before its secret is even compared. @return how long until
   * it may try again (rounded up to whole seconds, at least one), or empty when it may try now
   */
  public synchronized Optional<Duration> refusedFor(String source) {
    Failures f = current(source);
    if (f == null || f.count < limit) {
      return Optional.empty();
    }
    long ms = Duration.between(clock.instant(), f.windowEnd).toMillis();
    return Optional.of(Duration.ofSeconds(Math.max(1, (ms + 999) / 1000)));
  }

  /**
   * Whether this refusal is the first of {@code source}'s current window: report it once, not each
   * time (a flood of refusals must not become a flood of log lines).
   */
  public synchronized boolean firstRefusal(String source) {
    Failures f = current(source);
    if (f == null || f.refusalReported) {
      return false;
    }
    f.refusalReported = true;
    return true;
  }

  /** Counts one failure of {@code source}. */
  public synchronized Failure failed(String source) {
    Failures f = current(source);
    if (f == null) {
      f = new Failures();
      f.windowEnd = clock.instant().plus(window);
      sources.put(source, f);
    }
    f.count++;
    return new Failure(f.count, f.count >= limit);
  }

  private Failures current(String source) {
    Failures f = sources.get(source);
    if (f != null && !clock.instant().isBefore(f.windowEnd)) {
      sources.remove(source);
      return null;
    }
    return f;
  }
}

package dev.metalayer.log;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * Lets a failure that outside traffic can repeat (a webhook refused for its signature, one for a number
 * the layer does not know, a call event expired) be logged at WARN without a flood filling the disk: at
 * most one line per (kind, subject) and window, the next one telling how many were suppressed in between.
 *
 * <pre>{@code
 * warnings.permit("unknown-number", phoneNumberId).ifPresent(suppressed ->
 *     log.warn("... {}", ..., WarnLimiter.suppressed(suppressed)));
 * }</pre>
 *
 * <p>Bounded memory: at most {@code maxSubjects} (kind, subject) pairs are tracked; when they are all in
 * their window, further subjects of a kind share one pair ({@link #OTHERS}), so a flood of distinct
 * subjects still logs one line per kind and window. Time comes from the injected {@link Clock}.
 * Thread-safe.
 */
public final class WarnLimiter {
  /** The subject that stands for every subject over the bound. */
  public static final String OTHERS = "(others)";

  /** The default window: one line per kind and subject and minute. */
  public static final Duration MINUTE = Duration.ofMinutes(1);

  /** The default bound on the pairs tracked. */
  public static final int DEFAULT_SUBJECTS = 1024;

  private record Key(String kind, String subject) {}

  private static final class Window {
    Instant start;
    long suppressed;

    Window(Instant start) {
      this.start = start;
    }
  }

  private final Clock clock;
  private final Duration window;
  private final int maxSubjects;
  private final Map<Key, Window> windows = new HashMap<>();

  /**
   * @param window how long after a line the same kind and subject stays quiet
   * @param maxSubjects how many (kind, subject) pairs are tracked at most (at least 1)
   */
  public WarnLimiter(Clock clock, Duration window, int maxSubjects) {
    this.clock = Objects.requireNonNull(clock, "clock");
    this.window = Objects.requireNonNull(window, "window");
    if (window.isNegative() || window.isZero() || maxSubjects < 1) {
      throw new IllegalArgumentException("the window must be positive and maxSubjects at least 1");
    }
    this.maxSubjects = maxSubjects;
  }

  /** One line per kind, subject and minute, for at most {@value #DEFAULT_SUBJECTS} pairs. */
  public WarnLimiter(Clock clock) {
    this(clock, MINUTE, DEFAULT_SUBJECTS);
  }

  /**
   * Counts one occurrence. @return present when it is to be logged now, with how many occurrences of
   * the same kind and subject were suppressed since the last line; empty when it is to be suppressed
   */
  public synchronized OptionalLong permit(String kind, String subject) {
    Instant now = clock.instant();
    Key key = new Key(Objects.requireNonNull(kind, "kind"), subject == null ? "" : subject);
    Window w = windows.get(key);
    if (w == null) {
      if (windows.size() >= maxSubjects) {
        dropEnded(now);
      }
      if (windows.size() >= maxSubjects) {
        key = new Key(kind, OTHERS);
        w = windows.get(key);
      }
      if (w == null) {
        // the bound may be passed by one pair per kind: the OTHERS pair itself
        windows.put(key, new Window(now));
        return OptionalLong.of(0);
      }
    }
    if (now.isBefore(w.start.plus(window))) {
      w.suppressed++;
      return OptionalLong.empty();
    }
    long suppressed = w.suppressed;
    w.start = now;
    w.suppressed = 0;
    return OptionalLong.of(suppressed);
  }

  /** {@code ""}, or {@code " (N more suppressed since the last such line)"} to end a line with. */
  public static String suppressed(long count) {
    return count == 0 ? "" : " (" + count + " more suppressed since the last such line)";
  }

  /**
   * Forgets the pairs whose window ended (their next line starts afresh; a count they suppressed in a
   * window that ended unreported is dropped with them).
   */
  private void dropEnded(Instant now) {
    for (Iterator<Window> it = windows.values().iterator(); it.hasNext(); ) {
      if (!now.isBefore(it.next().start.plus(window))) {
        it.remove();
      }
    }
  }
}

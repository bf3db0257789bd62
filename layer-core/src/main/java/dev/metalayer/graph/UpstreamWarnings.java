package dev.metalayer.graph;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells the operator, at WARN, that a client got a 502 or 504 because Meta could not be reached or
 * gave no usable answer: one line per number and reason per {@link #WINDOW}, so that a flood cannot fill
 * the disk; the next line says how many were left out. A line names the phone number ID, the reason,
 * the status and {@code fbtrace_id} the client got, and Meta's {@code x-fb-trace-id} when Meta answered;
 * never a token, a key or a body. Time comes from the injected clock. Thread-safe.
 */
final class UpstreamWarnings {
  /** One line per number and reason within this window. */
  static final Duration WINDOW = Duration.ofMinutes(1);
  /** Past this many (number, reason) pairs the counts start again (a bound on memory, not on lines). */
  private static final int MAX_TRACKED = 10_000;

  private static final Logger log = LoggerFactory.getLogger(UpstreamWarnings.class);

  private record Window(Instant start, long suppressed) {}

  private final Clock clock;
  private final Map<String, Window> windows = new ConcurrentHashMap<>();

  UpstreamWarnings(Clock clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * @param phoneNumberId the number whose client got the error
   * @param reason what went wrong, in words, from a small fixed set
   * @param error the error the client got
   * @param metaTraceId Meta's {@code x-fb-trace-id}, or null when Meta did not answer
   */
  void warn(String phoneNumberId, String reason, GraphError error, String metaTraceId) {
    Instant now = clock.instant();
    if (windows.size() >= MAX_TRACKED) {
      windows.clear();
    }
    long[] logged = {-1};
    windows.compute(phoneNumberId + " " + reason, (k, w) -> {
      if (w == null || !now.isBefore(w.start().plus(WINDOW))) {
        logged[0] = w == null ? 0 : w.suppressed();
        return new Window(now, 0);
      }
      return new Window(w.start(), w.suppressed() + 1);
    });
    if (logged[0] >= 0) {
      log.warn("Graph request of number {} failed: {}; answered {} with fbtrace_id {}{}{}", phoneNumberId, reason,
          error.status(), error.fbtraceId(),
          metaTraceId == null ? "" : " (Meta's x-fb-trace-id " + metaTraceId + ")",
          logged[0] == 0 ? "" : "; " + logged[0] + " more like it were not logged");
    }
  }
}

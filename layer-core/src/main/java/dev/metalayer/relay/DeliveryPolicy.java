package dev.metalayer.relay;

import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Optional;
import java.util.function.DoubleSupplier;

/**
 * The delivery rules, as pure functions of the attempt's outcome and the clock's time.
 *
 * <p><b>Calls lane</b> ({@code calls} changes): the first attempt at once; after a failure, retries
 * after 250 ms, 500 ms, 1 s, 2 s, 4 s, then every 8 s, without jitter, until the TTL (default 45 s)
 * counted from the earlier of the layer's receipt and the event's own time (see {@link #expiry}): a
 * call event that cannot be delivered before its TTL is marked {@code expired} and is never sent late,
 * and one that arrives already past it (a Meta redelivery after an outage) is never sent at all.
 * Request timeout 5 s.
 *
 * <p>The call events of the {@code messages} field (permission replies, voicemail) ride the calls lane
 * for its own workers and its per-call order, but are no ring: a permission reply tells the business it
 * may call that user, for days, and must not be lost because its subscriber was down for a minute. They
 * have no TTL and keep the default lane's retry schedule and attempts ({@link #schedule}).
 *
 * <p><b>Terminate hold</b>: a {@code terminate} that is the first delivery of its call to a subscription
 * is not due before its receipt plus the hold window (default 2 s; zero: no hold), so that a
 * {@code connect} Meta sends late still reaches the subscriber first (see {@link RelayStore}).
 *
 * <p><b>Default lane</b> (every other field): attempts at once, then after 5 s, 5 min, 30 min, 2 h,
 * 5 h, 10 h and 10 h (8 attempts, about 28 hours), each delay with ±20 % jitter; after the last failure
 * the delivery is {@code dead}. Request timeout 15 s.
 *
 * <p>Both lanes: a 2xx answer is success; 3xx (redirects are not followed), any other status, a timeout
 * or a refused connection is a failed attempt. A {@code Retry-After} header (seconds or an HTTP date)
 * on a failed answer delays the next attempt to at least that time, clamped to 10 hours. A {@code 410
 * Gone} ends the delivery as {@code dead} and deactivates the subscription (its other deliveries are
 * kept {@code paused}: see {@link RelayStore#setActive}). A delivery never makes more
 * than its {@code maxAttempts} attempts (a replay allows exactly one more); a subscription's {@code test}
 * event makes one.
 */
final class DeliveryPolicy {
  static final List<Duration> CALL_RETRIES =
      List.of(Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(2),
          Duration.ofSeconds(4), Duration.ofSeconds(8));
  static final List<Duration> DEFAULT_RETRIES =
      List.of(Duration.ofSeconds(5), Duration.ofMinutes(5), Duration.ofMinutes(30), Duration.ofHours(2),
          Duration.ofHours(5), Duration.ofHours(10), Duration.ofHours(10));
  static final int DEFAULT_MAX_ATTEMPTS = DEFAULT_RETRIES.size() + 1;
  /** Calls are bounded by their TTL; this only keeps the counter finite. */
  static final int CALLS_MAX_ATTEMPTS = 1000;
  static final Duration CALLS_TIMEOUT = Duration.ofSeconds(5);
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(15);
  static final Duration MAX_RETRY_AFTER = Duration.ofHours(10);
  static final double JITTER = 0.2;

  private final Duration callTtl;
  private final Duration terminateHold;
  private final DoubleSupplier unitRandom;

  /** @param unitRandom uniform in [0, 1): the jitter source */
  DeliveryPolicy(Duration callTtl, DoubleSupplier unitRandom) {
    this(callTtl, CallWebhookRelay.DEFAULT_TERMINATE_HOLD, unitRandom);
  }

  /** @param terminateHold the hold window of a first terminate; zero: none */
  DeliveryPolicy(Duration callTtl, Duration terminateHold, DoubleSupplier unitRandom) {
    this.callTtl = callTtl;
    this.terminateHold = terminateHold;
    this.unitRandom = unitRandom;
  }

  /**
   * When a terminate received at {@code receivedAt} may be attempted if it is the first delivery of its
   * call to its subscription; empty for other events, and when the hold is off.
   */
  Optional<Instant> holdUntil(Optional<RelayStore.CallEvent> event, Instant receivedAt) {
    if (terminateHold.isZero() || event.isEmpty() || event.get() != RelayStore.CallEvent.TERMINATE) {
      return Optional.empty();
    }
    return Optional.of(receivedAt.plus(terminateHold));
  }

  /**
   * The lane whose retry schedule, attempts and TTL a delivery of {@code lane} and {@code field} keeps:
   * the default lane's for the {@code messages} call events on the calls lane, else its own.
   */
  static Lane schedule(Lane lane, String field) {
    return lane == Lane.CALLS && !Events.CALLS.equals(field) && !Events.TEST.equals(field) ? Lane.DEFAULT : lane;
  }

  Duration callTtl() {
    return callTtl;
  }

  Duration timeout(Lane lane) {
    return lane == Lane.CALLS ? CALLS_TIMEOUT : DEFAULT_TIMEOUT;
  }

  /**
   * What a lease leaves beyond the request's deadline: time to sign before, and to record the outcome
   * after (a slow database), so that a live attempt's lease never runs out under it.
   */
  static final Duration LEASE_MARGIN = Duration.ofSeconds(5);

  /**
   * How long a claim is held, and renewed right before the send: twice the request's deadline (calls
   * 10 s, default lane 30 s), at least the deadline plus {@link #LEASE_MARGIN}, so that a live attempt is
   * never taken over, and a dead one is taken over soon after.
   */
  Duration lease(Lane lane) {
    return timeout(lane).multipliedBy(2);
  }

  /** A subscription's {@code test} event is attempted once: it shows whether the path works now. */
  int maxAttempts(Lane lane, String field) {
    if (Events.TEST.equals(field)) {
      return 1;
    }
    return schedule(lane, field) == Lane.CALLS ? CALLS_MAX_ATTEMPTS : DEFAULT_MAX_ATTEMPTS;
  }

  /**
   * When a new delivery of this lane stops being useful; empty: never (the default lane).
   *
   * <p>Calls: {@code min(receivedAt, eventTime) + callTtl}, so that a {@code connect} Meta redelivers
   * minutes after the call rang is not delivered as a fresh ring. An event time ahead of
   * {@code receivedAt} (Meta's clock a little ahead of ours, or a bogus value) never lengthens the TTL:
   * receipt then counts, as it does when the change carries no readable event time.
   *
   * @param eventTime the change's {@linkplain Change#eventTime() ring time}, if it is a ring
   */
  Optional<Instant> expiry(Lane lane, Instant receivedAt, Optional<Instant> eventTime) {
    return expiry(lane, Events.CALLS, receivedAt, eventTime);
  }

  /** {@link #expiry(Lane, Instant, Optional)} of a delivery of {@code field}: none for a {@link #schedule} of default. */
  Optional<Instant> expiry(Lane lane, String field, Instant receivedAt, Optional<Instant> eventTime) {
    if (schedule(lane, field) != Lane.CALLS) {
      return Optional.empty();
    }
    Instant start = eventTime.filter(t -> t.isBefore(receivedAt)).orElse(receivedAt);
    return Optional.of(start.plus(callTtl));
  }

  /** What happens after an attempt. */
  sealed interface Decision {}

  record Delivered() implements Decision {}

  record Retry(Instant at) implements Decision {}

  /** @param gone whether the subscription answered 410 and must be deactivated */
  record Dead(boolean gone) implements Decision {}

  record Expired() implements Decision {}

  /**
   * @param attemptsMade attempts made including this one
   * @param expiresAt the delivery's expiry, if any
   */
  Decision decide(Lane lane, int attemptsMade, int maxAttempts, Optional<Instant> expiresAt, DeliveryTransport.Result result,
      Instant now) {
    Optional<Duration> retryAfter = Optional.empty();
    if (result instanceof DeliveryTransport.Result.Answered answered) {
      int status = answered.status();
      if (status >= 200 && status < 300) {
        return new Delivered();
      }
      if (status == 410) {
        return new Dead(true);
      }
      retryAfter = answered.retryAfter().flatMap(v -> parseRetryAfter(v, now));
    }
    if (attemptsMade >= maxAttempts) {
      return new Dead(false);
    }
    Duration delay;
    if (lane == Lane.CALLS) {
      delay = CALL_RETRIES.get(Math.min(attemptsMade - 1, CALL_RETRIES.size() - 1));
    } else {
      Duration base = DEFAULT_RETRIES.get(Math.min(attemptsMade - 1, DEFAULT_RETRIES.size() - 1));
      double factor = 1 + JITTER * (2 * unitRandom.getAsDouble() - 1);
      delay = Duration.ofMillis(Math.round(base.toMillis() * factor));
    }
    if (retryAfter.isPresent() && retryAfter.get().compareTo(delay) > 0) {
      delay = retryAfter.get();
    }
    Instant next = now.plus(delay);
    if (expiresAt.isPresent() && !next.isBefore(expiresAt.get())) {
      return new Expired();
    }
    return new Retry(next);
  }

  /** {@code Retry-After} as delta-seconds or an HTTP date, clamped to [0, 10 h]; empty when unreadable. */
  static Optional<Duration> parseRetryAfter(String value, Instant now) {
    String v = value.trim();
    Duration d;
    if (v.matches("[0-9]{1,9}")) {
      d = Duration.ofSeconds(Long.parseLong(v));
    } else {
      try {
        d = Duration.between(now, ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant());
      } catch (DateTimeParseException e) {
        return Optional.empty();
      }
    }
    if (d.isNegative()) {
      d = Duration.ZERO;
    }
    return Optional.of(d.compareTo(MAX_RETRY_AFTER) > 0 ? MAX_RETRY_AFTER : d);
  }
}

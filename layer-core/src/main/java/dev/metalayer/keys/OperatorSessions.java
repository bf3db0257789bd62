package dev.metalayer.keys;

import dev.metalayer.crypto.Secrets;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Objects;
import java.util.Optional;
import java.nio.charset.StandardCharsets;

/**
 * The operator's browser sessions (the console): opened by presenting the admin token once, then held
 * by a random session id (a cookie) and guarded on every write by a second random value, the CSRF
 * token, that the page sends in a header. The rules, in one place:
 *
 * <ul>
 *   <li>ids and CSRF tokens are 256 random bits; only the SHA-256 of an id is kept, so the map holds
 *       nothing a reader of the heap could present;
 *   <li>a session unused for {@code idle} ends, and every session ends {@code lifetime} after it was
 *       opened, used or not; both on the injected clock;
 *   <li>at most {@code maxSessions} live at once: opening one more ends the least recently used;
 *   <li>{@link #close} ends a session at once (sign-out);
 *   <li>the CSRF token is compared in constant time.
 * </ul>
 *
 * <p>Sessions live in memory: a restart signs every operator out, and on several instances a session
 * is known only to the instance that opened it. Thread-safe.
 */
public final class OperatorSessions {
  /** A session unused this long ends. */
  public static final Duration IDLE = Duration.ofMinutes(30);

  /** A session ends this long after it was opened, however busy. */
  public static final Duration LIFETIME = Duration.ofHours(12);

  /** The most sessions alive at once. */
  public static final int MAX_SESSIONS = 32;

  private static final int RANDOM_BYTES = 32;

  private final Duration idle;
  private final Duration lifetime;
  private final int maxSessions;
  private final Clock clock;
  private final SecureRandom random;
  /** By the SHA-256 of the session id (hex), least recently used first. */
  private final LinkedHashMap<String, Held> sessions = new LinkedHashMap<>(16, 0.75f, true);

  private static final class Held {
    final String csrf;
    final Instant opened;
    Instant lastUsed;

    Held(String csrf, Instant opened) {
      this.csrf = csrf;
      this.opened = opened;
      this.lastUsed = opened;
    }
  }

  /** A session just opened: its id (for the cookie) and its CSRF token (for the page). */
  public record Opened(String id, String csrf) {
    @Override
    public String toString() {
      return "Opened[id=(hidden), csrf=(hidden)]";
    }
  }

  /** A live session as a request sees it: its CSRF token, to hand to the page and to check a write against. */
  public record Session(String csrf) {
    /** Whether {@code presented} is this session's CSRF token (constant time; null is never it). */
    public boolean admits(String presented) {
      return Secrets.constantTimeEquals(presented, csrf);
    }

    @Override
    public String toString() {
      return "Session[csrf=(hidden)]";
    }
  }

  /** With the defaults {@link #IDLE}, {@link #LIFETIME} and {@link #MAX_SESSIONS}. */
  public OperatorSessions(Clock clock, SecureRandom random) {
    this(IDLE, LIFETIME, MAX_SESSIONS, clock, random);
  }

  public OperatorSessions(Duration idle, Duration lifetime, int maxSessions, Clock clock, SecureRandom random) {
    if (idle.isNegative() || idle.isZero() || lifetime.compareTo(idle) < 0) {
      throw new IllegalArgumentException("idle must be positive and lifetime at least idle");
    }
    if (maxSessions < 1) {
      throw new IllegalArgumentException("maxSessions must be at least 1");
    }
    this.idle = idle;
    this.lifetime = lifetime;
    this.maxSessions = maxSessions;
    this.clock = Objects.requireNonNull(clock, "clock");
    this.random = Objects.requireNonNull(random, "random");
  }

  /** Opens a session (the caller has checked the admin token); ends the least recently used one when full. */
  public synchronized Opened open() {
    Instant now = clock.instant();
    dropEnded(now);
    while (sessions.size() >= maxSessions) {
      Iterator<String> eldest = sessions.keySet().iterator();
      eldest.next();
      eldest.remove();
    }
    String id = randomToken();
    String csrf = randomToken();
    sessions.put(hash(id), new Held(csrf, now));
    return new Opened(id, csrf);
  }

  /**
   * The live session of {@code id}, counted as used now; empty for an unknown, ended or null id (an
   * ended one is forgotten).
   */
  public synchronized Optional<Session> use(String id) {
    if (id == null || id.isEmpty() || id.length() > 100) {
      return Optional.empty();
    }
    Instant now = clock.instant();
    String key = hash(id);
    Held held = sessions.get(key);
    if (held == null) {
      return Optional.empty();
    }
    if (ended(held, now)) {
      sessions.remove(key);
      return Optional.empty();
    }
    held.lastUsed = now;
    return Optional.of(new Session(held.csrf));
  }

  /** Ends the session of {@code id} (sign-out). @return whether it was alive */
  public synchronized boolean close(String id) {
    if (id == null || id.isEmpty() || id.length() > 100) {
      return false;
    }
    Held held = sessions.remove(hash(id));
    return held != null && !ended(held, clock.instant());
  }

  /** How many sessions are alive now. */
  public synchronized int size() {
    dropEnded(clock.instant());
    return sessions.size();
  }

  private boolean ended(Held held, Instant now) {
    return !now.isBefore(held.lastUsed.plus(idle)) || !now.isBefore(held.opened.plus(lifetime));
  }

  private void dropEnded(Instant now) {
    sessions.values().removeIf(h -> ended(h, now));
  }

  private String randomToken() {
    byte[] bytes = new byte[RANDOM_BYTES];
    random.nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  private static String hash(String id) {
    return Secrets.hex(Secrets.sha256(id.getBytes(StandardCharsets.UTF_8)));
  }

  @Override
  public String toString() {
    return "OperatorSessions[idle=" + idle + ", lifetime=" + lifetime + ", max=" + maxSessions + "]";
  }
}

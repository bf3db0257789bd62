package dev.metalayer.log;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * The request id of one request, the rule in one place: which incoming id is honoured, what replaces
 * one that is not, and what goes on to Meta and to subscribers. The id names the request in every log
 * line written while it is handled (the MDC key {@value #MDC_KEY}) and in the answer's
 * {@value #HEADER} header.
 *
 * <ol>
 *   <li>An incoming {@code X-Request-Id} of 1 to {@value #MAX_CHARS} characters, each an ASCII letter,
 *       digit or one of {@code - _ . : + / = @}, is kept as it is.
 *   <li>Else a valid W3C {@code traceparent} ({@code 00-<32 hex>-<16 hex>-<2 hex>}, lower case, neither
 *       id all zeros; a later version is read by its first four fields) gives its trace-id.
 *   <li>Else the layer makes one: 32 random lower-case hex digits (the shape of a trace-id).
 * </ol>
 *
 * Anything else (too long, a control character, a CR or LF, a space, a quote, non-ASCII) is never
 * echoed, logged or sent on: it is replaced as if absent. A valid {@code traceparent} is passed on with
 * the same trace-id and flags and a new span id ({@link Trace#traceparent()}); an invalid one is
 * dropped. Pure; thread-safe when the random generator is.
 */
public final class RequestIds {
  /** The header that carries the request id, in both directions and to subscribers. */
  public static final String HEADER = "X-Request-Id";

  /** The W3C Trace Context header. */
  public static final String TRACEPARENT = "traceparent";

  /** The SLF4J MDC key of the request id while a request is handled. */
  public static final String MDC_KEY = "request_id";

  /** The longest incoming request id kept. */
  public static final int MAX_CHARS = 128;

  private RequestIds() {}

  /**
   * The ids of one request.
   *
   * @param requestId the request id: valid by {@link #valid}
   * @param traceparent the {@code traceparent} to send on (the incoming trace-id and flags, a new span
   *     id); present only when a valid one came in
   */
  public record Trace(String requestId, Optional<String> traceparent) {
    public Trace {
      if (!valid(requestId)) {
        throw new IllegalArgumentException("not a valid request id");
      }
      Objects.requireNonNull(traceparent, "traceparent");
    }

    /** A trace with this id alone (no traceparent): a stored request id, or one made by the layer. */
    public static Trace of(String requestId) {
      return new Trace(requestId, Optional.empty());
    }

    /** The headers that carry this trace on, in order: {@value #HEADER}, and {@code traceparent} when present. */
    public Map<String, String> headers() {
      Map<String, String> out = new LinkedHashMap<>();
      out.put(HEADER, requestId);
      traceparent.ifPresent(t -> out.put(TRACEPARENT, t));
      return out;
    }
  }

  /**
   * The trace of an incoming request, by the rules above.
   *
   * @param requestId the incoming {@code X-Request-Id} value, or null
   * @param traceparent the incoming {@code traceparent} value, or null
   * @param random makes the new span id and, when needed, the request id
   */
  public static Trace incoming(String requestId, String traceparent, RandomGenerator random) {
    Optional<String[]> parent = parse(traceparent);
    Optional<String> next = parent.map(p -> "00-" + p[1] + "-" + spanId(random) + "-" + p[3]);
    if (valid(requestId)) {
      return new Trace(requestId, next);
    }
    return new Trace(parent.map(p -> p[1]).orElseGet(() -> generate(random)), next);
  }

  /** Whether {@code id} is kept as a request id: 1 to {@value #MAX_CHARS} characters of the safe set. */
  public static boolean valid(String id) {
    if (id == null || id.isEmpty() || id.length() > MAX_CHARS) {
      return false;
    }
    for (int i = 0; i < id.length(); i++) {
      char c = id.charAt(i);
      boolean safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "-_.:+/=@".indexOf(c) >= 0;
      if (!safe) {
        return false;
      }
    }
    return true;
  }

  /** A new request id: 32 random lower-case hex digits. */
  public static String generate(RandomGenerator random) {
    String id;
    do {
      id = hex(random.nextLong()) + hex(random.nextLong());
    } while (id.equals(ZEROS_32)); // a trace-id of all zeros is invalid
    return id;
  }

  private static final String ZEROS_32 = "0".repeat(32);
  private static final String ZEROS_16 = "0".repeat(16);

  private static String spanId(RandomGenerator random) {
    String id;
    do {
      id = hex(random.nextLong());
    } while (id.equals(ZEROS_16));
    return id;
  }

  private static String hex(long value) {
    String h = Long.toHexString(value);
    return "0".repeat(16 - h.length()) + h;
  }

  /**
   * The fields of a valid {@code traceparent}: version, trace-id, parent-id and flags (for a version
   * after {@code 00}, the flags keep only the sampled bit, the one bit version {@code 00} defines).
   */
  static Optional<String[]> parse(String traceparent) {
    if (traceparent == null) {
      return Optional.empty();
    }
    String t = traceparent.trim();
    if (t.length() < 55 || !hexOf(t, 0, 2) || t.charAt(2) != '-' || !hexOf(t, 3, 35) || t.charAt(35) != '-'
        || !hexOf(t, 36, 52) || t.charAt(52) != '-' || !hexOf(t, 53, 55)) {
      return Optional.empty();
    }
    String version = t.substring(0, 2);
    String traceId = t.substring(3, 35);
    String parentId = t.substring(36, 52);
    String flags = t.substring(53, 55);
    if (version.equals("ff") || traceId.equals(ZEROS_32) || parentId.equals(ZEROS_16)) {
      return Optional.empty();
    }
    if (version.equals("00")) {
      if (t.length() != 55) {
        return Optional.empty();
      }
    } else {
      if (t.length() > 55 && t.charAt(55) != '-') {
        return Optional.empty();
      }
      flags = (Integer.parseInt(flags, 16) & 1) == 1 ? "01" : "00";
    }
    return Optional.of(new String[] {version, traceId, parentId, flags});
  }

  /** Whether {@code s[from, to)} is lower-case hex. */
  private static boolean hexOf(String s, int from, int to) {
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return false;
      }
    }
    return true;
  }
}

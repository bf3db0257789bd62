package dev.metalayer.calls;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.metalayer.calls.CallStore.Limit;
import dev.metalayer.graph.GraphAnswer;
import dev.metalayer.json.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The calling limits the layer remembers: which of Meta's refusals of a call permission request or a
 * {@code connect} it keeps, until when, and the answer it gives from memory. Pure and thread-safe.
 *
 * <p>Kept: Meta's error codes 138009 (permission requests: 1 per 24 h, 2 per 7 days), 138012
 * (business-initiated calls: 100 connected per 24 h), 138005 (call rate of the number), 138006 (no
 * call permission) and 613 (rate limit), with Meta's own answer, until the time Meta names in
 * {@code error_data} (the first time found there: a number of epoch seconds or milliseconds, or an ISO-8601
 * time, in any field, its {@code details} text included), or, when it names none that lies within
 * {@link #LONGEST} from now, for the code's {@link #DEFAULTS default}. Of the answer only its
 * {@code error} object is kept: nothing else of the first client's answer reaches another client.
 */
final class RememberedLimits {
  /** A call permission request ({@code /messages}). */
  static final String PERMISSION_REQUEST = "permission_request";
  /** A business-initiated call ({@code /calls} {@code connect}). */
  static final String CONNECT = "connect";
  /** Meta's code for a {@code connect} without the user's permission (a grant ends it). */
  static final int NO_PERMISSION = 138006;

  /** How long a refusal is kept when Meta names no time, per code. */
  static final Map<Integer, Duration> DEFAULTS = Map.of(
      138009, Duration.ofHours(24),
      138012, Duration.ofHours(24),
      138005, Duration.ofHours(1),
      NO_PERMISSION, Duration.ofMinutes(10),
      613, Duration.ofMinutes(5));

  /** The latest time of Meta's taken: past it, a time is not believed and the default applies. */
  static final Duration LONGEST = Duration.ofDays(8);

  /** The largest answer kept (Meta's errors are a few hundred bytes). */
  static final int MAX_ANSWER_BYTES = 16 * 1024;

  /** The header that tells a client its answer came from the layer's memory: when Meta's refusal ends. */
  static final String HEADER = "x-meta-layer-remembered-until";

  private static final Pattern ISO_TIME =
      Pattern.compile("\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:?\\d{2})");
  private static final Pattern EPOCH = Pattern.compile("(?<![0-9])1[0-9]{9}(?:[0-9]{3})?(?![0-9])");

  private RememberedLimits() {}

  /** The refusal to keep of Meta's answer, when it is one the layer remembers. */
  static Optional<Limit> of(String phoneNumberId, String user, String kind, int status, byte[] answer, Instant now) {
    if (status < 400 || answer.length == 0 || answer.length > MAX_ANSWER_BYTES) {
      return Optional.empty();
    }
    JsonNode error;
    try {
      error = Json.mapper().readTree(answer).path("error");
    } catch (IOException e) {
      return Optional.empty();
    }
    if (!error.path("code").canConvertToInt() || !error.path("code").isIntegralNumber()) {
      return Optional.empty();
    }
    int code = error.path("code").intValue();
    Duration fallback = DEFAULTS.get(code);
    if (fallback == null) {
      return Optional.empty();
    }
    Instant until = namedTime(error.path("error_data"), now, 0).orElse(now.plus(fallback));
    // Meta's error alone is kept: what else the answer carried was the first client's (a paging URL the
    // layer wrote that client's key into) and must not be stored or given to another key
    ObjectNode kept = Json.mapper().createObjectNode();
    kept.set("error", error);
    return Optional.of(new Limit(phoneNumberId, user, kind, code, status, new String(Json.bytes(kept), StandardCharsets.UTF_8), now, until));
  }

  /** The first time in {@code node} later than {@code now} and within {@link #LONGEST}. */
  private static Optional<Instant> namedTime(JsonNode node, Instant now, int depth) {
    if (depth > 4 || node.isMissingNode() || node.isNull()) {
      return Optional.empty();
    }
    if (node.isIntegralNumber()) {
      return believed(epoch(node.asLong()), now);
    }
    if (node.isTextual()) {
      return inText(node.textValue(), now);
    }
    for (JsonNode child : node) {
      Optional<Instant> found = namedTime(child, now, depth + 1);
      if (found.isPresent()) {
        return found;
      }
    }
    return Optional.empty();
  }

  private static Optional<Instant> inText(String text, Instant now) {
    String t = text.length() > 4096 ? text.substring(0, 4096) : text;
    Matcher iso = ISO_TIME.matcher(t);
    while (iso.find()) {
      try {
        String value = iso.group().replace(' ', 'T');
        Optional<Instant> at = believed(OffsetDateTime.parse(value.endsWith("Z") ? value : withColon(value)).toInstant(), now);
        if (at.isPresent()) {
          return at;
        }
      } catch (DateTimeParseException e) {
        // not a time after all: look further
      }
    }
    Matcher epoch = EPOCH.matcher(t);
    while (epoch.find()) {
      Optional<Instant> at = believed(epoch(Long.parseLong(epoch.group())), now);
      if (at.isPresent()) {
        return at;
      }
    }
    return Optional.empty();
  }

  /** {@code +0100} as {@code +01:00}, which {@link OffsetDateTime#parse} reads. */
  private static String withColon(String value) {
    int sign = Math.max(value.lastIndexOf('+'), value.lastIndexOf('-'));
    String offset = value.substring(sign);
    return offset.length() == 5 ? value.substring(0, sign) + offset.substring(0, 3) + ":" + offset.substring(3) : value;
  }

  /** Epoch seconds, or milliseconds for a value too large to be seconds of this era. */
  private static Instant epoch(long value) {
    return value > 100_000_000_000L ? Instant.ofEpochMilli(value) : Instant.ofEpochSecond(value);
  }

  private static Optional<Instant> believed(Instant at, Instant now) {
    return at.isAfter(now) && !at.isAfter(now.plus(LONGEST)) ? Optional.of(at) : Optional.empty();
  }

  /**
   * The answer from memory: Meta's status and body as the client got them, the body's {@code error}
   * marked {@code "layer_remembered":{"at","until"}}, with {@link #HEADER} and {@code Retry-After} (the
   * seconds until the refusal ends).
   */
  static GraphAnswer answer(Limit limit, Instant now) {
    byte[] body = limit.answer().getBytes(StandardCharsets.UTF_8);
    try {
      JsonNode tree = Json.mapper().readTree(body);
      if (tree instanceof ObjectNode o && o.get("error") instanceof ObjectNode error) {
        ObjectNode remembered = error.putObject("layer_remembered");
        remembered.put("at", limit.at().toString());
        remembered.put("until", limit.until().toString());
        body = Json.bytes(o);
      }
    } catch (IOException e) {
      // kept as it was given: sent as it was given
    }
    Map<String, List<String>> headers = new TreeMap<>();
    headers.put("content-type", List.of("application/json; charset=UTF-8"));
    headers.put("cache-control", List.of("no-store"));
    headers.put(HEADER, List.of(limit.until().toString()));
    long seconds = Math.max(1, (Duration.between(now, limit.until()).toMillis() + 999) / 1000);
    headers.put("retry-after", List.of(Long.toString(seconds)));
    return new GraphAnswer(limit.httpStatus(), headers, body);
  }
}

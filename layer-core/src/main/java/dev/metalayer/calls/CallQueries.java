package dev.metalayer.calls;

import dev.metalayer.calls.CallStore.Direction;
import dev.metalayer.calls.CallStore.State;
import dev.metalayer.graph.GraphError;
import dev.metalayer.graph.Outcome;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The one reader of a calls list's parameters ({@code docs/calls.md}, "The API"): {@code state}
 * (repeated or comma-separated), {@code direction}, {@code since}, {@code until} (RFC 3339 or Unix
 * seconds), {@code limit} (1 to {@link #MAX_LIMIT}, default {@link #DEFAULT_LIMIT}) and {@code after} (a
 * cursor). A bad one is a Graph-shaped 400 that names the parameter and never echoes its value. Pure.
 */
final class CallQueries {
  static final int DEFAULT_LIMIT = 50;
  static final int MAX_LIMIT = 200;
  static final int MAX_CURSOR = 512;
  static final Set<String> PARAMETERS = Set.of("state", "direction", "since", "until", "limit", "after");

  static final String BAD_STATE =
      "state must be one or more of ringing, pre_accepted, accepted, rejected, terminated, expired (repeated or comma-separated).";
  static final String BAD_DIRECTION = "direction must be user_initiated or business_initiated.";
  static final String BAD_LIMIT = "limit must be a number from 1 to " + MAX_LIMIT + ".";
  static final String BAD_CURSOR = "after must be the cursor of a previous page (paging.cursors.after).";
  static final String TIME = "must be an RFC 3339 time (2026-12-01T09:30:00Z) or Unix seconds (1796117400).";

  private static final Pattern CURSOR = Pattern.compile("[\\x21-\\x7e]{1," + MAX_CURSOR + "}");
  private static final Pattern UNIX_SECONDS = Pattern.compile("[0-9]{1,11}");

  private CallQueries() {}

  static Outcome<CallStore.Query> read(Optional<String> phoneNumberId, Map<String, List<String>> parameters,
      Set<String> allowed) {
    for (Map.Entry<String, List<String>> p : parameters.entrySet()) {
      if (!allowed.contains(p.getKey())) {
        return refused("Unknown parameter: the calls list takes " + allowed.stream().sorted()
            .collect(Collectors.joining(", ")) + ".");
      }
      if (!p.getKey().equals("state") && p.getValue().size() > 1) {
        return refused(p.getKey() + " is given more than once.");
      }
    }
    Set<State> states = EnumSet.noneOf(State.class);
    for (String value : parameters.getOrDefault("state", List.of())) {
      for (String one : value.split(",", -1)) {
        Optional<State> state = wire(State.values(), one.trim());
        if (state.isEmpty()) {
          return refused(BAD_STATE);
        }
        states.add(state.get());
      }
    }
    Optional<Direction> direction = Optional.empty();
    Optional<String> d = one(parameters, "direction");
    if (d.isPresent()) {
      direction = wire(Direction.values(), d.get().trim());
      if (direction.isEmpty()) {
        return refused(BAD_DIRECTION);
      }
    }
    Optional<Instant> since;
    Optional<Instant> until;
    try {
      since = one(parameters, "since").map(CallQueries::time);
    } catch (IllegalArgumentException e) {
      return refused("since " + TIME);
    }
    try {
      until = one(parameters, "until").map(CallQueries::time);
    } catch (IllegalArgumentException e) {
      return refused("until " + TIME);
    }
    if (since.isPresent() && until.isPresent() && since.get().isAfter(until.get())) {
      return refused("since must not be after until.");
    }
    int limit = DEFAULT_LIMIT;
    Optional<String> l = one(parameters, "limit");
    if (l.isPresent()) {
      if (!l.get().matches("[0-9]{1,3}") || Integer.parseInt(l.get()) < 1 || Integer.parseInt(l.get()) > MAX_LIMIT) {
        return refused(BAD_LIMIT);
      }
      limit = Integer.parseInt(l.get());
    }
    Optional<String> after = one(parameters, "after");
    if (after.isPresent() && !CURSOR.matcher(after.get()).matches()) {
      return refused(BAD_CURSOR);
    }
    return Outcome.ok(new CallStore.Query(phoneNumberId, states, direction, since, until, after, limit));
  }

  /**
   * A time of a query: RFC 3339 with an offset ({@code 2026-12-01T09:30:00Z}, {@code …+01:00}) or Unix
   * seconds ({@code 1796117400}).
   *
   * @throws IllegalArgumentException when it is neither
   */
  static Instant time(String value) {
    String v = value.trim();
    if (UNIX_SECONDS.matcher(v).matches()) {
      return Instant.ofEpochSecond(Long.parseLong(v));
    }
    if (v.length() > 40) {
      throw new IllegalArgumentException("not a time");
    }
    try {
      return OffsetDateTime.parse(v, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException("not a time", e);
    }
  }

  private static Optional<String> one(Map<String, List<String>> parameters, String name) {
    List<String> values = parameters.get(name);
    return values == null || values.isEmpty() ? Optional.empty() : Optional.ofNullable(values.get(0));
  }

  private static <T> Outcome<T> refused(String message) {
    return Outcome.refused(GraphError.invalidParameter(message));
  }

  /** The value whose wire name (or Meta's upper-case name) is {@code text}; no other spelling. */
  private static <E extends Enum<E>> Optional<E> wire(E[] values, String text) {
    for (E e : values) {
      if (e.name().equals(text) || e.name().toLowerCase(Locale.ROOT).equals(text)) {
        return Optional.of(e);
      }
    }
    return Optional.empty();
  }
}

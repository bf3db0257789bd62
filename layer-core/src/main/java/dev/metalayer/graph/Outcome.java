package dev.metalayer.graph;

import java.util.Objects;
import java.util.Optional;

/**
 * The result of one rule of the proxy: a value to go on with, or a Graph-shaped refusal to answer the
 * client with. Refusals are expected outcomes (a bad path, a foreign object), not exceptions.
 *
 * @param <T> the value a successful rule produces
 */
public sealed interface Outcome<T> {

  record Ok<T>(T value) implements Outcome<T> {
    public Ok {
      Objects.requireNonNull(value, "value");
    }
  }

  /**
   * @param reason what kind of refusal this is, for counting, when a rule names it ({@link #RATE_LIMITED});
   *     a short lower-case label, never a client's value
   */
  record Refused<T>(GraphError error, Optional<String> reason) implements Outcome<T> {
    public Refused {
      Objects.requireNonNull(error, "error");
      Objects.requireNonNull(reason, "reason");
    }

    public Refused(GraphError error) {
      this(error, Optional.empty());
    }
  }

  /** The {@link Refused#reason()} of a request refused because its key is past its rate limit (429). */
  String RATE_LIMITED = "rate_limited";

  static <T> Outcome<T> ok(T value) {
    return new Ok<>(value);
  }

  static <T> Outcome<T> refused(GraphError error) {
    return new Refused<>(error);
  }

  /** A refusal of the kind {@code reason} names (e.g. {@link #RATE_LIMITED}). */
  static <T> Outcome<T> refused(GraphError error, String reason) {
    return new Refused<>(error, Optional.of(reason));
  }
}

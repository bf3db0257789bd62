package dev.metalayer.graph;

import java.util.Objects;

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

  record Refused<T>(GraphError error) implements Outcome<T> {
    public Refused {
      Objects.requireNonNull(error, "error");
    }
  }

  static <T> Outcome<T> ok(T value) {
    return new Ok<>(value);
  }

  static <T> Outcome<T> refused(GraphError error) {
    return new Refused<>(error);
  }
}

package dev.metalayer.graph;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The parameters of a Graph request as {@link Surface} sees them, from wherever Graph reads them (the
 * query, a form, a JSON body's top-level fields, multipart part names): their
 * {@linkplain Credentials#canonicalName canonical names}, and the values of {@code fields}. Values
 * are otherwise never kept. Immutable.
 *
 * @param names canonical parameter names, in order of first appearance
 * @param fields every value given to {@code fields}, decoded
 */
record Parameters(Set<String> names, List<String> fields) {
  public static final Parameters NONE = new Parameters(Set.of(), List.of());

  public Parameters {
    names = java.util.Collections.unmodifiableSet(new LinkedHashSet<>(names));
    fields = List.copyOf(fields);
  }

  public Parameters and(Parameters other) {
    if (other.names.isEmpty()) {
      return this;
    }
    Builder b = new Builder();
    names.forEach(b::name);
    other.names.forEach(b::name);
    fields.forEach(b::fields);
    other.fields.forEach(b::fields);
    return b.build();
  }

  /** Collects names and {@code fields} values; not thread-safe. */
  static final class Builder {
    private final Set<String> names = new LinkedHashSet<>();
    private final List<String> fields = new ArrayList<>();

    void name(String canonical) {
      names.add(canonical);
    }

    void fields(String value) {
      fields.add(value);
    }

    Parameters build() {
      return new Parameters(names, fields);
    }
  }
}

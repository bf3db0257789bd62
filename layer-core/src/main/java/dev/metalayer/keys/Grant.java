package dev.metalayer.keys;

import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A credential that was accepted: the key's id, the number it is scoped to, the Meta token to use
 * upstream and the {@link Scope}s of the key. The token is the one secret this value carries;
 * {@link #toString()} never shows it.
 *
 * @param scopes what the key may do; never empty ({@link #Grant(String, WhatsAppNumber, String)} grants all)
 */
public record Grant(String keyId, WhatsAppNumber number, String metaToken, Set<Scope> scopes) {
  public Grant {
    Objects.requireNonNull(keyId, "keyId");
    Objects.requireNonNull(number, "number");
    Objects.requireNonNull(metaToken, "metaToken");
    scopes = Scope.copyOf(scopes);
  }

  /** A grant with every scope: what an embedder's {@link TokenResolver} written before scopes existed grants. */
  public Grant(String keyId, WhatsAppNumber number, String metaToken) {
    this(keyId, number, metaToken, Scope.ALL);
  }

  /** Whether the key holds {@code scope}. */
  public boolean has(Scope scope) {
    return scopes.contains(scope);
  }

  @Override
  public String toString() {
    return "Grant[keyId=" + keyId + ", phoneNumberId=" + number.phoneNumberId() + ", scopes=" + Scope.names(scopes)
        + ", metaToken=<redacted>]";
  }

  /**
   * A group of what a key may do. Which Graph route needs which scope is the Graph surface's table
   * ({@code dev.metalayer.graph.Surface#TABLE}); the layer's own APIs name theirs ({@code /v1/webhooks}
   * needs {@link #WEBHOOKS}, {@code /v1/calls} {@link #CALLS}). A key has all of them unless the operator
   * named fewer when creating it. Wire names are lower case ({@code messages}, {@code calls}, …).
   */
  public enum Scope {
    /** {@code POST /{phone-number-id}/messages}. */
    MESSAGES,
    /** {@code POST /{phone-number-id}/calls}, {@code GET …/call_permissions} and the layer's {@code /v1/calls}. */
    CALLS,
    /** The number's settings, business profile, conversational automation and administration. */
    SETTINGS,
    /** The WABA's {@code message_templates}. */
    TEMPLATES,
    /** Media upload, media IDs and the layer's media download route. */
    MEDIA,
    /** The layer's webhook subscriptions API, {@code /v1/webhooks}. */
    WEBHOOKS;

    /** Every scope: a new key's unless the operator names fewer. */
    public static final Set<Scope> ALL = Collections.unmodifiableSet(EnumSet.allOf(Scope.class));

    /** The name on the wire and in the store, e.g. {@code calls}. */
    public String wireName() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** The scope of a wire name (exactly as {@link #wireName()} spells it), or empty. */
    public static Optional<Scope> named(String wireName) {
      return Arrays.stream(values()).filter(s -> s.wireName().equals(wireName)).findFirst();
    }

    /**
     * The scopes of a list of wire names, e.g. {@code messages,calls} (spaces around names allowed), as
     * the operator writes them in the store and on the command line.
     *
     * @throws IllegalArgumentException naming the first unknown name, or saying that the list is empty
     */
    public static Set<Scope> parse(String commaSeparated) {
      if (commaSeparated == null || commaSeparated.isBlank()) {
        throw new IllegalArgumentException(emptyList());
      }
      return parse(Arrays.asList(commaSeparated.split(",", -1)));
    }

    /**
     * The scopes of wire names.
     *
     * @throws IllegalArgumentException naming the first unknown name, or saying that the list is empty
     */
    public static Set<Scope> parse(Iterable<String> wireNames) {
      EnumSet<Scope> out = EnumSet.noneOf(Scope.class);
      for (String name : wireNames) {
        String n = name == null ? "" : name.strip();
        out.add(named(n).orElseThrow(() -> new IllegalArgumentException("unknown scope '" + shown(n) + "'; known: "
            + names(ALL))));
      }
      if (out.isEmpty()) {
        throw new IllegalArgumentException(emptyList());
      }
      return Collections.unmodifiableSet(out);
    }

    /** The wire names, comma-separated, in the order of this enum: {@code messages,calls}. */
    public static String names(Set<Scope> scopes) {
      return scopes.stream().sorted().map(Scope::wireName).collect(Collectors.joining(","));
    }

    /** An unmodifiable copy in enum order. @throws IllegalArgumentException when empty */
    static Set<Scope> copyOf(Set<Scope> scopes) {
      Objects.requireNonNull(scopes, "scopes");
      if (scopes.isEmpty()) {
        throw new IllegalArgumentException(emptyList());
      }
      return Collections.unmodifiableSet(EnumSet.copyOf(scopes));
    }

    private static String emptyList() {
      return "scopes must name at least one scope of " + names(ALL);
    }

    /** An operator's unknown name, shown back at most 40 characters long and without control characters. */
    private static String shown(String name) {
      String clean = name.codePoints().map(c -> c < 0x20 || c == 0x7f ? '?' : c)
          .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
      return clean.length() > 40 ? clean.substring(0, 40) + "…" : clean;
    }
  }
}

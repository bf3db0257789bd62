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
 * @param rateLimit the key's own {@link RateLimit}, which replaces the layer's default for it; empty: the default
 */
public record Grant(String keyId, WhatsAppNumber number, String metaToken, Set<Scope> scopes,
    Optional<RateLimit> rateLimit) {
  public Grant {
    Objects.requireNonNull(keyId, "keyId");
    Objects.requireNonNull(number, "number");
    Objects.requireNonNull(metaToken, "metaToken");
    scopes = Scope.copyOf(scopes);
    Objects.requireNonNull(rateLimit, "rateLimit");
  }

  /** A grant with the layer's default rate limit. */
  public Grant(String keyId, WhatsAppNumber number, String metaToken, Set<Scope> scopes) {
    this(keyId, number, metaToken, scopes, Optional.empty());
  }

  /** A grant with every scope: what an embedder's {@link TokenResolver} written before scopes existed grants. */
  public Grant(String keyId, WhatsAppNumber number, String metaToken) {
    this(keyId, number, metaToken, Scope.ALL, Optional.empty());
  }

  /** Whether the key holds {@code scope}. */
  public boolean has(Scope scope) {
    return scopes.contains(scope);
  }

  @Override
  public String toString() {
    return "Grant[keyId=" + keyId + ", phoneNumberId=" + number.phoneNumberId() + ", scopes=" + Scope.names(scopes)
        + rateLimit.map(r -> ", rateLimit=" + r).orElse("") + ", metaToken=<redacted>]";
  }

  /**
   * How many Graph requests a key may send: a token bucket that holds at most {@code burst} requests and
   * refills at {@code perSecond} (which may be fractional: 0.5 is one request every 2 s). {@link #OFF}
   * (0 and 0) sets no limit. A key's own limit is stored with the key and replaces the layer's default
   * for it; the Graph proxy applies it per instance ({@code docs/operations.md}, "Per-key limits").
   *
   * @param perSecond requests added to the bucket per second: 0 (off) or from {@link #MIN_PER_SECOND} to
   *     {@link #MAX}
   * @param burst the bucket's size, the most requests sent at once: 0 (off) or from 1 to {@link #MAX}
   */
  public record RateLimit(double perSecond, int burst) {
    /** No limit. */
    public static final RateLimit OFF = new RateLimit(0, 0);
    /** The smallest rate besides 0: one request a day. */
    public static final double MIN_PER_SECOND = 1.0 / 86_400;
    /** The largest rate and burst. */
    public static final int MAX = 1_000_000;

    /** @throws IllegalArgumentException naming the rule the values break */
    public RateLimit {
      boolean off = perSecond == 0 && burst == 0;
      if (!off && !(perSecond >= MIN_PER_SECOND && perSecond <= MAX)) {
        throw new IllegalArgumentException("a rate must be 0 (off) or from one request a day (1/86400) to " + MAX
            + " requests per second");
      }
      if (!off && (burst < 1 || burst > MAX)) {
        throw new IllegalArgumentException("a burst must be from 1 to " + MAX + " requests when the rate is not 0");
      }
    }

    /** Whether this limits anything ({@link #OFF} does not). */
    public boolean limits() {
      return burst > 0;
    }

    /**
     * The limit of a rate and a burst as an operator writes them ({@code 2.5} and {@code 20}); {@code 0}
     * or {@code off} in either is {@link #OFF}.
     *
     * @throws IllegalArgumentException naming what is wrong, never echoing more than 40 characters
     */
    public static RateLimit parse(String perSecond, String burst) {
      if (isOff(perSecond) || isOff(burst)) {
        return OFF;
      }
      double rate = rate(perSecond);
      int size;
      try {
        size = Integer.parseInt(burst.strip());
      } catch (NumberFormatException | NullPointerException e) {
        throw new IllegalArgumentException("the burst '" + Scope.shown(String.valueOf(burst))
            + "' is not a whole number of requests or off");
      }
      return new RateLimit(rate, size);
    }

    /**
     * A rate as an operator writes it: digits with at most one decimal point ({@code 50}, {@code 0.5}),
     * or {@code off} (0). The range is the constructor's to check.
     *
     * @throws IllegalArgumentException naming the text (at most 40 characters of it)
     */
    public static double rate(String text) {
      String t = text == null ? "" : text.strip();
      if (t.equalsIgnoreCase("off")) {
        return 0;
      }
      if (!t.matches("[0-9]{1,7}(\\.[0-9]{1,9})?")) {
        throw new IllegalArgumentException("the rate '" + Scope.shown(t)
            + "' is not a number of requests per second (like 50 or 0.5) or off");
      }
      return Double.parseDouble(t);
    }

    private static boolean isOff(String text) {
      if (text == null) {
        return false;
      }
      String t = text.strip();
      if (t.equalsIgnoreCase("off")) {
        return true;
      }
      try {
        return Double.parseDouble(t) == 0;
      } catch (NumberFormatException e) {
        return false;
      }
    }

    /** {@code 50/s burst 100}, {@code 0.5/s burst 3} or {@code off}. */
    @Override
    public String toString() {
      return limits() ? rateText(perSecond) + "/s burst " + burst : "off";
    }

    /** A rate without a needless {@code .0}: {@code 50}, {@code 0.5}. */
    public static String rateText(double perSecond) {
      return perSecond == Math.rint(perSecond) && perSecond < 1e15 ? Long.toString((long) perSecond)
          : java.math.BigDecimal.valueOf(perSecond).stripTrailingZeros().toPlainString();
    }
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
    static String shown(String name) {
      String clean = name.codePoints().map(c -> c < 0x20 || c == 0x7f ? '?' : c)
          .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
      return clean.length() > 40 ? clean.substring(0, 40) + "…" : clean;
    }
  }
}

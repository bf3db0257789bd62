package dev.metalayer.jetty;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The values of every {@link Option}, resolved once from flags, then the environment, then defaults.
 * Immutable. {@link #toString()} never prints a secret.
 */
public final class Settings {
  private static final Pattern DURATION = Pattern.compile("([0-9]+)(ms|s|m|h|d)?");

  private final Map<Option, String> values;
  private final List<String> arguments;

  private Settings(Map<Option, String> values, List<String> arguments) {
    this.values = values;
    this.arguments = List.copyOf(arguments);
  }

  /**
   * Parses {@code --flag value} and {@code --flag=value} pairs; other words are kept, in order, as
   * {@link #arguments()} (sub-commands and their own flags).
   *
   * @throws IllegalArgumentException for a flag without a value
   */
  public static Settings parse(String[] args, Map<String, String> env) {
    Map<Option, String> values = new EnumMap<>(Option.class);
    List<String> rest = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      String name = arg;
      String value = null;
      int eq = arg.indexOf('=');
      if (arg.startsWith("--") && eq > 0) {
        name = arg.substring(0, eq);
        value = arg.substring(eq + 1);
      }
      Optional<Option> option = Option.byFlag(name);
      if (option.isEmpty()) {
        rest.add(arg);
        continue;
      }
      if (value == null) {
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException(name + " needs a value");
        }
        value = args[++i];
      }
      values.put(option.get(), value);
    }
    for (Option o : Option.values()) {
      if (!values.containsKey(o)) {
        String fromEnv = env.get(o.env());
        if (fromEnv != null && !fromEnv.isEmpty()) {
          values.put(o, fromEnv);
        } else if (fromEnv != null && o.defaultValue().isEmpty()) {
          values.put(o, fromEnv); // set but empty: unset for get(), told apart by given()
        } else {
          o.defaultValue().ifPresent(d -> values.put(o, d));
        }
      }
    }
    return new Settings(values, rest);
  }

  /** Settings from defaults only, with some values set: for tests and embedding. */
  public static Settings of(Map<Option, String> overrides) {
    Settings defaults = parse(new String[0], Map.of());
    Map<Option, String> values = new EnumMap<>(Option.class);
    values.putAll(defaults.values);
    values.putAll(overrides);
    return new Settings(values, List.of());
  }

  /** Words that were not flags of the layer, in order. */
  public List<String> arguments() {
    return arguments;
  }

  public Optional<String> get(Option option) {
    return Optional.ofNullable(values.get(option)).filter(v -> !v.isBlank());
  }

  /**
   * The value as the operator gave it, an empty one included (a variable set to nothing, {@code --flag=}):
   * for the options where an empty value is a mistake to report rather than "unset". Empty when neither
   * a flag nor a variable gave one.
   */
  public Optional<String> given(Option option) {
    return Optional.ofNullable(values.get(option));
  }

  public String string(Option option) {
    return get(option).orElseThrow(() -> new IllegalArgumentException(describe(option) + " must be set"));
  }

  public int integer(Option option) {
    String v = string(option);
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(describe(option) + " must be a whole number, got '" + v + "'", e);
    }
  }

  public long longValue(Option option) {
    String v = string(option);
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(describe(option) + " must be a whole number, got '" + v + "'", e);
    }
  }

  public boolean bool(Option option) {
    String v = get(option).orElse("false").trim().toLowerCase(Locale.ROOT);
    return switch (v) {
      case "true", "1", "yes", "on" -> true;
      case "false", "0", "no", "off" -> false;
      default -> throw new IllegalArgumentException(describe(option) + " must be true or false, got '" + v + "'");
    };
  }

  /** Parses {@code 500ms}, {@code 30s}, {@code 5m}, {@code 2h}, {@code 1d} (a bare number is seconds). */
  public Duration duration(Option option) {
    String v = string(option).trim().toLowerCase(Locale.ROOT);
    Matcher m = DURATION.matcher(v);
    if (!m.matches()) {
      throw new IllegalArgumentException(describe(option) + " must be a duration like 500ms, 30s or 5m, got '" + v + "'");
    }
    long n = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "s" : m.group(2);
    return switch (unit) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(n);
    };
  }

  /**
   * {@link #duration} that must be at least {@code min}.
   *
   * @param why the reason for the minimum, for the error message
   */
  public Duration duration(Option option, Duration min, String why) {
    Duration d = duration(option);
    if (d.compareTo(min) < 0) {
      throw new IllegalArgumentException(describe(option) + " must be at least " + text(min) + " (" + why + "), got '"
          + string(option).trim() + "'");
    }
    return d;
  }

  /** A duration as this class reads them: the largest whole unit. */
  static String text(Duration d) {
    if (d.toMillis() % 1000 != 0) {
      return d.toMillis() + "ms";
    }
    long s = d.toSeconds();
    return s % 86_400 == 0 ? s / 86_400 + "d" : s % 3600 == 0 ? s / 3600 + "h" : s % 60 == 0 ? s / 60 + "m" : s + "s";
  }

  /** A comma-separated list, trimmed, blanks dropped. */
  public List<String> list(Option option) {
    return get(option)
        .map(v -> Arrays.stream(v.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList())
        .orElse(List.of());
  }

  /** A widening of the Graph surface per number ({@link dev.metalayer.graph.Surface#parseWidening}); none when unset. */
  public Map<String, java.util.Set<dev.metalayer.graph.Surface.Group>> surfaceWidening(Option option) {
    try {
      return dev.metalayer.graph.Surface.parseWidening(get(option).orElse(""));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(describe(option) + ": " + e.getMessage(), e);
    }
  }

  private static String describe(Option option) {
    return option.flag().map(f -> f + " / ").orElse("") + option.env();
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("Settings{");
    for (Map.Entry<Option, String> e : values.entrySet()) {
      b.append(e.getKey().env()).append('=').append(e.getKey().secret() ? "<set>" : e.getValue()).append(", ");
    }
    return b.append('}').toString();
  }
}

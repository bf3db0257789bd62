package dev.metalayer.jetty;

import dev.metalayer.MetaLayer;
import java.time.Duration;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The values of every {@link Option}, resolved once from flags, then the environment, then defaults,
 * and parsed by the option's {@link Option.Kind}: a value of the wrong form is a {@link ConfigError}
 * naming the option as the operator wrote it. Immutable. {@link #toString()} never prints a secret.
 */
public final class Settings {
  private final Map<Option, String> texts;
  private final Map<Option, Object> values;
  private final Map<Option, String> writtenAs;
  /** Options without a default whose variable was set to nothing. */
  private final java.util.Set<Option> givenEmpty = java.util.EnumSet.noneOf(Option.class);

  private Settings(Map<Option, String> texts, Map<Option, Object> values, Map<Option, String> writtenAs) {
    this.texts = texts;
    this.values = values;
    this.writtenAs = writtenAs;
  }

  /**
   * Settings from command-line flags (server options only; the commands are {@link Main}'s) and the
   * environment.
   *
   * @throws ConfigError for an unknown flag, a flag without a value, or a value of the wrong form
   */
  public static Settings parse(String[] args, Map<String, String> env) {
    return Main.settings(args, env);
  }

  /**
   * Resolves every option: its flag when given, else its environment variable when not blank, else its
   * default.
   *
   * @throws ConfigError for a value of the wrong form
   */
  static Settings resolve(Map<Option, String> flags, Map<String, String> env) {
    Map<Option, String> texts = new EnumMap<>(Option.class);
    Map<Option, String> writtenAs = new EnumMap<>(Option.class);
    java.util.Set<Option> givenEmpty = java.util.EnumSet.noneOf(Option.class);
    for (Option o : Option.values()) {
      String flag = flags.get(o);
      String fromEnv = env.get(o.env());
      if (flag != null && o.flag().isPresent()) {
        texts.put(o, flag);
        writtenAs.put(o, o.flag().get());
      } else if (fromEnv != null && !fromEnv.isBlank()) {
        texts.put(o, fromEnv);
        writtenAs.put(o, o.env());
      } else if (fromEnv != null && o.defaultValue().isEmpty()) {
        givenEmpty.add(o); // set but empty: unset for get(), told apart by given()
        writtenAs.put(o, o.env());
      } else {
        o.defaultValue().ifPresent(d -> texts.put(o, d));
      }
    }
    Settings s = parsed(texts, writtenAs);
    s.givenEmpty.addAll(givenEmpty);
    return s;
  }

  /** Settings from defaults only, with some values set (a blank one unsets): for tests and embedding. */
  public static Settings of(Map<Option, String> overrides) {
    Map<Option, String> texts = new EnumMap<>(Option.class);
    for (Option o : Option.values()) {
      o.defaultValue().ifPresent(d -> texts.put(o, d));
    }
    overrides.forEach((o, v) -> {
      if (v == null || v.isBlank()) {
        texts.remove(o);
      } else {
        texts.put(o, v);
      }
    });
    return parsed(texts, new EnumMap<>(Option.class));
  }

  private static Settings parsed(Map<Option, String> texts, Map<Option, String> writtenAs) {
    Settings s = new Settings(texts, new EnumMap<>(Option.class), writtenAs);
    texts.forEach((o, text) -> {
      try {
        s.values.put(o, o.parse(text));
      } catch (Option.Kind.Invalid e) {
        throw new ConfigError(e.getMessage(),
            s.writtenAs(o), e.fix(), e);
      }
    });
    return s;
  }

  /**
   * The master key: {@code LAYER_MASTER_KEY}, or the key file in {@code dataDir} when it is unset (made
   * on first start). A variable set to nothing is an error, never "unset".
   *
   * @param tokensIn where the sealed tokens are, for messages: the data directory, or the database
   * @param sealed whether the store already holds secrets sealed with a master key (or its check value):
   *     then a missing key file is an error, never replaced by a new key that could not open them
   */
  byte[] masterKey(java.nio.file.Path dataDir, String tokensIn, java.security.SecureRandom random, boolean sealed) {
    if (given(Option.MASTER_KEY).filter(String::isBlank).isPresent()) {
      throw new ConfigError("the master key is set but empty", writtenAs(Option.MASTER_KEY),
          "set it to the base64 key that sealed the tokens in " + tokensIn + " (for a new data directory: openssl rand"
              + " -base64 32), or unset it to use the key file " + dataDir.resolve(MasterKey.FILE_NAME));
    }
    if (given(Option.MASTER_KEY).isPresent()) {
      return check(Option.MASTER_KEY, () -> MasterKey.load(given(Option.MASTER_KEY), dataDir, random));
    }
    // no variable: the key file, which is generated only for a store that holds nothing sealed yet
    java.nio.file.Path file = dataDir.resolve(MasterKey.FILE_NAME);
    String unset = Option.MASTER_KEY.env() + " unset";
    String restore = "restore " + file + " from your backup, or set " + Option.MASTER_KEY.env()
        + " to the key that sealed the tokens in " + tokensIn;
    if (sealed && !java.nio.file.Files.exists(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      throw new ConfigError("the master key file " + file + " is missing, and the tokens in " + tokensIn
          + " were sealed with a master key", unset, restore);
    }
    try {
      return MasterKey.load(Optional.empty(), dataDir, random);
    } catch (IllegalArgumentException e) {
      throw new ConfigError(e.getMessage(), unset, restore, e);
    } catch (java.io.UncheckedIOException e) {
      throw unreadable(e, unset);
    }
  }

  /**
   * The start refused because the master key does not open the tokens in the data directory: which
   * key was used (the variable, or the key file when it is unset), and the two ways out.
   */
  ConfigError wrongMasterKey(java.nio.file.Path dataDir, String tokensIn, RuntimeException cause) {
    String fresh = " or start on an empty " + (tokensIn.equals(dataDir.toString()) ? "data directory" : "database")
        + " (its numbers and keys must then be registered again)";
    if (given(Option.MASTER_KEY).isPresent()) {
      return new ConfigError("the master key does not open the tokens in " + tokensIn, writtenAs(Option.MASTER_KEY),
          "use the key that sealed them," + fresh, cause);
    }
    return new ConfigError("the master key file " + dataDir.resolve(MasterKey.FILE_NAME)
        + " does not open the tokens in " + tokensIn, Option.MASTER_KEY.env() + " unset",
        "set " + Option.MASTER_KEY.env() + " to the key that sealed them," + fresh, cause);
  }

  /** The option as the operator wrote it ({@code --port} or {@code LAYER_PORT}), or both names when neither. */
  String writtenAs(Option option) {
    return writtenAs.getOrDefault(option, option.names());
  }

  /**
   * The value as the operator gave it, an empty one included (a variable set to nothing): for the
   * options where an empty value is a mistake to report rather than "unset". Empty when none was given.
   */
  public Optional<String> given(Option option) {
    return givenEmpty.contains(option) ? Optional.of("") : get(option);
  }

  /** The text of an option (trimmed), when set. */
  public Optional<String> get(Option option) {
    return Optional.ofNullable(texts.get(option)).map(String::strip);
  }

  /** The parsed value of an option, when set; its type is that of the option's kind. */
  @SuppressWarnings("unchecked")
  <T> Optional<T> value(Option option) {
    return Optional.ofNullable((T) values.get(option));
  }

  private <T> T required(Option option) {
    return this.<T>value(option).orElseThrow(() -> new ConfigError("no value is set", writtenAs(option),
        "set " + option.names()));
  }

  public String string(Option option) {
    return required(option).toString();
  }

  public int integer(Option option) {
    return ((Number) required(option)).intValue();
  }

  public long longValue(Option option) {
    return ((Number) required(option)).longValue();
  }

  public boolean bool(Option option) {
    return this.<Boolean>value(option).orElse(false);
  }

  public Duration duration(Option option) {
    return required(option);
  }

  /** A list option (comma-separated, trimmed, blanks dropped); empty when unset. */
  public List<String> list(Option option) {
    return this.<List<String>>value(option).orElse(List.of());
  }

  /**
   * Gives the builder every option the core takes (those declared with a builder method). A value the
   * builder refuses becomes a {@link ConfigError} naming the option as the operator wrote it.
   */
  MetaLayer.Builder applyTo(MetaLayer.Builder builder) {
    for (Option o : Option.values()) {
      if (o.forCore() && values.containsKey(o)) {
        check(o, () -> {
          o.applyTo(builder, values.get(o));
          return null;
        });
      }
    }
    return builder;
  }

  /**
   * Runs {@code use} of an option's value; a refusal ({@link IllegalArgumentException} or
   * {@link IllegalStateException}, as the core's checks throw) becomes a {@link ConfigError} naming the
   * option.
   */
  <T> T check(Option option, Supplier<T> use) {
    try {
      return use.get();
    } catch (ConfigError e) {
      throw e;
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw refused(option, e.getMessage(), e);
    } catch (java.io.UncheckedIOException e) {
      throw unreadable(e, writtenAs(option));
    }
  }

  /** A file an option leads to (the master key file in the data directory) cannot be read or written. */
  private static ConfigError unreadable(java.io.UncheckedIOException e, String option) {
    return new ConfigError(e.getMessage() + " (" + e.getCause().getClass().getSimpleName().replace("Exception", "")
        + ")", option, "check the file's owner and permissions", e);
  }

  /** A value that has the right form but is refused by the rule behind it. */
  ConfigError refused(Option option, String why, Throwable cause) {
    // the core's rule names its builder setting ("callTtl must be…"): the operator wrote a flag or a
    // variable, which the line names after it
    why = why == null ? "the value is refused" : why.replaceFirst("^[a-z][A-Za-z]* must ", "it must ");
    String what = option.secret() || !texts.containsKey(option)
        ? why
        : "'" + texts.get(option).strip() + "' is refused: " + why;
    String fix = "change " + writtenAs(option)
        + option.defaultValue().map(d -> ", or leave it unset for the default " + d).orElse("");
    return new ConfigError(what, writtenAs(option), fix, cause);
  }

  /** An error about an option's value found while using it (a port taken, a directory not writable). */
  ConfigError error(Option option, String what, String fix, Throwable cause) {
    return new ConfigError(what, writtenAs(option), fix, cause);
  }

  Map<Option, String> texts() {
    return Collections.unmodifiableMap(texts);
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("Settings{");
    for (Map.Entry<Option, String> e : texts.entrySet()) {
      b.append(e.getKey().env()).append('=').append(e.getKey().secret() ? "<set>" : e.getValue()).append(", ");
    }
    return b.append('}').toString();
  }
}

package dev.metalayer.jetty;

import dev.metalayer.MetaLayer;
import dev.metalayer.calls.Calls;
import dev.metalayer.keys.KeyService.WrongMasterKeyException;
import dev.metalayer.keys.KeyService.CreatedKey;
import dev.metalayer.keys.Grant;
import dev.metalayer.keys.KeyRecord;
import dev.metalayer.keys.KeyService.Registration;
import dev.metalayer.keys.WhatsAppNumber;
import dev.metalayer.store.Stores;
import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;


/**
 * The {@code numbers} and {@code keys} commands. With {@code --layer-url} (or {@code LAYER_URL}) they go
 * through that running layer's admin API with {@code LAYER_ADMIN_TOKEN}; without it they open the
 * store file in the data directory, which only works while no layer runs (a running layer holds the
 * file, and the CLI says so in one line: {@link DataDir}). Both ways print the same. A Meta token is never
 * taken from a flag: it comes from the environment variable named by {@code --meta-token-env}, or is
 * typed after a prompt, hidden when standard input is a terminal (else one line of standard input).
 */
final class Cli {
  /** One option of a command: its flag, its placeholder, whether it is required, its meaning. */
  record Param(String flag, String label, boolean required, String help) {}

  /**
   * A command: its group ({@code numbers}), its name ({@code add}; empty for a command of one word,
   * {@code doctor}), what it does, its options.
   */
  record Command(String group, String name, String description, List<Param> params) {
    String words() {
      return name.isEmpty() ? group : group + " " + name;
    }
  }

  private static final Param PHONE_NUMBER_ID = new Param("--phone-number-id", "ID", true, "Meta's phone number ID.");

  /** Every command; {@link Main} builds the command line and {@code --help} from this table. */
  static final List<Command> COMMANDS = List.of(
      new Command("numbers", "add", "register a number; the Meta token is read from the environment variable named by"
          + " --meta-token-env, or else from standard input (a hidden prompt on a terminal)", List.of(
          new Param("--phone", "+E164", true, "The number, in E.164 form."),
          PHONE_NUMBER_ID,
          new Param("--waba-id", "ID", true, "The WhatsApp Business Account ID."),
          new Param("--business-id", "ID", true, "The Meta business ID."),
          new Param("--meta-token-env", "NAME", false, "Environment variable that holds the Meta token."))),
      new Command("numbers", "list", "list numbers", List.of()),
      new Command("numbers", "remove", "remove a number, its keys and its webhook subscriptions",
          List.of(PHONE_NUMBER_ID)),
      new Command("numbers", "answering", "set who may answer a number's calls: single (the first key to pre-accept or"
          + " accept a call answers it alone; the default) or any (every key)", List.of(
          PHONE_NUMBER_ID,
          new Param("--mode", "single|any", true, "The answering mode."))),
      new Command("keys", "create", "create a key (printed alone on the first line)", List.of(PHONE_NUMBER_ID,
          new Param("--scopes", "SCOPES", false, "What the key may do, comma-separated, from "
              + Grant.Scope.names(Grant.Scope.ALL) + "; all of them when left out."),
          new Param("--rate", "RATE", false, "The key's own rate limit, Graph requests per second (like 5 or 0.5), with"
              + " --burst; off for none; the layer's default (LAYER_KEY_RATE) when left out."),
          new Param("--burst", "N", false, "The key's own burst, with --rate."))),
      new Command("keys", "limit", "set a key's own rate limit, or give it the layer's default again", List.of(
          new Param("--id", "KEY_ID", true, "The key's id."),
          new Param("--rate", "RATE", true, "Graph requests per second (like 5 or 0.5) with --burst; off for no limit;"
              + " default for the layer's default (LAYER_KEY_RATE, LAYER_KEY_BURST)."),
          new Param("--burst", "N", false, "Requests the key may send at once, with a rate."))),
      new Command("keys", "list", "list keys (prefix, number, created, last used, rate limit, scopes)", List.of()),
      new Command("keys", "revoke", "revoke a key", List.of(new Param("--id", "KEY_ID", true, "The key's id."))),
      new Command("doctor", "", "check numbers at Meta and in a running layer (token, number, webhooks, calling,"
          + " deliveries): one line per check, with its fix; exit status 3 when a check fails", List.of(
          new Param("--number", "ID", false, "One phone number ID; every number when left out."))));

  /** Whether {@code word} is a whole command ({@code doctor}), not a group of commands. */
  static boolean isSingleWord(String word) {
    return COMMANDS.stream().anyMatch(c -> c.group().equals(word) && c.name().isEmpty());
  }

  /** The commands of a group, as their words ({@code numbers add}, …). */
  static List<String> commandsOf(String group) {
    return COMMANDS.stream().filter(c -> c.group().equals(group)).map(Command::words).toList();
  }

  /** Where the Meta token of {@code numbers add} is typed. */
  interface Terminal {
    /** Reads one secret line, with {@code prompt} and without echo on a terminal; empty at end of input. */
    Optional<String> readSecret(String prompt) throws IOException;

    /** The process's console when standard input is a terminal, else one line of standard input. */
    static Terminal system() {
      return prompt -> {
        Console console = System.console();
        if (console != null) {
          char[] typed = console.readPassword("%s", prompt);
          return Optional.ofNullable(typed).map(String::new);
        }
        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        return Optional.ofNullable(stdin.readLine());
      };
    }
  }

  private final Settings settings;
  private final Map<String, String> env;
  private final Terminal terminal;
  private final PrintStream out;
  private final PrintStream err;

  Cli(Settings settings, Map<String, String> env, Terminal terminal, PrintStream out, PrintStream err) {
    this.settings = settings;
    this.env = env;
    this.terminal = terminal;
    this.out = out;
    this.err = err;
  }

  /**
   * Runs one command (its words, e.g. {@code numbers add}) with its options (flag to value).
   *
   * @throws ConfigError when the data directory cannot be used (another layer holds it, …)
   */
  int run(String command, Map<String, String> flags) throws IOException {
    Optional<URI> layerUrl = settings.value(Option.LAYER_URL);
    if (layerUrl.isPresent()) {
      // no prompt for the Meta token when the admin token is missing: RemoteCli refuses at once
      Optional<String> metaToken =
          settings.get(Option.ADMIN_TOKEN).isPresent() ? metaToken(command, flags) : Optional.empty();
      return new RemoteCli(layerUrl.get().toString(), settings.writtenAs(Option.LAYER_URL),
          settings.get(Option.ADMIN_TOKEN), out, err).run(command, flags, metaToken);
    }
    if (command.equals("doctor")) {
      err.println("error: doctor asks a running layer, and no layer URL is given (--layer-url): pass --layer-url URL of"
          + " the running layer, with LAYER_ADMIN_TOKEN set");
      return ConfigError.STATUS;
    }
    String viaAdminApi = "pass --layer-url URL (with LAYER_ADMIN_TOKEN set) to manage it through the layer's admin API";
    // on PostgreSQL there is no file to hold: the command works beside running layers, and the data
    // directory is only where the master key file is read from
    boolean shared = settings.get(Option.DB_URL).filter(PgStore::isPostgres).isPresent();
    Path dataDir = Path.of(settings.string(Option.DATA_DIR));
    DataDir dir = shared ? null : DataDir.lock(settings, "stop that layer, or pass --layer-url URL (with"
        + " LAYER_ADMIN_TOKEN set) to manage it through its admin API");
    try (LayerStore store = LayerStore.open(settings, dataDir, viaAdminApi)) {
      SecureRandom random = new SecureRandom();
      // the same options as the server's layer (declared once, in Option), on the same store
      dev.metalayer.keys.KeyStore keyStore = Stores.keys(store.database());
      MetaLayer.Builder builder =
          settings.applyTo(MetaLayer.builder())
              .keyStore(keyStore)
              // the server's relay store: removing a number removes its webhook subscriptions there
              .relayStore(Stores.relay(store.database()))
              .masterKey(settings.masterKey(dataDir, store.where(), random, MasterKey.sealed(keyStore)))
              .random(random);
      MetaLayer layer;
      try {
        layer = builder.build();
      } catch (WrongMasterKeyException e) {
        throw settings.wrongMasterKey(dataDir, store.where(), e);
      }
      return switch (command) {
        case "numbers add" -> addNumber(layer, flags);
        case "numbers list" -> listNumbers(layer);
        case "numbers remove" -> removeNumber(layer, flags);
        case "numbers answering" -> setAnswering(layer, flags);
        case "keys create" -> createKey(layer, flags);
        case "keys limit" -> limitKey(layer, flags);
        case "keys list" -> listKeys(layer);
        case "keys revoke" -> revokeKey(layer, flags);
        default -> throw new IllegalArgumentException("unknown command " + command);
      };
    } finally {
      if (dir != null) {
        dir.close();
      }
    }
  }

  private int addNumber(MetaLayer layer, Map<String, String> flags) throws IOException {
    Optional<String> token = metaToken("numbers add", flags);
    if (token.isEmpty()) {
      return noMetaToken(err, flags);
    }
    Registration result =
        layer.keys().addNumber(
            flags.get("--phone"), flags.get("--phone-number-id"), flags.get("--waba-id"), flags.get("--business-id"),
            token.get());
    if (result instanceof Registration.Added added) {
      WhatsAppNumber n = added.number();
      out.println("added " + n.phone() + " (phone number ID " + n.phoneNumberId() + ", WABA " + n.wabaId() + ")");
      return 0;
    }
    if (result instanceof Registration.Invalid invalid) {
      err.println("error: " + invalid.reason());
    } else {
      err.println("error: this phone number ID or phone is already registered");
    }
    return 1;
  }

  /** The one line when {@code numbers add} got no token: names the variable when one was named. */
  static int noMetaToken(PrintStream err, Map<String, String> flags) {
    String envName = flags.get("--meta-token-env");
    err.println(envName != null
        ? "error: the variable " + envName + " named by --meta-token-env is unset or empty (--meta-token-env): set "
            + envName + " to the number's Meta token, or leave --meta-token-env out and type the token when asked"
        : "error: no Meta token was given (--meta-token-env): name with --meta-token-env a variable that holds it, or"
            + " type it when asked");
    return 2;
  }

  /**
   * The Meta token of {@code numbers add} (read once): from the variable named by
   * {@code --meta-token-env}, or typed after a prompt (hidden on a terminal); empty for other commands.
   */
  private Optional<String> metaToken(String command, Map<String, String> flags) throws IOException {
    if (!command.equals("numbers add")) {
      return Optional.empty();
    }
    String envName = flags.get("--meta-token-env");
    if (envName != null) {
      return Optional.ofNullable(env.get(envName)).map(String::strip).filter(t -> !t.isEmpty());
    }
    return terminal.readSecret("Meta token for " + flags.get("--phone-number-id") + " (input hidden): ")
        .map(String::strip).filter(t -> !t.isEmpty());
  }

  private int listNumbers(MetaLayer layer) {
    numberRow(out, "PHONE", "PHONE_NUMBER_ID", "WABA_ID", "BUSINESS_ID", "ANSWERING", "CREATED");
    for (WhatsAppNumber n : layer.keys().listNumbers()) {
      numberRow(out, n.phone(), n.phoneNumberId(), n.wabaId(), n.businessId(), layer.calls().answering(n.phoneNumberId()),
          n.createdAt().toString());
    }
    return 0;
  }

  static void numberRow(PrintStream out, String phone, String id, String waba, String business, String answering,
      String created) {
    out.printf("%-18s %-20s %-20s %-20s %-10s %s%n", phone, id, waba, business, answering, created);
  }

  private int setAnswering(MetaLayer layer, Map<String, String> flags) {
    String id = flags.get("--phone-number-id");
    Optional<String> checked = mode(err, flags);
    if (checked.isEmpty()) {
      return 2;
    }
    String mode = checked.get();
    if (layer.keys().findNumber(id).isEmpty()) {
      err.println("error: no number with phone number ID " + id);
      return 1;
    }
    layer.calls().setAnswering(id, mode);
    out.println(answeringSet(id, mode));
    return 0;
  }

  /** The answering mode of {@code numbers answering}; empty, with one line on {@code err}, for another. */
  static Optional<String> mode(PrintStream err, Map<String, String> flags) {
    try {
      return Optional.of(Calls.answeringMode(flags.get("--mode")));
    } catch (IllegalArgumentException e) {
      err.println("error: --mode is single or any");
      return Optional.empty();
    }
  }

  static String answeringSet(String phoneNumberId, String mode) {
    return "answering of " + phoneNumberId + ": " + mode;
  }

  static void keyRow(PrintStream out, String id, String prefix, String number, String created, String lastUsed,
      String revoked, String rateLimit, String scopes) {
    out.printf("%-26s %-10s %-20s %-26s %-26s %-26s %-22s %s%n", id, prefix, number, created, lastUsed, revoked, rateLimit,
        scopes);
  }

  /** A key's own rate limit as {@code keys list} shows it: {@code default}, {@code off} or {@code 5/s burst 10}. */
  static String rateLimitText(Optional<Grant.RateLimit> limit) {
    return limit.map(Grant.RateLimit::toString).orElse("default");
  }

  /**
   * The rate limit {@code --rate} and {@code --burst} name: empty for the layer's default ({@code --rate}
   * left out, or {@code default} where {@code allowDefault}), {@link Grant.RateLimit#OFF} for {@code off}.
   *
   * @throws IllegalArgumentException naming the flag and what is wrong
   */
  static Optional<Grant.RateLimit> rateLimit(Map<String, String> flags, boolean allowDefault) {
    String rate = flags.get("--rate");
    String burst = flags.get("--burst");
    if (rate == null) {
      if (burst != null) {
        throw new IllegalArgumentException("--burst needs --rate");
      }
      return Optional.empty();
    }
    String r = rate.strip();
    if (allowDefault && r.equals("default") || r.equals("off")) {
      if (burst != null) {
        throw new IllegalArgumentException("--rate " + r + " takes no --burst");
      }
      return r.equals("off") ? Optional.of(Grant.RateLimit.OFF) : Optional.empty();
    }
    if (burst == null) {
      // the rate is shown back only when it is a plain number (never more than 20 characters of the operator's text)
      throw new IllegalArgumentException("--rate " + (r.matches("[0-9.]{1,20}") ? r + " " : "") + "needs --burst N (the"
          + " requests the key may send at once)");
    }
    return Optional.of(Grant.RateLimit.parse(r, burst));
  }

  /** {@link #rateLimit(Map, boolean)}, or empty with one line on {@code err}. */
  static Optional<Optional<Grant.RateLimit>> rateLimit(PrintStream err, Map<String, String> flags, boolean allowDefault) {
    try {
      return Optional.of(rateLimit(flags, allowDefault));
    } catch (IllegalArgumentException e) {
      err.println("error: " + e.getMessage() + " (--rate, --burst)");
      return Optional.empty();
    }
  }

  /** What {@code keys limit} prints once the limit is set. */
  static String limitSet(String id, Optional<Grant.RateLimit> limit) {
    return "rate limit of " + id + ": " + limit.map(Grant.RateLimit::toString).orElse("the layer's default");
  }

  private int removeNumber(MetaLayer layer, Map<String, String> flags) {
    String id = flags.get("--phone-number-id");
    if (!layer.keys().removeNumber(id)) {
      err.println("error: no number with phone number ID " + id);
      return 1;
    }
    out.println(removed(id));
    return 0;
  }

  private int createKey(MetaLayer layer, Map<String, String> flags) {
    Optional<Set<Grant.Scope>> scopes = scopes(err, flags);
    if (scopes.isEmpty()) {
      return 2;
    }
    Optional<Optional<Grant.RateLimit>> rateLimit = rateLimit(err, flags, false);
    if (rateLimit.isEmpty()) {
      return 2;
    }
    String id = flags.get("--phone-number-id");
    Optional<CreatedKey> created = layer.keys().createKey(id, scopes.get(), rateLimit.get());
    if (created.isEmpty()) {
      err.println("error: no number with phone number ID " + id);
      return 1;
    }
    printCreatedKey(out, created.get().key(), created.get().record().id(), id, Grant.Scope.names(created.get().record().scopes()));
    return 0;
  }

  /**
   * The scopes of {@code keys create}: those named by {@code --scopes}, all when it is left out; empty,
   * with one line on {@code err}, when it names none or a scope that does not exist.
   */
  static Optional<Set<Grant.Scope>> scopes(PrintStream err, Map<String, String> flags) {
    String named = flags.get("--scopes");
    if (named == null) {
      return Optional.of(Grant.Scope.ALL);
    }
    try {
      return Optional.of(Grant.Scope.parse(named));
    } catch (IllegalArgumentException e) {
      err.println("error: " + e.getMessage() + " (--scopes)");
      return Optional.empty();
    }
  }

  static void printCreatedKey(PrintStream out, String key, String keyId, String phoneNumberId, String scopes) {
    out.println(key);
    out.println("# key id " + keyId + " for phone number ID " + phoneNumberId + " with the scopes " + scopes
        + ": store it now, it is not shown again");
  }

  private int listKeys(MetaLayer layer) {
    keyRow(out, "ID", "PREFIX", "PHONE_NUMBER_ID", "CREATED", "LAST_USED", "REVOKED", "RATE_LIMIT", "SCOPES");
    for (KeyRecord k : layer.keys().listKeys()) {
      keyRow(out, k.id(), k.prefix(), k.phoneNumberId(), k.createdAt().toString(),
          k.lastUsedAt().map(Instant::toString).orElse("-"), k.revokedAt().map(Instant::toString).orElse("-"),
          rateLimitText(k.rateLimit()), Grant.Scope.names(k.scopes()));
    }
    return 0;
  }

  private int limitKey(MetaLayer layer, Map<String, String> flags) {
    Optional<Optional<Grant.RateLimit>> limit = rateLimit(err, flags, true);
    if (limit.isEmpty()) {
      return 2;
    }
    String id = flags.get("--id");
    if (!layer.keys().setRateLimit(id, limit.get())) {
      err.println("error: no key " + id);
      return 1;
    }
    out.println(limitSet(id, limit.get()));
    return 0;
  }

  private int revokeKey(MetaLayer layer, Map<String, String> flags) {
    String id = flags.get("--id");
    if (!layer.keys().revokeKey(id)) {
      err.println("error: no active key " + id);
      return 1;
    }
    out.println("revoked " + id);
    return 0;
  }

  static String removed(String phoneNumberId) {
    return "removed " + phoneNumberId + " with its keys and webhook subscriptions";
  }

}

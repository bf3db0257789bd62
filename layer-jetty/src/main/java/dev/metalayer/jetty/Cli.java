package dev.metalayer.jetty;

import dev.metalayer.MetaLayer;
import dev.metalayer.crypto.MasterKey;
import dev.metalayer.keys.CreatedKey;
import dev.metalayer.keys.KeyRecord;
import dev.metalayer.keys.NumberRegistration;
import dev.metalayer.keys.WhatsAppNumber;
import dev.metalayer.store.JdbcKeyStore;
import dev.metalayer.store.JdbcRelayStore;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The {@code numbers} and {@code keys} commands. With {@code --layer-url} (or {@code LAYER_URL}) they go
 * through that running layer's admin API with {@code LAYER_ADMIN_TOKEN}; without it they open the
 * store file in the data directory, which only works while no layer runs (a running layer holds the
 * file, and the CLI says so in one line). Both ways print the same. A Meta token is never taken from a
 * flag: it comes from the environment variable named by {@code --meta-token-env}, or from one line of
 * standard input.
 */
final class Cli {
  /** Every command, as its two words. */
  static final List<String> COMMANDS =
      List.of("numbers add", "numbers list", "numbers remove", "keys create", "keys list", "keys revoke");

  private final Settings settings;
  private final Map<String, String> env;
  private final BufferedReader stdin;
  private final PrintStream out;
  private final PrintStream err;

  Cli(Settings settings, Map<String, String> env, BufferedReader stdin, PrintStream out, PrintStream err) {
    this.settings = settings;
    this.env = env;
    this.stdin = stdin;
    this.out = out;
    this.err = err;
  }

  int run(List<String> words) throws IOException {
    if (words.size() < 2) {
      return usageError("expected a command such as 'numbers list' or 'keys create'");
    }
    Map<String, String> flags;
    try {
      flags = flags(words.subList(2, words.size()));
    } catch (IllegalArgumentException e) {
      return usageError(e.getMessage());
    }
    String command = words.get(0) + " " + words.get(1);
    if (!COMMANDS.contains(command)) {
      return usageError("unknown command '" + command + "'");
    }
    Optional<String> layerUrl = settings.get(Option.LAYER_URL);
    if (layerUrl.isPresent()) {
      return new RemoteCli(layerUrl.get(), settings.get(Option.ADMIN_TOKEN), out, err).run(command, flags, metaToken(command, flags));
    }
    Path dataDir = Path.of(settings.string(Option.DATA_DIR));
    H2Store opened;
    try {
      opened = H2Store.open(dataDir);
    } catch (H2Store.InUse e) {
      err.println("error: " + e.getMessage() + ": pass --layer-url URL (with LAYER_ADMIN_TOKEN set) to manage it"
          + " through the layer's admin API");
      return 1;
    }
    try (H2Store store = opened) {
      SecureRandom random = new SecureRandom();
      MetaLayer layer =
          MetaLayer.builder()
              .keyStore(new JdbcKeyStore(store.database()))
              // the server's relay store: removing a number removes its webhook subscriptions there
              .relayStore(new JdbcRelayStore(store.database()))
              .masterKey(MasterKey.load(settings.given(Option.MASTER_KEY), dataDir, random))
              .random(random)
              .build();
      return switch (command) {
        case "numbers add" -> addNumber(layer, flags);
        case "numbers list" -> listNumbers(layer);
        case "numbers remove" -> removeNumber(layer, flags);
        case "keys create" -> createKey(layer, flags);
        case "keys list" -> listKeys(layer);
        case "keys revoke" -> revokeKey(layer, flags);
        default -> usageError("unknown command '" + command + "'");
      };
    }
  }

  private int addNumber(MetaLayer layer, Map<String, String> flags) throws IOException {
    Optional<String> token = metaToken("numbers add", flags);
    if (token.isEmpty()) {
      return noMetaToken(err);
    }
    NumberRegistration result =
        layer.keys().addNumber(
            flags.get("--phone"), flags.get("--phone-number-id"), flags.get("--waba-id"), flags.get("--business-id"),
            token.get());
    if (result instanceof NumberRegistration.Added added) {
      WhatsAppNumber n = added.number();
      out.println("added " + n.phone() + " (phone number ID " + n.phoneNumberId() + ", WABA " + n.wabaId() + ")");
      return 0;
    }
    if (result instanceof NumberRegistration.Invalid invalid) {
      err.println("error: " + invalid.reason());
    } else {
      err.println("error: this phone number ID or phone is already registered");
    }
    return 1;
  }

  static int noMetaToken(PrintStream err) {
    err.println("error: no Meta token: set --meta-token-env NAME, or write the token on standard input");
    return 2;
  }

  /** The Meta token of {@code numbers add} (read once); empty for other commands. */
  private Optional<String> metaToken(String command, Map<String, String> flags) throws IOException {
    if (!command.equals("numbers add")) {
      return Optional.empty();
    }
    String envName = flags.get("--meta-token-env");
    if (envName != null) {
      return Optional.ofNullable(env.get(envName)).map(String::strip).filter(t -> !t.isEmpty());
    }
    String line = stdin.readLine();
    return Optional.ofNullable(line).map(String::strip).filter(t -> !t.isEmpty());
  }

  private int listNumbers(MetaLayer layer) {
    numberRow(out, "PHONE", "PHONE_NUMBER_ID", "WABA_ID", "BUSINESS_ID", "CREATED");
    for (WhatsAppNumber n : layer.keys().listNumbers()) {
      numberRow(out, n.phone(), n.phoneNumberId(), n.wabaId(), n.businessId(), n.createdAt().toString());
    }
    return 0;
  }

  static void numberRow(PrintStream out, String phone, String id, String waba, String business, String created) {
    out.printf("%-18s %-20s %-20s %-20s %s%n", phone, id, waba, business, created);
  }

  static void keyRow(PrintStream out, String id, String prefix, String number, String created, String lastUsed,
      String revoked) {
    out.printf("%-26s %-10s %-20s %-26s %-26s %s%n", id, prefix, number, created, lastUsed, revoked);
  }

  private int removeNumber(MetaLayer layer, Map<String, String> flags) {
    String id = flags.get("--phone-number-id");
    if (id == null) {
      return usageError("numbers remove needs --phone-number-id");
    }
    if (!layer.keys().removeNumber(id)) {
      err.println("error: no number with phone number ID " + id);
      return 1;
    }
    out.println(removed(id));
    return 0;
  }

  private int createKey(MetaLayer layer, Map<String, String> flags) {
    String id = flags.get("--phone-number-id");
    if (id == null) {
      return usageError("keys create needs --phone-number-id");
    }
    Optional<CreatedKey> created = layer.keys().createKey(id);
    if (created.isEmpty()) {
      err.println("error: no number with phone number ID " + id);
      return 1;
    }
    printCreatedKey(out, created.get().key(), created.get().record().id(), id);
    return 0;
  }

  static void printCreatedKey(PrintStream out, String key, String keyId, String phoneNumberId) {
    out.println(key);
    out.println("# key id " + keyId + " for phone number ID " + phoneNumberId + ": store it now, it is not shown again");
  }

  private int listKeys(MetaLayer layer) {
    keyRow(out, "ID", "PREFIX", "PHONE_NUMBER_ID", "CREATED", "LAST_USED", "REVOKED");
    for (KeyRecord k : layer.keys().listKeys()) {
      keyRow(out, k.id(), k.prefix(), k.phoneNumberId(), k.createdAt().toString(),
          k.lastUsedAt().map(Instant::toString).orElse("-"), k.revokedAt().map(Instant::toString).orElse("-"));
    }
    return 0;
  }

  private int revokeKey(MetaLayer layer, Map<String, String> flags) {
    String id = flags.get("--id");
    if (id == null) {
      return usageError("keys revoke needs --id");
    }
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

  private int usageError(String message) {
    err.println("error: " + message);
    err.println("Run with --help for the commands.");
    return 2;
  }

  static Map<String, String> flags(List<String> words) {
    Map<String, String> flags = new HashMap<>();
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      if (!w.startsWith("--")) {
        throw new IllegalArgumentException("unexpected argument '" + w + "'");
      }
      int eq = w.indexOf('=');
      if (eq > 0) {
        flags.put(w.substring(0, eq), w.substring(eq + 1));
      } else if (i + 1 < words.size()) {
        flags.put(w, words.get(++i));
      } else {
        throw new IllegalArgumentException(w + " needs a value");
      }
    }
    return flags;
  }
}

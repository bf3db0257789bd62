package dev.metalayer.jetty;

import dev.metalayer.crypto.MasterKey;
import dev.metalayer.crypto.WrongMasterKeyException;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code java -jar meta-layer.jar [options] [command]}: serves the layer (no command, or
 * {@code serve}), or manages numbers and keys ({@code numbers …}, {@code keys …}): in the store file
 * while no layer runs, or through a running layer's admin API with {@code --layer-url}.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws Exception {
    int status = run(args, System.getenv(), System.out, System.err);
    if (status >= 0) {
      System.exit(status);
    }
  }

  /**
   * Runs one invocation. @return the exit status, or -1 when the layer is serving (the process lives on
   * until it is stopped)
   */
  static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err) throws Exception {
    if (List.of(args).contains("--help") || List.of(args).contains("-h")) {
      out.print(usage());
      return 0;
    }
    Settings settings;
    try {
      settings = Settings.parse(args, env);
    } catch (IllegalArgumentException e) {
      err.println("error: " + e.getMessage());
      err.println("Run with --help for the options.");
      return 2;
    }
    List<String> words = settings.arguments();
    if (words.isEmpty() || words.get(0).equals("serve")) {
      try {
        serve(settings);
      } catch (IllegalArgumentException | H2Store.InUse e) {
        // a setting refused at start, or the store held by another process: one line, no stack trace
        err.println("error: " + e.getMessage());
        return 2;
      } catch (WrongMasterKeyException e) {
        err.println("error: " + wrongMasterKey(settings));
        return 2;
      }
      return -1;
    }
    Cli cli = new Cli(settings, env, new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)), out, err);
    try {
      return cli.run(words);
    } catch (WrongMasterKeyException e) {
      err.println("error: " + wrongMasterKey(settings));
      return 2;
    }
  }

  /** The launcher's words for {@link WrongMasterKeyException}: which key was used, and the two ways out. */
  static String wrongMasterKey(Settings settings) {
    Path dataDir = Path.of(settings.string(Option.DATA_DIR));
    String fresh = " or start on an empty data directory (its numbers and keys must then be registered again)";
    if (settings.given(Option.MASTER_KEY).isPresent()) {
      return Option.MASTER_KEY.env() + " does not open the tokens in " + dataDir + ": use the key that sealed them,"
          + fresh;
    }
    return "the master key file " + dataDir.resolve(MasterKey.FILE_NAME) + " does not open the tokens in " + dataDir
        + ": set " + Option.MASTER_KEY.env() + " to the key that sealed them," + fresh;
  }

  private static void serve(Settings settings) throws Exception {
    Logger log = LoggerFactory.getLogger(Main.class);
    LayerServer server = LayerServer.start(settings);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  log.info("Stopping Meta Layer");
                  try {
                    server.close();
                  } catch (Exception e) {
                    log.warn("Failure while stopping", e);
                  } finally {
                    stopped.countDown();
                  }
                },
                "layer-shutdown"));
    stopped.await();
  }

  static String usage() {
    StringBuilder b = new StringBuilder();
    b.append("Meta Layer: a Graph-compatible proxy and call webhook relay for the WhatsApp Cloud API.\n\n");
    b.append("Usage: java -jar meta-layer.jar [options] [command]\n\n");
    b.append("Commands (default: serve):\n");
    b.append("  serve                                   run the layer\n");
    b.append("  numbers add --phone +E164 --phone-number-id ID --waba-id ID --business-id ID [--meta-token-env NAME]\n");
    b.append("                                          register a number; the Meta token is read from the\n");
    b.append("                                          environment variable NAME, or else from one line of stdin\n");
    b.append("  numbers list                            list numbers\n");
    b.append("  numbers remove --phone-number-id ID     remove a number, its keys and its webhook subscriptions\n");
    b.append("  keys create --phone-number-id ID        create a key (printed alone on the first line)\n");
    b.append("  keys list                               list keys (prefix, number, created, last used)\n");
    b.append("  keys revoke --id KEY_ID                 revoke a key\n");
    b.append("The numbers and keys commands open the store file, which a running layer holds: to manage a running\n");
    b.append("layer, give its URL with --layer-url (and LAYER_ADMIN_TOKEN); they then use its admin API.\n\n");
    b.append("Options (a flag wins over its environment variable):\n");
    for (Option o : Option.values()) {
      String flag = o.flag().map(f -> f + " VALUE").orElse("(environment only)");
      b.append(String.format("  %-30s %s%n", flag, o.env()));
      b.append("      ").append(o.help());
      o.defaultValue().ifPresent(d -> b.append(" Default: ").append(d).append('.'));
      b.append('\n');
    }
    b.append("  -h, --help                     this text\n");
    return b.toString();
  }
}

package dev.metalayer.jetty;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * {@code java -jar meta-layer.jar [options] [command]}: serves the layer (no command, or
 * {@code serve}), or manages numbers and keys ({@code numbers …}, {@code keys …}): in the store file
 * while no layer runs, or through a running layer's admin API with {@code --layer-url}.
 *
 * <p>The command line is read by picocli, built from {@link Option} (every server flag, accepted before
 * or after the command) and {@link Cli#COMMANDS}. Every mistake (an unknown option or command, a
 * missing value, a value of the wrong form, a port in use…) is one line on standard error,
 * {@code error: <what> (<option as written>): <what to do>}, and exit status 2; {@code --debug} (or
 * {@code LAYER_LOG_LEVEL=DEBUG}) adds the stack trace.
 */
public final class Main {
  static final String DEBUG = "--debug";

  private Main() {}

  public static void main(String[] args) throws Exception {
    int status = run(args, System.getenv(), System.out, System.err);
    if (status >= 0) {
      System.exit(status);
    }
  }

  /** What one command line asked for: the command (empty: serve), its own options and the server flags. */
  private record Invocation(List<String> command, Map<String, String> options, Map<Option, String> flags,
      boolean debug, CommandLine help, boolean version) {}

  /**
   * Runs one invocation. @return the exit status, or -1 when the layer is serving (the process lives on
   * until it is stopped)
   */
  static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err) throws Exception {
    Invocation invocation;
    try {
      invocation = read(args);
    } catch (ConfigError e) {
      err.println(e.line());
      return ConfigError.STATUS;
    }
    if (invocation.version()) {
      out.println("meta-layer " + LayerVersion.VERSION);
      return 0;
    }
    if (invocation.help() != null) {
      out.print(invocation.help().getParent() == null ? usage() : invocation.help().getUsageMessage());
      return 0;
    }
    boolean debug = invocation.debug() || "DEBUG".equalsIgnoreCase(env.getOrDefault(Option.LOG_LEVEL.env(), ""))
        || "TRACE".equalsIgnoreCase(env.getOrDefault(Option.LOG_LEVEL.env(), ""));
    try {
      Settings settings = Settings.resolve(invocation.flags(), env);
      List<String> command = invocation.command();
      if (command.isEmpty() || command.equals(List.of("serve"))) {
        serve(settings);
        return -1;
      }
      if (command.size() == 1 && !Cli.isSingleWord(command.get(0))) {
        throw new ConfigError("'" + command.get(0) + "' needs a command", command.get(0),
            "use one of " + String.join(", ", Cli.commandsOf(command.get(0))));
      }
      return new Cli(settings, env, Cli.Terminal.system(), out, err)
          .run(String.join(" ", command), invocation.options());
    } catch (ConfigError e) {
      err.println(e.line());
      if (debug) {
        e.printStackTrace(err);
      }
      return ConfigError.STATUS;
    }
  }

  /** The server settings of a command line that holds only server flags (for embedding and tests). */
  static Settings settings(String[] args, Map<String, String> env) {
    Invocation invocation = read(args);
    if (!invocation.command().isEmpty()) {
      throw new ConfigError("unexpected command '" + String.join(" ", invocation.command()) + "'",
          invocation.command().get(0), "give server options only");
    }
    return Settings.resolve(invocation.flags(), env);
  }

  /** Reads a command line. @throws ConfigError for an unknown option or command, or a missing value */
  private static Invocation read(String[] args) {
    Map<Option, String> flags = new EnumMap<>(Option.class);
    CommandLine line = commandLine(flags, true);
    ParseResult parsed;
    try {
      parsed = line.parseArgs(args);
    } catch (CommandLine.MissingParameterException e) {
      // picocli finds a missing required option before an unknown one: tell a typo first, as the
      // missing option is often the misspelt one
      try {
        commandLine(new EnumMap<>(Option.class), false).parseArgs(args);
      } catch (CommandLine.UnmatchedArgumentException unknown) {
        throw mistake(unknown);
      } catch (CommandLine.ParameterException other) {
        // the same mistake as e, or another that e's line covers
      }
      throw mistake(e);
    } catch (CommandLine.ParameterException e) {
      throw mistake(e);
    }
    List<String> command = new ArrayList<>();
    CommandLine help = null;
    boolean debug = false;
    ParseResult leaf = parsed;
    for (ParseResult p = parsed; p != null; p = p.hasSubcommand() ? p.subcommand() : null) {
      if (p.isUsageHelpRequested() && help == null) {
        help = p.commandSpec().commandLine();
      }
      debug |= p.hasMatchedOption(DEBUG);
      if (p != parsed) {
        command.add(p.commandSpec().name());
      }
      leaf = p;
    }
    Map<String, String> options = new java.util.HashMap<>();
    for (OptionSpec o : leaf.matchedOptions()) {
      if (o.longestName().startsWith("--") && Option.byFlag(o.longestName()).isEmpty() && o.arity().max() > 0) {
        options.put(o.longestName(), leaf.matchedOptionValue(o.longestName(), (String) null));
      }
    }
    return new Invocation(List.copyOf(command), options, flags, debug, help, parsed.isVersionHelpRequested());
  }

  /**
   * The whole command line: the server flags and {@code --debug} on every command, and the commands.
   *
   * @param required whether the commands' required options are required (false to look for other mistakes)
   */
  private static CommandLine commandLine(Map<Option, String> flags, boolean required) {
    CommandSpec root = CommandSpec.create().name("meta-layer");
    serverOptions(root, flags, false);
    root.addOption(OptionSpec.builder("-V", "--version").versionHelp(true)
        .description("Print the version (" + LayerVersion.VERSION + ") and exit.").build());
    CommandLine line = new CommandLine(root);
    line.setExpandAtFiles(false);
    CommandSpec serve = CommandSpec.create().name("serve");
    serve.usageMessage().description("Run the layer (the default command).");
    serverOptions(serve, flags, true);
    line.addSubcommand("serve", new CommandLine(serve));
    Map<String, CommandLine> groups = new java.util.LinkedHashMap<>();
    for (Cli.Command c : Cli.COMMANDS) {
      if (c.name().isEmpty()) {
        // a command of one word (doctor): its options are on it
        CommandSpec spec = CommandSpec.create().name(c.group());
        spec.usageMessage().description(c.description());
        addParams(spec, c, required);
        serverOptions(spec, flags, true);
        groups.put(c.group(), new CommandLine(spec));
        continue;
      }
      CommandLine group = groups.computeIfAbsent(c.group(), g -> {
        CommandSpec spec = CommandSpec.create().name(g);
        spec.usageMessage().description("The " + g + " commands.");
        serverOptions(spec, flags, true);
        return new CommandLine(spec);
      });
      CommandSpec spec = CommandSpec.create().name(c.name());
      spec.usageMessage().description(c.description());
      addParams(spec, c, required);
      serverOptions(spec, flags, true);
      group.addSubcommand(c.name(), new CommandLine(spec));
    }
    groups.forEach(line::addSubcommand);
    return line;
  }

  private static void addParams(CommandSpec spec, Cli.Command c, boolean required) {
    for (Cli.Param p : c.params()) {
      spec.addOption(OptionSpec.builder(p.flag()).paramLabel(p.label()).arity("1").type(String.class)
          .required(required && p.required()).description(p.help()).build());
    }
  }

  private static void serverOptions(CommandSpec spec, Map<Option, String> flags, boolean hidden) {
    for (Option o : Option.values()) {
      o.flag().ifPresent(flag -> spec.addOption(OptionSpec.builder(flag)
          .paramLabel(o.kind().label())
          .arity("1")
          .type(String.class)
          .hidden(hidden)
          .description(plain(o.help()))
          .setter(new CommandLine.Model.ISetter() {
            @Override
            public <T> T set(T value) {
              if (value != null) {
                flags.put(o, value.toString());
              }
              return null;
            }
          })
          .build()));
    }
    spec.addOption(OptionSpec.builder(DEBUG).arity("0").hidden(hidden)
        .description("Print the stack trace of a refused start or failed command.").build());
    spec.addOption(OptionSpec.builder("-h", "--help").usageHelp(true).description("This text.").build());
  }

  /** One line for a command-line mistake, naming the nearest valid option or command. */
  private static ConfigError mistake(CommandLine.ParameterException e) {
    CommandLine where = e.getCommandLine();
    String command = commandName(where);
    if (e instanceof CommandLine.UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
      String word = u.getUnmatched().get(0);
      if (word.startsWith("-")) {
        String name = word.contains("=") ? word.substring(0, word.indexOf('=')) : word;
        List<String> own = new ArrayList<>();
        List<String> all = new ArrayList<>();
        where.getCommandSpec().options().forEach(o -> {
          all.add(o.longestName());
          if (!o.hidden() && !o.usageHelp() && Option.byFlag(o.longestName()).isEmpty() && !o.longestName().equals(DEBUG)) {
            own.add(o.longestName());
          }
        });
        String nearest = close(name, own) ? nearest(name, own) : nearest(name, all);
        String what = "unknown option '" + name + "'" + (command.isEmpty() ? "" : " for " + command);
        String help = "run " + (command.isEmpty() ? "" : command + " ") + "--help for the options";
        return new ConfigError(what, name, close(name, List.of(nearest))
            ? "did you mean " + nearest + "? Run with --help for the options"
            : (own.isEmpty() ? "" : command + " takes " + String.join(", ", own) + "; ") + help);
      }
      List<String> subcommands = new ArrayList<>(where.getSubcommands().keySet());
      if (!subcommands.isEmpty()) {
        String prefix = command.isEmpty() ? "" : command + " ";
        return new ConfigError("unknown command '" + prefix + word + "'", word, close(word, subcommands)
            ? "did you mean '" + prefix + nearest(word, subcommands) + "'? Run with --help for the commands"
            : "the commands are " + subcommands.stream().map(c -> prefix + c).collect(
                java.util.stream.Collectors.joining(", ")) + "; run with --help for more");
      }
      return new ConfigError("unexpected argument '" + word + "'" + (command.isEmpty() ? "" : " for " + command), word,
          "options are written --name value; run with --help for the commands");
    }
    if (e instanceof CommandLine.MissingParameterException m && !m.getMissing().isEmpty()) {
      ArgSpec arg = m.getMissing().get(0);
      String name = arg instanceof OptionSpec o ? o.longestName() : arg.paramLabel();
      boolean valueMissing = m.getMessage() != null && m.getMessage().startsWith("Missing required parameter");
      return valueMissing
          ? new ConfigError(name + " needs a value", name, "write " + name + " " + arg.paramLabel())
          : new ConfigError((command.isEmpty() ? "the command" : command) + " needs " + name, name,
              "add " + name + " " + arg.paramLabel());
    }
    if (e instanceof CommandLine.OverwrittenOptionException o) {
      String name = o.getOverwritten() instanceof OptionSpec spec ? spec.longestName() : o.getOverwritten().paramLabel();
      return new ConfigError(name + " is given twice", name, "give it once");
    }
    String message = e.getMessage() == null ? "the command line is not valid" : e.getMessage();
    return new ConfigError(message.strip(), command.isEmpty() ? "command line" : command,
        "run with --help for the options and commands");
  }

  private static String commandName(CommandLine line) {
    List<String> names = new ArrayList<>();
    for (CommandLine c = line; c != null && c.getParent() != null; c = c.getParent()) {
      names.add(0, c.getCommandName());
    }
    return String.join(" ", names);
  }

  /** Whether one of the candidates is a likely typo of {@code word} (an edit distance of at most a third). */
  static boolean close(String word, List<String> candidates) {
    return !candidates.isEmpty()
        && distance(word.toLowerCase(Locale.ROOT), nearest(word, candidates).toLowerCase(Locale.ROOT))
            <= Math.max(2, word.length() / 3);
  }

  /** The candidate closest to {@code word} by edit distance (the first of equals). */
  static String nearest(String word, List<String> candidates) {
    return candidates.stream()
        .min(Comparator.comparingInt((String c) -> distance(word.toLowerCase(Locale.ROOT), c.toLowerCase(Locale.ROOT))))
        .orElse("--help");
  }

  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  private static void serve(Settings settings) throws Exception {
    Logger log = LoggerFactory.getLogger(Main.class);
    LayerServer server = LayerServer.start(settings);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  log.info("Stopping Meta Layer (grace {})", settings.get(Option.SHUTDOWN_GRACE).orElse(""));
                  int status = 0;
                  try {
                    server.close();
                    log.info("Meta Layer stopped");
                  } catch (Exception e) {
                    log.warn("Failure while stopping", e);
                    status = 1;
                  } finally {
                    stopped.countDown();
                  }
                  // the process was asked to stop (SIGTERM, Ctrl-C) and did so cleanly: exit 0, not the
                  // signal's 143, so that supervisors count it as a clean stop (1 when the stop failed)
                  Runtime.getRuntime().halt(status);
                },
                "layer-shutdown"));
    stopped.await();
  }

  /** Help text: code in backticks printed plain, a link as its text and its page under docs/. */
  static String plain(String markdown) {
    return markdown.replace("`", "").replaceAll("\\[([^\\]]+)\\]\\(([^)#]+)(#[^)]*)?\\)", "$1 (docs/$2)");
  }

  static String usage() {
    StringBuilder b = new StringBuilder();
    b.append("Meta Layer: a Graph-compatible proxy and call webhook relay for the WhatsApp Cloud API.\n\n");
    b.append("Usage: java -jar meta-layer.jar [options] [command] [command options]\n\n");
    b.append("Commands (default: serve):\n");
    b.append(String.format("  %-40s %s%n", "serve", "run the layer"));
    for (Cli.Command c : Cli.COMMANDS) {
      StringBuilder synopsis = new StringBuilder(c.words());
      for (Cli.Param p : c.params()) {
        synopsis.append(p.required() ? " " : " [").append(p.flag()).append(' ').append(p.label())
            .append(p.required() ? "" : "]");
      }
      b.append("  ").append(synopsis).append('\n');
      b.append("      ").append(c.description()).append('\n');
    }
    b.append("The numbers and keys commands open the store file, which a running layer holds: to manage a running\n");
    b.append("layer, give its URL with --layer-url (and LAYER_ADMIN_TOKEN); they then use its admin API.\n");
    b.append("doctor always asks a running layer (--layer-url and LAYER_ADMIN_TOKEN).\n");
    b.append("'java -jar meta-layer.jar COMMAND --help' shows one command's options.\n\n");
    b.append("Options, accepted before or after the command (a flag wins over its environment variable):\n");
    for (Option.Section section : Option.Section.values()) {
      b.append("\n ").append(section.title).append(":\n");
      for (Option o : Option.values()) {
        if (o.section() != section) {
          continue;
        }
        String flag = o.flag().map(f -> f + " " + o.kind().label()).orElse("(environment only)");
        b.append(String.format("  %-40s %s%n", flag, o.env()));
        b.append("      ").append(plain(o.help())).append(" Default: ").append(plain(o.defaultText())).append(".\n");
      }
    }
    b.append("\n  --debug                                  print the stack trace of a refused start\n");
    b.append("  -h, --help                               this text\n");
    b.append("  -V, --version                            print the version (meta-layer " + LayerVersion.VERSION + ")\n");
    return b.toString();
  }
}

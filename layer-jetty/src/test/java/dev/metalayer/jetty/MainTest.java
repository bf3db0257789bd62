package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.relay.WebhookSubscriptions.Outcome;
import dev.metalayer.relay.WebhookSubscriptions.Spec;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
  @TempDir Path dir;

  private record Run(int status, String out, String err) {}

  private Run run(Map<String, String> env, String... args) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = Main.run(args, env, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void versionPrintsTheProjectsVersionAndStarts() throws Exception {
    for (String flag : List.of("--version", "-V")) {
      Run version = run(Map.of(), flag);
      assertThat(version.status()).isZero();
      // the build's version (resource filtering), as in the jar's manifest
      assertThat(version.out()).matches("meta-layer [0-9]+\\.[0-9]+\\.[0-9]+(-SNAPSHOT)?\n");
      assertThat(version.err()).isEmpty();
    }
    assertThat(run(Map.of(), "--help").out()).contains("--version");
  }

  @Test
  void helpListsEveryOptionAndCommand() throws Exception {
    Run help = run(Map.of(), "--help");
    assertThat(help.status()).isZero();
    for (Option o : Option.values()) {
      assertThat(help.out()).contains(o.env());
      o.flag().ifPresent(f -> assertThat(help.out()).contains(f));
    }
    assertThat(help.out()).contains("numbers add", "keys create", "keys revoke");
    // the help is the declaration's Markdown, printed plain
    assertThat(help.out()).doesNotContain("`").contains("Graph surface (docs/graph-api.md)");
    Run commandHelp = run(Map.of(), "keys", "revoke", "--help");
    assertThat(commandHelp.status()).isZero();
    assertThat(commandHelp.out()).contains("--id=KEY_ID").doesNotContain("--port");
  }

  @Test
  void numbersAndKeysFromTheCommandLine() throws Exception {
    Map<String, String> env = Map.of("LAYER_DATA_DIR", dir.toString(), "THE_TOKEN", "EAAG-cli-token");
    Run added = run(env, "numbers", "add", "--phone", "+15550783881", "--phone-number-id", "106540352242922",
        "--waba-id", "102290129340398", "--business-id", "555", "--meta-token-env", "THE_TOKEN");
    assertThat(added.status()).as(added.err()).isZero();
    assertThat(added.out() + added.err()).doesNotContain("EAAG-cli-token");

    Run created = run(env, "keys", "create", "--phone-number-id", "106540352242922");
    assertThat(created.status()).isZero();
    String key = created.out().lines().findFirst().orElseThrow();
    assertThat(key).matches("ps_[A-Za-z0-9_-]{43}");

    Run listed = run(env, "keys", "list");
    assertThat(listed.out()).contains(key.substring(0, 8)).doesNotContain(key);
    assertThat(run(env, "numbers", "list").out()).contains("+15550783881", "102290129340398");

    String id = listed.out().lines().skip(1).findFirst().orElseThrow().split("\\s+")[0];
    assertThat(run(env, "keys", "revoke", "--id", id).status()).isZero();
    assertThat(run(env, "keys", "revoke", "--id", id).status()).isEqualTo(1);
    assertThat(run(env, "numbers", "remove", "--phone-number-id", "106540352242922").status()).isZero();
    assertThat(run(env, "numbers", "list").out().lines().count()).isEqualTo(1);
  }

  @Test
  void theCommandLineReachesARunningLayerThroughItsAdminApi() throws Exception {
    String pnid = "106540352242922";
    String admin = "admin-token-for-the-cli-test-0123456789";
    try (LayerServer server = LayerServer.start(Settings.of(Map.of(Option.PORT, "0", Option.HOST, "127.0.0.1",
        Option.DATA_DIR, dir.toString(), Option.ALLOWED_TARGET_CIDRS, "127.0.0.0/8", Option.ADMIN_TOKEN, admin)))) {
      // the data directory is not given: the commands go through the admin API only
      Map<String, String> env = Map.of("LAYER_URL", server.localUri().toString(), "LAYER_ADMIN_TOKEN", admin,
          "LAYER_DATA_DIR", dir.resolve("elsewhere").toString(), "THE_TOKEN", "EAAG-cli-token");
      Run added = run(env, "numbers", "add", "--phone", "+15550783881", "--phone-number-id", pnid,
          "--waba-id", "102290129340398", "--business-id", "555", "--meta-token-env", "THE_TOKEN");
      assertThat(added.status()).as(added.err()).isZero();
      assertThat(added.out()).isEqualTo("added +15550783881 (phone number ID " + pnid + ", WABA 102290129340398)\n");
      assertThat(added.out() + added.err()).doesNotContain("EAAG-cli-token").doesNotContain(admin);
      assertThat(server.layer().keys().findNumber(pnid)).isPresent();
      assertThat(server.layer().relay().subscriptions().create(pnid, new Spec("Chatwoot",
          "http://127.0.0.1:1/hook", List.of("calls"), null, null, null))).isInstanceOf(Outcome.Saved.class);

      Run created = run(env, "keys", "create", "--phone-number-id", pnid);
      assertThat(created.status()).as(created.err()).isZero();
      String key = created.out().lines().findFirst().orElseThrow();
      assertThat(key).matches("ps_[A-Za-z0-9_-]{43}");
      Run listed = run(env, "keys", "list");
      assertThat(listed.out()).contains(key.substring(0, 8)).doesNotContain(key);
      String id = listed.out().lines().skip(1).findFirst().orElseThrow().split("\\s+")[0];
      assertThat(run(env, "keys", "revoke", "--id", id).out()).isEqualTo("revoked " + id + "\n");
      Run again = run(env, "keys", "revoke", "--id", id);
      assertThat(again.status()).isEqualTo(1);
      assertThat(again.err()).startsWith("error: No such active key.");
      assertThat(run(env, "numbers", "list").out()).contains("+15550783881", "102290129340398");

      Run removed = run(env, "numbers", "remove", "--phone-number-id", pnid);
      assertThat(removed.status()).as(removed.err()).isZero();
      assertThat(removed.out()).contains("webhook subscriptions");
      assertThat(server.layer().relay().subscriptions().list(pnid)).isEmpty();

      Run wrongToken = run(Map.of("LAYER_URL", server.localUri().toString(), "LAYER_ADMIN_TOKEN", "x".repeat(40)),
          "numbers", "list");
      assertThat(wrongToken.status()).isEqualTo(1);
      assertThat(wrongToken.err()).isEqualTo("error: Invalid admin token. (HTTP 401 from " + server.localUri() + ")\n");
      Run noToken = run(Map.of("LAYER_URL", server.localUri().toString()), "numbers", "list");
      assertThat(noToken.status()).isEqualTo(2);
      assertThat(noToken.err()).startsWith("error: LAYER_ADMIN_TOKEN must be set").hasLineCount(1);
    }
    Run unreachable = run(Map.of("LAYER_URL", "http://127.0.0.1:1", "LAYER_ADMIN_TOKEN", admin), "keys", "list");
    assertThat(unreachable.status()).isEqualTo(1);
    assertThat(unreachable.err()).startsWith("error: cannot reach the layer at http://127.0.0.1:1, connection refused"
        + " (LAYER_URL): ").hasLineCount(1);
    Run unreachableByFlag = run(Map.of("LAYER_ADMIN_TOKEN", admin), "keys", "list", "--layer-url", "http://127.0.0.1:1");
    assertThat(unreachableByFlag.err()).contains("(--layer-url)").hasLineCount(1);
    // .invalid never resolves (RFC 6761): the line says so, not "connection refused"
    Run unresolved = run(Map.of("LAYER_URL", "http://nosuch.invalid:80", "LAYER_ADMIN_TOKEN", admin), "keys", "list");
    assertThat(unresolved.status()).isEqualTo(1);
    assertThat(unresolved.err()).startsWith("error: cannot reach the layer at http://nosuch.invalid:80, its host name"
        + " does not resolve (LAYER_URL): ").hasLineCount(1);
  }

  @Test
  void anAdminTokenShorterThan32CharactersIsRefusedAtStartInOneLine() throws Exception {
    Run refused = run(Map.of("LAYER_DATA_DIR", dir.toString(), "LAYER_PORT", "0", "LAYER_HOST", "127.0.0.1",
        "LAYER_ADMIN_TOKEN", "x".repeat(LayerServer.MIN_ADMIN_TOKEN_CHARS - 1)));

    assertThat(refused.status()).isEqualTo(2);
    assertThat(refused.err()).hasLineCount(1)
        .startsWith("error: the admin token is too short (length 31, at least 32 characters) (LAYER_ADMIN_TOKEN): ")
        .contains("openssl rand")
        .doesNotContain("x".repeat(LayerServer.MIN_ADMIN_TOKEN_CHARS - 1));
  }

  /** One line on stderr, {@code error: <what> (<option>): <fix>}, exit 2, no stack trace; returns that line. */
  private static String oneLine(Run run, String option) {
    assertThat(run.status()).as(run.err()).isEqualTo(2);
    assertThat(run.err()).hasLineCount(1).startsWith("error: ").contains(" (" + option + "): ").doesNotContain("\tat ");
    return run.err();
  }

  @Test
  void aLockFileThatIsASymbolicLinkIsRefusedAndWhatItNamesIsLeftAlone() throws Exception {
    Path data = java.nio.file.Files.createDirectories(dir.resolve("data"));
    Path victim = java.nio.file.Files.writeString(dir.resolve("victim.txt"), "the operator's file");
    java.nio.file.Files.createSymbolicLink(data.resolve(DataDir.LOCK_FILE), victim);
    Run refused = run(Map.of("LAYER_DATA_DIR", data.toString()), "numbers", "list");
    oneLine(refused, "LAYER_DATA_DIR");
    assertThat(refused.err()).contains("is a symbolic link");
    assertThat(java.nio.file.Files.readString(victim)).isEqualTo("the operator's file");

    // a dangling link would otherwise create the file it names
    Path nowhere = dir.resolve("created-through-the-link");
    java.nio.file.Files.delete(data.resolve(DataDir.LOCK_FILE));
    java.nio.file.Files.createSymbolicLink(data.resolve(DataDir.LOCK_FILE), nowhere);
    oneLine(run(Map.of("LAYER_DATA_DIR", data.toString()), "numbers", "list"), "LAYER_DATA_DIR");
    assertThat(nowhere).doesNotExist();
  }

  @Test
  @org.junit.jupiter.api.Timeout(120) // a guard against the hang this test is about, not a measure of time
  void aLockFileThatIsANamedPipeIsRefusedInsteadOfHoldingTheStart() throws Exception {
    Path data = java.nio.file.Files.createDirectories(dir.resolve("data"));
    Process mkfifo = new ProcessBuilder("mkfifo", data.resolve(DataDir.LOCK_FILE).toString()).start();
    org.junit.jupiter.api.Assumptions.assumeTrue(mkfifo.waitFor() == 0, "mkfifo is available");
    // before, opening the pipe to write waited for a reader: the command never ended
    Run refused = run(Map.of("LAYER_DATA_DIR", data.toString()), "numbers", "list");
    oneLine(refused, "LAYER_DATA_DIR");
    assertThat(refused.err()).contains("is not a regular file");
  }

  @Test
  void mistakesExitWithOneLineNamingTheOptionAndTheFix() throws Exception {
    Map<String, String> env = Map.of("LAYER_DATA_DIR", dir.toString());
    oneLine(run(env, "keys"), "keys");
    assertThat(run(env, "keys").err()).contains("keys create, keys limit, keys list, keys revoke");
    oneLine(run(env, "keys", "create"), "--phone-number-id");
    Run unknownCommand = run(env, "numbers", "lst");
    oneLine(unknownCommand, "lst");
    assertThat(unknownCommand.err()).contains("unknown command 'numbers lst'").contains("did you mean 'numbers list'");
    Run farOff = run(env, "numbers", "frobnicate");
    oneLine(farOff, "frobnicate");
    assertThat(farOff.err()).contains("the commands are numbers add, numbers list, numbers remove");
    Run typo = run(env, "keys", "create", "--phone-numbr-id", "1");
    oneLine(typo, "--phone-numbr-id");
    assertThat(typo.err()).contains("did you mean --phone-number-id?");
    oneLine(run(env, "srve"), "srve");
    assertThat(run(env, "srve").err()).contains("did you mean 'serve'");
    oneLine(run(env, "--port"), "--port");
    assertThat(run(env, "--port").err()).startsWith("error: --port needs a value");
    // the two mistakes of the trial: a misspelt flag, and a flag the command does not have
    Run misspelt = run(env, "--data_dir", "/tmp/x", "numbers", "list");
    oneLine(misspelt, "--data_dir");
    assertThat(misspelt.err()).contains("unknown option '--data_dir'").contains("did you mean --data-dir?");
    Run bogus = run(env, "numbers", "list", "--bogus", "1");
    oneLine(bogus, "--bogus");
    assertThat(bogus.err()).contains("unknown option '--bogus' for numbers list")
        .contains("run numbers list --help for the options").doesNotContain("did you mean");
    oneLine(run(env, "numbers", "list", "extra"), "extra");
    oneLine(run(env, "keys", "revoke", "--id", "a", "--id", "b"), "--id");
    Run noToken = run(env, "numbers", "add", "--phone", "+15550783881", "--phone-number-id", "1", "--waba-id", "2",
        "--business-id", "3", "--meta-token-env", "ABSENT");
    oneLine(noToken, "--meta-token-env");
  }

  @Test
  void badValuesAreOneLineNamingTheOptionAsWritten() throws Exception {
    Map<String, String> env = Map.of("LAYER_DATA_DIR", dir.toString(), "LAYER_HOST", "127.0.0.1");
    Run byEnv = run(Map.of("LAYER_DATA_DIR", dir.toString(), "LAYER_CALL_TTL", "soon"));
    oneLine(byEnv, "LAYER_CALL_TTL");
    assertThat(byEnv.err()).startsWith("error: 'soon' is not a duration (LAYER_CALL_TTL): write it like 500ms");
    Run byFlag = run(Map.of("LAYER_CALL_TTL", "45s"), "--call-ttl", "2x", "--data-dir", dir.toString());
    oneLine(byFlag, "--call-ttl");
    oneLine(run(env, "--port", "99999"), "--port");
    oneLine(run(env, "--max-body-bytes", "lots"), "--max-body-bytes");
    oneLine(run(env, "--merge-calling-settings", "perhaps"), "--merge-calling-settings");
    oneLine(run(env, "--graph-url", "graph.facebook.com"), "--graph-url");
    oneLine(run(env, "--public-url", "ftp://x"), "--public-url");
    oneLine(run(Map.of("LAYER_LOG_LEVEL", "loud")), "LAYER_LOG_LEVEL");
    oneLine(run(Map.of("LAYER_LOG_FORMAT", "JSON")), "LAYER_LOG_FORMAT");
    // a value of the right form that the core refuses: its rule, named with the option as written
    assertThat(oneLine(run(env, "--port", "0", "--call-ttl", "2h"), "--call-ttl"))
        .startsWith("error: '2h' is refused: it must be between 1 second and 1 hour (--call-ttl):");
    // the core's builder setting is not named: the operator never wrote it
    assertThat(oneLine(run(env, "--port", "0", "--upstream-timeout", "0"), "--upstream-timeout"))
        .startsWith("error: '0' is refused: it must be positive (--upstream-timeout):");
    oneLine(run(env, "--port", "0", "--delivery-concurrency", "0"), "--delivery-concurrency");
    oneLine(run(env, "--port", "0", "--graph-prefix", "api"), "--graph-prefix");
    oneLine(run(env, "--port", "0", "--surface-widening", "1:everything"), "--surface-widening");
    oneLine(run(env, "--port", "0", "--allowed-target-cidrs", "10.0.0.0/99"), "--allowed-target-cidrs");
    assertThat(oneLine(run(env, "--port", "0", "--allowed-target-cidrs", "127.0.0.0/8,10.1.2.77/24"),
        "--allowed-target-cidrs")).contains("did you mean 10.1.2.0/24?");
    assertThat(oneLine(run(env, "--port", "0", "--allowed-target-cidrs", "10/8"), "--allowed-target-cidrs"))
        .contains("write the address in full, e.g. 10.0.0.0/8");
    // a host that is no address: the line names --host, not --port
    Run host = run(Map.of("LAYER_DATA_DIR", dir.toString()), "--port", "0", "--host", "999.1.1.1");
    oneLine(host, "--host");
    assertThat(host.err()).contains("'999.1.1.1' is not an address and does not resolve");
  }

  @Test
  void settingsPreferFlagsThenEnvironmentThenDefaults() {
    Settings s = Settings.parse(new String[] {"--port=9090", "--graph-url", "http://x"},
        Map.of("LAYER_PORT", "7070", "LAYER_HOST", "127.0.0.1", "LAYER_ADMIN_TOKEN", "sekret".repeat(6)));
    assertThat(s.integer(Option.PORT)).isEqualTo(9090);
    assertThat(s.writtenAs(Option.PORT)).isEqualTo("--port");
    assertThat(s.string(Option.HOST)).isEqualTo("127.0.0.1");
    assertThat(s.writtenAs(Option.HOST)).isEqualTo("LAYER_HOST");
    assertThat(s.string(Option.GRAPH_URL)).isEqualTo("http://x");
    assertThat(s.string(Option.GRAPH_PREFIX)).isEqualTo("/api/layer/meta");
    assertThat(s.writtenAs(Option.GRAPH_PREFIX)).isEqualTo("--graph-prefix / LAYER_GRAPH_PREFIX");
    assertThat(s.toString()).doesNotContain("sekret");
    assertThat(Settings.of(Map.of(Option.CALL_TTL, "45")).duration(Option.CALL_TTL)).isEqualTo(Duration.ofSeconds(45));
    assertThat(Settings.of(Map.of(Option.CALL_TTL, "250ms")).duration(Option.CALL_TTL)).isEqualTo(Duration.ofMillis(250));
    // the built-in Graph stand-in is selected by a word, passed through as it is
    assertThat(Settings.of(Map.of(Option.GRAPH_URL, "demo")).string(Option.GRAPH_URL)).isEqualTo("demo");
    assertThatThrownBy(() -> Settings.parse(new String[] {"keys", "list"}, Map.of())).isInstanceOf(ConfigError.class);
  }

  @Test
  void aRetentionShorterThanEightDaysIsRefusedAtStart() {
    assertThat(Settings.of(Map.of()).duration(Option.RETENTION)).isEqualTo(Duration.ofDays(14));
    Settings tooShort = Settings.parse(new String[0], Map.of("LAYER_RETENTION", "7d", "LAYER_DATA_DIR", dir.toString(),
        "LAYER_PORT", "0", "LAYER_HOST", "127.0.0.1"));

    assertThatThrownBy(() -> LayerServer.start(tooShort).close())
        .isInstanceOf(ConfigError.class)
        .hasMessageStartingWith("'7d' is refused: it must be at least 8 days")
        .hasMessageContaining("(LAYER_RETENTION): change LAYER_RETENTION, or leave it unset for the default 14d");
  }

  @Test
  void withoutAnAdminTokenTheAdminApiAnswersAGraphShaped403NamingTheVariable() throws Exception {
    try (LayerServer server = LayerServer.start(Settings.of(Map.of(Option.PORT, "0", Option.HOST, "127.0.0.1",
        Option.DATA_DIR, dir.toString())))) {
      java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(
          java.net.http.HttpRequest.newBuilder(server.localUri().resolve("/admin/v1/numbers")).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(403);
      com.fasterxml.jackson.databind.JsonNode error = dev.metalayer.json.Json.mapper().readTree(r.body()).path("error");
      assertThat(error.path("message").asText()).contains("admin API is disabled").contains("LAYER_ADMIN_TOKEN");
      assertThat(error.path("type").asText()).isNotEmpty();
      assertThat(error.path("code").isInt()).isTrue();
      assertThat(error.path("fbtrace_id").asText()).isNotEmpty();
    }
  }

  @Test
  void theMetaTokenIsAskedForWithAPromptWhenNotInTheEnvironment() throws Exception {
    Settings settings = Settings.of(Map.of(Option.DATA_DIR, dir.toString()));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    List<String> prompts = new java.util.ArrayList<>();
    Cli cli = new Cli(settings, Map.of(), prompt -> {
      prompts.add(prompt);
      return java.util.Optional.of("EAAG-typed-token");
    }, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(new ByteArrayOutputStream(), true,
        StandardCharsets.UTF_8));
    int status = cli.run("numbers add", Map.of("--phone", "+15550783881", "--phone-number-id", "106540352242922",
        "--waba-id", "102290129340398", "--business-id", "555"));
    assertThat(status).isZero();
    assertThat(prompts).containsExactly("Meta token for 106540352242922 (input hidden): ");
    assertThat(out.toString(StandardCharsets.UTF_8)).startsWith("added +15550783881").doesNotContain("EAAG-typed-token");
  }

  @Test
  void aMetaTokenVariableThatIsUnsetIsNamedInOneLine() throws Exception {
    Settings settings = Settings.of(Map.of(Option.DATA_DIR, dir.toString()));
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    Cli cli = new Cli(settings, Map.of(), prompt -> {
      throw new AssertionError("no prompt when a variable is named");
    }, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    int status = cli.run("numbers add", Map.of("--phone", "+15550783881", "--phone-number-id", "106540352242922",
        "--waba-id", "102290129340398", "--business-id", "555", "--meta-token-env", "NOPE"));
    assertThat(status).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8).lines().toList()).containsExactly(
        "error: the variable NOPE named by --meta-token-env is unset or empty (--meta-token-env): set NOPE to the"
            + " number's Meta token, or leave --meta-token-env out and type the token when asked");
  }

  @Test
  void theCommandLineRefusesTheStoreFileWhileALayerHoldsIt() throws Exception {
    try (LayerServer server = LayerServer.start(Settings.of(Map.of(Option.PORT, "0", Option.HOST, "127.0.0.1",
        Option.DATA_DIR, dir.toString())))) {
      Run held = run(Map.of("LAYER_DATA_DIR", dir.toString()), "numbers", "list");
      oneLine(held, "LAYER_DATA_DIR");
      assertThat(held.err()).contains("another layer holds the data directory " + dir).contains("--layer-url");
    }
    assertThat(run(Map.of("LAYER_DATA_DIR", dir.toString()), "numbers", "list").status()).isZero();
  }
}

package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.relay.SubscriptionOutcome;
import dev.metalayer.relay.SubscriptionSpec;
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
  void helpListsEveryOptionAndCommand() throws Exception {
    Run help = run(Map.of(), "--help");
    assertThat(help.status()).isZero();
    for (Option o : Option.values()) {
      assertThat(help.out()).contains(o.env());
      o.flag().ifPresent(f -> assertThat(help.out()).contains(f));
    }
    assertThat(help.out()).contains("numbers add", "keys create", "keys revoke");
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
      assertThat(server.layer().relay().subscriptions().create(pnid, new SubscriptionSpec("Chatwoot",
          "http://127.0.0.1:1/hook", List.of("calls"), null, null, null))).isInstanceOf(SubscriptionOutcome.Saved.class);

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
      assertThat(noToken.err()).startsWith("error: LAYER_ADMIN_TOKEN must be set");
    }
    Run unreachable = run(Map.of("LAYER_URL", "http://127.0.0.1:1", "LAYER_ADMIN_TOKEN", admin), "keys", "list");
    assertThat(unreachable.status()).isEqualTo(1);
    assertThat(unreachable.err()).startsWith("error: cannot reach the layer at http://127.0.0.1:1").hasLineCount(1);
  }

  @Test
  void anAdminTokenShorterThan32CharactersIsRefusedAtStartInOneLine() throws Exception {
    Run refused = run(Map.of("LAYER_DATA_DIR", dir.toString(), "LAYER_PORT", "0", "LAYER_HOST", "127.0.0.1",
        "LAYER_ADMIN_TOKEN", "x".repeat(LayerServer.MIN_ADMIN_TOKEN_CHARS - 1)));

    assertThat(refused.status()).isEqualTo(2);
    assertThat(refused.err()).hasLineCount(1)
        .startsWith("error: LAYER_ADMIN_TOKEN must be at least 32 characters, got 31")
        .contains("openssl rand")
        .doesNotContain("x".repeat(LayerServer.MIN_ADMIN_TOKEN_CHARS - 1));
  }

  @Test
  void mistakesExitWithAMessage() throws Exception {
    Map<String, String> env = Map.of("LAYER_DATA_DIR", dir.toString());
    assertThat(run(env, "keys").status()).isEqualTo(2);
    assertThat(run(env, "keys", "create").status()).isEqualTo(2);
    assertThat(run(env, "numbers", "frobnicate").err()).contains("unknown command");
    assertThat(run(env, "--port").status()).isEqualTo(2);
    Run noToken = run(env, "numbers", "add", "--phone", "+15550783881", "--phone-number-id", "1", "--waba-id", "2",
        "--business-id", "3", "--meta-token-env", "ABSENT");
    assertThat(noToken.status()).isEqualTo(2);
  }

  @Test
  void settingsPreferFlagsThenEnvironmentThenDefaults() {
    Settings s = Settings.parse(new String[] {"--port=9090", "--graph-url", "http://x", "keys", "list"},
        Map.of("LAYER_PORT", "7070", "LAYER_HOST", "127.0.0.1", "LAYER_ADMIN_TOKEN", "sekret"));
    assertThat(s.integer(Option.PORT)).isEqualTo(9090);
    assertThat(s.string(Option.HOST)).isEqualTo("127.0.0.1");
    assertThat(s.string(Option.GRAPH_URL)).isEqualTo("http://x");
    assertThat(s.string(Option.GRAPH_PREFIX)).isEqualTo("/api/layer/meta");
    assertThat(s.arguments()).containsExactly("keys", "list");
    assertThat(s.toString()).doesNotContain("sekret");
    Settings d = Settings.of(Map.of(Option.PORT, "45s"));
    assertThat(d.duration(Option.PORT)).isEqualTo(Duration.ofSeconds(45));
    assertThat(Settings.of(Map.of(Option.PORT, "250ms")).duration(Option.PORT)).isEqualTo(Duration.ofMillis(250));
  }

  @Test
  void aRetentionShorterThanEightDaysIsRefusedAtStart() {
    assertThat(Settings.of(Map.of()).duration(Option.RETENTION)).isEqualTo(Duration.ofDays(14));
    Settings tooShort = Settings.parse(new String[0], Map.of("LAYER_RETENTION", "7d", "LAYER_DATA_DIR", dir.toString(),
        "LAYER_PORT", "0", "LAYER_HOST", "127.0.0.1"));

    assertThatThrownBy(() -> LayerServer.start(tooShort).close())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--retention / LAYER_RETENTION must be at least 8d")
        .hasMessageContaining("got '7d'");
    assertThat(Settings.of(Map.of(Option.RETENTION, "192h")).duration(Option.RETENTION, Duration.ofDays(8), "why"))
        .isEqualTo(Duration.ofDays(8));
  }
}

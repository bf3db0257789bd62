package dev.metalayer.jetty;

import static dev.metalayer.jetty.Layer.PNID;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.json.Json;
import dev.metalayer.testing.TestDatabases;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A key's scopes are the key's, wherever and whenever it is used: they survive a restart of the layer on
 * its H2 file, apply on another instance sharing a PostgreSQL database as soon as the key exists, and
 * are named and shown by the command line, on the store and through a running layer's admin API. Meta
 * is an inline HTTP server that records what reaches it.
 */
class KeyScopesDurabilityTest {
  static final String MESSAGE = "{\"messaging_product\":\"whatsapp\",\"to\":\"12185552828\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}";
  static final String ACCEPT = "{\"messaging_product\":\"whatsapp\",\"call_id\":\"wacid.1\",\"action\":\"accept\"}";

  @TempDir Path dir;
  InlineServer graph;
  final List<String> graphSaw = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() throws Exception {
    graph = InlineServer.start(exchange -> {
      graphSaw.add(exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath());
      exchange.getRequestBody().readAllBytes();
      byte[] answer = "{\"success\":true}".getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, answer.length);
      exchange.getResponseBody().write(answer);
      exchange.close();
    });
  }

  @AfterEach
  void stop() throws Exception {
    graph.close();
  }

  static String createKey(Layer layer, String scopes) throws Exception {
    HttpResponse<String> r = layer.send(HttpRequest.newBuilder(URI.create(layer.server.localUri() + "/admin/v1/keys"))
        .header("Authorization", "Bearer " + Layer.ADMIN_TOKEN).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"phone_number_id\":\"" + PNID + "\",\"scopes\":" + scopes + "}")));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    return Json.mapper().readTree(r.body()).get("key").asText();
  }

  /** The key may send messages and not act on calls: Meta sees the message only. */
  void messagesOnly(Layer layer, String key) throws Exception {
    graphSaw.clear();
    HttpResponse<String> call = layer.post("/v22.0/" + PNID + "/calls", "Bearer " + key, ACCEPT);
    assertThat(call.statusCode()).as(call.body()).isEqualTo(403);
    assertThat(call.body()).contains("(rule scope) This key lacks the scope calls");
    HttpResponse<String> sent = layer.post("/v22.0/" + PNID + "/messages", "Bearer " + key, MESSAGE);
    assertThat(sent.statusCode()).as(sent.body()).isEqualTo(200);
    assertThat(graphSaw).containsExactly("POST /v22.0/" + PNID + "/messages");
  }

  @Test
  void scopesSurviveARestartOnTheH2File() throws Exception {
    String key;
    try (Layer layer = Layer.start(dir, graph.base(), Map.of())) {
      key = createKey(layer, "[\"messages\"]");
      messagesOnly(layer, key);
    }
    try (Layer again = Layer.start(dir, graph.base(), Map.of())) {
      messagesOnly(again, key);
      JsonNode listed = Json.mapper().readTree(again.send(HttpRequest.newBuilder(
          URI.create(again.server.localUri() + "/admin/v1/keys")).header("Authorization", "Bearer " + Layer.ADMIN_TOKEN)
          .GET()).body());
      assertThat(listed.get("data")).anySatisfy(k -> {
        assertThat(k.get("prefix").asText()).isEqualTo(key.substring(0, 8));
        assertThat(k.get("scopes").toString()).isEqualTo("[\"messages\"]");
      });
    }
  }

  @Test
  void scopesApplyOnEveryInstanceSharingPostgresqlAsSoonAsTheKeyExists() throws Exception {
    try (TestDatabases.PgSchema schema = TestDatabases.postgres()) {
      Map<Option, String> options = new EnumMap<>(Option.class);
      options.put(Option.DB_URL, schema.url());
      options.put(Option.DB_USER, TestDatabases.PG_USER);
      options.put(Option.DB_PASSWORD, TestDatabases.PG_PASSWORD);
      options.put(Option.MASTER_KEY, Base64.getEncoder().encodeToString(new byte[32]));
      try (Layer one = Layer.start(dir.resolve("one"), graph.base(), options);
          Layer two = Layer.start(dir.resolve("two"), graph.base(), options)) {
        String key = createKey(one, "[\"messages\"]");
        messagesOnly(two, key);
        messagesOnly(one, key);
      }
    }
  }

  private record Run(int status, String out, String err) {}

  private static Run run(Map<String, String> env, String... args) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = Main.run(args, env, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /** {@code keys create --scopes} and {@code keys list}, on the store or through a running layer: the same lines. */
  private static void cliNamesAndShowsScopes(Map<String, String> env) throws Exception {
    Run created = run(env, "keys", "create", "--phone-number-id", PNID, "--scopes", "calls, messages");
    assertThat(created.status()).as(created.err()).isZero();
    String key = created.out().lines().findFirst().orElseThrow();
    assertThat(key).matches("ps_[A-Za-z0-9_-]{43}");
    assertThat(created.out().lines().skip(1).findFirst().orElseThrow())
        .contains("for phone number ID " + PNID + " with the scopes messages,calls: store it now");
    Run all = run(env, "keys", "create", "--phone-number-id", PNID);
    assertThat(all.out()).contains("with the scopes messages,calls,settings,templates,media,webhooks");

    Run unknown = run(env, "keys", "create", "--phone-number-id", PNID, "--scopes", "messages,sip");
    assertThat(unknown.status()).isEqualTo(2);
    assertThat(unknown.err()).startsWith("error: unknown scope 'sip'; known: messages,calls,settings,templates,media,webhooks")
        .endsWith("(--scopes)\n").hasLineCount(1);
    assertThat(run(env, "keys", "create", "--phone-number-id", PNID, "--scopes", "").err()).contains("at least one scope");

    Run listed = run(env, "keys", "list");
    assertThat(listed.status()).as(listed.err()).isZero();
    assertThat(listed.out().lines().findFirst().orElseThrow()).endsWith("SCOPES");
    assertThat(listed.out().lines().skip(1).toList())
        .anySatisfy(line -> assertThat(line).startsWith("key_").contains(key.substring(0, 8)).endsWith(" messages,calls"))
        .anySatisfy(line -> assertThat(line).endsWith(" messages,calls,settings,templates,media,webhooks"));
    assertThat(listed.out().lines().skip(1).filter(l -> l.contains(" " + PNID + " ")).count())
        .as("two keys: the refused ones were not created").isEqualTo(2);
    assertThat(listed.out()).doesNotContain(key);
  }

  @Test
  void theCommandLineNamesAndShowsScopesOnTheStore() throws Exception {
    Map<String, String> env = Map.of("LAYER_DATA_DIR", dir.toString(), "THE_TOKEN", "EAAG-cli-token");
    Run added = run(env, "numbers", "add", "--phone", "+15550783881", "--phone-number-id", PNID,
        "--waba-id", Layer.WABA, "--business-id", Layer.BUSINESS, "--meta-token-env", "THE_TOKEN");
    assertThat(added.status()).as(added.err()).isZero();
    cliNamesAndShowsScopes(env);
  }

  @Test
  void theCommandLineNamesAndShowsScopesThroughARunningLayer() throws Exception {
    try (LayerServer server = LayerServer.start(Settings.of(Map.of(Option.PORT, "0", Option.HOST, "127.0.0.1",
        Option.DATA_DIR, dir.toString(), Option.ADMIN_TOKEN, Layer.ADMIN_TOKEN)))) {
      server.layer().keys().addNumber("+15550783881", PNID, Layer.WABA, Layer.BUSINESS, Layer.TOKEN);
      Map<String, String> env = Map.of("LAYER_URL", server.localUri().toString(), "LAYER_ADMIN_TOKEN", Layer.ADMIN_TOKEN,
          "LAYER_DATA_DIR", dir.resolve("elsewhere").toString());
      cliNamesAndShowsScopes(env);
      assertThat(server.layer().keys().listKeys()).extracting(k -> dev.metalayer.keys.Grant.Scope.names(k.scopes()))
          .containsExactly("messages,calls", "messages,calls,settings,templates,media,webhooks");
    }
  }
}

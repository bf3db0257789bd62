package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.RecordingSubscriber;
import dev.metalayer.testing.TestDatabases;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
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
 * The standalone layer on a real PostgreSQL schema ({@code LAYER_DB_URL}), in this process: the
 * quickstart's path (a number, a key, a Graph call through the proxy, a webhook delivered to a
 * subscriber), the CLI's local mode beside the running layer, the store's size as PostgreSQL counts
 * it, and a second instance with another master key refused.
 */
class PostgresLayerTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final Duration TIMEOUT = Duration.ofSeconds(20);
  static final String MASTER_KEY = Base64.getEncoder().encodeToString(new byte[32]);

  @TempDir Path dir;
  TestDatabases.PgSchema schema;
  InlineServer graph;
  final List<String> graphSaw = new CopyOnWriteArrayList<>();
  RecordingSubscriber subscriber;
  Layer layer;

  @BeforeEach
  void start() throws Exception {
    schema = TestDatabases.postgres();
    graph = InlineServer.start(exchange -> {
      graphSaw.add(exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath() + " "
          + exchange.getRequestHeaders().getFirst("Authorization"));
      exchange.getRequestBody().readAllBytes();
      byte[] answer = "{\"messaging_product\":\"whatsapp\",\"messages\":[{\"id\":\"wamid.PG1\"}]}"
          .getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, answer.length);
      exchange.getResponseBody().write(answer);
      exchange.close();
    });
    subscriber = RecordingSubscriber.start();
    layer = Layer.start(dir.resolve("instance-1"), graph.base(), onPostgres());
  }

  private Map<Option, String> onPostgres() {
    Map<Option, String> options = new EnumMap<>(Option.class);
    options.put(Option.DB_URL, schema.url());
    options.put(Option.DB_USER, TestDatabases.PG_USER);
    options.put(Option.DB_PASSWORD, TestDatabases.PG_PASSWORD);
    options.put(Option.MASTER_KEY, MASTER_KEY);
    options.put(Option.ALLOWED_TARGET_CIDRS, "127.0.0.0/8");
    return options;
  }

  @AfterEach
  void stop() throws Exception {
    try {
      if (layer != null) {
        layer.close();
      }
    } finally {
      subscriber.close();
      graph.close();
      schema.close();
    }
  }

  @Test
  void theQuickstartPathRunsOnPostgres() throws Exception {
    assertThat(layer.server.store()).isInstanceOf(PgStore.class);
    assertThat(layer.server.store().soleDeliverer()).isFalse();
    HttpResponse<String> ready = layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/readyz")).GET());
    assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);

    // a Graph call through the proxy: the key in, the number's Meta token out
    HttpResponse<String> sent = layer.post("/v22.0/" + Layer.PNID + "/messages", "Bearer " + layer.key,
        "{\"messaging_product\":\"whatsapp\",\"to\":\"12185552828\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}");
    assertThat(sent.statusCode()).as(sent.body()).isEqualTo(200);
    assertThat(sent.body()).contains("wamid.PG1");
    assertThat(graphSaw).containsExactly("POST /v22.0/" + Layer.PNID + "/messages Bearer " + Layer.TOKEN);

    // a subscription, and a signed webhook from Meta delivered to it
    HttpResponse<String> created = layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/v1/webhooks"))
        .header("x-api-key", layer.key).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"helpdesk\",\"url\":\"" + subscriber.url("/hook")
            + "\",\"events\":[\"messages\"]}")));
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    byte[] webhook = message("wamid.FROM-META-ON-PG");
    HttpResponse<String> ingested = layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/webhooks/meta"))
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", MetaFixtures.metaSignature(Layer.APP_SECRET, webhook))
        .POST(HttpRequest.BodyPublishers.ofByteArray(webhook)));
    assertThat(ingested.statusCode()).isEqualTo(200);
    RecordingSubscriber.Received got = subscriber.await(1, TIMEOUT).get(0);
    assertThat(got.path()).isEqualTo("/hook");
    assertThat(got.text()).contains("wamid.FROM-META-ON-PG");

    // what PostgreSQL holds, as the admin API shows it
    JsonNode store = JSON.readTree(layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/admin/v1/store"))
        .header("Authorization", "Bearer " + Layer.ADMIN_TOKEN).GET()).body());
    assertThat(store.path("database").asText()).isEqualTo("postgresql");
    assertThat(store.path("deliveries").asLong()).isEqualTo(1);
    assertThat(store.path("envelopes").asLong()).isEqualTo(1);
    assertThat(store.path("total_bytes").asLong()).isPositive();
    assertThat(store.path("table_bytes").has("layer_deliveries")).isTrue();
    assertThat(store.has("file_bytes")).isFalse();
  }

  @Test
  void theCliWorksOnTheDatabaseBesideTheRunningLayer() throws Exception {
    Map<String, String> env = Map.of("LAYER_DB_URL", schema.url(), "LAYER_DB_USER", TestDatabases.PG_USER,
        "LAYER_DB_PASSWORD", TestDatabases.PG_PASSWORD, "LAYER_MASTER_KEY", MASTER_KEY,
        "LAYER_DATA_DIR", dir.resolve("cli").toString(), "THE_TOKEN", "EAAG-token-added-by-the-cli");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = Main.run(new String[] {"numbers", "add", "--phone", "+15550783883", "--phone-number-id",
        "306540352242922", "--waba-id", "302290129340398", "--business-id", "900000000000003", "--meta-token-env",
        "THE_TOKEN"}, env, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    assertThat(status).as(err.toString(StandardCharsets.UTF_8)).isZero();
    // the running layer sees it at once: one database, no file to hold
    assertThat(layer.server.layer().keys().findNumber("306540352242922")).isPresent();
    assertThat(layer.server.layer().keys().createKey("306540352242922")).isPresent();
  }

  @Test
  void aSecondInstanceWithAnotherMasterKeyIsRefused() throws Exception {
    Map<Option, String> other = onPostgres();
    other.put(Option.MASTER_KEY, Base64.getEncoder().encodeToString(new byte[] {
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}));
    other.put(Option.PORT, "0");
    other.put(Option.HOST, "127.0.0.1");
    other.put(Option.DATA_DIR, dir.resolve("instance-2").toString());
    try {
      LayerServer.start(Settings.of(other)).close();
      throw new AssertionError("a second instance with another master key started");
    } catch (ConfigError refused) {
      assertThat(refused.getMessage()).startsWith("the master key does not open the tokens in the database at ")
          .contains(schema.url().replaceFirst("^jdbc:postgresql://([^/]+)/.*$", "$1"))
          .contains("or start on an empty database");
    }
    // with the same key, a second instance starts beside the first on its own data directory
    Map<Option, String> same = onPostgres();
    same.put(Option.PORT, "0");
    same.put(Option.HOST, "127.0.0.1");
    same.put(Option.DATA_DIR, dir.resolve("instance-2").toString());
    try (LayerServer second = LayerServer.start(Settings.of(same))) {
      assertThat(second.layer().keys().findNumber(Layer.PNID)).isPresent();
    }
  }

  /** A signed-ready {@code messages} webhook of the fixture's first number, received now. */
  static byte[] message(String wamid) {
    return ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + Layer.WABA + "\",\"changes\":[{\"field\":"
        + "\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":"
        + "\"15550783881\",\"phone_number_id\":\"" + Layer.PNID + "\"},\"messages\":[{\"from\":\"12185552828\",\"id\":\""
        + wamid + "\",\"timestamp\":\"" + Instant.now().getEpochSecond() + "\",\"type\":\"text\",\"text\":{\"body\":"
        + "\"hello\"}}]}}]}]}").getBytes(StandardCharsets.UTF_8);
  }
}

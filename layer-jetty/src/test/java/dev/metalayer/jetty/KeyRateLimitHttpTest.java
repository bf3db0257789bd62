package dev.metalayer.jetty;

import static dev.metalayer.jetty.Layer.PNID;
import static dev.metalayer.jetty.Layer.PNID_B;
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
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Per-key rate limits through the real layer: the 429 on the wire, other keys untouched, the key's own
 * limit through the admin API and the command line, kept across a restart on H2 and shared through
 * PostgreSQL. The default rate here (one request per 100 s) refills nothing while a test runs, so that no
 * assertion depends on the wall clock; refilling is tested on a fake clock in the core.
 */
class KeyRateLimitHttpTest {
  static final String MESSAGE =
      "{\"messaging_product\":\"whatsapp\",\"to\":\"12185552828\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}";
  static final Map<Option, String> SLOW = Map.of(Option.KEY_RATE, "0.01", Option.KEY_BURST, "3");

  @TempDir Path dir;
  InlineServer graph;
  final AtomicInteger graphCalls = new AtomicInteger();

  @BeforeEach
  void start() throws Exception {
    graph = InlineServer.start(exchange -> {
      graphCalls.incrementAndGet();
      exchange.getRequestBody().readAllBytes();
      byte[] answer = "{\"messages\":[{\"id\":\"wamid.1\"}]}".getBytes(StandardCharsets.UTF_8);
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

  static int send(Layer layer, String key, String pnid) throws Exception {
    return layer.post("/v22.0/" + pnid + "/messages", "Bearer " + key, MESSAGE).statusCode();
  }

  static HttpResponse<String> admin(Layer layer, String method, String path, String json) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(layer.server.localUri() + "/admin/v1" + path))
        .header("Authorization", "Bearer " + Layer.ADMIN_TOKEN).header("Content-Type", "application/json")
        .method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json));
    return layer.send(b);
  }

  static JsonNode created(Layer layer, String rateLimit) throws Exception {
    HttpResponse<String> r = admin(layer, "POST", "/keys",
        "{\"phone_number_id\":\"" + PNID + "\"" + (rateLimit == null ? "" : ",\"rate_limit\":" + rateLimit) + "}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    return Json.mapper().readTree(r.body());
  }

  static JsonNode listed(Layer layer, String keyId) throws Exception {
    for (JsonNode k : Json.mapper().readTree(admin(layer, "GET", "/keys", null).body()).get("data")) {
      if (k.get("id").asText().equals(keyId)) {
        return k;
      }
    }
    throw new AssertionError("no key " + keyId);
  }

  @Test
  void aBurstOverAKeysLimitIs429WithRetryAfterWhileAnotherKeyOfItsNumberAndAKeyOfAnotherPass() throws Exception {
    try (Layer layer = Layer.start(dir, graph.base(), SLOW)) {
      String sameNumber = layer.server.layer().keys().createKey(PNID).orElseThrow().key();
      for (int i = 0; i < 3; i++) {
        assertThat(send(layer, layer.key, PNID)).isEqualTo(200);
      }
      HttpResponse<String> refused = layer.post("/v22.0/" + PNID + "/messages", "Bearer " + layer.key, MESSAGE);
      assertThat(refused.statusCode()).isEqualTo(429);
      assertThat(refused.headers().firstValue("Retry-After")).as("one request per 100 s").contains("100");
      assertThat(refused.headers().firstValue("Content-Type").orElseThrow()).startsWith("application/json");
      JsonNode error = Json.mapper().readTree(refused.body()).get("error");
      assertThat(error.get("code").asInt()).isEqualTo(4);
      assertThat(error.get("type").asText()).isEqualTo("OAuthException");
      assertThat(error.get("message").asText())
          .isEqualTo("(#4) Application request limit reached: this key may send 0.01 requests per second, 3 at once;"
              + " retry after 100 s.");
      assertThat(error.get("fbtrace_id").asText()).hasSize(23);
      assertThat(refused.body()).doesNotContain(layer.key).doesNotContain(Layer.TOKEN);
      assertThat(graphCalls.get()).as("the refused request never reached Meta").isEqualTo(3);

      assertThat(send(layer, sameNumber, PNID)).as("another key of the same number").isEqualTo(200);
      assertThat(send(layer, layer.keyB, PNID_B)).as("a key of another number").isEqualTo(200);
      assertThat(layer.get("/v22.0/" + PNID, "Bearer " + layer.key).statusCode()).as("reads count too").isEqualTo(429);
    }
  }

  @Test
  void concurrentRequestsOfOneKeyPassAtMostItsBurstAndInvalidKeysAre401() throws Exception {
    try (Layer layer = Layer.start(dir, graph.base(), Map.of(Option.KEY_RATE, "0.01", Option.KEY_BURST, "10"))) {
      ExecutorService pool = Executors.newFixedThreadPool(8);
      try {
        List<Future<Integer>> all = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
          all.add(pool.submit(() -> send(layer, layer.key, PNID)));
          String invalid = "ps_" + "A".repeat(40) + String.format("%03d", i);
          all.add(pool.submit(() -> send(layer, invalid, PNID)));
        }
        int ok = 0;
        int limited = 0;
        int unauthorized = 0;
        for (Future<Integer> f : all) {
          int status = f.get(30, TimeUnit.SECONDS);
          ok += status == 200 ? 1 : 0;
          limited += status == 429 ? 1 : 0;
          unauthorized += status == 401 ? 1 : 0;
        }
        assertThat(ok).isEqualTo(10);
        assertThat(limited).isEqualTo(30);
        assertThat(unauthorized).as("an invalid key is refused as such, never rate limited").isEqualTo(40);
      } finally {
        pool.shutdownNow();
      }
    }
  }

  @Test
  void aKeysOwnLimitIsSetOnCreationChangedWithPatchAndResetThroughTheAdminApi() throws Exception {
    try (Layer layer = Layer.start(dir, graph.base(), SLOW)) {
      JsonNode own = created(layer, "{\"per_second\":0.5,\"burst\":5}");
      assertThat(own.get("rate_limit").toString()).isEqualTo("{\"per_second\":0.5,\"burst\":5}");
      String key = own.get("key").asText();
      String id = own.get("id").asText();
      int passed = 0;
      for (int i = 0; i < 8; i++) {
        passed += send(layer, key, PNID) == 200 ? 1 : 0;
      }
      assertThat(passed).as("its own burst, not the default's 3").isEqualTo(5);
      HttpResponse<String> over = layer.post("/v22.0/" + PNID + "/messages", "Bearer " + key, MESSAGE);
      assertThat(over.headers().firstValue("Retry-After").map(Integer::parseInt).orElseThrow()).isBetween(1, 2);

      HttpResponse<String> off = admin(layer, "PATCH", "/keys/" + id, "{\"rate_limit\":\"off\"}");
      assertThat(off.statusCode()).as(off.body()).isEqualTo(200);
      assertThat(Json.mapper().readTree(off.body()).get("rate_limit").asText()).isEqualTo("off");
      for (int i = 0; i < 10; i++) {
        assertThat(send(layer, key, PNID)).as("no limit from the answer on").isEqualTo(200);
      }
      assertThat(admin(layer, "PATCH", "/keys/" + id, "{\"rate_limit\":null}").statusCode()).isEqualTo(200);
      assertThat(listed(layer, id).get("rate_limit").isNull()).as("the default again").isTrue();
      assertThat(send(layer, key, PNID)).as("the default's bucket: 0 left of 3 after 5 + 10 requests").isEqualTo(429);
      assertThat(created(layer, null).get("rate_limit").isNull()).isTrue();
      assertThat(created(layer, "\"off\"").get("rate_limit").asText()).isEqualTo("off");

      for (String bad : List.of("{\"rate_limit\":{\"per_second\":-1,\"burst\":5}}", "{\"rate_limit\":{\"per_second\":5}}",
          "{\"rate_limit\":{\"per_second\":5,\"burst\":1.5}}", "{\"rate_limit\":\"fast\"}",
          "{\"rate_limit\":{\"per_second\":5,\"burst\":2000000}}", "{\"scopes\":[\"messages\"]}", "{}")) {
        HttpResponse<String> r = admin(layer, "PATCH", "/keys/" + id, bad);
        assertThat(r.statusCode()).as(bad).isEqualTo(400);
        assertThat(Json.mapper().readTree(r.body()).get("error").get("code").asInt()).isEqualTo(100);
      }
      HttpResponse<String> badCreate = admin(layer, "POST", "/keys",
          "{\"phone_number_id\":\"" + PNID + "\",\"rate_limit\":{\"per_second\":\"5\",\"burst\":5}}");
      assertThat(badCreate.statusCode()).isEqualTo(400);
      assertThat(badCreate.body()).contains("rate_limit must be null");
      assertThat(admin(layer, "PATCH", "/keys/key_none", "{\"rate_limit\":null}").statusCode()).isEqualTo(404);
      assertThat(admin(layer, "PUT", "/keys/" + id, "{}").statusCode()).isEqualTo(405);
    }
  }

  @Test
  void aKeysOwnLimitSurvivesARestartOnTheH2File() throws Exception {
    String key;
    String id;
    try (Layer layer = Layer.start(dir, graph.base(), SLOW)) {
      JsonNode own = created(layer, "{\"per_second\":0.01,\"burst\":6}");
      key = own.get("key").asText();
      id = own.get("id").asText();
    }
    try (Layer again = Layer.start(dir, graph.base(), SLOW)) {
      assertThat(listed(again, id).get("rate_limit").toString()).isEqualTo("{\"per_second\":0.01,\"burst\":6}");
      int passed = 0;
      for (int i = 0; i < 8; i++) {
        passed += send(again, key, PNID) == 200 ? 1 : 0;
      }
      assertThat(passed).isEqualTo(6);
    }
  }

  @Test
  void onPostgresqlTheLimitIsTheKeysOnEveryInstanceAndCountedPerInstance() throws Exception {
    try (TestDatabases.PgSchema schema = TestDatabases.postgres()) {
      Map<Option, String> options = new EnumMap<>(Option.class);
      options.putAll(SLOW);
      options.put(Option.DB_URL, schema.url());
      options.put(Option.DB_USER, TestDatabases.PG_USER);
      options.put(Option.DB_PASSWORD, TestDatabases.PG_PASSWORD);
      options.put(Option.MASTER_KEY, Base64.getEncoder().encodeToString(new byte[32]));
      try (Layer one = Layer.start(dir.resolve("one"), graph.base(), options);
          Layer two = Layer.start(dir.resolve("two"), graph.base(), options)) {
        String key = created(one, "{\"per_second\":0.01,\"burst\":2}").get("key").asText();
        for (Layer instance : List.of(two, one)) {
          assertThat(send(instance, key, PNID)).isEqualTo(200);
          assertThat(send(instance, key, PNID)).isEqualTo(200);
          assertThat(send(instance, key, PNID)).as("each instance has its own bucket of the key's size").isEqualTo(429);
        }
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

  /** {@code keys create --rate --burst}, {@code keys limit} and {@code keys list}, on the store or through a layer. */
  private static void cliSetsAndShowsRateLimits(Map<String, String> env) throws Exception {
    Run created = run(env, "keys", "create", "--phone-number-id", PNID, "--rate", "2.5", "--burst", "20");
    assertThat(created.status()).as(created.err()).isZero();
    Run plain = run(env, "keys", "create", "--phone-number-id", PNID);
    assertThat(plain.status()).as(plain.err()).isZero();
    String id = created.out().lines().skip(1).findFirst().orElseThrow().replaceAll("^# key id (\\S+) .*$", "$1");

    Run listed = run(env, "keys", "list");
    assertThat(listed.out().lines().findFirst().orElseThrow()).contains(" RATE_LIMIT ").endsWith("SCOPES");
    assertThat(listed.out().lines().filter(l -> l.startsWith(id + " ")).findFirst().orElseThrow())
        .contains(" 2.5/s burst 20 ");
    assertThat(listed.out().lines().skip(1).filter(l -> l.contains(" default "))).hasSize(1);

    Run off = run(env, "keys", "limit", "--id", id, "--rate", "off");
    assertThat(off.status()).as(off.err()).isZero();
    assertThat(off.out()).isEqualTo("rate limit of " + id + ": off\n");
    assertThat(run(env, "keys", "list").out().lines().filter(l -> l.startsWith(id + " ")).findFirst().orElseThrow())
        .contains(" off ");
    Run reset = run(env, "keys", "limit", "--id", id, "--rate", "default");
    assertThat(reset.out()).isEqualTo("rate limit of " + id + ": the layer's default\n");

    Run noBurst = run(env, "keys", "limit", "--id", id, "--rate", "5");
    assertThat(noBurst.status()).isEqualTo(2);
    assertThat(noBurst.err()).isEqualTo("error: --rate 5 needs --burst N (the requests the key may send at once)"
        + " (--rate, --burst)\n");
    Run badRate = run(env, "keys", "create", "--phone-number-id", PNID, "--rate", "fast", "--burst", "3");
    assertThat(badRate.status()).isEqualTo(2);
    assertThat(badRate.err()).startsWith("error: the rate 'fast' is not a number").hasLineCount(1);
    assertThat(run(env, "keys", "limit", "--id", "key_none", "--rate", "off").status()).isEqualTo(1);
    assertThat(run(env, "keys", "list").out().lines().skip(1).count()).as("the refused key was not created")
        .isEqualTo(2);
  }

  @Test
  void theCommandLineSetsAndShowsRateLimitsOnTheStore() throws Exception {
    Map<String, String> env = Map.of("LAYER_DATA_DIR", dir.toString(), "THE_TOKEN", "EAAG-cli-token");
    Run added = run(env, "numbers", "add", "--phone", "+15550783881", "--phone-number-id", PNID,
        "--waba-id", Layer.WABA, "--business-id", Layer.BUSINESS, "--meta-token-env", "THE_TOKEN");
    assertThat(added.status()).as(added.err()).isZero();
    cliSetsAndShowsRateLimits(env);
  }

  @Test
  void theCommandLineSetsAndShowsRateLimitsThroughARunningLayer() throws Exception {
    try (LayerServer server = LayerServer.start(Settings.of(Map.of(Option.PORT, "0", Option.HOST, "127.0.0.1",
        Option.DATA_DIR, dir.toString(), Option.ADMIN_TOKEN, Layer.ADMIN_TOKEN)))) {
      server.layer().keys().addNumber("+15550783881", PNID, Layer.WABA, Layer.BUSINESS, Layer.TOKEN);
      Map<String, String> env = Map.of("LAYER_URL", server.localUri().toString(), "LAYER_ADMIN_TOKEN", Layer.ADMIN_TOKEN,
          "LAYER_DATA_DIR", dir.resolve("elsewhere").toString());
      cliSetsAndShowsRateLimits(env);
    }
  }

  @Test
  void aMistakenRateOptionIsOneLineAtStart() throws Exception {
    Run bad = run(Map.of("LAYER_KEY_RATE", "fast", "LAYER_DATA_DIR", dir.toString()), "--port", "0");
    assertThat(bad.status()).isEqualTo(ConfigError.STATUS);
    assertThat(bad.err()).contains("LAYER_KEY_RATE").contains("'fast' is not a rate").hasLineCount(1);
    Run tooFast = run(Map.of("LAYER_KEY_RATE", "2000000", "LAYER_DATA_DIR", dir.toString()), "--port", "0");
    assertThat(tooFast.status()).isEqualTo(ConfigError.STATUS);
    assertThat(tooFast.err()).contains("LAYER_KEY_RATE").contains("1000000 requests per second").hasLineCount(1);
  }
}

package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.metalayer.testing.MetaFixtures;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;

/**
 * Several layer processes (the real jar, see {@link LayerJar}) on one store: one PostgreSQL database
 * ({@code LAYER_DB_URL}), one master key and one app secret, each process with a data directory of its
 * own, as an operator runs them behind a load balancer. Numbers, keys and subscriptions are made
 * through the admin and subscriptions APIs of a running instance, as an operator and a tenant do.
 * Closing stops every instance still running (SIGTERM).
 *
 * <pre>{@code
 * try (Instances layers = new Instances(dir, schema.url(), PG_USER, PG_PASSWORD)) {
 *   LayerJar.Running one = layers.start("one");
 *   LayerJar.Running two = layers.start("two");
 *   layers.addNumber(one, PNID, WABA, "+15550783881");
 *   String key = layers.createKey(one, PNID).path("key").asText();
 *   layers.subscribe(two, key, subscriber.url("/hook"), "messages");
 *   layers.webhook(one, Instances.envelope(WABA, List.of(Instances.message(PNID, "15550783881", "wamid.1"))));
 * }
 * }</pre>
 */
final class Instances implements AutoCloseable {
  static final String APP_SECRET = "scale-out-app-secret";
  static final Duration CALL = Duration.ofSeconds(30);
  static final ObjectMapper JSON = new ObjectMapper();

  private final Path dir;
  private final String dbUrl;
  private final String dbUser;
  private final String dbPassword;
  private final Map<String, String> env = new LinkedHashMap<>();
  private final Map<String, LayerJar.Running> running = new LinkedHashMap<>();
  private String masterKey;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  Instances(Path dir, String dbUrl, String dbUser, String dbPassword) {
    this.dir = dir;
    this.dbUrl = dbUrl;
    this.dbUser = dbUser;
    this.dbPassword = dbPassword;
    env.put("META_APP_SECRET", APP_SECRET);
    env.put("LAYER_ALLOW_PRIVATE_TARGETS", "true");
  }

  /** An environment variable for every instance started from now on. */
  Instances env(String name, String value) {
    env.put(name, value);
    return this;
  }

  /** The jar of instance {@code name}: its own data directory, the shared store and master key. */
  LayerJar jar(String name) throws IOException {
    Path home = Files.createDirectories(dir.resolve(name));
    LayerJar jar = LayerJar.in(home).database(dbUrl, dbUser, dbPassword);
    if (masterKey == null) {
      masterKey = jar.masterKey();
    }
    jar.masterKey(masterKey);
    env.forEach(jar::env);
    return jar;
  }

  /** Starts instance {@code name} with extra command-line {@code args}; returns once it is ready. */
  LayerJar.Running start(String name, String... args) throws Exception {
    return start(name, UnaryOperator.identity(), args);
  }

  /** Starts instance {@code name}, its jar first adjusted by {@code adjust} (e.g. an environment variable of its own). */
  LayerJar.Running start(String name, UnaryOperator<LayerJar> adjust, String... args) throws Exception {
    LayerJar.Running r = adjust.apply(jar(name)).start(args);
    running.put(name, r);
    return r;
  }

  /** The last {@code lines} lines of each instance's log, for a failure's message. */
  String logs(int lines) {
    StringBuilder out = new StringBuilder();
    running.forEach((name, r) -> {
      List<String> all = r.log().lines().toList();
      out.append("\n--- layer ").append(name).append(" (pid ").append(r.pid()).append(") ---\n")
          .append(String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size())));
    });
    return out.toString();
  }

  /** Registers a number through {@code layer}'s admin API. */
  void addNumber(LayerJar.Running layer, String pnid, String waba, String phone) throws Exception {
    send(layer, "POST", "/admin/v1/numbers", "Bearer " + LayerJar.ADMIN_TOKEN, "{\"phone\":\"" + phone
        + "\",\"phone_number_id\":\"" + pnid + "\",\"waba_id\":\"" + waba + "\",\"business_id\":\"900\","
        + "\"meta_token\":\"EAAG-scale-out-" + pnid + "\"}", 201);
  }

  /** Creates a key for the number through {@code layer}'s admin API: {@code {"id":"key_…","key":"ps_…",…}}. */
  JsonNode createKey(LayerJar.Running layer, String pnid) throws Exception {
    return send(layer, "POST", "/admin/v1/keys", "Bearer " + LayerJar.ADMIN_TOKEN,
        "{\"phone_number_id\":\"" + pnid + "\"}", 201);
  }

  /** Subscribes {@code url} to {@code events} with the number's key, through {@code layer}; returns the subscription's id. */
  String subscribe(LayerJar.Running layer, String key, String url, String... events) throws Exception {
    JsonNode created = send(layer, "POST", "/v1/webhooks", "Bearer " + key, "{\"name\":\"scale-out\",\"url\":\"" + url
        + "\",\"events\":[\"" + String.join("\",\"", events) + "\"]}", 201);
    assertThat(created.path("id").asText()).startsWith("wh_");
    return created.path("id").asText();
  }

  /**
   * Whether the subscription has no delivery {@code pending} or {@code delivering} in its log, read
   * through {@code layer}'s admin API: then the layer will send it nothing more (until a new webhook).
   */
  boolean settled(LayerJar.Running layer, String subscription) {
    try {
      for (String state : List.of("pending", "delivering")) {
        if (!send(layer, "GET", "/admin/v1/webhooks/" + subscription + "/deliveries?status=" + state + "&limit=1",
            "Bearer " + LayerJar.ADMIN_TOKEN, null, 200).path("data").isEmpty()) {
          return false;
        }
      }
      return true;
    } catch (Exception e) {
      throw new AssertionError("reading the delivery log of " + subscription + ": " + e, e);
    }
  }

  /** A request to {@code layer} whose answer must have status {@code expected}; returns its JSON body. */
  JsonNode send(LayerJar.Running layer, String method, String path, String authorization, String json, int expected)
      throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(layer.base().resolve(path)).timeout(CALL)
        .header("Authorization", authorization);
    b = json == null ? b.method(method, HttpRequest.BodyPublishers.noBody())
        : b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isEqualTo(expected);
    return r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
  }

  /** The status of a GET of {@code path} with {@code authorization}, or -1 when there is no answer in time. */
  int get(LayerJar.Running layer, String path, String authorization) {
    try {
      return http.send(HttpRequest.newBuilder(layer.base().resolve(path)).timeout(Duration.ofSeconds(10))
          .header("Authorization", authorization).GET().build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  /** Posts a webhook signed with the app secret as Meta does; its status, or -1 when there is no answer in {@link #CALL}. */
  int webhook(LayerJar.Running layer, byte[] body) {
    try {
      return http.send(HttpRequest.newBuilder(layer.base().resolve("/webhooks/meta")).timeout(CALL)
          .header("Content-Type", "application/json")
          .header("X-Hub-Signature-256", MetaFixtures.metaSignature(APP_SECRET, body))
          .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  /** Meta's envelope of {@code changes} for a WABA. */
  static byte[] envelope(String waba, List<String> changes) {
    return FairDeliveryIT.envelope(waba, changes);
  }

  /** One {@code messages} change carrying a text message with id {@code wamid}. */
  static String message(String pnid, String display, String wamid) {
    return FairDeliveryIT.message(pnid, display, wamid);
  }

  /** One {@code calls} change: a ring ({@code connect}) of call {@code callId} at Meta's {@code timestamp} (Unix seconds). */
  static String call(String pnid, String display, String callId, long timestamp) {
    return FairDeliveryIT.call(pnid, display, callId, timestamp);
  }

  /** Polls {@code done} every 50 ms until it holds or {@code timeout} passes; whether it held. */
  static boolean await(BooleanSupplier done, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(50); // a poll interval, not a timing assumption
    }
    return true;
  }

  @Override
  public void close() throws InterruptedException {
    List<LayerJar.Running> all = new ArrayList<>(running.values());
    for (LayerJar.Running r : all) {
      r.process().destroy();
    }
    for (LayerJar.Running r : all) {
      r.close();
    }
  }
}

package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.metalayer.MetaLayer;
import dev.metalayer.json.Json;
import dev.metalayer.store.Database;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.TcpCut;
import dev.metalayer.testing.TestDatabases;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The HTTP answers of a layer whose PostgreSQL is cut away (through a TCP relay; the shared server keeps
 * running) and given back: webhooks answered 503 with {@code Retry-After} and a Graph-shaped error, and
 * {@code /readyz} 503, while it is gone; 200 again once it is back, without a restart.
 */
@Timeout(180)
class StoreOutageHttpTest {
  private static final String APP_SECRET = "meta-app-secret-1";
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @Test
  void ingestAnswers503WithRetryAfterAndReadyzFailsWhileTheDatabaseIsGoneThenBothRecover() throws Exception {
    try (TestDatabases.PgSchema pg = TestDatabases.postgres(); TcpCut cut = TcpCut.beforePostgres()) {
      pg.database();
      HikariConfig config = new HikariConfig();
      config.setJdbcUrl(cut.through(pg.url()));
      config.setUsername(TestDatabases.PG_USER);
      config.setPassword(TestDatabases.PG_PASSWORD);
      config.setMaximumPoolSize(4);
      config.setMinimumIdle(0);
      config.setConnectionTimeout(1_000);
      try (HikariDataSource pool = new HikariDataSource(config)) {
        Database db = Database.open(pool);
        MetaLayer layer = MetaLayer.builder()
            .keyStore(Stores.keys(db))
            .relayStore(Stores.relay(db))
            .masterKey(new byte[32])
            .appSecrets(List.of(APP_SECRET))
            .build();
        BodyReader bodies = new BodyReader(4 << 20, Duration.ofSeconds(10));
        HealthHandler health = new HealthHandler(db::ping, layer.relay()::deadWorkers, bodies);
        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        server.addConnector(connector);
        server.setHandler(new Routes().add("/readyz", health)
            .add(WebhookIngestHandler.PATH, new WebhookIngestHandler(layer.relay(), Optional.empty(), bodies)));
        server.start();
        try {
          URI base = URI.create("http://127.0.0.1:" + connector.getLocalPort());
          assertThat(post(base).statusCode()).isEqualTo(200);
          assertThat(get(base.resolve("/readyz")).statusCode()).isEqualTo(200);

          cut.cut();
          HttpResponse<String> refused = post(base);
          assertThat(refused.statusCode()).isEqualTo(503);
          assertThat(refused.headers().firstValue("Retry-After")).contains("10");
          JsonNode error = Json.mapper().readTree(refused.body()).get("error");
          assertThat(error.get("message").asText()).contains("cannot store webhooks");
          assertThat(error.get("fbtrace_id").asText()).isNotBlank();
          HttpResponse<String> notReady = get(base.resolve("/readyz"));
          assertThat(notReady.statusCode()).isEqualTo(503);
          assertThat(notReady.body()).contains("store unreachable");

          cut.restore();
          long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
          while (get(base.resolve("/readyz")).statusCode() != 200) {
            assertThat(System.nanoTime()).as("ready again before the deadline").isLessThan(deadline);
            Thread.sleep(100);
          }
          assertThat(post(base).statusCode()).isEqualTo(200);
        } finally {
          server.stop();
          layer.close();
        }
      }
    }
  }

  /**
   * A key not cached, or an operator's request, while the database is gone: a Graph-shaped 503 (retry
   * later), not a 500 that reads as a bug, on the subscriptions API and the admin API alike.
   */
  @Test
  void subscriptionsAndAdminAnswer503WhileTheDatabaseIsGone() throws Exception {
    try (TestDatabases.PgSchema pg = TestDatabases.postgres(); TcpCut cut = TcpCut.beforePostgres()) {
      pg.database();
      HikariConfig config = new HikariConfig();
      config.setJdbcUrl(cut.through(pg.url()));
      config.setUsername(TestDatabases.PG_USER);
      config.setPassword(TestDatabases.PG_PASSWORD);
      config.setMaximumPoolSize(4);
      config.setMinimumIdle(0);
      config.setConnectionTimeout(1_000);
      try (HikariDataSource pool = new HikariDataSource(config)) {
        Database db = Database.open(pool);
        MetaLayer layer = MetaLayer.builder()
            .keyStore(Stores.keys(db))
            .relayStore(Stores.relay(db))
            .masterKey(new byte[32])
            .appSecrets(List.of(APP_SECRET))
            .build();
        BodyReader bodies = new BodyReader(4 << 20, Duration.ofSeconds(10));
        AdminHandler admin = new AdminHandler(layer, Optional.of(ADMIN_TOKEN), () -> null,
            new dev.metalayer.keys.FailedAttempts(10, Duration.ofMinutes(1), java.time.Clock.systemUTC()), bodies);
        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        server.addConnector(connector);
        server.setHandler(new Routes().add(LayerServer.ADMIN_PREFIX, admin)
            .add(SubscriptionsHandler.PREFIX, new SubscriptionsHandler(layer, bodies, admin)));
        server.start();
        try {
          URI base = URI.create("http://127.0.0.1:" + connector.getLocalPort());
          String key = "ps_" + "k".repeat(43);
          assertThat(get(base.resolve(SubscriptionsHandler.PREFIX), key).statusCode()).as("unknown key, database up")
              .isEqualTo(401);

          cut.cut();
          for (HttpResponse<String> answer : List.of(get(base.resolve(SubscriptionsHandler.PREFIX), key),
              get(base.resolve(LayerServer.ADMIN_PREFIX + "/numbers"), ADMIN_TOKEN))) {
            assertThat(answer.statusCode()).as(answer.uri() + ": " + answer.body()).isEqualTo(503);
            JsonNode error = Json.mapper().readTree(answer.body()).get("error");
            assertThat(error.get("message").asText()).contains("retry later");
            assertThat(error.get("fbtrace_id").asText()).isNotBlank();
          }
          cut.restore();
        } finally {
          server.stop();
          layer.close();
        }
      }
    }
  }

  private static final String ADMIN_TOKEN = "admin-token-0123456789abcdef0123456789";

  private HttpResponse<String> get(URI uri, String bearer) throws Exception {
    return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + bearer)
        .GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> post(URI base) throws Exception {
    byte[] body = MetaFixtures.bytes("multi-entry.json");
    return http.send(HttpRequest.newBuilder(base.resolve(WebhookIngestHandler.PATH))
        .timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", MetaFixtures.metaSignature(APP_SECRET, body))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> get(URI uri) throws Exception {
    return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }
}

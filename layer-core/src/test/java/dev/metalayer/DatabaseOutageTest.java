package dev.metalayer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.metalayer.keys.KeyService;
import dev.metalayer.keys.KeyService.CreatedKey;
import dev.metalayer.keys.Resolution;
import dev.metalayer.relay.CallWebhookRelay;
import dev.metalayer.relay.CallWebhookRelay.IngestResult;
import dev.metalayer.store.Database;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.TcpCut;
import dev.metalayer.testing.TestDatabases;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * A layer on the real PostgreSQL, reached through a TCP relay the test cuts and restores: while the
 * database is gone, readiness says so (and does not hang), webhook ingest answers 503 instead of
 * acknowledging what it cannot store, keys whose grants are cached keep working past the cache's 30
 * seconds (one WARN for the outage, not one per request), up to the stale-if-error bound; when it is
 * back, everything works again without a restart.
 */
@Timeout(180)
class DatabaseOutageTest {
  private static final String APP_SECRET = "meta-app-secret-1";
  private static final String PNID = "106540352242922";
  private final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  private TestDatabases.PgSchema pg;
  private TcpCut cut;
  private HikariDataSource pool;
  private MetaLayer layer;
  private com.sun.net.httpserver.HttpServer meta;

  @BeforeEach
  void open() throws Exception {
    pg = TestDatabases.postgres();
    pg.database(); // migrated directly
    cut = TcpCut.beforePostgres();
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(cut.through(pg.url()));
    config.setUsername(TestDatabases.PG_USER);
    config.setPassword(TestDatabases.PG_PASSWORD);
    config.setMaximumPoolSize(4);
    config.setMinimumIdle(0);
    config.setConnectionTimeout(1_000);
    config.setPoolName("outage-" + pg.schema());
    pool = new HikariDataSource(config);
    // Meta's Graph API, standing in on loopback: every message is accepted
    meta = com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", 0), 0);
    meta.createContext("/", x -> {
      x.getRequestBody().readAllBytes();
      byte[] answer = "{\"messages\":[{\"id\":\"wamid.1\"}]}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
      x.getResponseHeaders().add("Content-Type", "application/json");
      x.sendResponseHeaders(200, answer.length);
      x.getResponseBody().write(answer);
      x.close();
    });
    meta.start();
    Database db = Database.open(pool);
    layer = MetaLayer.builder()
        .keyStore(Stores.keys(db))
        .relayStore(Stores.relay(db))
        .masterKey(new byte[32])
        .clock(clock)
        .appSecrets(List.of(APP_SECRET))
        .graphUrl(java.net.URI.create("http://127.0.0.1:" + meta.getAddress().getPort()))
        .publicUrl(java.net.URI.create("http://layer.test"))
        .build();
    logs.start();
    ((Logger) LoggerFactory.getLogger(KeyService.class)).addAppender(logs);
  }

  @AfterEach
  void close() throws Exception {
    ((Logger) LoggerFactory.getLogger(KeyService.class)).detachAppender(logs);
    if (layer != null) {
      layer.close();
    }
    if (meta != null) {
      meta.stop(0);
    }
    if (pool != null) {
      pool.close();
    }
    if (cut != null) {
      cut.close();
    }
    if (pg != null) {
      pg.close();
    }
  }

  /** A message sent through the Graph proxy with {@code key}: the status of the answer. */
  private int send(String key) {
    dev.metalayer.graph.ClientRequest r = new dev.metalayer.graph.ClientRequest("POST", "/v13.0/" + PNID + "/messages", "",
        java.util.Optional.of("Bearer " + key), java.util.Optional.empty(), "http://layer.test");
    return layer.graphProxy().handle(r, java.util.Map.of("Content-Type", List.of("application/json")),
        "{\"messaging_product\":\"whatsapp\",\"to\":\"15551234567\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}"
            .getBytes(java.nio.charset.StandardCharsets.UTF_8)).status();
  }

  private IngestResult ingest() {
    byte[] body = MetaFixtures.bytes("multi-entry.json");
    return layer.relay().ingest(body, MetaFixtures.metaSignature(APP_SECRET, body));
  }

  @Test
  void whileTheDatabaseIsGoneReadinessFailsIngestAnswers503CachedKeysServeAndAllRecoversByItself() {
    Database db = databaseOf();
    layer.keys().addNumber("+15550783881", PNID, "102290129340398", "555", "EAAG-token");
    CreatedKey cached = layer.keys().createKey(PNID).orElseThrow();
    CreatedKey cold = layer.keys().createKey(PNID).orElseThrow();
    assertThat(layer.tokenResolver().resolve(cached.key())).isInstanceOf(Resolution.Granted.class);
    assertThat(ingest()).isInstanceOf(IngestResult.Accepted.class);
    assertThat(db.ping()).isTrue();

    cut.cut();
    // the key upkeep polls (and fails) every second through the outage: it forgets nothing it cached
    layer.keys().start();

    assertThat(db.ping()).as("readiness: the database does not answer").isFalse();
    clock.advance(Duration.ofSeconds(45)); // past the 30 s grant cache
    for (int i = 0; i < 20; i++) {
      assertThat(layer.tokenResolver().resolve(cached.key())).as("stale-if-error").isInstanceOf(Resolution.Granted.class);
    }
    assertThatThrownBy(() -> layer.tokenResolver().resolve(cold.key())).as("a key not cached cannot be checked")
        .isInstanceOf(KeyService.StoreUnavailableException.class);
    assertThat(send(cached.key())).as("the Graph proxy serves the cached key").isEqualTo(200);
    assertThat(send(cold.key())).as("and answers 503 for a key it cannot check").isEqualTo(503);
    IngestResult refused = ingest();
    assertThat(refused).isInstanceOfSatisfying(IngestResult.Refused.class, r -> {
      assertThat(r.reason()).isEqualTo(IngestResult.Reason.STORE_UNAVAILABLE);
      assertThat(r.error().status()).isEqualTo(503);
      assertThat(new String(r.error().toJson(), java.nio.charset.StandardCharsets.UTF_8)).contains("\"error\"");
    });
    assertThat(CallWebhookRelay.STORE_RETRY_AFTER_SECONDS).isPositive();
    assertThat(warnings()).as("one WARN for the outage, not one per request").hasSize(1);
    assertThat(warnings().get(0).getFormattedMessage()).doesNotContain("EAAG-token").doesNotContain(cached.key());

    clock.advance(KeyService.STALE_IF_ERROR);
    assertThatThrownBy(() -> layer.tokenResolver().resolve(cached.key())).as("stale-if-error is bounded")
        .isInstanceOf(KeyService.StoreUnavailableException.class);

    cut.restore();

    awaitTrue(db::ping, "the database answers the ping again");
    assertThat(layer.tokenResolver().resolve(cold.key())).isInstanceOf(Resolution.Granted.class);
    assertThat(layer.tokenResolver().resolve(cached.key())).isInstanceOf(Resolution.Granted.class);
    assertThat(send(cold.key())).isEqualTo(200);
    assertThat(ingest()).isInstanceOf(IngestResult.Accepted.class);
    assertThat(warnings()).as("still the one WARN").hasSize(1);
    assertThat(logs.list).anySatisfy(e -> assertThat(e.getFormattedMessage()).contains("answers again"));
  }

  @Test
  void whileTheStoreFailsIngestAsksItAgainOncePerSecondAndAnswersTheRest503AtOnce() {
    assertThat(ingest()).isInstanceOf(IngestResult.Accepted.class);
    cut.cut();
    assertThat(ingest()).as("the failure itself").isInstanceOf(IngestResult.Refused.class);
    cut.restore();
    awaitTrue(() -> databaseOf().ping(), "the database answers again");

    // within the second after a failure the store is not asked: the database is back, yet this is a 503
    assertThat(ingest()).isInstanceOfSatisfying(IngestResult.Refused.class,
        r -> assertThat(r.reason()).isEqualTo(IngestResult.Reason.STORE_UNAVAILABLE));
    clock.advance(Duration.ofSeconds(1));
    assertThat(ingest()).as("the probe a second later finds the store").isInstanceOf(IngestResult.Accepted.class);
    assertThat(ingest()).as("and every webhook after it").isInstanceOf(IngestResult.Accepted.class);
  }

  @Test
  void aSilentDatabaseNeverHangsThePingNorAStatement() {
    Database db = databaseOf();
    layer.keys().addNumber("+15550783881", PNID, "102290129340398", "555", "EAAG-token");
    assertThat(db.ping()).isTrue();
    cut.hang(); // connections stay open, nothing answers: no error ever comes by itself

    // each ping is bounded (the @Timeout would catch one that hangs); none waits for the one still stuck
    for (int i = 0; i < 5; i++) {
      assertThat(db.ping()).isFalse();
    }
    // a statement ends too, with an error: its cancel cannot reach the server, the connection's read gives up
    assertThatThrownBy(() -> layer.keys().listNumbers()).isInstanceOf(dev.metalayer.relay.StoreException.class);
    cut.restore();
    awaitTrue(db::ping, "the ping answers again");
    assertThat(layer.keys().listNumbers()).hasSize(1);
  }

  @Test
  void whileTheDatabaseIsGoneEachLaneWarnsOnceWithoutAStackTraceAndSaysWhenItClaimsAgain() {
    Logger engine = (Logger) LoggerFactory.getLogger("dev.metalayer.relay.DeliveryEngine");
    ListAppender<ILoggingEvent> lane = new ListAppender<>();
    lane.start();
    Level before = engine.getLevel();
    engine.setLevel(Level.DEBUG);
    engine.addAppender(lane);
    try {
      layer.start();
      cut.cut();
      // every failed claim is seen (at DEBUG); wait for several on the default lane
      awaitTrue(() -> laneEvents(lane, "default", null) >= 3, "three failed claims on the default lane");
      List<ILoggingEvent> warned = lane.list.stream().filter(e -> e.getLevel() == Level.WARN
          && e.getFormattedMessage().contains("claim")).toList();
      assertThat(warned).as("one WARN per lane for the outage").hasSizeLessThanOrEqualTo(2)
          .allSatisfy(e -> assertThat(e.getThrowableProxy()).as("no stack trace at WARN").isNull());
      cut.restore();
      awaitTrue(() -> laneEvents(lane, "default", Level.INFO) >= 1, "the default lane says it claims again");
    } finally {
      engine.detachAppender(lane);
      engine.setLevel(before);
    }
  }

  private static long laneEvents(ListAppender<ILoggingEvent> lane, String name, Level level) {
    return List.copyOf(lane.list).stream().filter(e -> (level == null || e.getLevel() == level)
        && e.getFormattedMessage().startsWith("The " + name + " lane ") && e.getFormattedMessage().contains("claim"))
        .count();
  }

  private Database databaseOf() {
    return Database.open(pool);
  }

  private List<ILoggingEvent> warnings() {
    return logs.list.stream().filter(e -> e.getLevel() == Level.WARN).toList();
  }

  private static void awaitTrue(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as(what + " before the deadline").isLessThan(deadline);
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
  }
}

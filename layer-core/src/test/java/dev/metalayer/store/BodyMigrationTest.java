package dev.metalayer.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.relay.DeliveryState;
import dev.metalayer.relay.Lane;
import dev.metalayer.relay.RelayStore;
import dev.metalayer.relay.RelayStore.AttemptRecord;
import dev.metalayer.relay.RelayStore.Claimed;
import dev.metalayer.testing.TestDatabases;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An existing database, whose deliveries each carry a copy of their body, keeps working: migration V9
 * moves the bodies into layer_bodies, one row per distinct body of an envelope. On an H2 file and on
 * PostgreSQL.
 */
class BodyMigrationTest {
  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  static final byte[] SHARED = "{\"entry\":[{\"changes\":[{\"field\":\"messages\"}]}]}".getBytes(StandardCharsets.UTF_8);
  static final byte[] REWRITTEN = "{\"entry\":[{\"terminate_reason\":\"completed\"}]}".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;

  @Test
  void anH2FileFromBeforeSharedBodiesMigratesAndDelivers() throws Exception {
    JdbcConnectionPool pool = JdbcConnectionPool.create("jdbc:h2:file:" + dir.resolve("old") + ";WRITE_DELAY=0", "sa", "");
    try {
      migratesAndDelivers(pool);
    } finally {
      pool.dispose();
    }
  }

  @Test
  void aPostgresqlSchemaFromBeforeSharedBodiesMigratesAndDelivers() throws Exception {
    try (TestDatabases.PgSchema pg = TestDatabases.postgres()) {
      migratesAndDelivers(pg.dataSource());
    }
  }

  private static void migratesAndDelivers(DataSource ds) throws Exception {
    olderSchema(ds);
    try (Connection c = ds.getConnection()) {
      try (Statement s = c.createStatement()) {
        s.execute("INSERT INTO layer_subscriptions (id, phone_number_id, name, url, events, secret, active,"
            + " chatwoot_terminate_reason, created_at, updated_at) VALUES ('wh_a', '111', 'a', 'https://a.example', 'messages',"
            + " NULL, TRUE, FALSE, 0, 0), ('wh_b', '111', 'b', 'https://b.example', 'messages', NULL, TRUE, TRUE, 0, 0),"
            + " ('wh_c', '111', 'c', 'https://c.example', 'messages', NULL, TRUE, FALSE, 0, 0)");
      }
      try (PreparedStatement p = c.prepareStatement(
          "INSERT INTO layer_envelopes (id, body, received_at, routed) VALUES ('env_old', ?, ?, TRUE)")) {
        p.setBytes(1, SHARED);
        p.setLong(2, T0.toEpochMilli());
        p.executeUpdate();
      }
      try (PreparedStatement p = c.prepareStatement("INSERT INTO layer_deliveries (id, subscription_id, envelope_id,"
          + " webhook_id, field, lane, ordering_key, body, state, attempts, max_attempts, next_attempt_at, expires_at,"
          + " lease_until, created_at, updated_at, phone_number_id) VALUES (?, ?, 'env_old', 'msg_1', 'messages',"
          + " 'default', NULL, ?, ?, 0, 8, ?, NULL, NULL, ?, ?, '111')")) {
        Object[][] rows = {{"dlv_a", "wh_a", SHARED, "pending"}, {"dlv_b", "wh_b", REWRITTEN, "pending"},
            {"dlv_c", "wh_c", SHARED, "delivered"}};
        for (Object[] r : rows) {
          p.setString(1, (String) r[0]);
          p.setString(2, (String) r[1]);
          p.setBytes(3, (byte[]) r[2]);
          p.setString(4, (String) r[3]);
          if (r[3].equals("pending")) {
            p.setLong(5, T0.toEpochMilli());
          } else {
            p.setNull(5, java.sql.Types.BIGINT);
          }
          p.setLong(6, T0.toEpochMilli());
          p.setLong(7, T0.toEpochMilli());
          p.executeUpdate();
        }
      }
    }

    RelayStore store = Stores.relay(Database.open(ds));

    assertThat(JdbcRelayStoreTest.bodies(ds)).as("one row per distinct body of the envelope")
        .containsExactly(2, SHARED.length + REWRITTEN.length);
    var claimed = store.claimDue(Lane.DEFAULT, T0, T0.plusSeconds(30), 10, Set.of());
    assertThat(claimed).extracting(Claimed::id).containsExactlyInAnyOrder("dlv_a", "dlv_b");
    for (Claimed c : claimed) {
      assertThat(c.body()).isEqualTo(c.id().equals("dlv_a") ? SHARED : REWRITTEN);
    }
    // a replay of the delivered one still has its body
    assertThat(store.replay("dlv_c", T0)).isTrue();
    var replayed = store.claimDue(Lane.DEFAULT, T0, T0.plusSeconds(30), 10, Set.of());
    assertThat(replayed).singleElement().satisfies(c -> assertThat(c.body()).isEqualTo(SHARED));
    for (Claimed c : java.util.stream.Stream.concat(claimed.stream(), replayed.stream()).toList()) {
      store.finish(c.id(), c.claimToken(), new AttemptRecord(T0, 200, 1, null, ""), DeliveryState.DELIVERED, null, T0);
    }
    // and retention removes the moved bodies with their deliveries
    store.purge(T0.plus(Duration.ofDays(15)), 100);
    assertThat(JdbcRelayStoreTest.bodies(ds)).containsExactly(0, 0);
  }

  /** The schema as it was before V9: every migration before it, recorded as applied. */
  private static void olderSchema(DataSource ds) throws Exception {
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE layer_schema_version (version INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL,"
          + " applied_at BIGINT NOT NULL)");
      for (String name : Database.MIGRATIONS) {
        int version = Integer.parseInt(name.substring(1, name.indexOf("__")));
        if (version >= 9) {
          continue;
        }
        try (InputStream in = Database.class.getResourceAsStream("migrations/" + name)) {
          for (String statement : Database.statements(new String(in.readAllBytes(), StandardCharsets.UTF_8))) {
            s.execute(statement);
          }
        }
        s.execute("INSERT INTO layer_schema_version (version, name, applied_at) VALUES (" + version + ", '" + name
            + "', 0)");
      }
    }
  }
}

package dev.metalayer.store;

import dev.metalayer.relay.RelayStore;
import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.relay.DeliveryState;
import dev.metalayer.relay.Lane;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The contract on a real H2 file database, plus what only a database can show. */
class JdbcRelayStoreTest extends RelayStoreContract {
  @TempDir Path dir;
  private JdbcConnectionPool pool;

  @Override
  RelayStore newStore() {
    pool = JdbcConnectionPool.create("jdbc:h2:file:" + dir.resolve("relay") + ";WRITE_DELAY=0", "sa", "");
    return new JdbcRelayStore(Database.open(pool));
  }

  @Override
  long[] bodiesStored() throws Exception {
    return bodies(pool);
  }

  /** {rows, bytes} of layer_bodies. */
  static long[] bodies(javax.sql.DataSource ds) throws Exception {
    try (Connection c = ds.getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT COUNT(*), COALESCE(SUM(OCTET_LENGTH(body)), 0) FROM layer_bodies")) {
      rs.next();
      return new long[] {rs.getLong(1), rs.getLong(2)};
    }
  }

  @Override
  boolean sentByAnotherInstance(String id) throws Exception {
    return sent(pool, id);
  }

  /** The row as another instance's claim and attempt of it leave it: delivered after one attempt. */
  static boolean sent(javax.sql.DataSource ds, String id) throws Exception {
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      return s.executeUpdate("UPDATE layer_deliveries SET state = 'delivered', attempts = 1, next_attempt_at = NULL"
          + " WHERE id = '" + id + "'") == 1;
    }
  }

  @AfterEach
  void close() {
    pool.dispose();
  }

  @Test
  void pendingDeliveriesSurviveReopeningTheDatabase() {
    ingest(delivery("d1", "wh_a", "msg_1", Lane.DEFAULT, null, T0));
    pool.dispose();

    RelayStore reopened = newStore();

    assertThat(reopened.claimDue(Lane.DEFAULT, T0, T0.plusSeconds(30), 10, java.util.Set.of()))
        .extracting(RelayStore.Claimed::id).containsExactly("d1");
    assertThat(Database.MIGRATIONS).contains("V2__relay.sql");
  }

  @Test
  void aPurgeDeletesTheAttemptRowsAndFindsItsRowsThroughIndexes() throws Exception {
    ingestAt("env_1", T0, deliveryOf("d1", "env_1", "msg_1", T0));
    finishAt("d1", DeliveryState.DELIVERED, T0);
    assertThat(count("layer_attempts")).isEqualTo(1);

    store.purge(T0.plus(Duration.ofDays(14)), 100);

    assertThat(count("layer_attempts")).isZero();
    assertThat(count("layer_deliveries")).isZero();
    assertThat(count("layer_envelopes")).isZero();
    assertThat(Database.MIGRATIONS).contains("V3__retention.sql");
    assertThat(plan("SELECT id FROM layer_deliveries WHERE state IN ('delivered', 'expired', 'dead') AND updated_at < 5"))
        .containsIgnoringCase("LAYER_DELIVERIES_FINISHED");
    assertThat(plan("SELECT e.id FROM layer_envelopes e WHERE e.received_at < 5 AND NOT EXISTS (SELECT 1 FROM"
        + " layer_deliveries d WHERE d.envelope_id = e.id AND d.state IN ('pending', 'delivering'))"))
        .containsIgnoringCase("LAYER_ENVELOPES_RECEIVED").containsIgnoringCase("LAYER_DELIVERIES_ENVELOPE");
  }

  private long count(String table) throws Exception {
    try (Connection c = pool.getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM " + table)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private String plan(String query) throws Exception {
    try (Connection c = pool.getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("EXPLAIN " + query)) {
      rs.next();
      return rs.getString(1);
    }
  }

  @Test
  void aClaimReadsDueRowsInIndexOrderAndStopsAtItsLimit() throws Exception {
    // A backlog must not make every claim read the whole lane (it once did: delivery fell to 5/s).
    store.insertSubscription(new RelayStore.StoredSubscription(new dev.metalayer.relay.Subscription("wh_b", "111", "n",
        "http://x", List.of("messages"), true, false, false, T0, T0), null));
    List<RelayStore.NewDelivery> backlog = new java.util.ArrayList<>();
    for (int i = 0; i < 300; i++) {
      backlog.add(RelayStore.NewDelivery.builder().ids("dlv_" + i, "wh_b", "env_b")
          .change("msg_" + i, "messages", dev.metalayer.relay.Lane.DEFAULT, new byte[] {1}).maxAttempts(8).createdAt(T0)
          .build());
    }
    store.ingest(new RelayStore.Envelope("env_b", new byte[] {1}, T0), backlog);
    for (JdbcRelayStore.Step step : JdbcRelayStore.Step.values()) {
      try (Connection c = pool.getConnection();
          java.sql.PreparedStatement p =
              c.prepareStatement("EXPLAIN ANALYZE " + JdbcRelayStore.claimQuery(step, Database.Dialect.H2, 0))) {
        p.setString(1, "default");
        p.setLong(2, T0.plusSeconds(1).toEpochMilli());
        p.setString(3, "ins_1");
        p.setLong(4, T0.plusSeconds(1).minus(RelayStore.OWNER_TIMEOUT).toEpochMilli());
        if (step == JdbcRelayStore.Step.DUE) {
          p.setString(5, "111");
          p.setInt(6, 4);
        } else {
          p.setInt(5, 4);
        }
        try (ResultSet rs = p.executeQuery()) {
          rs.next();
          String plan = rs.getString(1);
          assertThat(plan).as(plan).contains("index sorted");
          assertThat(plan).as(plan).containsPattern("scanCount: [0-5]\\b");
        }
      }
    }
    // the skip scan from number to number reads one index entry per step
    for (String query : List.of(JdbcRelayStore.NEXT_NUMBER_FIRST, JdbcRelayStore.NEXT_NUMBER)) {
      try (Connection c = pool.getConnection();
          java.sql.PreparedStatement p = c.prepareStatement("EXPLAIN ANALYZE " + query)) {
        p.setString(1, "default");
        if (query.equals(JdbcRelayStore.NEXT_NUMBER)) {
          p.setString(2, "");
        }
        try (ResultSet rs = p.executeQuery()) {
          rs.next();
          String plan = rs.getString(1);
          assertThat(plan).as(plan).contains("index sorted");
          assertThat(plan).as(plan).containsPattern("scanCount: [0-2]\\b");
        }
      }
    }
    assertThat(store.claimDue(dev.metalayer.relay.Lane.DEFAULT, T0.plusSeconds(1), T0.plusSeconds(60), 4, java.util.Set.of()))
        .extracting(RelayStore.Claimed::id).containsExactly("dlv_0", "dlv_1", "dlv_2", "dlv_3");
  }

  @Test
  void aPausedBacklogIsOutsideEveryClaimsIndexRangeAndBodiesAreFoundThroughIndexes() throws Exception {
    store.insertSubscription(new RelayStore.StoredSubscription(sub("wh_b", "222"), null));
    store.insertSubscription(new RelayStore.StoredSubscription(sub("wh_a", "111"), null));
    List<RelayStore.NewDelivery> backlog = new java.util.ArrayList<>();
    for (int i = 0; i < 300; i++) {
      backlog.add(RelayStore.NewDelivery.builder().ids("dlv_" + i, "wh_b", "env_b")
          .change("msg_" + i, "messages", Lane.DEFAULT, new byte[] {1}).maxAttempts(8).createdAt(T0).build());
    }
    store.ingest(new RelayStore.Envelope("env_b", new byte[] {1}, T0), backlog);
    store.ingest(new RelayStore.Envelope("env_a", new byte[] {2}, T0), List.of(RelayStore.NewDelivery.builder()
        .ids("dlv_a", "wh_a", "env_a").change("msg_a", "messages", Lane.DEFAULT, new byte[] {2}).createdAt(T0).build()));
    assertThat(bodiesStored()).as("300 deliveries, one body").containsExactly(1 + 1, 2);

    store.setActive("wh_b", false, T0);

    // the skip scan over numbers with pending rows never meets number 222's 300 paused rows
    try (Connection c = pool.getConnection();
        java.sql.PreparedStatement p = c.prepareStatement("EXPLAIN ANALYZE " + JdbcRelayStore.NEXT_NUMBER_FIRST)) {
      p.setString(1, "default");
      try (ResultSet rs = p.executeQuery()) {
        rs.next();
        assertThat(rs.getString(1)).as(rs.getString(1)).containsPattern("scanCount: [0-2]\\b");
      }
    }
    assertThat(store.claimDue(Lane.DEFAULT, T0, T0.plusSeconds(60), 10, java.util.Set.of()))
        .extracting(RelayStore.Claimed::id).containsExactly("dlv_a");
    // resuming reads the subscription's rows through an index on subscription_id, never the whole table:
    // H2 2.5 chose (subscription_id, state, seq), H2 2.3.232 chooses (subscription_id, created_at)
    assertThat(plan("UPDATE layer_deliveries SET state = 'pending' WHERE subscription_id = 'wh_b' AND state = 'paused'"))
        .containsPattern("(?i)LAYER_DELIVERIES_(SUBSCRIPTION_STATE|LOG): SUBSCRIPTION_ID = 'wh_b'");
    assertThat(plan("SELECT b.id FROM layer_bodies b WHERE b.id IN ('x') AND NOT EXISTS (SELECT 1 FROM layer_deliveries d"
        + " WHERE d.body_id = b.id)")).containsIgnoringCase("LAYER_DELIVERIES_BODY");
  }

  @Test
  void largeBodiesRoundTrip() {
    byte[] big = new byte[3 * 1024 * 1024];
    for (int i = 0; i < big.length; i++) {
      big[i] = (byte) ('a' + i % 26);
    }
    store.ingest(new RelayStore.Envelope("env_big", big, T0), List.of());

    assertThat(store.findEnvelope("env_big").orElseThrow().body()).isEqualTo(big);
  }
}

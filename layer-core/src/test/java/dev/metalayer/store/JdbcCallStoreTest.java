package dev.metalayer.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.relay.RelayStore;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The contract on a real H2 file database, plus what only a database can show. */
class JdbcCallStoreTest extends CallStoreContract {
  @TempDir Path dir;
  private JdbcConnectionPool pool;

  @Override
  RelayStore newRelayStore() {
    pool = JdbcConnectionPool.create("jdbc:h2:file:" + dir.resolve("calls") + ";WRITE_DELAY=0", "sa", "");
    return Stores.relay(Database.open(pool));
  }

  @AfterEach
  void dispose() {
    pool.dispose();
  }

  @Test
  void callRecordsSurviveReopeningTheDatabaseAndAreReadThroughIndexes() throws Exception {
    calls.record(java.util.List.of(webhook(PNID, WACID, T0, "connect", null)));
    pool.dispose();

    assertThat(newRelayStore().calls().find(PNID, WACID)).isPresent();
    assertThat(Database.MIGRATIONS).contains("V11__call_records.sql");
    assertThat(plan("SELECT event_key FROM layer_call_events WHERE phone_number_id = '1' AND wacid = 'w'"))
        .containsIgnoringCase("LAYER_CALL_EVENTS_CALL");
    assertThat(plan("SELECT wacid FROM layer_calls WHERE state IN ('ringing', 'pre_accepted') AND updated_at < 5"))
        .containsIgnoringCase("LAYER_CALLS_STATE_UPDATED");
    assertThat(plan("SELECT wacid FROM layer_calls WHERE state IN ('ringing', 'pre_accepted', 'accepted', 'rejected',"
        + " 'terminated', 'expired') AND updated_at < 5")).containsIgnoringCase("LAYER_CALLS_STATE_UPDATED");
    assertThat(plan("SELECT d.id FROM layer_deliveries d WHERE d.subscription_id IN (SELECT s.id FROM"
        + " layer_subscriptions s WHERE s.phone_number_id = '1') AND d.ordering_key = 'w'"))
        .containsIgnoringCase("LAYER_DELIVERIES_ORDER");
  }

  private String plan(String query) throws Exception {
    try (Connection c = pool.getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("EXPLAIN " + query)) {
      rs.next();
      return rs.getString(1);
    }
  }
}

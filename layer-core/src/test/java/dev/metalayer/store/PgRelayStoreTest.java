package dev.metalayer.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.relay.DeliveryState;
import dev.metalayer.relay.RelayStore;
import dev.metalayer.relay.RelayStore.CallEvent;
import dev.metalayer.relay.RelayStore.StoredSubscription;
import dev.metalayer.testing.TestDatabases;
import java.sql.Connection;
import java.sql.PreparedStatement;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The contract on a real PostgreSQL (a schema of its own per test), plus what only its claim turns show. */
class PgRelayStoreTest extends RelayStoreContract {
  private TestDatabases.PgSchema pg;

  @Override
  RelayStore newStore() {
    pg = TestDatabases.postgres();
    return Stores.relay(pg.database());
  }

  @Override
  long[] bodiesStored() throws Exception {
    return JdbcRelayStoreTest.bodies(pg.dataSource());
  }

  @Override
  boolean sentByAnotherInstance(String id) throws Exception {
    return JdbcRelayStoreTest.sent(pg.dataSource(), id);
  }

  /**
   * A claim that cannot get its lane's turn (another instance's claim stalled holding it) claims
   * without it, but leaves alone a connect whose call has a terminate: it could not see that claim's
   * outcome. The next claim, within its turn, supersedes it. Other calls are not held back meanwhile.
   */
  @Test
  void aClaimWithoutItsTurnLeavesAConnectWithATerminateToTheNextClaim() throws Exception {
    store.insertSubscription(new StoredSubscription(sub("wh_a", "111"), null));
    ingest(call("t", "wacid.1", CallEvent.TERMINATE, T0, null));
    ingest(call("c", "wacid.1", CallEvent.CONNECT, T0, null), call("other", "wacid.2", CallEvent.CONNECT, T0, null));
    assertThat(JdbcRelayStoreTest.sent(pg.dataSource(), "t")).isTrue();

    try (Connection stalled = pg.dataSource().getConnection();
        PreparedStatement lock = stalled.prepareStatement("SELECT pg_advisory_lock(?, ?)")) {
      String schema;
      try (var rs = stalled.createStatement().executeQuery("SELECT current_schema()")) {
        rs.next();
        schema = rs.getString(1);
      }
      lock.setInt(1, schema.hashCode()); // the key JdbcRelayStore takes its turns under
      lock.setInt(2, JdbcRelayStore.CLAIM_LOCK); // the calls lane's turn
      lock.execute();

      assertThat(claimedIds(T0)).containsExactly("other");
      assertThat(state("c")).isEqualTo(DeliveryState.PENDING);

      try (PreparedStatement unlock = stalled.prepareStatement("SELECT pg_advisory_unlock_all()")) {
        unlock.execute();
      }
    }
    assertThat(claimedIds(T0)).isEmpty();
    assertThat(state("c")).isEqualTo(DeliveryState.SUPERSEDED);
  }

  @AfterEach
  void drop() {
    if (pg != null) {
      pg.close();
    }
  }
}

package dev.metalayer.store;

import dev.metalayer.relay.RelayStore;
import dev.metalayer.testing.TestDatabases;
import org.junit.jupiter.api.AfterEach;

/** The contract, unchanged, on a real PostgreSQL (a schema of its own per test). */
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

  @AfterEach
  void drop() {
    if (pg != null) {
      pg.close();
    }
  }
}

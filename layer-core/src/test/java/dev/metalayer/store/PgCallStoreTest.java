package dev.metalayer.store;

import dev.metalayer.relay.RelayStore;
import dev.metalayer.testing.TestDatabases;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;

/**
 * The contract, unchanged, on a real PostgreSQL (a schema of its own per test); the races run between
 * two instances, each with a database and pool of its own on that schema.
 */
class PgCallStoreTest extends CallStoreContract {
  private TestDatabases.PgSchema pg;
  private final List<AutoCloseable> pools = new ArrayList<>();

  @Override
  RelayStore newRelayStore() {
    pg = TestDatabases.postgres();
    return Stores.relay(pg.database());
  }

  @Override
  RelayStore sameDatabase() {
    var pool = pg.pool(8);
    pools.add(pool);
    return Stores.relay(Database.open(pool));
  }

  @AfterEach
  void drop() throws Exception {
    for (AutoCloseable p : pools) {
      p.close();
    }
    if (pg != null) {
      pg.close();
    }
  }
}

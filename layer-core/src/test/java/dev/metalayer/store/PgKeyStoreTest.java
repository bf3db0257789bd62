package dev.metalayer.store;

import dev.metalayer.keys.KeyStore;
import dev.metalayer.testing.TestDatabases;
import org.junit.jupiter.api.AfterEach;

/** The contract, unchanged, on a real PostgreSQL (a schema of its own per test). */
class PgKeyStoreTest extends KeyStoreContract {
  private TestDatabases.PgSchema pg;

  @Override
  KeyStore newStore() {
    pg = TestDatabases.postgres();
    return Stores.keys(pg.database());
  }

  @AfterEach
  void drop() {
    if (pg != null) {
      pg.close();
    }
  }
}

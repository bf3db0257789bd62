package dev.metalayer.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.TestDatabases;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/** What only PostgreSQL shows of the database itself. */
class PgDatabaseTest {
  @Test
  void instancesStartingAtOnceOnOneDatabaseApplyEachMigrationOnce() throws Exception {
    try (TestDatabases.PgSchema pg = TestDatabases.postgres()) {
      CountDownLatch go = new CountDownLatch(1);
      List<CompletableFuture<Database>> starts = new ArrayList<>();
      List<com.zaxxer.hikari.HikariDataSource> pools = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        com.zaxxer.hikari.HikariDataSource pool = pg.pool(2);
        pools.add(pool);
        starts.add(CompletableFuture.supplyAsync(() -> {
          try {
            go.await();
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
          return Database.open(pool);
        }));
      }
      go.countDown();
      for (CompletableFuture<Database> start : starts) {
        assertThat(start.get().dialect()).isEqualTo(Database.Dialect.POSTGRESQL);
      }
      int applied = pg.database().withConnection(c -> {
        try (var rs = c.createStatement().executeQuery("SELECT COUNT(*) FROM layer_schema_version")) {
          rs.next();
          return rs.getInt(1);
        }
      });
      assertThat(applied).isEqualTo(Database.MIGRATIONS.size());
      pools.forEach(com.zaxxer.hikari.HikariDataSource::close);
    }
  }
}

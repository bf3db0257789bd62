package dev.metalayer.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.keys.KeyStore;
import dev.metalayer.relay.StoreException;
import dev.metalayer.testing.TestDatabases;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Every statement of the stores has a time limit: a row locked elsewhere fails the statement, never hangs it. */
@Timeout(120)
class StatementTimeoutTest {

  @Test
  void aStatementBlockedByAnotherTransactionsLockEndsWithATimeoutOnPostgres() throws Exception {
    try (TestDatabases.PgSchema pg = TestDatabases.postgres()) {
      Database db = Database.open(pg.dataSource(), Duration.ofSeconds(1));
      KeyStore keys = Stores.keys(db);
      assertThat(keys.insertNumber(KeyStoreContract.number("111", "+15550000001", 0))).isTrue();

      try (Connection holder = pg.dataSource().getConnection(); Statement s = holder.createStatement()) {
        holder.setAutoCommit(false);
        s.execute("SELECT * FROM layer_numbers WHERE phone_number_id = '111' FOR UPDATE");
        long started = System.nanoTime();
        // the token change waits for the row lock until its statement timeout cancels it
        assertThatThrownBy(() -> keys.updateToken("111", new byte[] {9}))
            .isInstanceOf(StoreException.class)
            .satisfies(e -> assertThat(sqlState(e)).as("query cancelled (57014)").isEqualTo("57014"));
        System.out.printf("blocked token change ended after %d ms (statement timeout 1 s)%n",
            Duration.ofNanos(System.nanoTime() - started).toMillis());
        holder.rollback();
      }
      // nothing of the cancelled change was kept, and the store works on
      assertThat(keys.findNumber("111").orElseThrow().sealedToken()).containsExactly(1, 2, 3);
      assertThat(keys.updateToken("111", new byte[] {9})).isTrue();
    }
  }

  @Test
  void theTimeoutIsWholeSecondsOfAtLeastOne(@TempDir Path dir) {
    JdbcDataSource ds = new JdbcDataSource();
    ds.setURL("jdbc:h2:file:" + dir.resolve("t") + ";WRITE_DELAY=0");
    ds.setUser("test");
    assertThat(Database.open(ds).statementTimeout()).isEqualTo(Duration.ofSeconds(Database.DEFAULT_STATEMENT_TIMEOUT_SECONDS));
    assertThat(Database.open(ds, Duration.ofMillis(1500)).statementTimeout()).isEqualTo(Duration.ofSeconds(2));
    assertThatThrownBy(() -> Database.open(ds, Duration.ofMillis(999))).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least 1 second");
  }

  private static String sqlState(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException s) {
        return s.getSQLState();
      }
    }
    return null;
  }
}

package dev.metalayer.keys;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.keys.KeyService.CreatedKey;
import dev.metalayer.store.Database;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.TestDatabases;
import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * What a presented key costs the database, counted on the real PostgreSQL through a DataSource that
 * records every statement the layer prepares: a cold key is one read and no write; its last use is
 * written later, by the flush, in one batched statement.
 */
class KeyResolutionCostTest {
  private static final String PNID = "106540352242922";
  private final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");

  @Test
  void aColdKeyCostsOneReadAndNoWriteAndItsLastUseIsWrittenByTheFlush() {
    try (TestDatabases.PgSchema pg = TestDatabases.postgres()) {
      Counting counting = new Counting(pg.dataSource());
      KeyStore store = Stores.keys(Database.open(counting));
      KeyService keys = new KeyService(store, new TokenCipher(new byte[32], new SecureRandom()), clock,
          new SecureRandom(), Duration.ofSeconds(30));
      keys.addNumber("+15550783881", PNID, "102290129340398", "555", "EAAG-token");
      CreatedKey created = keys.createKey(PNID).orElseThrow();
      Instant firstUse = clock.instant();

      counting.statements.clear();
      assertThat(keys.resolve(created.key())).isInstanceOf(Resolution.Granted.class);
      assertThat(counting.statements).as("a cold key: one read, no write").singleElement()
          .satisfies(sql -> assertThat(sql).startsWith("SELECT").contains("JOIN"));

      counting.statements.clear();
      clock.advance(Duration.ofSeconds(10));
      assertThat(keys.resolve(created.key())).isInstanceOf(Resolution.Granted.class);
      assertThat(counting.statements).as("a cached key: nothing").isEmpty();

      clock.advance(Duration.ofSeconds(61)); // past the cache and past the minute between recorded uses
      Instant secondUse = clock.instant();
      assertThat(keys.resolve(created.key())).isInstanceOf(Resolution.Granted.class);
      assertThat(counting.statements).as("cold again: one read, no write").singleElement()
          .satisfies(sql -> assertThat(sql).startsWith("SELECT"));
      assertThat(store.listKeys().get(0).lastUsedAt()).as("not written yet").isEmpty();
      assertThat(keys.listKeys().get(0).lastUsedAt()).as("this instance shows its own use").contains(secondUse);

      counting.statements.clear();
      keys.flushTouches();
      assertThat(counting.statements).as("the flush: one batched update").singleElement()
          .satisfies(sql -> assertThat(sql).startsWith("UPDATE layer_keys SET last_used_at"));
      assertThat(store.listKeys().get(0).lastUsedAt()).contains(secondUse).isNotEqualTo(firstUse);

      counting.statements.clear();
      keys.flushTouches();
      assertThat(counting.statements).as("nothing recorded since: nothing written").isEmpty();
    }
  }

  @Test
  void closingTheServiceWritesTheUsesItRecorded() {
    try (TestDatabases.PgSchema pg = TestDatabases.postgres()) {
      KeyStore store = Stores.keys(pg.database());
      KeyService keys = new KeyService(store, new TokenCipher(new byte[32], new SecureRandom()), clock,
          new SecureRandom(), Duration.ofSeconds(30));
      keys.start();
      keys.addNumber("+15550783881", PNID, "102290129340398", "555", "EAAG-token");
      CreatedKey created = keys.createKey(PNID).orElseThrow();
      keys.resolve(created.key());
      keys.close();
      assertThat(store.listKeys().get(0).lastUsedAt()).contains(clock.instant());
    }
  }

  /** A DataSource that records the SQL of every statement prepared on its connections. */
  private static final class Counting implements DataSource {
    final List<String> statements = new CopyOnWriteArrayList<>();
    private final DataSource real;

    Counting(DataSource real) {
      this.real = real;
    }

    @Override
    public Connection getConnection() throws SQLException {
      return counted(real.getConnection());
    }

    @Override
    public Connection getConnection(String user, String password) throws SQLException {
      return counted(real.getConnection(user, password));
    }

    private Connection counted(Connection c) {
      return (Connection) Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
          (proxy, method, args) -> {
            if (method.getName().equals("prepareStatement") || method.getName().equals("createStatement")) {
              statements.add(args == null ? "(a statement)" : ((String) args[0]).strip());
            }
            try {
              return method.invoke(c, args);
            } catch (InvocationTargetException e) {
              throw e.getCause();
            }
          });
    }

    @Override
    public PrintWriter getLogWriter() throws SQLException {
      return real.getLogWriter();
    }

    @Override
    public void setLogWriter(PrintWriter out) throws SQLException {
      real.setLogWriter(out);
    }

    @Override
    public void setLoginTimeout(int seconds) throws SQLException {
      real.setLoginTimeout(seconds);
    }

    @Override
    public int getLoginTimeout() throws SQLException {
      return real.getLoginTimeout();
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
      return real.getParentLogger();
    }

    @Override
    public <T> T unwrap(Class<T> iface) throws SQLException {
      return real.unwrap(iface);
    }

    @Override
    public boolean isWrapperFor(Class<?> iface) {
      return false;
    }
  }
}

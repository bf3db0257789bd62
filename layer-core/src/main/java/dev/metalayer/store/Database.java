package dev.metalayer.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A JDBC database of the layer: a {@link DataSource} (pooled by the caller), its dialect, and the
 * versioned schema migrations, applied in order at {@link #open}. Works on H2 (the embedded default)
 * and PostgreSQL. Thread-safe.
 *
 * <p>Migrations live as resources {@code dev/metalayer/store/migrations/V<n>__<name>.sql}, listed in
 * {@link #MIGRATIONS}; each runs once, in its own transaction, recorded in {@code layer_schema_version}.
 */
public final class Database {
  private static final Logger log = LoggerFactory.getLogger(Database.class);

  /** Every migration, in order. Append only: a released migration is never edited. */
  static final List<String> MIGRATIONS = List.of("V1__numbers_and_keys.sql", "V2__relay.sql", "V3__retention.sql", "V4__claim_order.sql",
      "V6__fair_claim_and_deferred_routing.sql", "V7__master_key_check.sql",
      "V10__key_changes.sql");

  /** The SQL dialects the layer knows. */
  enum Dialect {
    H2,
    POSTGRESQL
  }

  private final DataSource dataSource;
  private final Dialect dialect;

  private Database(DataSource dataSource, Dialect dialect) {
    this.dataSource = dataSource;
    this.dialect = dialect;
  }

  /** Detects the dialect and brings the schema up to date. */
  public static Database open(DataSource dataSource) {
    Objects.requireNonNull(dataSource, "dataSource");
    Dialect dialect;
    try (Connection c = dataSource.getConnection()) {
      String product = c.getMetaData().getDatabaseProductName().toLowerCase(Locale.ROOT);
      if (product.contains("h2")) {
        dialect = Dialect.H2;
      } else if (product.contains("postgres")) {
        dialect = Dialect.POSTGRESQL;
      } else {
        throw new IllegalArgumentException("unsupported database: " + product);
      }
    } catch (SQLException e) {
      throw Sql.failed("cannot connect to the database", e);
    }
    Database db = new Database(dataSource, dialect);
    db.migrate();
    return db;
  }

  Dialect dialect() {
    return dialect;
  }

  /** Work done with one connection. */
  @FunctionalInterface
  public interface SqlWork<T> {
    T run(Connection connection) throws SQLException;
  }

  /** Runs {@code work} on a connection in auto-commit mode. */
  public <T> T withConnection(SqlWork<T> work) {
    try (Connection c = dataSource.getConnection()) {
      return work.run(c);
    } catch (SQLException e) {
      throw Sql.failed("database operation failed", e);
    }
  }

  /** Runs {@code work} in one transaction: committed when it returns, rolled back when it throws. */
  <T> T inTransaction(SqlWork<T> work) {
    try (Connection c = dataSource.getConnection()) {
      boolean autoCommit = c.getAutoCommit();
      c.setAutoCommit(false);
      try {
        T result = work.run(c);
        c.commit();
        return result;
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      } finally {
        c.setAutoCommit(autoCommit);
      }
    } catch (SQLException e) {
      throw Sql.failed("database transaction failed", e);
    }
  }

  /** Whether the database answers a trivial query. Never throws. */
  public boolean ping() {
    try {
      new Sql(this).execute("SELECT 1");
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  private void migrate() {
    Sql sql = new Sql(this);
    sql.inTransaction(tx -> {
      lockMigrations(tx);
      tx.execute("CREATE TABLE IF NOT EXISTS layer_schema_version ("
          + "version INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL, applied_at BIGINT NOT NULL)");
      return null;
    });
    int previous = 0;
    for (String name : MIGRATIONS) {
      // versions rise; a gap is allowed (numbers are handed out before the branches that use them merge)
      int version = versionOf(name);
      if (version <= previous) {
        throw new IllegalStateException("migration " + name + " is out of order");
      }
      previous = version;
      sql.inTransaction(tx -> {
        lockMigrations(tx);
        if (tx.exists("SELECT 1 FROM layer_schema_version WHERE version = ?", version)) {
          return null;
        }
        for (String statement : statements(read(name))) {
          tx.execute(statement);
        }
        tx.update("INSERT INTO layer_schema_version (version, name, applied_at) VALUES (?, ?, ?)", version, name,
            System.currentTimeMillis());
        log.info("Applied schema migration {}", name);
        return null;
      });
    }
  }

  /**
   * On PostgreSQL, several instances may start at once on one database: each migration's transaction
   * first takes a transaction-scoped advisory lock, so one instance applies it and the others wait, then
   * find it applied. (H2's file is open in one process only.)
   */
  private void lockMigrations(Sql tx) {
    if (dialect == Dialect.POSTGRESQL) {
      tx.execute("SELECT pg_advisory_xact_lock(" + MIGRATION_LOCK + ")");
    }
  }

  /** The advisory lock key of the migrations ("metalayr" in ASCII). */
  static final long MIGRATION_LOCK = 0x6d6574616c617972L;

  private static int versionOf(String name) {
    int end = name.indexOf("__");
    if (!name.startsWith("V") || end < 2) {
      throw new IllegalStateException("migration " + name + " is not named V<n>__<name>.sql");
    }
    return Integer.parseInt(name.substring(1, end));
  }

  private static String read(String name) {
    String resource = "migrations/" + name;
    try (InputStream in = Database.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("missing migration resource " + resource);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Splits a script on semicolons that end a line; {@code --} comment lines are dropped. */
  static List<String> statements(String script) {
    List<String> out = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    for (String line : script.split("\n")) {
      String trimmed = line.strip();
      if (trimmed.isEmpty() || trimmed.startsWith("--")) {
        continue;
      }
      current.append(line).append('\n');
      if (trimmed.endsWith(";")) {
        String sql = current.toString().strip();
        out.add(sql.substring(0, sql.length() - 1));
        current.setLength(0);
      }
    }
    if (!current.toString().isBlank()) {
      out.add(current.toString().strip());
    }
    return out;
  }
}

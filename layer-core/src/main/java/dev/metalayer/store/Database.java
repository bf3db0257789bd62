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
 *
 * <p>Every statement the stores run ends after at most the {@linkplain #statementTimeout statement
 * timeout} ({@value #DEFAULT_STATEMENT_TIMEOUT_SECONDS} s unless opened with another): a row locked by
 * another transaction, or an overloaded database, fails the statement (a
 * {@link dev.metalayer.relay.StoreException}, SQL state {@code 57014}) instead of holding its thread. The
 * migrations alone run without one.
 */
public final class Database {
  private static final Logger log = LoggerFactory.getLogger(Database.class);

  /** Every migration, in order. Append only: a released migration is never edited. */
  static final List<String> MIGRATIONS = List.of("V1__numbers_and_keys.sql", "V2__relay.sql", "V3__retention.sql", "V4__claim_order.sql",
      "V6__fair_claim_and_deferred_routing.sql", "V7__master_key_check.sql",
      "V8__claim_tokens_and_instances.sql", "V9__shared_bodies_and_paused.sql", "V10__key_changes.sql",
      "V11__call_records.sql", "V12__call_order.sql", "V13__key_scopes.sql",
      "V14__request_ids.sql",
      "V15__key_rate_limits.sql",
      "V16__number_webhooks.sql");

  /** The SQL dialects the layer knows. */
  enum Dialect {
    H2,
    POSTGRESQL
  }

  /** The statement timeout of {@link #open(DataSource)}. */
  public static final int DEFAULT_STATEMENT_TIMEOUT_SECONDS = 5;
  /** How long {@link #ping} waits for its answer. */
  static final java.time.Duration PING_TIMEOUT = java.time.Duration.ofSeconds(2);

  private final DataSource dataSource;
  private final DataSource listenerSource;
  private final Dialect dialect;
  private final int statementTimeoutSeconds;
  /** Runs {@link #ping}'s query, so that the caller waits at most {@link #PING_TIMEOUT}; its thread ends when idle. */
  private final java.util.concurrent.ThreadPoolExecutor pinger;
  /** The last ping's query; while it still runs (a hung connection), the database does not answer. */
  private java.util.concurrent.Future<Boolean> lastPing;

  private Database(DataSource dataSource, DataSource listenerSource, Dialect dialect, int statementTimeoutSeconds) {
    this.dataSource = dataSource;
    this.listenerSource = listenerSource;
    this.dialect = dialect;
    this.statementTimeoutSeconds = statementTimeoutSeconds;
    this.pinger = new java.util.concurrent.ThreadPoolExecutor(1, 1, 10, java.util.concurrent.TimeUnit.SECONDS,
        new java.util.concurrent.LinkedBlockingQueue<>(), r -> {
          Thread t = new Thread(r, "layer-db-ping");
          t.setDaemon(true);
          return t;
        });
    pinger.allowCoreThreadTimeOut(true);
  }

  /**
   * Detects the dialect and brings the schema up to date; statements time out after
   * {@value #DEFAULT_STATEMENT_TIMEOUT_SECONDS} seconds. On PostgreSQL, each running relay's wake-up
   * listener holds one connection of {@code dataSource} for as long as it runs: count it in the pool's
   * size, or give it a source of its own with {@link #open(DataSource, DataSource, java.time.Duration)}.
   */
  public static Database open(DataSource dataSource) {
    return open(dataSource, dataSource, java.time.Duration.ofSeconds(DEFAULT_STATEMENT_TIMEOUT_SECONDS));
  }

  /** As {@link #open(DataSource)}, with another statement timeout (see {@link #open(DataSource, DataSource, java.time.Duration)}). */
  public static Database open(DataSource dataSource, java.time.Duration statementTimeout) {
    return open(dataSource, dataSource, statementTimeout);
  }

  /**
   * Detects the dialect and brings the schema up to date.
   *
   * @param listenerSource where a relay on PostgreSQL opens the one long-lived connection on which it
   *     listens for the other instances' wake-ups (LISTEN/NOTIFY), so that it holds no slot of the pool:
   *     an unpooled data source on the same database and schema (or {@code dataSource} itself)
   * @param statementTimeout how long any one statement of the stores may run before it is cancelled and
   *     fails: whole seconds (a fraction counts as a whole second), at least 1 second
   * @throws IllegalArgumentException when {@code statementTimeout} is under 1 second
   */
  public static Database open(DataSource dataSource, DataSource listenerSource, java.time.Duration statementTimeout) {
    Objects.requireNonNull(dataSource, "dataSource");
    Objects.requireNonNull(listenerSource, "listenerSource");
    Objects.requireNonNull(statementTimeout, "statementTimeout");
    if (statementTimeout.compareTo(java.time.Duration.ofSeconds(1)) < 0) {
      throw new IllegalArgumentException("the statement timeout must be at least 1 second, not " + statementTimeout);
    }
    long seconds = statementTimeout.toSeconds() + (statementTimeout.getNano() > 0 ? 1 : 0);
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
    Database db = new Database(dataSource, listenerSource, dialect, (int) Math.min(Integer.MAX_VALUE, seconds));
    db.migrate();
    return db;
  }

  Dialect dialect() {
    return dialect;
  }

  /** A connection for a long-lived listener (see {@link #open(DataSource, DataSource, java.time.Duration)}); the caller closes it. */
  Connection listenerConnection() throws SQLException {
    return listenerSource.getConnection();
  }

  /** How long any one statement of the stores may run before it is cancelled and fails. */
  public java.time.Duration statementTimeout() {
    return java.time.Duration.ofSeconds(statementTimeoutSeconds);
  }

  int statementTimeoutSeconds() {
    return statementTimeoutSeconds;
  }

  /** Work done with one connection. */
  @FunctionalInterface
  public interface SqlWork<T> {
    T run(Connection connection) throws SQLException;
  }

  /**
   * Runs {@code work} on a connection in auto-commit mode. On PostgreSQL the connection's reads are bounded
   * ({@link #bound}); the statements of {@code work} set their own query timeout.
   */
  public <T> T withConnection(SqlWork<T> work) {
    return withConnection(statementTimeoutSeconds, work);
  }

  <T> T withConnection(int timeoutSeconds, SqlWork<T> work) {
    try (Connection c = dataSource.getConnection()) {
      bound(c, timeoutSeconds);
      return work.run(c);
    } catch (SQLException e) {
      throw Sql.failed("database operation failed", e);
    }
  }

  /** Runs {@code work} in one transaction: committed when it returns, rolled back when it throws. */
  <T> T inTransaction(SqlWork<T> work) {
    return inTransaction(statementTimeoutSeconds, work);
  }

  /** Time a silent connection gets past the statement timeout, so that the server's own cancel comes first. */
  private static final int NETWORK_GRACE_SECONDS = 5;

  /**
   * On PostgreSQL, bounds how long any read of {@code c} waits ({@link Connection#setNetworkTimeout}): a
   * statement's query timeout is enforced by a cancel request to the server, which cannot arrive when the
   * server or the network went silent, so the socket gives up too, {@value #NETWORK_GRACE_SECONDS} s
   * after the statement timeout. {@code timeoutSeconds} 0 (the migrations) waits without bound. A pool
   * gives back the connection's own setting when the connection returns to it.
   */
  private void bound(Connection c, int timeoutSeconds) throws SQLException {
    if (dialect == Dialect.POSTGRESQL) {
      c.setNetworkTimeout(Runnable::run, timeoutSeconds == 0 ? 0 : (timeoutSeconds + NETWORK_GRACE_SECONDS) * 1000);
    }
  }

  <T> T inTransaction(int timeoutSeconds, SqlWork<T> work) {
    try (Connection c = dataSource.getConnection()) {
      bound(c, timeoutSeconds);
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

  /**
   * Whether the database answers a trivial query within {@link #PING_TIMEOUT} (2 seconds), however it
   * fails: a refused or hung connection, a database that does not answer. The caller waits no longer than
   * that; while an earlier ping still waits for its answer, this one is false at once. Never throws.
   */
  public boolean ping() {
    java.util.concurrent.Future<Boolean> ping;
    synchronized (this) {
      if (lastPing != null && !lastPing.isDone()) {
        return false;
      }
      try {
        ping = pinger.submit(this::pingNow);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        return false;
      }
      lastPing = ping;
    }
    try {
      return ping.get(PING_TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      return false;
    }
  }

  private boolean pingNow() {
    int seconds = (int) PING_TIMEOUT.toSeconds();
    try {
      return withConnection(seconds, c -> {
        try (java.sql.Statement s = c.createStatement()) {
          s.setQueryTimeout(seconds);
          s.execute("SELECT 1");
        }
        return true;
      });
    } catch (RuntimeException e) {
      return false;
    }
  }

  private void migrate() {
    Sql sql = Sql.untimed(this);
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

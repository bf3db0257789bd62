package dev.metalayer.testing;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.metalayer.store.Database;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.Assumptions;

/**
 * Real databases for tests: H2 files (one per test directory) and PostgreSQL schemas (one per test,
 * dropped at close), migrated on open.
 *
 * <p>PostgreSQL is the server at {@link #PG_URL} ({@code LAYER_TEST_PG_URL}, default
 * {@code jdbc:postgresql://127.0.0.1:5432/test}, user {@code LAYER_TEST_PG_USER}, default
 * {@code postgres}). When it cannot be reached, a PostgreSQL test is skipped with one line on stderr
 * saying why; under {@code CI=true} it fails instead: CI must run them.
 */
public final class TestDatabases {
  public static final String PG_URL = env("LAYER_TEST_PG_URL", "jdbc:postgresql://127.0.0.1:5432/test");
  public static final String PG_USER = env("LAYER_TEST_PG_USER", "postgres");
  public static final String PG_PASSWORD = env("LAYER_TEST_PG_PASSWORD", "");
  private static final AtomicBoolean SAID = new AtomicBoolean();

  private TestDatabases() {}

  public static Database h2File(Path dir) {
    JdbcDataSource ds = new JdbcDataSource();
    ds.setURL("jdbc:h2:file:" + dir.toAbsolutePath().resolve("test") + ";WRITE_DELAY=0");
    ds.setUser("test");
    return Database.open(ds);
  }

  /**
   * A fresh, empty PostgreSQL schema of its own, reached through a small pool whose connections use it.
   * Close it to drop the schema. Skips (or, under CI, fails) the calling test when PostgreSQL is down.
   */
  public static PgSchema postgres() {
    requirePostgres();
    String schema = "t_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
    exec("CREATE SCHEMA " + schema);
    return new PgSchema(schema);
  }

  /** Skips the calling test, with one line on stderr, when PostgreSQL is unreachable; fails under CI. */
  public static void requirePostgres() {
    String why = unreachable();
    if (why == null) {
      return;
    }
    String line = "PostgreSQL tests skipped: " + PG_URL + " is unreachable (" + why + ")."
        + " Start it (pg_ctlcluster --skip-systemctl-redirect 15 main start) or set LAYER_TEST_PG_URL.";
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      throw new AssertionError("CI=true requires PostgreSQL: " + line);
    }
    if (SAID.compareAndSet(false, true)) {
      // to the test JVM's own stderr, which Maven shows (System.err goes to the report files)
      java.io.PrintStream console = new java.io.PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.err), true,
          java.nio.charset.StandardCharsets.UTF_8);
      console.println(line);
      System.err.println(line);
    }
    Assumptions.abort(line);
  }

  private static volatile String unreachable;
  private static volatile boolean probed;

  private static String unreachable() {
    if (!probed) {
      synchronized (TestDatabases.class) {
        if (!probed) {
          try (Connection c = DriverManager.getConnection(PG_URL + sep(PG_URL) + "connectTimeout=3", PG_USER, PG_PASSWORD)) {
            unreachable = null;
          } catch (SQLException e) {
            unreachable = e.getMessage();
          }
          probed = true;
        }
      }
    }
    return unreachable;
  }

  /** Runs one statement on the PostgreSQL test database (not in a test schema). */
  public static void exec(String sql) {
    try (Connection c = DriverManager.getConnection(PG_URL, PG_USER, PG_PASSWORD); Statement s = c.createStatement()) {
      s.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException(sql + ": " + e.getMessage(), e);
    }
  }

  static String sep(String url) {
    return url.contains("?") ? "&" : "?";
  }

  /** One test's PostgreSQL schema and its pool. */
  public static final class PgSchema implements AutoCloseable {
    private final String schema;
    private final HikariDataSource pool;
    private Database database;

    PgSchema(String schema) {
      this.schema = schema;
      this.pool = pool(16);
    }

    /** The JDBC URL whose connections use this schema (for a layer process of its own). */
    public String url() {
      return PG_URL + sep(PG_URL) + "currentSchema=" + schema;
    }

    public String schema() {
      return schema;
    }

    /** A new pool of at most {@code size} connections on this schema (closed by the caller). */
    public HikariDataSource pool(int size) {
      HikariConfig config = new HikariConfig();
      config.setJdbcUrl(url());
      config.setUsername(PG_USER);
      config.setPassword(PG_PASSWORD);
      config.setMaximumPoolSize(size);
      config.setMinimumIdle(0);
      config.setPoolName("test-" + schema.toLowerCase(Locale.ROOT));
      return new HikariDataSource(config);
    }

    public HikariDataSource dataSource() {
      return pool;
    }

    /** The schema as a layer database, migrated on first use. */
    public synchronized Database database() {
      if (database == null) {
        database = Database.open(pool);
      }
      return database;
    }

    @Override
    public void close() {
      pool.close();
      exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    }
  }

  private static String env(String name, String fallback) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? fallback : v;
  }
}

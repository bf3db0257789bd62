package dev.metalayer.jetty;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.pool.HikariPool;
import dev.metalayer.store.Database;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import org.postgresql.Driver;

/**
 * The layer on PostgreSQL ({@code LAYER_DB_URL=jdbc:postgresql://…}): a HikariCP pool named
 * {@value #POOL_NAME} of {@code LAYER_DB_POOL_SIZE} connections, whose statements the core ends after
 * {@code LAYER_DB_STATEMENT_TIMEOUT}; a caller waits at most
 * {@code LAYER_DB_CONNECT_TIMEOUT} for a connection, and a connection is checked before it is handed
 * out when it sat idle, so the pool recovers by itself after the database comes back.
 *
 * <p>Several layer instances may share the database: none is the sole deliverer, and they share the
 * relay's work through the store's claims. The schema migrations run at start, each under an advisory
 * lock (see {@link Database}), on a connection of their own without the statement timeout: a schema
 * change on a large table may take longer than a request's statement. Each relay listens for the other
 * instances' wake-ups on one more connection, outside the pool.
 *
 * <p>At start the database is tried for {@code LAYER_DB_CONNECT_TIMEOUT} (a layer started beside its
 * database waits for it that long), then the start is refused with one line naming the host, the port
 * and the reason; the password is never in it.
 */
final class PgStore implements LayerStore {
  /** The pool's name, as HikariCP's own log lines and metrics show it. */
  static final String POOL_NAME = "layer-db";

  /** How the layer shows in PostgreSQL's {@code pg_stat_activity}. */
  static final String APPLICATION_NAME = "meta-layer";

  /**
   * The size of the relay's tables on PostgreSQL for the admin API: their bytes with indexes and TOAST
   * ({@code pg_total_relation_size}) for every {@code layer_} table of the schema, and the rows kept.
   */
  record Size(long totalBytes, Map<String, Long> tableBytes, long deliveries, long envelopes)
      implements LayerStore.Size {}

  private final HikariDataSource pool;
  private final Database database;
  private final String where;

  private PgStore(HikariDataSource pool, Database database, String where) {
    this.pool = pool;
    this.database = database;
    this.where = where;
  }

  @Override
  public void meter(dev.metalayer.metrics.LayerMetrics metrics) {
    // the pool's own figures (HikariCP's MXBean reads them without a lock)
    metrics.storeConnections("active", pool, p -> p.getHikariPoolMXBean() == null ? 0 : p.getHikariPoolMXBean().getActiveConnections());
    metrics.storeConnections("idle", pool, p -> p.getHikariPoolMXBean() == null ? 0 : p.getHikariPoolMXBean().getIdleConnections());
    metrics.storeConnections("pending", pool,
        p -> p.getHikariPoolMXBean() == null ? 0 : p.getHikariPoolMXBean().getThreadsAwaitingConnection());
    metrics.storeConnections("max", pool, HikariDataSource::getMaximumPoolSize);
  }

  static boolean isPostgres(String url) {
    return url.toLowerCase(Locale.ROOT).startsWith("jdbc:postgresql:");
  }

  /**
   * Opens the pool, migrates the schema and checks the database answers.
   *
   * @throws ConfigError when the database cannot be reached within {@code LAYER_DB_CONNECT_TIMEOUT}, or
   *     refuses the user: one line naming the host and port and the reason, never the password
   */
  static PgStore open(Settings settings) {
    String url = settings.string(Option.DB_URL);
    String where = where(url);
    Duration connectTimeout = settings.duration(Option.DB_CONNECT_TIMEOUT);
    awaitDatabase(settings, url, where, connectTimeout);
    // the migrations first, on one connection without the statement timeout
    try (HikariDataSource migrations = pool(settings, url, 1, POOL_NAME + "-migrations")) {
      Database.open(migrations);
    } catch (RuntimeException e) {
      throw unreachable(settings, where, connectTimeout, e);
    }
    HikariDataSource pool = null;
    try {
      pool = pool(settings, url, settings.integer(Option.DB_POOL_SIZE), POOL_NAME);
      return new PgStore(pool, Database.open(pool, listenerSource(settings, url),
          settings.duration(Option.DB_STATEMENT_TIMEOUT)), where);
    } catch (RuntimeException e) {
      if (pool != null) {
        pool.close();
      }
      throw unreachable(settings, where, connectTimeout, e);
    }
  }

  /**
   * Connects with the driver alone until the database answers, for at most {@code connectTimeout}; a
   * refused login or a missing database ends the wait at once. (HikariCP's own start-up check would log
   * a stack trace; this way the start fails in the one line of {@link #unreachable}.)
   */
  private static void awaitDatabase(Settings settings, String url, String where, Duration connectTimeout) {
    long deadline = System.nanoTime() + connectTimeout.toNanos();
    Properties login = new Properties();
    settings.get(Option.DB_USER).ifPresent(u -> login.setProperty("user", u));
    settings.get(Option.DB_PASSWORD).ifPresent(p -> login.setProperty("password", p));
    login.setProperty("connectTimeout", Long.toString(Math.max(1, connectTimeout.toSeconds())));
    login.setProperty("loginTimeout", Long.toString(Math.max(1, connectTimeout.toSeconds())));
    login.setProperty("ApplicationName", APPLICATION_NAME);
    Driver driver = new Driver();
    while (true) {
      try (Connection c = driver.connect(url, login)) {
        return;
      } catch (SQLException e) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        // 08: no connection (refused, unknown host, timed out); 57P03: the server is starting up
        boolean transient_ = state.startsWith("08") || state.equals("57P03");
        if (!transient_ || System.nanoTime() - deadline >= 0) {
          throw unreachable(settings, where, connectTimeout, new IllegalStateException(e.getMessage(), e));
        }
      }
      try {
        Thread.sleep(Math.max(1, Math.min(500, (deadline - System.nanoTime()) / 1_000_000)));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw unreachable(settings, where, connectTimeout, new IllegalStateException("interrupted", e));
      }
    }
  }

  /**
   * Where a relay opens its one long-lived connection that listens for the other instances' wake-ups
   * (LISTEN/NOTIFY): unpooled, so that it holds no slot of the pool (nor trips its leak detection).
   */
  private static javax.sql.DataSource listenerSource(Settings settings, String url) {
    org.postgresql.ds.PGSimpleDataSource ds = new org.postgresql.ds.PGSimpleDataSource();
    ds.setUrl(url);
    settings.get(Option.DB_USER).ifPresent(ds::setUser);
    settings.get(Option.DB_PASSWORD).ifPresent(ds::setPassword);
    int connectSeconds = (int) Math.max(1, settings.duration(Option.DB_CONNECT_TIMEOUT).toSeconds());
    ds.setConnectTimeout(connectSeconds);
    ds.setLoginTimeout(connectSeconds);
    ds.setTcpKeepAlive(true);
    ds.setApplicationName(APPLICATION_NAME);
    return ds;
  }

  /**
   * A pool on {@code url}: the user and password of the settings and the timeouts. (Each statement's
   * time limit is the core's, {@code Database.open}: one rule for both stores.)
   */
  private static HikariDataSource pool(Settings settings, String url, int size, String name) {
    Duration connectTimeout = settings.duration(Option.DB_CONNECT_TIMEOUT);
    HikariConfig config = new HikariConfig();
    config.setPoolName(name);
    config.setJdbcUrl(url);
    settings.get(Option.DB_USER).ifPresent(config::setUsername);
    settings.get(Option.DB_PASSWORD).ifPresent(config::setPassword);
    config.setMaximumPoolSize(size);
    config.setMinimumIdle(Math.min(size, 2));
    // how long a caller waits for a connection
    config.setConnectionTimeout(connectTimeout.toMillis());
    // not checked by the pool at start: awaitDatabase did, and HikariCP's check would log a stack trace
    config.setInitializationFailTimeout(-1);
    config.setValidationTimeout(Math.max(250, Math.min(5_000, connectTimeout.toMillis() / 2)));
    // the driver's own timeouts: opening a socket, and logging in (whole seconds, at least 1)
    long connectSeconds = Math.max(1, connectTimeout.toSeconds());
    config.addDataSourceProperty("connectTimeout", Long.toString(connectSeconds));
    config.addDataSourceProperty("loginTimeout", Long.toString(connectSeconds));
    config.addDataSourceProperty("tcpKeepAlive", "true");
    config.addDataSourceProperty("ApplicationName", APPLICATION_NAME);
    return new HikariDataSource(config);
  }

  /**
   * {@code host:port/database} of a PostgreSQL URL (the first host of a list), for messages; the URL
   * itself is never shown.
   */
  static String where(String url) {
    Properties p = Driver.parseURL(url, null);
    if (p == null) {
      return "the PostgreSQL database of LAYER_DB_URL";
    }
    String host = first(p.getProperty("PGHOST", "localhost"));
    String port = first(p.getProperty("PGPORT", "5432"));
    return host + ":" + port + "/" + p.getProperty("PGDBNAME", "");
  }

  private static String first(String list) {
    int comma = list.indexOf(',');
    return comma < 0 ? list : list.substring(0, comma);
  }

  /** The one line when the database cannot be used at start. */
  private static ConfigError unreachable(Settings settings, String where, Duration waited, RuntimeException e) {
    SQLException sql = find(e, SQLException.class).orElse(null);
    String state = sql == null || sql.getSQLState() == null ? "" : sql.getSQLState();
    String password = settings.get(Option.DB_PASSWORD).orElse(null);
    if (state.startsWith("28")) {
      // 28P01 wrong password, 28000 no pg_hba.conf entry or no such role
      return settings.error(settings.get(Option.DB_USER).isPresent() ? Option.DB_USER : Option.DB_URL,
          "the database at " + where + " refused the login (" + reason(sql, password) + ")",
          "check " + settings.writtenAs(Option.DB_USER) + " and LAYER_DB_PASSWORD, and that pg_hba.conf lets this"
              + " host in", e);
    }
    if (state.equals("3F000")) {
      // currentSchema= names a schema that does not exist: PostgreSQL says only "no schema has been selected"
      return settings.error(Option.DB_URL, "the schema the layer's tables go into does not exist in the database at "
              + where + " (" + reason(sql, password) + ")",
          "create it (CREATE SCHEMA …, owned by or granted to the layer's user), or name an existing one with"
              + " currentSchema= in " + settings.writtenAs(Option.DB_URL), e);
    }
    if (state.equals("3D000")) {
      return settings.error(Option.DB_URL, "the database at " + where + " does not exist",
          "create it (createdb), or name an existing one in " + settings.writtenAs(Option.DB_URL), e);
    }
    if (state.startsWith("08") || find(e, java.io.IOException.class).isPresent()
        || find(e, HikariPool.PoolInitializationException.class).isPresent() || sql == null) {
      String why = find(e, UnknownHostException.class).map(u -> "unknown host")
          .or(() -> find(e, ConnectException.class).map(c -> "connection refused"))
          .or(() -> find(e, NoRouteToHostException.class).map(c -> "no route to host"))
          .or(() -> find(e, SocketTimeoutException.class).map(c -> "no answer"))
          .orElseGet(() -> reason(sql != null ? sql : e, password));
      return settings.error(Option.DB_URL, "cannot reach the database at " + where + " (" + why + ", tried for "
              + seconds(waited) + ")",
          "check that PostgreSQL runs there and accepts connections from this host, or raise "
              + Option.DB_CONNECT_TIMEOUT.env() + " to wait longer", e);
    }
    return settings.error(Option.DB_URL, "cannot use the database at " + where + " (" + reason(sql, password) + ")",
        "check that the user may create tables in its schema", e);
  }

  private static String seconds(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }

  /** The first line of the deepest message, with the password blotted out should a server ever echo it. */
  private static String reason(Throwable t, String password) {
    Throwable root = t;
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c.getMessage() != null) {
        root = c;
      }
    }
    String line = String.valueOf(root.getMessage()).lines().findFirst().orElse(root.getClass().getSimpleName());
    if (password != null && !password.isEmpty()) {
      line = line.replace(password, "***");
    }
    return line.strip();
  }

  private static <T extends Throwable> Optional<T> find(Throwable t, Class<T> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return Optional.of(type.cast(c));
      }
      if (c.getCause() == c) {
        break;
      }
    }
    return Optional.empty();
  }

  @Override
  public Database database() {
    return database;
  }

  /** Several instances may deliver from one PostgreSQL database: none is the only one. */
  @Override
  public boolean soleDeliverer() {
    return false;
  }

  @Override
  public String where() {
    return "the database at " + where;
  }

  /** Nothing to do: PostgreSQL's autovacuum reclaims the space of purged rows. */
  @Override
  public void startMaintenance() {}

  @Override
  public Size size() {
    return database.withConnection(c -> {
      Map<String, Long> tables = new LinkedHashMap<>();
      long total = 0;
      try (Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
              + " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
              + " AND c.relkind = 'r' AND c.relname LIKE 'layer\\_%' ORDER BY c.relname")) {
        while (rs.next()) {
          tables.put(rs.getString(1), rs.getLong(2));
          total += rs.getLong(2);
        }
      }
      return new Size(total, java.util.Collections.unmodifiableMap(tables), count(c, "layer_deliveries"), count(c, "layer_envelopes"));
    });
  }

  private static long count(Connection c, String table) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM " + table)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  @Override
  public void close() {
    pool.close();
  }
}

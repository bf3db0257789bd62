package dev.metalayer.jetty;

import dev.metalayer.store.Database;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.h2.api.ErrorCode;
import org.h2.engine.SessionLocal;
import org.h2.jdbc.JdbcConnection;
import org.h2.jdbcx.JdbcConnectionPool;
import org.h2.mvstore.MVStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded default store: an H2 file database {@code metalayer.mv.db} in the data directory, open
 * in this process only.
 *
 * <p>No network port: the file is opened without {@code AUTO_SERVER}, so H2 listens nowhere, and a
 * second process that tries to open the file while a layer runs is refused ({@link InUse}); the CLI
 * then goes through the admin API instead. {@code WRITE_DELAY=0} writes each commit to the file before
 * the commit returns, so that what was acknowledged survives a {@code kill -9} of the process;
 * {@code DB_CLOSE_ON_EXIT=FALSE} leaves closing to {@link #close()}, after the layer's workers stopped.
 *
 * <p>Bounded file: H2's MVStore appends a new chunk for every commit and rewrites sparse chunks only from
 * its background writer, which {@code WRITE_DELAY=0} turns off; alone, the file grows by every commit's
 * chunk (tens of kilobytes per delivery) and never stops growing. So this store rewrites sparse chunks
 * itself, every {@value #COMPACT_EVERY_SECONDS} s on its own thread ({@code layer-store-compaction}), at
 * most {@value #REWRITE_BYTES} bytes per pass: their live rows move to new chunks, and the space of a
 * chunk left empty is reused by later commits once {@value #RETENTION_MS} ms have passed. The file grows
 * to what is live plus what a few seconds of traffic write, and then stays there; it is not truncated
 * while the layer runs.
 *
 * <p>What it does not do: move chunks to truncate the file ({@code compactFile}, and H2's own
 * compaction at close, turned off with {@code MAX_COMPACT_TIME=0}). H2 2.5.252 lost the last commits
 * before a {@code kill -9} when freed space was reused at once, and 2.3.232's chunk moving breaks an
 * assertion of its own ({@code H2StoreKillIT}; docs/security.md, "The embedded store across a kill -9").
 */
final class H2Store implements LayerStore {
  private static final Logger log = LoggerFactory.getLogger(H2Store.class);

  /** How often the file is compacted while the layer runs. */
  static final long COMPACT_EVERY_SECONDS = 5;

  /** The most one pass rewrites, in bytes; chunks under H2's fill rate of {@value #FILL_PERCENT} % are rewritten. */
  static final int REWRITE_BYTES = 8 * 1024 * 1024;

  /** Chunks less full than this (in percent of live data) are rewritten. */
  static final int FILL_PERCENT = 80;

  /** How long the space of an emptied chunk waits before it is reused (H2's default: 45 s). */
  static final int RETENTION_MS = 1000;

  /** The data directory's file of the database. */
  static final String FILE_NAME = "metalayer.mv.db";

  /** Thrown by {@link #open} when another process (a running layer) holds the file. */
  static final class InUse extends RuntimeException {
    private static final long serialVersionUID = 1L;

    InUse(String where, Throwable cause) {
      super("the store in " + where + " is in use by another process (a running layer)", cause);
    }
  }

  /**
   * The size of the file, what H2 counts as live in it, and the relay's rows kept, for the admin API.
   * {@code fileBytes} is -1 when the file cannot be read.
   */
  record Size(long fileBytes, int fillRatePercent, int chunksFillRatePercent, long deliveries, long envelopes)
      implements LayerStore.Size {}

  private final JdbcConnectionPool pool;
  private final Database database;
  private final String where;
  private ScheduledExecutorService compaction;

  @Override
  public void meter(dev.metalayer.metrics.LayerMetrics metrics) {
    metrics.storeConnections("active", pool, JdbcConnectionPool::getActiveConnections);
    metrics.storeConnections("max", pool, JdbcConnectionPool::getMaxConnections);
  }

  private H2Store(JdbcConnectionPool pool, Database database, String where) {
    this.pool = pool;
    this.database = database;
    this.where = where;
    // not a persistent setting: the store is opened with H2's 45 s, set here for the layer's lifetime
    database.withConnection(c -> {
      mvStore(c).setRetentionTime(RETENTION_MS);
      return null;
    });
  }

  /**
   * The H2 store of the settings: at the {@code jdbc:h2:} URL of {@code LAYER_DB_URL} when one is given,
   * else the file in {@code dataDir}.
   *
   * @param inUseFix what to tell the operator when another process holds the file
   * @throws ConfigError when it cannot be opened (another process holds it, the files are unreadable…)
   */
  static H2Store openFor(Settings settings, Path dataDir, String inUseFix) {
    java.util.Optional<String> url = settings.get(Option.DB_URL);
    Option option = url.isPresent() ? Option.DB_URL : Option.DATA_DIR;
    String where = url.isPresent() ? "the H2 database of " + settings.writtenAs(Option.DB_URL) : dataDir.toString();
    try {
      java.time.Duration timeout = settings.duration(Option.DB_STATEMENT_TIMEOUT);
      return url.isPresent() ? open(url.get(), where, timeout) : open(dataDir, timeout);
    } catch (InUse e) {
      throw settings.error(option, e.getMessage(), inUseFix, e);
    } catch (RuntimeException e) {
      Throwable root = e;
      while (root.getCause() != null && root.getCause() != root) {
        root = root.getCause();
      }
      String reason = String.valueOf(root.getMessage()).lines().findFirst().orElse(root.getClass().getSimpleName());
      throw settings.error(option, "cannot open the store in " + where + " (" + reason + ")",
          "check that its files belong to this user and the disk has room, or give another "
              + settings.writtenAs(option), e);
    }
  }

  /** The file in {@code dataDir}, with the default statement timeout. @throws InUse when another process has it open */
  static H2Store open(Path dataDir) {
    return open(dataDir, java.time.Duration.ofSeconds(Database.DEFAULT_STATEMENT_TIMEOUT_SECONDS));
  }

  /** @throws InUse when another process has the file open */
  static H2Store open(Path dataDir, java.time.Duration statementTimeout) {
    try {
      DataDir.createOwnerOnly(dataDir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the data directory " + dataDir, e);
    }
    Path base = dataDir.toAbsolutePath().normalize().resolve("metalayer");
    return open("jdbc:h2:file:" + base, dataDir.toString(), statementTimeout);
  }

  /** The database at an H2 URL, with this store's settings added. @throws InUse when another process has it open */
  static H2Store open(String url, String where, java.time.Duration statementTimeout) {
    JdbcConnectionPool pool = JdbcConnectionPool.create(withSettings(url), "metalayer", "");
    pool.setMaxConnections(32);
    try {
      return new H2Store(pool, Database.open(pool, statementTimeout), where);
    } catch (RuntimeException e) {
      pool.dispose();
      if (inUse(e)) {
        throw new InUse(where, e);
      }
      throw e;
    }
  }

  /** {@code WRITE_DELAY=0}, {@code DB_CLOSE_ON_EXIT=FALSE} and {@code MAX_COMPACT_TIME=0} (see above), unless the URL sets them itself. */
  private static String withSettings(String url) {
    String upper = url.toUpperCase(java.util.Locale.ROOT);
    StringBuilder b = new StringBuilder(url);
    if (!upper.contains(";WRITE_DELAY=")) {
      b.append(";WRITE_DELAY=0");
    }
    if (!upper.contains(";DB_CLOSE_ON_EXIT=")) {
      b.append(";DB_CLOSE_ON_EXIT=FALSE");
    }
    if (!upper.contains(";MAX_COMPACT_TIME=")) {
      b.append(";MAX_COMPACT_TIME=0"); // no chunk moving at close (see the class comment)
    }
    return b.toString();
  }

  private static boolean inUse(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof SQLException sql && sql.getErrorCode() == ErrorCode.DATABASE_ALREADY_OPEN_1) {
        return true;
      }
    }
    return false;
  }

  @Override
  public Database database() {
    return database;
  }

  /** One process holds the file: it delivers alone, and resumes a crash's in-flight deliveries at once. */
  @Override
  public boolean soleDeliverer() {
    return true;
  }

  @Override
  public String where() {
    return where;
  }

  /** Starts compacting the file every {@value #COMPACT_EVERY_SECONDS} s until {@link #close()}. */
  @Override
  public void startMaintenance() {
    startMaintenance(java.time.Duration.ofSeconds(COMPACT_EVERY_SECONDS));
  }

  /** Starts compacting the file every {@code every} until {@link #close()} (tests press it harder). */
  synchronized void startMaintenance(java.time.Duration every) {
    if (compaction == null) {
      compaction = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "layer-store-compaction");
        t.setDaemon(true);
        return t;
      });
      compaction.scheduleWithFixedDelay(this::compactQuietly, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  private void compactQuietly() {
    try {
      compact();
    } catch (RuntimeException e) {
      log.warn("Compacting the store failed ({}); the next pass is in {} s", e.toString(), COMPACT_EVERY_SECONDS);
    }
  }

  /**
   * Rewrites the sparse chunks, at most {@value #REWRITE_BYTES} bytes; safe while the layer works.
   * @return the file size after the pass, in bytes
   */
  long compact() {
    database.withConnection(c -> {
      mvStore(c).compact(FILL_PERCENT, REWRITE_BYTES);
      return null;
    });
    return size().fileBytes();
  }

  /** The file's size now, and how much of it H2 counts as live. */
  @Override
  public Size size() {
    return database.withConnection(c -> {
      MVStore store = mvStore(c);
      return new Size(fileBytes(store), store.getFillRate(), store.getFileStore().getChunksFillRate(),
          count(c, "layer_deliveries"), count(c, "layer_envelopes"));
    });
  }

  private static long count(Connection c, String table) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM " + table)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static long fileBytes(MVStore store) {
    String name = store.getFileStore() == null ? null : store.getFileStore().getFileName();
    if (name == null) {
      return -1;
    }
    try {
      return Files.size(Path.of(name));
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  private static MVStore mvStore(Connection c) throws SQLException {
    // H2's own engine, not its JDBC surface: online compaction has no SQL statement.
    SessionLocal session = (SessionLocal) c.unwrap(JdbcConnection.class).getSession();
    return session.getDatabase().getStore().getMvStore();
  }

  @Override
  public void close() {
    synchronized (this) {
      if (compaction != null) {
        // no interrupt: an interrupted file channel would close under H2; a pass ends within its bound
        compaction.shutdown();
        try {
          compaction.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
    pool.dispose();
  }
}

package dev.metalayer.jetty;

import dev.metalayer.store.Database;
import java.nio.file.Path;

/**
 * The layer's database as the launcher opens it: the embedded H2 file in the data directory (the
 * default, {@link H2Store}) or PostgreSQL when {@code LAYER_DB_URL} names one ({@link PgStore}). Both
 * give the same migrated {@link Database}; they differ in who may deliver from it and in what their
 * size means. Closed by the one who opened it, after the layer's workers stopped.
 */
sealed interface LayerStore extends AutoCloseable permits H2Store, PgStore {

  /** What the admin API shows of a store's size ({@code GET /admin/v1/store}). */
  sealed interface Size permits H2Store.Size, PgStore.Size {}

  /** The migrated database. */
  Database database();

  /**
   * Whether this process is the only one delivering from the database: true on the H2 file, which one
   * process holds; false on PostgreSQL, where several instances share the work.
   */
  boolean soleDeliverer();

  /** Where the data lives, for the operator's messages: a directory, or {@code host:port/database}. */
  String where();

  /** The size now. @throws dev.metalayer.relay.StoreException when the database does not answer */
  Size size();

  /**
   * Registers gauges of this store's connection pool ({@link dev.metalayer.metrics.LayerMetrics#storeConnections}): what the
   * pool can tell (HikariCP: active, idle, pending callers, max; H2's pool: active, max).
   */
  void meter(dev.metalayer.metrics.LayerMetrics metrics);

  /** Starts this store's background upkeep (the H2 file's compaction), until {@link #close()}. */
  void startMaintenance();

  /** Closes the connections. Idempotent. */
  @Override
  void close();

  /**
   * Opens the store the settings name: PostgreSQL when {@code LAYER_DB_URL} is a
   * {@code jdbc:postgresql:} URL, else H2 (in the data directory, or at the {@code jdbc:h2:} URL given).
   *
   * @param inUseFix what to tell the operator when another process holds the H2 file
   * @throws ConfigError when it cannot be opened: one line naming the option, never the password
   */
  static LayerStore open(Settings settings, Path dataDir, String inUseFix) {
    java.util.Optional<String> url = settings.get(Option.DB_URL);
    if (url.isPresent() && PgStore.isPostgres(url.get())) {
      return PgStore.open(settings);
    }
    return H2Store.openFor(settings, dataDir, inUseFix);
  }
}

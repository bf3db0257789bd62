package dev.metalayer.jetty;

import dev.metalayer.store.Database;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.h2.jdbcx.JdbcConnectionPool;

/**
 * The embedded default store: an H2 file database {@code metalayer.mv.db} in the data directory.
 *
 * <p>{@code AUTO_SERVER=TRUE} lets the CLI work on the same file while a layer runs;
 * {@code WRITE_DELAY=0} writes each commit to the file before the commit returns, so that what was
 * acknowledged survives a {@code kill -9} of the process. (H2 refuses {@code DB_CLOSE_ON_EXIT=FALSE}
 * beside {@code AUTO_SERVER}, so its own shutdown hook may close the database a moment before the
 * layer's stops the relay's workers: a stop can log one warning of a failed claim.)
 */
final class H2Store implements AutoCloseable {
  private final JdbcConnectionPool pool;
  private final Database database;

  private H2Store(JdbcConnectionPool pool, Database database) {
    this.pool = pool;
    this.database = database;
  }

  static H2Store open(Path dataDir) {
    try {
      if (!Files.isDirectory(dataDir)) {
        Files.createDirectories(dataDir);
        try {
          Files.setPosixFilePermissions(dataDir, PosixFilePermissions.fromString("rwx------"));
        } catch (UnsupportedOperationException notPosix) {
          // best effort on non-POSIX file systems
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the data directory " + dataDir, e);
    }
    String url =
        "jdbc:h2:file:" + dataDir.toAbsolutePath().normalize().resolve("metalayer") + ";AUTO_SERVER=TRUE;WRITE_DELAY=0";
    JdbcConnectionPool pool = JdbcConnectionPool.create(url, "metalayer", "");
    pool.setMaxConnections(32);
    try {
      return new H2Store(pool, Database.open(pool));
    } catch (RuntimeException e) {
      pool.dispose();
      throw e;
    }
  }

  Database database() {
    return database;
  }

  @Override
  public void close() {
    pool.dispose();
  }
}

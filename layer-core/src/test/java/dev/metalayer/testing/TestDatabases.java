package dev.metalayer.testing;

import dev.metalayer.store.Database;
import java.nio.file.Path;
import org.h2.jdbcx.JdbcDataSource;

/** Real H2 file databases for tests: one file per test directory, migrated on open. */
public final class TestDatabases {
  private TestDatabases() {}

  public static Database h2File(Path dir) {
    JdbcDataSource ds = new JdbcDataSource();
    ds.setURL("jdbc:h2:file:" + dir.toAbsolutePath().resolve("test") + ";WRITE_DELAY=0");
    ds.setUser("test");
    return Database.open(ds);
  }
}

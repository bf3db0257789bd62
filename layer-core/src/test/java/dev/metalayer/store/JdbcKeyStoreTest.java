package dev.metalayer.store;

import dev.metalayer.keys.KeyStore;
import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.TestDatabases;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JdbcKeyStoreTest extends KeyStoreContract {
  @TempDir Path dir;

  @Override
  KeyStore newStore() {
    return new JdbcKeyStore(TestDatabases.h2File(dir));
  }

  @Test
  void reopeningTheFileKeepsTheDataAndDoesNotMigrateTwice() {
    store.insertNumber(number("111", "+15550000001", 0));
    Database again = TestDatabases.h2File(dir);
    assertThat(new JdbcKeyStore(again).findNumber("111")).isPresent();
    int versions = again.withConnection(c -> {
      try (var rs = c.createStatement().executeQuery("SELECT COUNT(*) FROM layer_schema_version")) {
        rs.next();
        return rs.getInt(1);
      }
    });
    assertThat(versions).isEqualTo(Database.MIGRATIONS.size());
  }

  @Test
  void scriptsSplitOnLineEndingSemicolons() {
    assertThat(Database.statements("-- c\nCREATE TABLE a (x INT);\n\nCREATE INDEX i\n  ON a (x);\n"))
        .containsExactly("CREATE TABLE a (x INT)", "CREATE INDEX i\n  ON a (x)");
  }
}

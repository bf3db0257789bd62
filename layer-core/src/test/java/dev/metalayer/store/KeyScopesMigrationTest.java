package dev.metalayer.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.keys.Grant.Scope;
import dev.metalayer.keys.KeyRecord;
import dev.metalayer.keys.KeyStore;
import dev.metalayer.keys.KeyStore.StoredKey;
import dev.metalayer.testing.TestDatabases;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Keys created before scopes existed keep doing everything they did: migration V13 gives them every
 * scope, and keys created afterwards keep the ones they were given. On an H2 file and on PostgreSQL.
 */
class KeyScopesMigrationTest {
  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  @TempDir Path dir;

  @Test
  void anH2FileFromBeforeScopesGivesItsKeysEveryScope() throws Exception {
    JdbcConnectionPool pool = JdbcConnectionPool.create("jdbc:h2:file:" + dir.resolve("old") + ";WRITE_DELAY=0", "sa", "");
    try {
      migrates(pool);
    } finally {
      pool.dispose();
    }
  }

  @Test
  void aPostgresqlSchemaFromBeforeScopesGivesItsKeysEveryScope() throws Exception {
    try (TestDatabases.PgSchema pg = TestDatabases.postgres()) {
      migrates(pg.dataSource());
    }
  }

  private static void migrates(DataSource ds) throws Exception {
    olderSchema(ds);
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      try (java.sql.PreparedStatement p = c.prepareStatement("INSERT INTO layer_numbers (phone_number_id, phone,"
          + " waba_id, business_id, meta_token, created_at) VALUES ('111', '+15550000001', '9111', '8111', ?, 0)")) {
        p.setBytes(1, new byte[] {1, 2, 3});
        p.executeUpdate();
      }
      s.execute("INSERT INTO layer_keys (id, key_hash, prefix, phone_number_id, created_at, last_used_at, revoked_at)"
          + " VALUES ('key_old', '" + "a".repeat(64) + "', 'ps_abcde', '111', 0, NULL, NULL)");
    }

    KeyStore store = Stores.keys(Database.open(ds));

    assertThat(store.findKeyWithNumber("a".repeat(64)).orElseThrow().key().record().scopes()).isEqualTo(Scope.ALL);
    store.insertKey(new StoredKey(new KeyRecord("key_new", "ps_fghij", "111", T0, Optional.empty(), Optional.empty(),
        Set.of(Scope.TEMPLATES)), "b".repeat(64)));
    assertThat(store.listKeys()).extracting(KeyRecord::id, KeyRecord::scopes)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("key_old", Scope.ALL),
            org.assertj.core.groups.Tuple.tuple("key_new", Set.of(Scope.TEMPLATES)));
  }

  /** The schema as it was before V13: every migration before it, recorded as applied. */
  private static void olderSchema(DataSource ds) throws Exception {
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE layer_schema_version (version INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL,"
          + " applied_at BIGINT NOT NULL)");
      for (String name : Database.MIGRATIONS) {
        int version = Integer.parseInt(name.substring(1, name.indexOf("__")));
        if (version >= 14) {
          continue;
        }
        try (InputStream in = Database.class.getResourceAsStream("migrations/" + name)) {
          for (String statement : Database.statements(new String(in.readAllBytes(), StandardCharsets.UTF_8))) {
            s.execute(statement);
          }
        }
        s.execute("INSERT INTO layer_schema_version (version, name, applied_at) VALUES (" + version + ", '" + name
            + "', 0)");
      }
    }
  }
}

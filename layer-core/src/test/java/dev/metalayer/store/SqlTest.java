package dev.metalayer.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.relay.StoreException;
import dev.metalayer.testing.TestDatabases;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one JDBC helper on a real H2 file: binding, mapping, transactions and the duplicate-key mark. */
class SqlTest {
  @TempDir Path dir;
  Sql sql;

  @BeforeEach
  void setUp() {
    sql = new Sql(TestDatabases.h2File(dir));
    sql.execute("CREATE TABLE t (id VARCHAR(10) PRIMARY KEY, n INTEGER, big BIGINT, ok BOOLEAN, b VARBINARY(10),"
        + " at BIGINT)");
  }

  record Row(String id, Optional<Integer> n, long big, boolean ok, byte[] b, Optional<Instant> at) {}

  List<Row> all() {
    return sql.query("SELECT id, n, big, ok, b, at FROM t ORDER BY id", rs -> {
      int n = rs.getInt(2);
      Optional<Integer> maybe = rs.wasNull() ? Optional.empty() : Optional.of(n);
      return new Row(rs.getString(1), maybe, rs.getLong(3), rs.getBoolean(4), rs.getBytes(5), Sql.instant(rs, 6));
    });
  }

  @Test
  void bindsEachTypeAndTypedNullsAndMapsThemBack() {
    Instant at = Instant.parse("2026-03-01T10:00:00.123Z");
    sql.update("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", "a", 7, 1L << 40, true, new byte[] {1, 2}, at);
    sql.update("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", "b", Sql.integer(null), 0L, false, Sql.bytes(null),
        Sql.millis((Instant) null));

    List<Row> rows = all();
    assertThat(rows.get(0).n()).contains(7);
    assertThat(rows.get(0).big()).isEqualTo(1L << 40);
    assertThat(rows.get(0).ok()).isTrue();
    assertThat(rows.get(0).b()).containsExactly(1, 2);
    assertThat(rows.get(0).at()).contains(at);
    assertThat(rows.get(1).n()).isEmpty();
    assertThat(rows.get(1).b()).isNull();
    assertThat(rows.get(1).at()).isEmpty();
    assertThat(sql.first("SELECT id FROM t WHERE big = ?", rs -> rs.getString(1), 1L << 40)).contains("a");
    assertThat(sql.exists("SELECT 1 FROM t WHERE id = ?", "zz")).isFalse();
  }

  @Test
  void anUntypedNullIsRefusedBeforeAnythingIsWritten() {
    assertThatThrownBy(() -> sql.update("INSERT INTO t (id, n) VALUES (?, ?)", "a", null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("parameter 2");
    assertThat(all()).isEmpty();
  }

  @Test
  void aTransactionIsRolledBackWhenItsWorkThrows() {
    assertThatThrownBy(() -> sql.inTransaction(tx -> {
      tx.update("INSERT INTO t (id) VALUES (?)", "a");
      throw new IllegalStateException("stop");
    })).hasMessage("stop");
    assertThat(all()).isEmpty();

    sql.inTransaction(tx -> {
      try (Sql.Prepared insert = tx.prepare("INSERT INTO t (id, n) VALUES (?, ?)")) {
        for (int i = 0; i < 5; i++) {
          insert.add(2, "r" + i, i);
        }
        insert.flush();
      }
      return null;
    });
    assertThat(all()).extracting(Row::id).containsExactly("r0", "r1", "r2", "r3", "r4");
  }

  @Test
  void aTakenUniqueKeyIsMarkedDuplicateAndOtherFailuresAreNot() {
    sql.update("INSERT INTO t (id) VALUES (?)", "a");

    assertThatThrownBy(() -> sql.update("INSERT INTO t (id) VALUES (?)", "a"))
        .isInstanceOfSatisfying(StoreException.class, e -> assertThat(e.duplicate()).isTrue());
    assertThatThrownBy(() -> sql.inTransaction(tx -> {
      try (Sql.Prepared insert = tx.prepare("INSERT INTO t (id) VALUES (?)")) {
        insert.add(10, "b");
        insert.add(10, "a");
        insert.flush();
      }
      return null;
    })).as("in a batch too").isInstanceOfSatisfying(StoreException.class, e -> assertThat(e.duplicate()).isTrue());
    assertThatThrownBy(() -> sql.update("INSERT INTO nowhere (id) VALUES (?)", "a"))
        .isInstanceOfSatisfying(StoreException.class, e -> assertThat(e.duplicate()).isFalse());
    assertThat(all()).extracting(Row::id).containsExactly("a");
  }
}

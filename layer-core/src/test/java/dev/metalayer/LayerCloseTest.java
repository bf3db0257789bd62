package dev.metalayer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.store.Database;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.TestDatabases;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link MetaLayer#close()} leaves no thread of the layer running: the relay's lanes, heartbeat,
 * retention and wake-up listener, and the key service's upkeep, on PostgreSQL and on an H2 file (the
 * host closes the pool next, so a thread left running would hold or reopen a connection).
 */
@Timeout(120)
class LayerCloseTest {
  @TempDir Path dir;

  @Test
  void closeOnPostgresqlLeavesNoThreadOfTheLayer() throws Exception {
    try (TestDatabases.PgSchema pg = TestDatabases.postgres()) {
      closesEverything(pg.database());
    }
  }

  @Test
  void closeOnAnH2FileLeavesNoThreadOfTheLayer() throws Exception {
    JdbcConnectionPool pool = JdbcConnectionPool.create("jdbc:h2:file:" + dir.resolve("layer"), "sa", "");
    try {
      closesEverything(Database.open(pool));
    } finally {
      pool.dispose();
    }
  }

  private static void closesEverything(Database db) throws Exception {
    Set<Thread> before = Thread.getAllStackTraces().keySet();
    MetaLayer layer = MetaLayer.builder()
        .keyStore(Stores.keys(db))
        .relayStore(Stores.relay(db))
        .masterKey(new byte[32])
        .appSecrets(List.of("meta-app-secret-1"))
        .build();
    layer.start();
    assertThat(started(before)).as("the layer's threads while it runs").isNotEmpty();
    layer.close();
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!started(before).isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertThat(started(before).stream().map(Thread::getName).collect(Collectors.toList()))
        .as("threads of the layer still running after close").isEmpty();
  }

  /** The threads of the layer started since {@code before} and still alive. */
  private static Set<Thread> started(Set<Thread> before) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> !before.contains(t) && t.isAlive())
        .filter(t -> t.getName().startsWith("relay-") || t.getName().startsWith("layer-"))
        .collect(Collectors.toSet());
  }
}

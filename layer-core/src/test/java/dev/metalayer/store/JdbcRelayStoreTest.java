package dev.metalayer.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.relay.Lane;
import java.nio.file.Path;
import java.util.List;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The contract on a real H2 file database, plus what only a database can show. */
class JdbcRelayStoreTest extends RelayStoreContract {
  @TempDir Path dir;
  private JdbcConnectionPool pool;

  @Override
  RelayStore newStore() {
    pool = JdbcConnectionPool.create("jdbc:h2:file:" + dir.resolve("relay") + ";WRITE_DELAY=0", "sa", "");
    return new JdbcRelayStore(Database.open(pool));
  }

  @AfterEach
  void close() {
    pool.dispose();
  }

  @Test
  void pendingDeliveriesSurviveReopeningTheDatabase() {
    ingest(delivery("d1", "wh_a", "msg_1", Lane.DEFAULT, null, T0));
    pool.dispose();

    RelayStore reopened = newStore();

    assertThat(reopened.claimDue(Lane.DEFAULT, T0, T0.plusSeconds(30), 10, java.util.Set.of()))
        .extracting(RelayStore.Claimed::id).containsExactly("d1");
    assertThat(Database.MIGRATIONS).contains("V2__relay.sql");
  }

  @Test
  void largeBodiesRoundTrip() {
    byte[] big = new byte[3 * 1024 * 1024];
    for (int i = 0; i < big.length; i++) {
      big[i] = (byte) ('a' + i % 26);
    }
    store.ingest(new RelayStore.Envelope("env_big", big, T0), List.of());

    assertThat(store.findEnvelope("env_big").orElseThrow().body()).isEqualTo(big);
  }
}

package dev.metalayer.store;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.zaxxer.hikari.HikariDataSource;
import dev.metalayer.relay.Lane;
import dev.metalayer.relay.RelayStore;
import dev.metalayer.relay.RelayStore.Envelope;
import dev.metalayer.relay.RelayStore.NewDelivery;
import dev.metalayer.testing.TestDatabases;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Wake-ups between instances on a real PostgreSQL: two stores on one schema (each with its own pool,
 * as two processes would have), one listening, the other committing.
 */
class PgWakeupsTest {
  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  static final Duration WAIT = Duration.ofSeconds(10);

  TestDatabases.PgSchema pg;
  final List<HikariDataSource> pools = new ArrayList<>();
  final Map<Lane, AtomicInteger> heard = new ConcurrentHashMap<>();
  final ListAppender<ILoggingEvent> logged = new ListAppender<>();

  @BeforeEach
  void setUp() {
    pg = TestDatabases.postgres();
    for (Lane lane : Lane.values()) {
      heard.put(lane, new AtomicInteger());
    }
    logged.start();
    ((Logger) LoggerFactory.getLogger(PgWakeups.class)).addAppender(logged);
  }

  @AfterEach
  void tearDown() {
    ((Logger) LoggerFactory.getLogger(PgWakeups.class)).detachAppender(logged);
    pools.forEach(HikariDataSource::close);
    pg.close();
  }

  Database instance() {
    HikariDataSource pool = pg.pool(4);
    pools.add(pool);
    return Database.open(pool);
  }

  void wake(Lane lane) {
    heard.get(lane).incrementAndGet();
  }

  static NewDelivery delivery(String id, Lane lane) {
    return NewDelivery.builder().ids(id, "wh_a", "env_" + id).change("msg_" + id, lane.wire(), lane, new byte[] {1})
        .createdAt(T0).build();
  }

  static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within " + WAIT + ": " + what);
      }
      Thread.sleep(10);
    }
  }

  @Test
  void whatOneInstanceCommitsWakesTheOthersLaneAndARollbackWakesNothing() throws Exception {
    RelayStore writer = Stores.relay(instance());
    try (PgWakeups listening = (PgWakeups) Stores.relay(instance()).listen(this::wake)) {
      await(() -> listening.backendPid() != 0, "listening");

      writer.ingest(new Envelope("env_1", new byte[] {1}, T0), List.of(delivery("c1", Lane.CALLS)));
      await(() -> heard.get(Lane.CALLS).get() == 1, "the call lane woken");
      writer.ingest(new Envelope("env_2", new byte[] {1}, T0), List.of(delivery("m1", Lane.DEFAULT)));
      await(() -> heard.get(Lane.DEFAULT).get() == 1, "the default lane woken");
      // a replay, and a subscription turned on
      assertThat(writer.replay("m1", T0)).isTrue();
      await(() -> heard.get(Lane.DEFAULT).get() == 2, "woken by the replay");
      writer.insertSubscription(new RelayStore.StoredSubscription(new dev.metalayer.relay.Subscription("wh_a", "111",
          "n", "https://example.com/a", List.of("*"), false, false, false, T0, T0), null));
      assertThat(writer.setActive("wh_a", true, T0)).isTrue();
      await(() -> heard.get(Lane.CALLS).get() == 2 && heard.get(Lane.DEFAULT).get() == 3, "woken by the activation");

      // a duplicate inserts nothing: nothing to announce
      writer.ingest(new Envelope("env_3", new byte[] {1}, T0), List.of(delivery("c1", Lane.CALLS)));
      writer.ingest(new Envelope("env_4", new byte[] {1}, T0), List.of(delivery("m2", Lane.DEFAULT)));
      await(() -> heard.get(Lane.DEFAULT).get() == 4, "woken by the next ingest");
      assertThat(heard.get(Lane.CALLS).get()).isEqualTo(2);
    }
  }

  @Test
  void theListenerReconnectsByItselfAfterItsConnectionIsCut() throws Exception {
    RelayStore writer = Stores.relay(instance());
    try (PgWakeups listening = (PgWakeups) Stores.relay(instance()).listen(this::wake)) {
      await(() -> listening.backendPid() != 0, "listening");
      int pid = listening.backendPid();

      // the server ends the listening session, as a database restart would
      TestDatabases.exec("SELECT pg_terminate_backend(" + pid + ")");

      await(() -> listening.connections.get() == 2, "reconnected");
      assertThat(listening.backendPid()).isNotEqualTo(pid);
      // after an outage every lane is woken once (what was notified meanwhile was not heard)
      await(() -> heard.get(Lane.CALLS).get() == 1 && heard.get(Lane.DEFAULT).get() == 1, "woken after reconnecting");
      writer.ingest(new Envelope("env_1", new byte[] {1}, T0), List.of(delivery("c1", Lane.CALLS)));
      await(() -> heard.get(Lane.CALLS).get() == 2, "heard again");
      assertThat(levels()).containsExactly(Level.WARN, Level.INFO);
    }
  }

  @Test
  void aLongOutageIsOneWarningAndTheListenerResumesWhenTheDatabaseIsBack() throws Exception {
    HikariDataSource pool = pg.pool(4);
    pools.add(pool);
    Outage listenerSource = new Outage(pool);
    listenerSource.down = true;
    RelayStore writer = Stores.relay(instance());
    try (PgWakeups listening = (PgWakeups) Stores.relay(Database.open(pool, listenerSource, java.time.Duration.ofSeconds(Database.DEFAULT_STATEMENT_TIMEOUT_SECONDS))).listen(this::wake)) {
      // down from the start: tries at 0, 1 s, 3 s (backoff 1 s, 2 s, …)
      await(() -> listenerSource.tries.get() >= 3, "three tries");
      assertThat(levels()).containsExactly(Level.WARN);

      listenerSource.down = false;

      await(() -> listening.backendPid() != 0, "listening once the database is back");
      writer.ingest(new Envelope("env_1", new byte[] {1}, T0), List.of(delivery("m1", Lane.DEFAULT)));
      await(() -> heard.get(Lane.DEFAULT).get() == 2, "woken on resuming, then by the ingest");
      assertThat(levels()).containsExactly(Level.WARN, Level.INFO);
    }
  }

  /**
   * A database that went silent (no reset: a failover whose old host is gone, a dropped route): the
   * listener's check query gives up and the outage is said, rather than the thread waiting on its socket
   * for the operating system's keepalive (hours), deaf to wake-ups meanwhile.
   */
  @Test
  void aSilentDatabaseIsFoundByTheListenersCheckAndSaid() throws Exception {
    try (dev.metalayer.testing.TcpCut cut = dev.metalayer.testing.TcpCut.beforePostgres()) {
      HikariDataSource pool = pg.pool(4);
      pools.add(pool);
      org.postgresql.ds.PGSimpleDataSource direct = new org.postgresql.ds.PGSimpleDataSource();
      direct.setUrl(cut.through(pg.url()));
      direct.setUser(TestDatabases.PG_USER);
      direct.setPassword(TestDatabases.PG_PASSWORD);
      direct.setConnectTimeout(2);
      direct.setLoginTimeout(2);
      try (PgWakeups listening = (PgWakeups) Stores.relay(Database.open(pool, direct, Duration.ofSeconds(5)))
          .listen(this::wake)) {
        await(() -> listening.backendPid() != 0, "listening");
        cut.hang();
        long deadline = System.nanoTime() + PgWakeups.CHECK_EVERY.plus(Duration.ofSeconds(30)).toNanos();
        while (!levels().contains(Level.WARN)) {
          assertThat(System.nanoTime()).as("the silent connection found out").isLessThan(deadline);
          Thread.sleep(50);
        }
        cut.restore();
      }
    }
  }

  @Test
  void channelsAreScopedToTheSchemaAndFitPostgresNames() {
    assertThat(PgWakeups.channel("t_abc")).isEqualTo("metalayer_wake_t_abc");
    String longName = PgWakeups.channel("s".repeat(60));
    assertThat(longName).hasSizeLessThanOrEqualTo(63).startsWith("metalayer_wake_");
    assertThat(longName).isNotEqualTo(PgWakeups.channel("s".repeat(61)));
  }

  @Test
  void aStoreWithOneInstanceListensToNothing() throws Exception {
    RelayStore.Listening none = Stores.inMemoryRelay().listen(this::wake);
    none.close();
    none.close();
  }

  private List<Level> levels() {
    return logged.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.INFO)).map(ILoggingEvent::getLevel)
        .toList();
  }

  /** A data source that refuses connections while {@link #down}: the database, as the listener sees it. */
  static final class Outage implements DataSource {
    final DataSource up;
    volatile boolean down;
    final AtomicInteger tries = new AtomicInteger();

    Outage(DataSource up) {
      this.up = up;
    }

    @Override
    public Connection getConnection() throws SQLException {
      tries.incrementAndGet();
      if (down) {
        throw new SQLException("Connection refused (the test's outage)", "08001");
      }
      return up.getConnection();
    }

    @Override
    public Connection getConnection(String user, String password) throws SQLException {
      return getConnection();
    }

    @Override
    public PrintWriter getLogWriter() {
      return null;
    }

    @Override
    public void setLogWriter(PrintWriter out) {}

    @Override
    public void setLoginTimeout(int seconds) {}

    @Override
    public int getLoginTimeout() {
      return 0;
    }

    @Override
    public java.util.logging.Logger getParentLogger() {
      return java.util.logging.Logger.getGlobal();
    }

    @Override
    public <T> T unwrap(Class<T> type) throws SQLException {
      throw new SQLException("not a wrapper");
    }

    @Override
    public boolean isWrapperFor(Class<?> type) {
      return false;
    }
  }
}

package dev.metalayer.store;

import dev.metalayer.relay.Lane;
import dev.metalayer.relay.RelayStore;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The wake-ups of a relay on PostgreSQL: one thread that LISTENs on the schema's channel, on one
 * connection of its own ({@link Database#listenerConnection}), and calls {@code wake} with the lane of
 * each notification another instance committed ({@code pg_notify(channel, lane)}, see
 * {@link JdbcRelayStore}). Loaded only on PostgreSQL: it reads the notifications through the pgjdbc
 * driver ({@link PGConnection#getNotifications(int)}), an optional dependency of the core.
 *
 * <p>When the connection is lost (a database restart, a network cut), the thread reconnects by itself,
 * after 1 s, then twice as long each time up to {@link #MAX_BACKOFF}; it logs one WARN when the outage
 * begins and one INFO when it listens again, and then wakes every lane, since what was notified
 * meanwhile was not heard. The relay's one-second poll covers the gap. A connection that died silently
 * (no reset from the network) is found by a query every {@link #CHECK_EVERY}, which waits at most
 * {@link #CHECK_TIMEOUT} for its answer. Thread-safe.
 */
final class PgWakeups implements RelayStore.Listening {
  private static final Logger log = LoggerFactory.getLogger(PgWakeups.class);
  /** How long one wait for notifications lasts: also how long {@link #close()} may wait for the thread. */
  static final Duration WAIT = Duration.ofMillis(250);
  static final Duration CHECK_EVERY = Duration.ofSeconds(10);
  /** How long the listening connection's statements (LISTEN, the check query) wait for the server. */
  static final Duration CHECK_TIMEOUT = Duration.ofSeconds(5);
  static final Duration FIRST_BACKOFF = Duration.ofSeconds(1);
  static final Duration MAX_BACKOFF = Duration.ofSeconds(30);
  private static final int MAX_CHANNEL_BYTES = 63;

  private final Database db;
  private final String channel;
  private final Consumer<Lane> wake;
  private final Thread thread;
  private final Object sleep = new Object();
  private volatile boolean running = true;
  /** The backend process id of the listening connection (0 when not connected): for tests. */
  private volatile int backendPid;
  /** Notifications heard, and connections made: for tests. */
  final AtomicLong heard = new AtomicLong();
  final AtomicLong connections = new AtomicLong();

  private PgWakeups(Database db, String channel, Consumer<Lane> wake) {
    this.db = db;
    this.channel = channel;
    this.wake = wake;
    this.thread = new Thread(this::run, "relay-listen");
    thread.setDaemon(true);
  }

  static PgWakeups start(Database db, String channel, Consumer<Lane> wake) {
    PgWakeups w = new PgWakeups(db, channel, wake);
    w.thread.start();
    return w;
  }

  /**
   * The channel of a schema: {@code metalayer_wake_<schema>}, or, when that would pass PostgreSQL's
   * 63-byte limit on names, the same with a hash of the schema name. Channels are database-wide: two
   * schemas of one database never hear each other.
   */
  static String channel(String schema) {
    String name = "metalayer_wake_" + schema;
    if (name.getBytes(StandardCharsets.UTF_8).length <= MAX_CHANNEL_BYTES) {
      return name;
    }
    try {
      byte[] hash = MessageDigest.getInstance("SHA-256").digest(schema.getBytes(StandardCharsets.UTF_8));
      return "metalayer_wake_" + HexFormat.of().formatHex(hash, 0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }

  private void run() {
    Duration backoff = FIRST_BACKOFF;
    boolean down = false;
    while (running) {
      try (Connection c = db.listenerConnection()) {
        listen(c, down);
        down = false;
        backoff = FIRST_BACKOFF;
        receive(c);
        try (Statement s = c.createStatement()) {
          s.execute("UNLISTEN *"); // the connection may go back to a pool
        }
      } catch (SQLException | RuntimeException e) {
        backendPid = 0;
        if (!running) {
          return;
        }
        if (!down) {
          log.warn("Wake-ups from the other layer instances stopped: the listening connection to the database failed"
              + " ({}); reconnecting with backoff (up to {}), deliveries are polled every second meanwhile",
              e.toString(), MAX_BACKOFF);
          down = true;
        } else {
          log.debug("Still cannot listen for wake-ups: {}", e.toString());
        }
        pause(backoff);
        backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
      } catch (LinkageError e) {
        log.warn("Wake-ups from the other layer instances are off: the PostgreSQL driver (org.postgresql) cannot"
            + " read notifications here ({}); deliveries are polled every second", e.toString());
        return;
      }
    }
  }

  private void listen(Connection c, boolean wasDown) throws SQLException {
    c.setAutoCommit(true);
    // a server gone silent (no reset) fails the check query after this, rather than after the system's
    // TCP keepalive (hours); each wait for notifications sets its own shorter limit
    c.setNetworkTimeout(Runnable::run, (int) CHECK_TIMEOUT.toMillis());
    try (Statement s = c.createStatement()) {
      s.execute("LISTEN \"" + channel.replace("\"", "\"\"") + "\"");
      try (var rs = s.executeQuery("SELECT pg_backend_pid()")) {
        rs.next();
        backendPid = rs.getInt(1);
      }
    }
    connections.incrementAndGet();
    if (wasDown) {
      log.info("Wake-ups from the other layer instances resumed: listening on the database again");
      // what was notified while nobody listened was not heard
      for (Lane lane : Lane.values()) {
        wake.accept(lane);
      }
    }
  }

  private void receive(Connection c) throws SQLException {
    PGConnection pg = c.unwrap(PGConnection.class);
    long checked = System.nanoTime();
    while (running) {
      PGNotification[] notifications = pg.getNotifications((int) WAIT.toMillis());
      if (notifications != null) {
        for (PGNotification n : notifications) {
          heard.incrementAndGet();
          lane(n.getParameter()).ifPresent(wake);
        }
      }
      if (System.nanoTime() - checked > CHECK_EVERY.toNanos()) {
        try (Statement s = c.createStatement()) {
          s.execute("SELECT 1");
        }
        checked = System.nanoTime();
      }
    }
  }

  private static java.util.Optional<Lane> lane(String payload) {
    for (Lane lane : Lane.values()) {
      if (lane.wire().equals(payload)) {
        return java.util.Optional.of(lane);
      }
    }
    return java.util.Optional.empty(); // a lane this version does not know: nothing to wake
  }

  private void pause(Duration d) {
    synchronized (sleep) {
      if (!running) {
        return;
      }
      try {
        sleep.wait(d.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        running = false;
      }
    }
  }

  int backendPid() {
    return backendPid;
  }

  @Override
  public void close() {
    synchronized (sleep) {
      running = false;
      sleep.notifyAll();
    }
    try {
      thread.join(WAIT.multipliedBy(8).toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

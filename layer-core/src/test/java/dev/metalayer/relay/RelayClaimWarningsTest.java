package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.metalayer.testing.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * A started lane that cannot claim says so once at WARN, and once at INFO when it can again; an idle lane
 * says nothing. The store fails its claims on demand; each check waits for more of the lane's polls.
 */
class RelayClaimWarningsTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final String CALLS_LANE = "The " + Lane.CALLS.wire() + " lane";

  @TempDir Path dir;
  final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  final ListAppender<ILoggingEvent> logged = new ListAppender<>();
  final Logger logger = (Logger) LoggerFactory.getLogger(DeliveryEngine.class);
  final AtomicBoolean claimsFail = new AtomicBoolean();
  final AtomicInteger claims = new AtomicInteger();
  final AtomicInteger claimLoopsEnded = new AtomicInteger();
  Level level;
  RelayHarness h;

  @AfterEach
  void tearDown() {
    if (h != null) {
      h.close();
    }
    logger.detachAppender(logged);
    logger.setLevel(level);
  }

  @Test
  void aLaneThatCannotClaimWarnsOnceAndSaysOnceWhenItCanAgain() {
    level = logger.getLevel();
    logger.setLevel(Level.INFO);
    logged.start();
    logger.addAppender(logged);
    h = new RelayHarness(dir, clock, List.of(RelayHarness.APP_SECRET), false,
        real -> RelayHarness.hooked(real, (method, args) -> {
          if (args != null && args.length > 0 && args[0] == Lane.CALLS) {
            if (method.equals("claimDue")) {
              claims.incrementAndGet();
              if (claimsFail.get()) {
                throw new IllegalStateException("store down");
              }
            } else if (method.equals("nextWake")) {
              claimLoopsEnded.incrementAndGet();
            }
          }
        }), options -> options);

    h.layer.relay().start();
    await(claimLoopsEnded, 2); // idle: nothing due, nothing to say
    assertThat(lines(Level.WARN)).isEmpty();
    assertThat(lines(Level.INFO)).isEmpty();

    claimsFail.set(true);
    await(claims, claims.get() + 3); // two failed polls ended (the third has begun)
    assertThat(lines(Level.WARN)).singleElement().asString()
        .startsWith(CALLS_LANE + " cannot claim deliveries (java.lang.IllegalStateException: store down)");

    claimsFail.set(false);
    await(claimLoopsEnded, claimLoopsEnded.get() + 2);
    assertThat(lines(Level.INFO)).containsExactly(CALLS_LANE + " claims deliveries again");
    assertThat(lines(Level.WARN)).hasSize(1);
  }

  /** The calls lane's lines at {@code level}. */
  private List<String> lines(Level level) {
    synchronized (logged) {
      return logged.list.stream().filter(e -> e.getLevel() == level).map(ILoggingEvent::getFormattedMessage)
          .filter(m -> m.startsWith(CALLS_LANE)).toList();
    }
  }

  private static void await(AtomicInteger counter, int atLeast) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (counter.get() < atLeast) {
      assertThat(System.nanoTime()).as("reaching %d, at %d", atLeast, counter.get()).isLessThan(deadline);
      java.util.concurrent.locks.LockSupport.parkNanos(5_000_000L); // a poll interval, not a timing assumption
    }
  }
}

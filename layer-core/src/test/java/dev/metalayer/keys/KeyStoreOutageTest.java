package dev.metalayer.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.keys.KeyService.CreatedKey;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

/**
 * The key service while its store fails, on the fake clock: a cached grant serves up to
 * {@link KeyService#STALE_IF_ERROR} past its cache time, the store is asked again only once
 * {@link KeyService#POLL_INTERVAL} has passed, and recorded last uses survive a failed write.
 */
class KeyStoreOutageTest {
  private static final String PNID = "106540352242922";
  private final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  private final FailingStore store = new FailingStore(Stores.inMemoryKeys());
  private final KeyService keys = new KeyService(store, new TokenCipher(new byte[32], new SecureRandom()), clock,
      new SecureRandom(), Duration.ofSeconds(30));

  private CreatedKey keyOfANumber() {
    keys.addNumber("+15550783881", PNID, "102290129340398", "555", "EAAG-token");
    return keys.createKey(PNID).orElseThrow();
  }

  @Test
  void aCachedKeyServesPastItsCacheTimeWhileTheStoreFailsForAtMostTheStaleBound() {
    CreatedKey cached = keyOfANumber();
    CreatedKey cold = keys.createKey(PNID).orElseThrow();
    assertThat(keys.resolve(cached.key())).isInstanceOf(Resolution.Granted.class);
    Instant expires = clock.instant().plus(Duration.ofSeconds(30));

    store.down.set(true);
    clock.advance(Duration.ofSeconds(45));
    assertThat(keys.resolve(cached.key())).as("stale-if-error").isInstanceOf(Resolution.Granted.class);
    assertThatThrownBy(() -> keys.resolve(cold.key())).isInstanceOf(KeyService.StoreUnavailableException.class)
        .hasMessageNotContaining(cold.key()).hasCauseInstanceOf(IllegalStateException.class);

    clock.set(expires.plus(KeyService.STALE_IF_ERROR).minusMillis(1));
    assertThat(keys.resolve(cached.key())).as("just within the bound").isInstanceOf(Resolution.Granted.class);
    clock.set(expires.plus(KeyService.STALE_IF_ERROR));
    assertThatThrownBy(() -> keys.resolve(cached.key())).as("at the bound")
        .isInstanceOf(KeyService.StoreUnavailableException.class);
  }

  @Test
  void afterAFailureTheStoreIsAskedAgainOnlyOnceAPollIntervalHasPassed() {
    CreatedKey cached = keyOfANumber();
    keys.resolve(cached.key());
    clock.advance(Duration.ofSeconds(31));
    store.down.set(true);
    int before = store.keyReads.get();
    assertThat(keys.resolve(cached.key())).isInstanceOf(Resolution.Granted.class);
    assertThat(store.keyReads.get()).as("the failing read").isEqualTo(before + 1);

    clock.advance(KeyService.POLL_INTERVAL.minusMillis(1));
    assertThat(keys.resolve(cached.key())).isInstanceOf(Resolution.Granted.class);
    assertThat(store.keyReads.get()).as("served without asking the failing store").isEqualTo(before + 1);
    assertThat(keys.grantCacheHits()).isEqualTo(1);

    clock.advance(Duration.ofMillis(1));
    store.down.set(false);
    store.delegate.revokeKey(cached.record().id(), clock.instant());
    assertThat(keys.resolve(cached.key())).as("asked again: it answers, and the key is revoked")
        .isEqualTo(new Resolution.Refused(Resolution.Reason.REVOKED));
    assertThat(store.keyReads.get()).isEqualTo(before + 2);
    assertThat(keys.grantCacheMisses()).isEqualTo(3);
  }

  @Test
  void theNumbersDirectoryServesStaleWhileTheStoreFailsAndIsReadAgainOnceItAnswers() {
    keyOfANumber();
    assertThat(keys.findNumber(PNID)).isPresent();
    clock.advance(Duration.ofSeconds(30));
    store.down.set(true);
    int before = store.numberLists.get();
    assertThat(keys.findNumber(PNID)).as("stale-if-error").isPresent();
    assertThat(keys.isRegisteredObject("102290129340398")).isTrue();
    assertThat(store.numberLists.get()).as("one failing read, then none within the poll interval")
        .isEqualTo(before + 1);

    clock.advance(KeyService.POLL_INTERVAL);
    store.down.set(false);
    store.delegate.deleteNumber(PNID); // behind the service's back
    assertThat(keys.findNumber(PNID)).as("read again").isEmpty();

    store.down.set(true);
    clock.advance(Duration.ofSeconds(30).plus(KeyService.STALE_IF_ERROR));
    assertThatThrownBy(() -> keys.findNumber(PNID)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void lastUsesAWriteFailedOnAreWrittenByTheNextFlushAndClosingNeverThrows() {
    CreatedKey created = keyOfANumber();
    keys.resolve(created.key());
    Instant used = clock.instant();
    store.down.set(true);
    assertThatThrownBy(keys::flushTouches).isInstanceOf(IllegalStateException.class);
    keys.close(); // says it in one WARN, does not throw
    store.down.set(false);
    assertThat(keys.listKeys().get(0).lastUsedAt()).as("still recorded").contains(used);
    keys.flushTouches();
    assertThat(store.delegate.listKeys().get(0).lastUsedAt()).contains(used);
  }

  @Test
  void aLastUseWrittenByAnotherInstanceLaterThanOursIsTheOneListed() {
    CreatedKey created = keyOfANumber();
    keys.resolve(created.key());
    Instant ours = clock.instant();
    store.delegate.touchKey(created.record().id(), ours.plusSeconds(5));
    assertThat(keys.listKeys().get(0).lastUsedAt()).contains(ours.plusSeconds(5));
    store.delegate.touchKey(created.record().id(), ours.minusSeconds(5));
    assertThat(keys.listKeys().get(0).lastUsedAt()).contains(ours);
    store.delegate.touchKey(created.record().id(), ours);
    assertThat(keys.listKeys().get(0).lastUsedAt()).contains(ours);
  }

  @ParameterizedTest
  @ValueSource(strings = {"resolve", "directory", "flush", "refresh"})
  void anyAnswerOfTheStoreEndsTheFailureAndACachedKeyIsAskedForAgainAtOnce(String answeringCall) {
    CreatedKey cached = keyOfANumber();
    CreatedKey other = keys.createKey(PNID).orElseThrow();
    keys.refresh();
    keys.resolve(cached.key());
    clock.advance(Duration.ofSeconds(31));
    store.down.set(true);
    assertThat(keys.resolve(cached.key())).as("stale-if-error").isInstanceOf(Resolution.Granted.class);

    store.down.set(false);
    switch (answeringCall) {
      case "resolve" -> assertThat(keys.resolve(other.key())).isInstanceOf(Resolution.Granted.class);
      case "directory" -> assertThat(keys.findNumber(PNID)).isPresent();
      case "flush" -> keys.flushTouches();
      default -> keys.refresh();
    }
    store.delegate.revokeKey(cached.record().id(), clock.instant()); // behind the service's back
    assertThat(keys.resolve(cached.key()))
        .as("the store answered (%s) within the poll interval: it is asked again, not spared", answeringCall)
        .isEqualTo(new Resolution.Refused(Resolution.Reason.REVOKED));
  }

  @ParameterizedTest
  @ValueSource(strings = {"flush", "refresh"})
  void aFailedFlushOrPollAlsoSparesTheStoreForAPollInterval(String failingCall) {
    CreatedKey cached = keyOfANumber();
    keys.refresh();
    keys.resolve(cached.key());
    clock.advance(Duration.ofSeconds(31));
    store.down.set(true);
    if (failingCall.equals("flush")) {
      assertThatThrownBy(keys::flushTouches).isInstanceOf(IllegalStateException.class);
    } else {
      assertThatThrownBy(keys::refresh).isInstanceOf(IllegalStateException.class);
    }
    int before = store.keyReads.get();
    assertThat(keys.resolve(cached.key())).isInstanceOf(Resolution.Granted.class);
    assertThat(store.keyReads.get()).as("served stale without asking the store that just failed").isEqualTo(before);
  }

  @Test
  void anOutageIsLoggedOnceWhenItStartsWithItsRootCauseAndOnceWhenItEnds() {
    Logger logger = (Logger) LoggerFactory.getLogger(KeyService.class);
    Level level = logger.getLevel();
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    logged.start();
    logger.addAppender(logged);
    logger.setLevel(Level.INFO);
    try {
      CreatedKey cold = keyOfANumber();
      logged.list.clear();
      store.down.set(true);
      assertThatThrownBy(() -> keys.resolve(cold.key())).isInstanceOf(KeyService.StoreUnavailableException.class);
      assertThatThrownBy(() -> keys.resolve(cold.key())).isInstanceOf(KeyService.StoreUnavailableException.class);
      clock.advance(KeyService.POLL_INTERVAL);
      assertThatThrownBy(keys::refresh).isInstanceOf(IllegalStateException.class);
      store.down.set(false);
      keys.resolve(cold.key());
      keys.resolve(cold.key());
      keys.refresh();
      keys.refresh();
      assertThat(logged.list).extracting(ILoggingEvent::getLevel, ILoggingEvent::getFormattedMessage).containsExactly(
          org.assertj.core.groups.Tuple.tuple(Level.WARN, "The key store does not answer (ConnectException: refused):"
              + " keys whose grants are cached keep working for up to 60 min past their cache time, other keys fail"
              + " until it answers again"),
          org.assertj.core.groups.Tuple.tuple(Level.INFO, "The key store answers again"));

      // the root cause is shown whole up to 200 characters, cut beyond ("ConnectException: " is 18)
      logged.list.clear();
      store.rootMessage = "x".repeat(182);
      store.down.set(true);
      clock.advance(KeyService.POLL_INTERVAL);
      assertThatThrownBy(keys::refresh).isInstanceOf(IllegalStateException.class);
      store.down.set(false);
      keys.refresh();
      store.rootMessage = "y".repeat(183);
      store.down.set(true);
      clock.advance(KeyService.POLL_INTERVAL);
      assertThatThrownBy(keys::refresh).isInstanceOf(IllegalStateException.class);
      List<String> warnings = logged.list.stream().filter(e -> e.getLevel() == Level.WARN)
          .map(ILoggingEvent::getFormattedMessage).toList();
      assertThat(warnings).hasSize(2);
      assertThat(warnings.get(0)).contains("(ConnectException: " + "x".repeat(182) + "):");
      assertThat(warnings.get(1)).contains("(ConnectException: " + "y".repeat(182) + "…):");
    } finally {
      logger.detachAppender(logged);
      logger.setLevel(level);
    }
  }

  @Test
  void aRootCauseWithoutAMessageIsNamedByItsClass() {
    Logger logger = (Logger) LoggerFactory.getLogger(KeyService.class);
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    logged.start();
    logger.addAppender(logged);
    try {
      store.rootMessage = null;
      store.down.set(true);
      assertThatThrownBy(keys::refresh).isInstanceOf(IllegalStateException.class);
      assertThat(logged.list).filteredOn(e -> e.getLevel() == Level.WARN).singleElement()
          .satisfies(e -> assertThat(e.getFormattedMessage()).startsWith("The key store does not answer (ConnectException):"));
    } finally {
      logger.detachAppender(logged);
    }
  }

  /** The in-memory store, failing every call but {@code ping} while {@link #down}; counts the reads that matter. */
  private static final class FailingStore implements KeyStore {
    final KeyStore delegate;
    final AtomicBoolean down = new AtomicBoolean();
    final AtomicInteger keyReads = new AtomicInteger();
    final AtomicInteger numberLists = new AtomicInteger();

    FailingStore(KeyStore delegate) {
      this.delegate = delegate;
    }

    /** The message of the deepest cause of the failure, the connection error. */
    volatile String rootMessage = "refused";

    private void check() {
      if (down.get()) {
        throw new IllegalStateException("the database does not answer", new java.net.ConnectException(rootMessage));
      }
    }

    @Override public Optional<KeyWithNumber> findKeyWithNumber(String hash) {
      keyReads.incrementAndGet();
      check();
      return delegate.findKeyWithNumber(hash);
    }
    @Override public List<StoredNumber> listNumbers() {
      numberLists.incrementAndGet();
      check();
      return delegate.listNumbers();
    }
    @Override public void touchKeys(Map<String, Instant> lastUsed) {
      check();
      delegate.touchKeys(lastUsed);
    }
    @Override public boolean insertNumber(StoredNumber n) { check(); return delegate.insertNumber(n); }
    @Override public boolean updateToken(String id, byte[] t) { check(); return delegate.updateToken(id, t); }
    @Override public Optional<StoredNumber> findNumber(String id) { check(); return delegate.findNumber(id); }
    @Override public boolean deleteNumber(String id) { check(); return delegate.deleteNumber(id); }
    @Override public void insertKey(StoredKey k) { check(); delegate.insertKey(k); }
    @Override public Optional<StoredKey> findKeyByHash(String h) { check(); return delegate.findKeyByHash(h); }
    @Override public List<KeyRecord> listKeys() { check(); return delegate.listKeys(); }
    @Override public boolean revokeKey(String id, Instant at) { check(); return delegate.revokeKey(id, at); }
    @Override public void touchKey(String id, Instant at) { check(); delegate.touchKey(id, at); }
    @Override public long keyChanges() { check(); return delegate.keyChanges(); }
    @Override public boolean ping() { return !down.get(); }
  }
}

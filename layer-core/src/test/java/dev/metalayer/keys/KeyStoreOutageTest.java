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
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

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

  /** The in-memory store, failing every call but {@code ping} while {@link #down}; counts the reads that matter. */
  private static final class FailingStore implements KeyStore {
    final KeyStore delegate;
    final AtomicBoolean down = new AtomicBoolean();
    final AtomicInteger keyReads = new AtomicInteger();
    final AtomicInteger numberLists = new AtomicInteger();

    FailingStore(KeyStore delegate) {
      this.delegate = delegate;
    }

    private void check() {
      if (down.get()) {
        throw new IllegalStateException("the database does not answer", new java.net.ConnectException("refused"));
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

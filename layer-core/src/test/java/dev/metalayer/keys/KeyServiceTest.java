package dev.metalayer.keys;

import dev.metalayer.keys.KeyService.Registration;

import dev.metalayer.keys.KeyService.CreatedKey;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.TestDatabases;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeyServiceTest {
  private static final String TOKEN = "EAAG-meta-token-of-number-one";
  private final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  private final KeyStore store = Stores.inMemoryKeys();
  private final KeyService keys =
      new KeyService(store, new TokenCipher(new byte[32], new SecureRandom()), clock, new SecureRandom(),
          Duration.ofSeconds(30));

  private WhatsAppNumber add(String phone, String pnid, String waba) {
    Registration r = keys.addNumber(phone, pnid, waba, "555", TOKEN);
    assertThat(r).isInstanceOf(Registration.Added.class);
    return ((Registration.Added) r).number();
  }

  @Test
  void aCreatedKeyResolvesToItsNumberAndToken() {
    WhatsAppNumber n = add("+15550783881", "106540352242922", "102290129340398");
    CreatedKey created = keys.createKey(n.phoneNumberId()).orElseThrow();

    assertThat(created.key()).startsWith("ps_").hasSize(46);
    assertThat(ApiKeys.looksLikeKey(created.key())).isTrue();
    assertThat(created.record().prefix()).isEqualTo(created.key().substring(0, 8));
    assertThat(created.toString()).doesNotContain(created.key());

    Resolution r = keys.resolve(created.key());
    assertThat(r).isInstanceOf(Resolution.Granted.class);
    Grant grant = ((Resolution.Granted) r).grant();
    assertThat(grant.number()).isEqualTo(n);
    assertThat(grant.metaToken()).isEqualTo(TOKEN);
    assertThat(grant.toString()).doesNotContain(TOKEN);
  }

  @Test
  void theStoreHoldsOnlyAHashOfTheKeyAndASealedToken() {
    add("+15550783881", "106540352242922", "102290129340398");
    CreatedKey created = keys.createKey("106540352242922").orElseThrow();
    KeyStore.StoredKey stored = store.findKeyByHash(ApiKeys.hash(created.key())).orElseThrow();
    assertThat(stored.hash()).hasSize(64).doesNotContain(created.key());
    byte[] sealed = store.findNumber("106540352242922").orElseThrow().sealedToken();
    assertThat(new String(sealed, StandardCharsets.ISO_8859_1)).doesNotContain("EAAG");
  }

  @Test
  void refusalsSayWhyInternally() {
    add("+15550783881", "106540352242922", "102290129340398");
    assertThat(keys.resolve("")).isEqualTo(new Resolution.Refused(Resolution.Reason.MISSING));
    assertThat(keys.resolve("EAAG-a-real-meta-token")).isEqualTo(new Resolution.Refused(Resolution.Reason.MALFORMED));
    assertThat(keys.resolve("ps_short")).isEqualTo(new Resolution.Refused(Resolution.Reason.MALFORMED));
    assertThat(keys.resolve("ps_" + "A".repeat(40) + "!")).isEqualTo(new Resolution.Refused(Resolution.Reason.MALFORMED));
    assertThat(keys.resolve("ps_" + "A".repeat(43))).isEqualTo(new Resolution.Refused(Resolution.Reason.UNKNOWN));
  }

  @Test
  void revocationTakesEffectAtOnceDespiteTheCache() {
    add("+15550783881", "106540352242922", "102290129340398");
    CreatedKey created = keys.createKey("106540352242922").orElseThrow();
    assertThat(keys.resolve(created.key())).isInstanceOf(Resolution.Granted.class);

    assertThat(keys.revokeKey(created.record().id())).isTrue();
    assertThat(keys.resolve(created.key())).isEqualTo(new Resolution.Refused(Resolution.Reason.REVOKED));
    assertThat(keys.revokeKey(created.record().id())).isFalse();
  }

  @Test
  void aRevocationWhileTheKeyIsBeingResolvedIsNotUndoneByTheCache() {
    // the revocation runs between the resolution's read of the key and its caching of the grant
    java.util.concurrent.atomic.AtomicReference<Runnable> duringRead = new java.util.concurrent.atomic.AtomicReference<>();
    KeyStore racing = new RacingStore(store, duringRead);
    KeyService raced = new KeyService(racing, new TokenCipher(new byte[32], new SecureRandom()), clock,
        new SecureRandom(), Duration.ofSeconds(30));
    raced.addNumber("+15550783881", "106540352242922", "102290129340398", "555", TOKEN);
    CreatedKey created = raced.createKey("106540352242922").orElseThrow();
    duringRead.set(() -> assertThat(raced.revokeKey(created.record().id())).isTrue());

    // the request under way when the key was revoked still passes, as any request already under way
    assertThat(raced.resolve(created.key())).isInstanceOf(Resolution.Granted.class);
    // the next one is refused at once, not after the cache's 30 seconds
    assertThat(raced.resolve(created.key())).isEqualTo(new Resolution.Refused(Resolution.Reason.REVOKED));
  }

  /** A store that runs a hook once, right after a key is read: an interleaving made deterministic. */
  private static final class RacingStore extends ForwardingKeyStore {
    private final java.util.concurrent.atomic.AtomicReference<Runnable> afterKeyRead;

    RacingStore(KeyStore d, java.util.concurrent.atomic.AtomicReference<Runnable> afterKeyRead) {
      super(d);
      this.afterKeyRead = afterKeyRead;
    }

    @Override public java.util.Optional<StoredKey> findKeyByHash(String h) {
      java.util.Optional<StoredKey> found = d.findKeyByHash(h);
      Runnable hook = afterKeyRead.getAndSet(null);
      if (hook != null) {
        hook.run();
      }
      return found;
    }
  }

  @Test
  void removingTheNumberKillsItsKeysAtOnce() {
    add("+15550783881", "106540352242922", "102290129340398");
    CreatedKey created = keys.createKey("106540352242922").orElseThrow();
    assertThat(keys.resolve(created.key())).isInstanceOf(Resolution.Granted.class);
    assertThat(keys.removeNumber("106540352242922")).isTrue();
    assertThat(keys.resolve(created.key())).isInstanceOf(Resolution.Refused.class);
    assertThat(keys.createKey("106540352242922")).isEmpty();
  }

  @Test
  void theRemovalListenerRunsAfterTheNumberGoesAndARepeatedRemovalCompletesAFailedOne() {
    List<String> told = new ArrayList<>();
    AtomicBoolean fail = new AtomicBoolean(true);
    KeyService listened = new KeyService(store, new TokenCipher(new byte[32], new SecureRandom()), clock,
        new SecureRandom(), Duration.ofSeconds(30), id -> {
          told.add(id + (store.findNumber(id).isPresent() ? " (still registered)" : " (gone)"));
          if (fail.get()) {
            throw new IllegalStateException("relay store unavailable");
          }
        });
    assertThat(listened.addNumber("+15550783881", "106540352242922", "102290129340398", "555", TOKEN))
        .isInstanceOf(Registration.Added.class);
    CreatedKey created = listened.createKey("106540352242922").orElseThrow();

    assertThatThrownBy(() -> listened.removeNumber("106540352242922"))
        .hasMessage("relay store unavailable");
    // the number and its keys went first: nothing can be created for it any more
    assertThat(listened.findNumber("106540352242922")).isEmpty();
    assertThat(listened.isRegistered("106540352242922")).isFalse();
    assertThat(listened.resolve(created.key())).isInstanceOf(Resolution.Refused.class);

    fail.set(false);
    assertThat(listened.removeNumber("106540352242922")).as("already gone").isFalse();
    assertThat(told).as("the repetition told the listener again: it cleans up what the failure left")
        .containsExactly("106540352242922 (gone)", "106540352242922 (gone)");
  }

  @Test
  void aRevocationByAnotherInstanceAppliesWhenTheCacheExpires() {
    add("+15550783881", "106540352242922", "102290129340398");
    CreatedKey created = keys.createKey("106540352242922").orElseThrow();
    keys.resolve(created.key());
    store.revokeKey(created.record().id(), clock.instant()); // behind the service's back

    assertThat(keys.resolve(created.key())).isInstanceOf(Resolution.Granted.class);
    clock.advance(Duration.ofSeconds(31));
    assertThat(keys.resolve(created.key())).isEqualTo(new Resolution.Refused(Resolution.Reason.REVOKED));
  }

  @Test
  void lastUseIsRecordedAtMostOnceAMinute() {
    add("+15550783881", "106540352242922", "102290129340398");
    CreatedKey created = keys.createKey("106540352242922").orElseThrow();
    keys.resolve(created.key());
    assertThat(keys.listKeys().get(0).lastUsedAt()).contains(clock.instant());
    java.time.Instant first = clock.instant();
    clock.advance(Duration.ofSeconds(20));
    keys.resolve(created.key());
    assertThat(keys.listKeys().get(0).lastUsedAt()).contains(first);
    clock.advance(Duration.ofSeconds(41));
    keys.resolve(created.key());
    assertThat(keys.listKeys().get(0).lastUsedAt()).contains(clock.instant());
    assertThat(store.listKeys().get(0).lastUsedAt()).as("recorded in memory, not written yet").isEmpty();
    keys.flushTouches();
    assertThat(store.listKeys().get(0).lastUsedAt()).as("written by the flush").contains(clock.instant());
  }

  @Test
  void invalidAndDuplicateNumbersAreValues() {
    assertThat(keys.addNumber("15550783881", "1", "2", "3", TOKEN)).isInstanceOf(Registration.Invalid.class);
    assertThat(keys.addNumber("+15550783881", "abc", "2", "3", TOKEN)).isInstanceOf(Registration.Invalid.class);
    assertThat(keys.addNumber("+15550783881", "1", "2", "3", " ")).isInstanceOf(Registration.Invalid.class);
    add("+15550783881", "1", "2");
    assertThat(keys.addNumber("+15550783881", "9", "2", "3", TOKEN)).isInstanceOf(Registration.Duplicate.class);
  }

  @Test
  void theDirectoryKnowsEveryNumbersObjects() {
    add("+15550000001", "111", "900");
    add("+15550000002", "222", "900");
    assertThat(keys.isRegisteredObject("111")).isTrue();
    assertThat(keys.isRegisteredObject("900")).isTrue();
    assertThat(keys.isRegisteredObject("555")).isTrue();
    assertThat(keys.isRegisteredObject("333")).isFalse();
    assertThat(keys.numbersOfWaba("900")).extracting(WhatsAppNumber::phoneNumberId).containsExactlyInAnyOrder("111", "222");
    assertThat(keys.findNumber("222")).map(WhatsAppNumber::phone).contains("+15550000002");
    assertThatThrownBy(() -> keys.numbersOfWaba("900").clear()).as("the shared directory cannot be changed by a caller")
        .isInstanceOf(UnsupportedOperationException.class);
    assertThat(keys.numbersOfWaba("900")).hasSize(2);
  }

  @Test
  void registeredObjectsAndSharedWabasAreComparedInCanonicalForm() {
    add("+15550000001", "111", "900");
    add("+15550000002", "0222", "0900");
    add("+15550000003", "333", "901");
    assertThat(keys.isRegisteredObject("0111")).isTrue();
    assertThat(keys.isRegisteredObject("222")).isTrue();
    assertThat(keys.isSharedWaba("900")).isTrue();
    assertThat(keys.isSharedWaba("00900")).isTrue();
    assertThat(keys.isSharedWaba("901")).isFalse();
  }

  @Test
  void tokenRotationAppliesAtOnceAndWorksOnTheJdbcStore(@TempDir Path dir) {
    KeyService jdbc = new KeyService(Stores.keys(TestDatabases.h2File(dir)),
        new TokenCipher(new byte[32], new SecureRandom()), clock, new SecureRandom(), Duration.ofSeconds(30));
    jdbc.addNumber("+15550783881", "106540352242922", "102290129340398", "555", TOKEN);
    CreatedKey created = jdbc.createKey("106540352242922").orElseThrow();
    assertThat(((Resolution.Granted) jdbc.resolve(created.key())).grant().metaToken()).isEqualTo(TOKEN);
    assertThat(jdbc.updateToken("106540352242922", "EAAG-rotated")).isTrue();
    assertThat(((Resolution.Granted) jdbc.resolve(created.key())).grant().metaToken()).isEqualTo("EAAG-rotated");
  }

  @Test
  void theShapeOfAKeyIsCheckedAtEveryEdgeOfItsLengthAndAlphabet() {
    assertThat(ApiKeys.looksLikeKey("ps_" + "A".repeat(32))).as("the shortest").isTrue();
    assertThat(ApiKeys.looksLikeKey("ps_" + "A".repeat(31))).isFalse();
    assertThat(ApiKeys.looksLikeKey("ps_" + "A".repeat(125))).as("128 characters").isTrue();
    assertThat(ApiKeys.looksLikeKey("ps_" + "A".repeat(126))).isFalse();
    assertThat(ApiKeys.looksLikeKey("ps_" + "AZaz09-_".repeat(4))).isTrue();
    for (char c : new char[] {'@', '[', '`', '{', '/', ':', '.', '=', '+'}) {
      assertThat(ApiKeys.looksLikeKey("ps_" + "A".repeat(40) + c)).as("%s", c).isFalse();
    }
    assertThat(ApiKeys.looksLikeKey("pk_" + "A".repeat(40))).isFalse();
    assertThat(ApiKeys.looksLikeKey(null)).isFalse();
  }

  @Test
  void generatedKeysAndIdsAreFreshAndTheHashIsTheKeysSha256() {
    SecureRandom random = new SecureRandom();
    assertThat(ApiKeys.generate(random)).isNotEqualTo(ApiKeys.generate(random));
    assertThat(ApiKeys.newId("key", random)).matches("key_[0-9a-f]{20}").isNotEqualTo(ApiKeys.newId("key", random));
    assertThat(ApiKeys.hash("abc")).isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assertThat(ApiKeys.displayPrefix("ps_abcdefgh")).isEqualTo("ps_abcde");
    assertThat(ApiKeys.displayPrefix("ps_a")).isEqualTo("ps_a");
  }

  @Test
  void aNumbersIdsAreComparedWithoutLeadingZerosAndItOwnsOnlyItsOwnObjects() {
    assertThat(WhatsAppNumber.canonicalId("0")).isEqualTo("0");
    assertThat(WhatsAppNumber.canonicalId("000")).isEqualTo("0");
    assertThat(WhatsAppNumber.canonicalId("00120")).isEqualTo("120");
    assertThat(WhatsAppNumber.isGraphId("0123")).isTrue();
    assertThat(WhatsAppNumber.isGraphId("12a")).isFalse();
    assertThat(WhatsAppNumber.isGraphId(null)).isFalse();
    WhatsAppNumber n = add("+15550783881", "106540352242922", "102290129340398");
    assertThat(n.digits()).isEqualTo("15550783881");
    assertThat(n.owns("106540352242922")).isTrue();
    assertThat(n.owns("102290129340398")).isTrue();
    assertThat(n.owns("555")).as("its business is not its own object").isFalse();
  }

  @Test
  void aMetaTokenIsOneTo4096CharactersOfVisibleAsciiAndARefusalNeverNamesIt() {
    assertThat(KeyService.metaTokenProblem(" " + "!".repeat(4095) + "~\n")).as("4096 once stripped").isEmpty();
    assertThat(KeyService.metaTokenProblem("E".repeat(4097))).get().asString().contains("longer than 4096");
    assertThat(KeyService.metaTokenProblem(null)).get().asString().contains("non-empty");
    for (String bad : new String[] {"EAAG secret", "EAAG\u007fsecret", "EAAG\u2026", "EAAG\u0000x"}) {
      assertThat(KeyService.metaTokenProblem(bad)).as(bad).get().asString().contains("plain visible ASCII")
          .doesNotContain("EAAG");
    }
    assertThat(KeyService.isPlainMetaToken("!~")).isTrue();
    assertThat(KeyService.isPlainMetaToken("E".repeat(4096))).isTrue();
    assertThat(KeyService.isPlainMetaToken("E".repeat(4097))).isFalse();
    assertThat(KeyService.isPlainMetaToken("")).isFalse();
    assertThat(KeyService.isPlainMetaToken(null)).isFalse();
    assertThat(keys.addNumber("+15550783881", "1", "2", "3", "EAAG secret")).isInstanceOf(Registration.Invalid.class);
    assertThatThrownBy(() -> keys.updateToken("1", "EAAG secret")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageNotContaining("EAAG");
  }

  @Test
  void aKeyReadAgainWithinAMinuteOfItsRecordedUseIsNotRecordedAgain() {
    add("+15550783881", "106540352242922", "102290129340398");
    CreatedKey created = keys.createKey("106540352242922").orElseThrow();
    java.time.Instant first = clock.instant();
    keys.resolve(created.key());
    clock.advance(Duration.ofSeconds(31)); // the grant expired, the use recorded 31 s ago
    keys.resolve(created.key());
    assertThat(keys.listKeys().get(0).lastUsedAt()).contains(first);
    clock.advance(Duration.ofSeconds(29)); // cached again, and a minute after the recorded use
    keys.resolve(created.key());
    assertThat(keys.listKeys().get(0).lastUsedAt()).contains(clock.instant());
    assertThat(keys.grantCacheHits()).isEqualTo(1);
    assertThat(keys.grantCacheMisses()).isEqualTo(2);
  }

  @Test
  void aKeysOwnRateLimitHoldsAtOnceDespiteTheCacheAndOnlyForThatKey() {
    add("+15550783881", "106540352242922", "102290129340398");
    CreatedKey limited = keys.createKey("106540352242922").orElseThrow();
    CreatedKey other = keys.createKey("106540352242922").orElseThrow();
    assertThat(((Resolution.Granted) keys.resolve(limited.key())).grant().rateLimit()).isEmpty();
    keys.resolve(other.key());
    store.revokeKey(other.record().id(), clock.instant()); // behind the service's back

    assertThat(keys.setRateLimit(limited.record().id(), java.util.Optional.of(new Grant.RateLimit(2, 5)))).isTrue();
    assertThat(((Resolution.Granted) keys.resolve(limited.key())).grant().rateLimit())
        .as("the cached grant was dropped").contains(new Grant.RateLimit(2, 5));
    assertThat(keys.listKeys()).filteredOn(r -> r.id().equals(limited.record().id())).singleElement()
        .satisfies(r -> assertThat(r.rateLimit()).contains(new Grant.RateLimit(2, 5)));
    assertThat(keys.resolve(other.key())).as("another key keeps its cached grant until its cache time ends")
        .isInstanceOf(Resolution.Granted.class);

    assertThat(keys.setRateLimit(limited.record().id(), java.util.Optional.empty())).isTrue();
    assertThat(((Resolution.Granted) keys.resolve(limited.key())).grant().rateLimit()).isEmpty();
    assertThat(keys.setRateLimit("key_00000000000000000000", java.util.Optional.empty())).isFalse();
  }

  @Test
  void aRevocationARemovalOrARotationDropsOnlyTheCachedGrantsItConcerns() {
    add("+15550783881", "106540352242922", "102290129340398");
    add("+15550783882", "106540352242923", "102290129340398");
    CreatedKey changed = keys.createKey("106540352242922").orElseThrow();
    CreatedKey other = keys.createKey("106540352242923").orElseThrow();
    keys.resolve(changed.key());
    keys.resolve(other.key());
    store.revokeKey(other.record().id(), clock.instant()); // behind the service's back: shows once its cache is gone

    assertThat(keys.updateToken("106540352242922", "EAAG-rotated")).isTrue();
    assertThat(keys.resolve(other.key())).as("after a rotation of another number").isInstanceOf(Resolution.Granted.class);
    assertThat(keys.revokeKey(changed.record().id())).isTrue();
    assertThat(keys.resolve(other.key())).as("after a revocation of another key").isInstanceOf(Resolution.Granted.class);
    assertThat(keys.removeNumber("106540352242922")).isTrue();
    assertThat(keys.resolve(other.key())).as("after a removal of another number").isInstanceOf(Resolution.Granted.class);
    clock.advance(Duration.ofSeconds(30));
    assertThat(keys.resolve(other.key())).isEqualTo(new Resolution.Refused(Resolution.Reason.REVOKED));
  }

  @Test
  void aRotationSaysWhetherTheNumberExists() {
    add("+15550783881", "106540352242922", "102290129340398");
    assertThat(keys.updateToken("106540352242922", "EAAG-rotated")).isTrue();
    assertThat(keys.updateToken("106540352242923", "EAAG-rotated")).isFalse();
    assertThat(keys.metaTokenOf("106540352242922")).contains("EAAG-rotated");
  }

  @Test
  void theMetaTokenOfANumberIsOpenedFromTheStoreAndItsRegistrationReadThere() {
    add("+15550783881", "106540352242922", "102290129340398");
    assertThat(keys.metaTokenOf("106540352242922")).contains(TOKEN);
    assertThat(keys.metaTokenOf("106540352242923")).isEmpty();
    assertThat(keys.isRegistered("106540352242922")).isTrue();
    assertThat(keys.isRegistered("106540352242923")).isFalse();
    assertThat(keys.storeReachable()).isTrue();
    KeyService unreachable = new KeyService(new DownStore(store), new TokenCipher(new byte[32], new SecureRandom()), clock,
        new SecureRandom(), Duration.ofSeconds(30));
    assertThat(unreachable.storeReachable()).isFalse();
  }

  @Test
  void aCreatedKeyShowsItsIdAndPrefixButNeverTheKey() {
    add("+15550783881", "106540352242922", "102290129340398");
    CreatedKey created = keys.createKey("106540352242922").orElseThrow();
    assertThat(created.toString()).isEqualTo(
        "CreatedKey[id=" + created.record().id() + ", prefix=" + created.record().prefix() + ", key=<redacted>]");
  }

  @Test
  void everyIdOfANumberMustBeNumericAndTheRefusalNamesTheField() {
    assertThat(keys.addNumber("15550783881", "1", "2", "3", TOKEN))
        .isEqualTo(new Registration.Invalid("phone must be an E.164 number with its leading +, e.g. +15551234567"));
    assertThat(keys.addNumber("+15550783881", "1x", "2", "3", TOKEN))
        .isEqualTo(new Registration.Invalid("phone_number_id must be Meta's numeric phone number ID"));
    assertThat(keys.addNumber("+15550783881", "1", "2x", "3", TOKEN))
        .isEqualTo(new Registration.Invalid("waba_id must be the numeric WhatsApp Business Account ID"));
    assertThat(keys.addNumber("+15550783881", "1", "2", "3x", TOKEN))
        .isEqualTo(new Registration.Invalid("business_id must be the numeric business portfolio ID"));
    assertThat(keys.listNumbers()).isEmpty();
  }

  @Test
  void theStartedUpkeepWritesRecordedUsesWithoutWaitingForCloseOnADaemonThread() throws InterruptedException {
    add("+15550783881", "106540352242922", "102290129340398");
    CreatedKey created = keys.createKey("106540352242922").orElseThrow();
    keys.start();
    try {
      keys.start(); // idempotent
      assertThat(Thread.getAllStackTraces().keySet()).filteredOn(t -> t.getName().equals("layer-keys")).isNotEmpty()
          .allSatisfy(t -> assertThat(t.isDaemon()).as("never keeps the JVM alive").isTrue());
      keys.resolve(created.key());
      // written by the upkeep every TOUCH_FLUSH_EVERY (5 s); the deadline is generous for a loaded machine
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (store.listKeys().get(0).lastUsedAt().isEmpty()) {
        assertThat(System.nanoTime()).as("written before the deadline, the service still open").isLessThan(deadline);
        Thread.sleep(50);
      }
      assertThat(store.listKeys().get(0).lastUsedAt()).contains(clock.instant());
    } finally {
      keys.close();
    }
  }

  @Test
  void closingOnAnInterruptedThreadKeepsTheInterruptForTheCaller() {
    add("+15550783881", "106540352242922", "102290129340398");
    CreatedKey created = keys.createKey("106540352242922").orElseThrow();
    keys.start();
    keys.resolve(created.key());
    Thread.currentThread().interrupt();
    try {
      keys.close();
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
    } finally {
      Thread.interrupted();
    }
    assertThat(store.listKeys().get(0).lastUsedAt()).as("the uses are still written").contains(clock.instant());
  }

  @Test
  void closingStopsAnUpkeepStuckOnTheStoreByInterruptingIt() throws InterruptedException {
    java.util.concurrent.CountDownLatch stuck = new java.util.concurrent.CountDownLatch(1);
    AtomicBoolean interrupted = new AtomicBoolean();
    KeyStore hanging = new DownStore(store) {
      @Override
      public long keyChanges() {
        stuck.countDown();
        try {
          new java.util.concurrent.CountDownLatch(1).await(); // a connection that never answers
        } catch (InterruptedException e) {
          interrupted.set(true);
        }
        return 0;
      }
    };
    KeyService service = new KeyService(hanging, new TokenCipher(new byte[32], new SecureRandom()), clock,
        new SecureRandom(), Duration.ofSeconds(30));
    service.start();
    assertThat(stuck.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    service.close(); // waits 10 s for the upkeep, then interrupts it
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!interrupted.get() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(interrupted).as("the stuck upkeep was interrupted").isTrue();
  }

  /** The in-memory store that does not answer a readiness check. */
  private static class DownStore extends ForwardingKeyStore {
    DownStore(KeyStore d) {
      super(d);
    }

    @Override public boolean ping() { return false; }
  }

  @Test
  void aRevocationAndANewRateLimitAreLoggedOnlyWhenTheyChangedAKey() {
    ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(KeyService.class);
    ch.qos.logback.classic.Level level = logger.getLevel();
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logged =
        new ch.qos.logback.core.read.ListAppender<>();
    add("+15550783881", "106540352242922", "102290129340398");
    CreatedKey created = keys.createKey("106540352242922").orElseThrow();
    logged.start();
    logger.addAppender(logged);
    logger.setLevel(ch.qos.logback.classic.Level.INFO);
    try {
      keys.setRateLimit(created.record().id(), java.util.Optional.of(new Grant.RateLimit(2, 5)));
      keys.setRateLimit(created.record().id(), java.util.Optional.empty());
      keys.setRateLimit("key_00000000000000000000", java.util.Optional.empty());
      keys.revokeKey(created.record().id());
      keys.revokeKey(created.record().id());
      keys.revokeKey("key_00000000000000000000");
      String id = created.record().id();
      assertThat(logged.list).extracting(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage).containsExactly(
          "Set the rate limit of key " + id + " to 2/s burst 5",
          "Set the rate limit of key " + id + " to the default",
          "Revoked key " + id);
    } finally {
      logger.detachAppender(logged);
      logger.setLevel(level);
    }
  }
}

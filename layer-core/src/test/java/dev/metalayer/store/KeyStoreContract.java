package dev.metalayer.store;

import dev.metalayer.keys.KeyStore;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.keys.Grant;
import dev.metalayer.keys.Grant.Scope;
import dev.metalayer.keys.KeyRecord;
import dev.metalayer.keys.WhatsAppNumber;
import dev.metalayer.keys.KeyStore.StoredKey;
import dev.metalayer.keys.KeyStore.StoredNumber;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The behaviour every {@link KeyStore} must have; run against each implementation. */
abstract class KeyStoreContract {
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  KeyStore store;

  abstract KeyStore newStore() throws Exception;

  @BeforeEach
  void open() throws Exception {
    store = newStore();
  }

  static StoredNumber number(String pnid, String phone, int minute) {
    return new StoredNumber(
        new WhatsAppNumber(phone, pnid, "9" + pnid, "8" + pnid, T0.plusSeconds(60L * minute)), new byte[] {1, 2, 3});
  }

  static StoredKey key(String id, String pnid, String hash, int minute) {
    return new StoredKey(
        new KeyRecord(id, "ps_abcde", pnid, T0.plusSeconds(60L * minute), Optional.empty(), Optional.empty()), hash);
  }

  @Test
  void numbersAreUniqueByIdAndByPhone() {
    assertThat(store.insertNumber(number("111", "+15550000001", 0))).isTrue();
    assertThat(store.insertNumber(number("111", "+15550000002", 1))).isFalse();
    assertThat(store.insertNumber(number("222", "+15550000001", 1))).isFalse();
    assertThat(store.listNumbers()).hasSize(1);
  }

  @Test
  void numbersRoundTripWithTheirSealedToken() {
    store.insertNumber(number("222", "+15550000002", 2));
    store.insertNumber(number("111", "+15550000001", 1));
    assertThat(store.findNumber("111")).get().satisfies(n -> {
      assertThat(n.number().phone()).isEqualTo("+15550000001");
      assertThat(n.number().wabaId()).isEqualTo("9111");
      assertThat(n.number().createdAt()).isEqualTo(T0.plusSeconds(60));
      assertThat(n.sealedToken()).containsExactly(1, 2, 3);
    });
    assertThat(store.listNumbers()).extracting(n -> n.number().phoneNumberId()).containsExactly("111", "222");
    assertThat(store.updateToken("111", new byte[] {9})).isTrue();
    assertThat(store.findNumber("111").orElseThrow().sealedToken()).containsExactly(9);
    assertThat(store.updateToken("404", new byte[] {9})).isFalse();
    assertThat(store.findNumber("404")).isEmpty();
  }

  @Test
  void keysAreFoundByHashAndRevokedOnce() {
    store.insertNumber(number("111", "+15550000001", 0));
    store.insertKey(key("key_1", "111", "a".repeat(64), 1));
    assertThat(store.findKeyByHash("a".repeat(64))).get().satisfies(k -> {
      assertThat(k.record().id()).isEqualTo("key_1");
      assertThat(k.record().revoked()).isFalse();
    });
    assertThat(store.findKeyByHash("b".repeat(64))).isEmpty();

    store.touchKey("key_1", T0.plusSeconds(600));
    assertThat(store.listKeys()).singleElement().satisfies(k ->
        assertThat(k.lastUsedAt()).contains(T0.plusSeconds(600)));

    assertThat(store.revokeKey("key_1", T0.plusSeconds(900))).isTrue();
    assertThat(store.revokeKey("key_1", T0.plusSeconds(901))).isFalse();
    assertThat(store.revokeKey("key_404", T0)).isFalse();
    assertThat(store.findKeyByHash("a".repeat(64)).orElseThrow().record().revokedAt()).contains(T0.plusSeconds(900));
  }

  @Test
  void aKeyNeedsItsNumber() {
    assertThatThrownBy(() -> store.insertKey(key("key_1", "404", "a".repeat(64), 0)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(store.listKeys()).isEmpty();
  }

  @Test
  void removingANumberRemovesItsKeysOnly() {
    store.insertNumber(number("111", "+15550000001", 0));
    store.insertNumber(number("222", "+15550000002", 1));
    store.insertKey(key("key_1", "111", "a".repeat(64), 2));
    store.insertKey(key("key_2", "222", "b".repeat(64), 3));
    assertThat(store.deleteNumber("111")).isTrue();
    assertThat(store.deleteNumber("111")).isFalse();
    assertThat(store.findKeyByHash("a".repeat(64))).isEmpty();
    assertThat(store.listKeys()).extracting(KeyRecord::id).containsExactly("key_2");
    assertThat(store.ping()).isTrue();
  }

  @Test
  void theMasterKeyCheckIsSavedOnceAndTheFirstStays() {
    assertThat(store.masterKeyCheck()).isEmpty();
    assertThat(store.saveMasterKeyCheck(new byte[] {1, 2, 3})).isTrue();
    assertThat(store.saveMasterKeyCheck(new byte[] {4, 5, 6})).isFalse();
    assertThat(store.masterKeyCheck()).hasValueSatisfying(v -> assertThat(v).containsExactly(1, 2, 3));
  }

  @Test
  void aKeyIsReadWithItsNumberAtOnce() {
    store.insertNumber(number("111", "+15550000001", 0));
    store.insertNumber(number("222", "+15550000002", 1));
    store.insertKey(key("key_1", "111", "a".repeat(64), 2));
    store.insertKey(key("key_2", "222", "b".repeat(64), 3));

    assertThat(store.findKeyWithNumber("a".repeat(64))).get().satisfies(found -> {
      assertThat(found.key().record().id()).isEqualTo("key_1");
      assertThat(found.key().hash()).isEqualTo("a".repeat(64));
      assertThat(found.key().record().createdAt()).isEqualTo(T0.plusSeconds(120));
      assertThat(found.number().number()).isEqualTo(number("111", "+15550000001", 0).number());
      assertThat(found.number().sealedToken()).containsExactly(1, 2, 3);
    });
    assertThat(store.findKeyWithNumber("c".repeat(64))).isEmpty();

    store.revokeKey("key_1", T0.plusSeconds(900));
    assertThat(store.findKeyWithNumber("a".repeat(64))).get()
        .satisfies(found -> assertThat(found.key().record().revokedAt()).contains(T0.plusSeconds(900)));
    store.updateToken("222", new byte[] {7});
    assertThat(store.findKeyWithNumber("b".repeat(64)).orElseThrow().number().sealedToken()).containsExactly(7);
    store.deleteNumber("222");
    assertThat(store.findKeyWithNumber("b".repeat(64))).isEmpty();
  }

  @Test
  void lastUsesAreWrittenTogetherAndOnlyMoveForward() {
    store.insertNumber(number("111", "+15550000001", 0));
    store.insertKey(key("key_1", "111", "a".repeat(64), 1));
    store.insertKey(key("key_2", "111", "b".repeat(64), 2));

    store.touchKeys(java.util.Map.of("key_1", T0.plusSeconds(600), "key_2", T0.plusSeconds(300), "key_404", T0));
    store.touchKeys(java.util.Map.of("key_1", T0.plusSeconds(500), "key_2", T0.plusSeconds(301)));
    store.touchKeys(java.util.Map.of());

    assertThat(store.listKeys()).extracting(k -> k.lastUsedAt().orElseThrow())
        .containsExactly(T0.plusSeconds(600), T0.plusSeconds(301));
  }

  @Test
  void theChangeCounterMovesWithEveryChangeThatCachedGrantsMustSee() {
    long c = store.keyChanges();
    store.insertNumber(number("111", "+15550000001", 0));
    c = assertMoved(c, "a number added");
    assertThat(store.insertNumber(number("111", "+15550000001", 0))).isFalse();
    store.insertKey(key("key_1", "111", "a".repeat(64), 1));
    store.touchKeys(java.util.Map.of("key_1", T0.plusSeconds(60)));
    store.touchKey("key_1", T0.plusSeconds(61));
    assertThat(store.keyChanges()).as("a duplicate, a new key and a use change nothing cached").isEqualTo(c);

    store.updateToken("111", new byte[] {9});
    c = assertMoved(c, "a token changed");
    store.updateToken("404", new byte[] {9});
    assertThat(store.keyChanges()).as("no such number").isEqualTo(c);
    store.revokeKey("key_1", T0);
    c = assertMoved(c, "a key revoked");
    store.revokeKey("key_1", T0);
    assertThat(store.keyChanges()).as("revoked already").isEqualTo(c);
    store.deleteNumber("111");
    c = assertMoved(c, "a number removed");
    store.deleteNumber("111");
    assertThat(store.keyChanges()).as("removed already").isEqualTo(c);
  }

  private long assertMoved(long before, String what) {
    long now = store.keyChanges();
    assertThat(now).as("the change counter after " + what).isNotEqualTo(before);
    return now;
  }

  @Test
  void aKeyKeepsItsScopesThroughEveryReadAndChange() {
    store.insertNumber(number("111", "+15550000001", 0));
    Set<Scope> few = EnumSet.of(Scope.MESSAGES, Scope.CALLS);
    KeyRecord r = key("key_1", "111", "a".repeat(64), 1).record();
    store.insertKey(new StoredKey(new KeyRecord(r.id(), r.prefix(), r.phoneNumberId(), r.createdAt(), r.lastUsedAt(),
        r.revokedAt(), few), "a".repeat(64)));
    store.insertKey(key("key_2", "111", "b".repeat(64), 2));

    assertThat(store.findKeyByHash("a".repeat(64)).orElseThrow().record().scopes()).isEqualTo(few);
    assertThat(store.findKeyWithNumber("a".repeat(64)).orElseThrow().key().record().scopes()).isEqualTo(few);
    assertThat(store.findKeyWithNumber("b".repeat(64)).orElseThrow().key().record().scopes()).isEqualTo(Scope.ALL);
    store.touchKey("key_1", T0.plusSeconds(600));
    store.touchKeys(java.util.Map.of("key_1", T0.plusSeconds(700)));
    store.revokeKey("key_1", T0.plusSeconds(900));
    assertThat(store.listKeys()).extracting(KeyRecord::scopes).containsExactly(few, Scope.ALL);
    assertThat(store.findKeyByHash("a".repeat(64)).orElseThrow().record().scopes()).isEqualTo(few);
  }

  @Test
  void everySingleScopeRoundTrips() {
    store.insertNumber(number("111", "+15550000001", 0));
    int i = 0;
    for (Scope scope : Scope.values()) {
      KeyRecord r = key("key_" + i, "111", Integer.toString(i).repeat(64), i).record();
      store.insertKey(new StoredKey(new KeyRecord(r.id(), r.prefix(), r.phoneNumberId(), r.createdAt(), r.lastUsedAt(),
          r.revokedAt(), Set.of(scope)), Integer.toString(i).repeat(64)));
      assertThat(store.findKeyByHash(Integer.toString(i).repeat(64)).orElseThrow().record().scopes()).containsExactly(scope);
      i++;
    }
  }

  @Test
  void aKeysOwnRateLimitIsKeptWithItChangedAndResetAndEveryChangeMovesTheCounter() {
    store.insertNumber(number("111", "+15550000001", 0));
    KeyRecord r = key("key_1", "111", "a".repeat(64), 1).record();
    Grant.RateLimit fractional = new Grant.RateLimit(0.25, 3);
    store.insertKey(new StoredKey(r.withRateLimit(Optional.of(fractional)), "a".repeat(64)));
    store.insertKey(key("key_2", "111", "b".repeat(64), 2));
    assertThat(store.findKeyWithNumber("a".repeat(64)).orElseThrow().key().record().rateLimit()).contains(fractional);
    assertThat(store.findKeyByHash("b".repeat(64)).orElseThrow().record().rateLimit()).as("the default").isEmpty();

    long before = store.keyChanges();
    assertThat(store.updateRateLimit("key_2", Optional.of(Grant.RateLimit.OFF))).isTrue();
    assertThat(store.updateRateLimit("key_1", Optional.empty())).isTrue();
    assertThat(store.keyChanges()).as("a rate limit change reaches every instance's poll").isGreaterThan(before);
    assertThat(store.listKeys()).extracting(KeyRecord::rateLimit)
        .containsExactly(Optional.empty(), Optional.of(Grant.RateLimit.OFF));
    assertThat(store.findKeyWithNumber("b".repeat(64)).orElseThrow().key().record().rateLimit())
        .contains(Grant.RateLimit.OFF);

    store.revokeKey("key_2", T0.plusSeconds(900));
    assertThat(store.updateRateLimit("key_2", Optional.of(new Grant.RateLimit(1000, 1)))).as("revoked keys too").isTrue();
    store.touchKeys(java.util.Map.of("key_2", T0.plusSeconds(950)));
    assertThat(store.findKeyByHash("b".repeat(64)).orElseThrow().record().rateLimit())
        .as("a use and a revocation keep it").contains(new Grant.RateLimit(1000, 1));
    assertThat(store.updateRateLimit("key_none", Optional.empty())).as("no such key").isFalse();
  }
}

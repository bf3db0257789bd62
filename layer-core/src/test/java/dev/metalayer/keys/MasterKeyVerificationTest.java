package dev.metalayer.keys;

import dev.metalayer.keys.KeyService.WrongMasterKeyException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.MetaLayer;
import dev.metalayer.store.Database;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.TestDatabases;
import java.nio.file.Path;
import java.sql.Statement;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A layer starts only with the master key that sealed its store's tokens. */
class MasterKeyVerificationTest {
  private static final String PNID = "106540352242922";
  private static final String TOKEN = "EAAG-token-sealed-with-the-first-key";

  @TempDir Path dir;

  private static byte[] key(int fill) {
    byte[] k = new byte[32];
    Arrays.fill(k, (byte) fill);
    return k;
  }

  private static MetaLayer build(KeyStore store, byte[] masterKey) {
    return MetaLayer.builder().keyStore(store).masterKey(masterKey).build();
  }

  @Test
  void theFirstKeyIsRememberedAndAnotherOneCannotStart() {
    Database db = TestDatabases.h2File(dir);
    MetaLayer first = build(Stores.keys(db), key(1));
    assertThat(Stores.keys(db).masterKeyCheck()).isPresent();

    // an empty store too: the check was written with the first key, before any token
    assertThatThrownBy(() -> build(Stores.keys(db), key(2)))
        .isInstanceOf(WrongMasterKeyException.class)
        .hasMessageStartingWith("the master key does not open the tokens sealed in this store");

    first.keys().addNumber("+15550783881", PNID, "102290129340398", "555", TOKEN);
    String key = first.keys().createKey(PNID).orElseThrow().key();
    MetaLayer again = build(Stores.keys(TestDatabases.h2File(dir)), key(1));
    assertThat(((Resolution.Granted) again.keys().resolve(key)).grant().metaToken()).isEqualTo(TOKEN);
    assertThatThrownBy(() -> build(Stores.keys(db), key(3))).isInstanceOf(WrongMasterKeyException.class);
  }

  @Test
  void aStoreFromBeforeTheCheckIsCheckedByOneOfItsTokensAndThenGetsItsCheck() throws Exception {
    Database db = TestDatabases.h2File(dir);
    build(Stores.keys(db), key(1)).keys().addNumber("+15550783881", PNID, "102290129340398", "555", TOKEN);
    // as a store written before the check existed: tokens, no check value
    db.withConnection(c -> {
      try (Statement s = c.createStatement()) {
        return s.executeUpdate("DELETE FROM layer_master_key_check");
      }
    });

    assertThatThrownBy(() -> build(Stores.keys(db), key(2))).isInstanceOf(WrongMasterKeyException.class);
    assertThat(Stores.keys(db).masterKeyCheck()).as("a wrong key saves no check").isEmpty();

    build(Stores.keys(db), key(1));
    assertThat(Stores.keys(db).masterKeyCheck()).isPresent();
    assertThatThrownBy(() -> build(Stores.keys(db), key(2))).isInstanceOf(WrongMasterKeyException.class);
  }

  @Test
  void anInMemoryStoreIsCheckedTheSameWay() {
    KeyStore store = Stores.inMemoryKeys();
    build(store, key(1)).keys().addNumber("+15550783881", PNID, "102290129340398", "555", TOKEN);
    assertThat(build(store, key(1)).keys().listNumbers()).hasSize(1);
    assertThatThrownBy(() -> build(store, key(2))).isInstanceOf(WrongMasterKeyException.class);
  }

  @Test
  void aStoreThatKeepsNoCheckIsCheckedByATokenAtEveryStart() {
    KeyStore withoutCheck = new NoCheckStore(Stores.inMemoryKeys());
    build(withoutCheck, key(1));
    build(withoutCheck, key(2)); // no token yet: nothing to tell the keys apart
    build(withoutCheck, key(1)).keys().addNumber("+15550783881", PNID, "102290129340398", "555", TOKEN);
    build(withoutCheck, key(1));
    assertThatThrownBy(() -> build(withoutCheck, key(2))).isInstanceOf(WrongMasterKeyException.class);
  }

  @Test
  void aCheckSavedByAnotherInstanceFirstDecidesAndAnotherKeyIsRefused() {
    KeyStore shared = Stores.inMemoryKeys();
    // this instance read no check; another one, with key 2, saves its check before this one's save
    KeyStore late = new CheckingStore(shared, () -> shared.saveMasterKeyCheck(
        MasterKeyCheck.seal(new dev.metalayer.crypto.TokenCipher(key(2), new java.security.SecureRandom()))));
    assertThatThrownBy(() -> build(late, key(1))).isInstanceOf(WrongMasterKeyException.class);
    assertThat(new NoCheckStore(shared).saveMasterKeyCheck(new byte[] {1})).as("the SPI's default saves nothing")
        .isFalse();
  }

  @Test
  void aStoreWithoutBatchedTouchesGetsEachLastUseWrittenOneByOne() {
    KeyStore plain = new NoCheckStore(Stores.inMemoryKeys());
    MetaLayer layer = build(plain, key(1));
    layer.keys().addNumber("+15550783881", PNID, "102290129340398", "555", TOKEN);
    String key = layer.keys().createKey(PNID).orElseThrow().key();
    assertThat(layer.keys().resolve(key)).isInstanceOf(Resolution.Granted.class);
    layer.keys().flushTouches();
    assertThat(plain.listKeys().get(0).lastUsedAt()).isPresent();
  }

  /** A store that runs {@code beforeSave} just before it saves a check: another instance's save, made deterministic. */
  private static final class CheckingStore extends NoCheckStore {
    private final KeyStore shared;
    private final Runnable beforeSave;
    private boolean first = true;

    CheckingStore(KeyStore shared, Runnable beforeSave) {
      super(shared);
      this.shared = shared;
      this.beforeSave = beforeSave;
    }

    @Override public java.util.Optional<byte[]> masterKeyCheck() {
      if (first) {
        first = false;
        return java.util.Optional.empty();
      }
      return shared.masterKeyCheck();
    }

    @Override public boolean saveMasterKeyCheck(byte[] sealed) {
      beforeSave.run();
      return shared.saveMasterKeyCheck(sealed);
    }
  }

  /** A store written against the SPI before the check existed: it keeps the interface's defaults. */
  private static class NoCheckStore extends ForwardingKeyStore {
    NoCheckStore(KeyStore d) {
      super(d);
    }
  }
}

package dev.metalayer.keys;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.crypto.TokenCipher;
import java.security.SecureRandom;
import org.junit.jupiter.api.Test;

class MasterKeyCheckTest {
  private static byte[] key(int fill) {
    byte[] k = new byte[32];
    java.util.Arrays.fill(k, (byte) fill);
    return k;
  }

  @Test
  void theCheckOpensWithTheKeyThatSealedItOnly() {
    TokenCipher first = new TokenCipher(key(1), new SecureRandom());
    byte[] check = MasterKeyCheck.seal(first);
    assertThat(MasterKeyCheck.opens(first, check)).isTrue();
    assertThat(MasterKeyCheck.opens(new TokenCipher(key(1), new SecureRandom()), check)).isTrue();
    assertThat(MasterKeyCheck.opens(new TokenCipher(key(2), new SecureRandom()), check)).isFalse();
  }

  @Test
  void aTokenOrGarbageIsNoCheck() {
    TokenCipher cipher = new TokenCipher(key(1), new SecureRandom());
    assertThat(MasterKeyCheck.opens(cipher, cipher.seal("meta-layer master key check 1", "106540352242922"))).isFalse();
    assertThat(MasterKeyCheck.opens(cipher, new byte[] {1, 2, 3})).isFalse();
    assertThat(MasterKeyCheck.opens(cipher, null)).isFalse();
  }

  @Test
  void anotherValueSealedAsACheckIsNoCheck() {
    TokenCipher cipher = new TokenCipher(key(1), new SecureRandom());
    assertThat(MasterKeyCheck.opens(cipher, cipher.seal("meta-layer master key check 2", MasterKeyCheck.ASSOCIATED_DATA)))
        .isFalse();
    assertThat(MasterKeyCheck.opens(cipher, cipher.seal(MasterKeyCheck.VALUE, MasterKeyCheck.ASSOCIATED_DATA))).isTrue();
  }
}

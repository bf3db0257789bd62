package dev.metalayer.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import org.junit.jupiter.api.Test;

class TokenCipherTest {
  private final byte[] key = new byte[32];
  private final TokenCipher cipher = new TokenCipher(key, new SecureRandom());

  @Test
  void sealsAndOpensWithTheSameAssociatedData() {
    byte[] sealed = cipher.seal("EAAG-secret-token", "106540352242922");
    assertThat(new String(sealed, StandardCharsets.ISO_8859_1)).doesNotContain("EAAG");
    assertThat(cipher.open(sealed, "106540352242922")).isEqualTo("EAAG-secret-token");
  }

  @Test
  void everySealUsesAFreshNonce() {
    assertThat(cipher.seal("t", "a")).isNotEqualTo(cipher.seal("t", "a"));
  }

  @Test
  void refusesAnotherRowAnotherKeyOrATamperedValue() {
    byte[] sealed = cipher.seal("token", "111");
    assertThatThrownBy(() -> cipher.open(sealed, "222")).isInstanceOf(TokenCipher.SecretUnreadableException.class);

    byte[] otherKey = new byte[32];
    otherKey[0] = 1;
    assertThatThrownBy(() -> new TokenCipher(otherKey, new SecureRandom()).open(sealed, "111"))
        .isInstanceOf(TokenCipher.SecretUnreadableException.class)
        .hasMessageNotContaining("token");

    byte[] tampered = sealed.clone();
    tampered[tampered.length - 1] ^= 1;
    assertThatThrownBy(() -> cipher.open(tampered, "111")).isInstanceOf(TokenCipher.SecretUnreadableException.class);
    assertThatThrownBy(() -> cipher.open(new byte[] {1, 2}, "111"))
        .isInstanceOf(TokenCipher.SecretUnreadableException.class);
  }

  @Test
  void demandsA256BitKey() {
    assertThatThrownBy(() -> new TokenCipher(new byte[16], new SecureRandom()))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void comparesSecretsAndComputesProofs() {
    assertThat(Secrets.constantTimeEquals("abc", "abc")).isTrue();
    assertThat(Secrets.constantTimeEquals("abc", "abd")).isFalse();
    assertThat(Secrets.constantTimeEquals(null, "abc")).isFalse();
    // RFC 4231 test case 2
    assertThat(Secrets.hmacSha256Hex("Jefe", "what do ya want for nothing?"))
        .isEqualTo("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  }
}

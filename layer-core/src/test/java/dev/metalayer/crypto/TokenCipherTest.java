package dev.metalayer.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
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

  @Test
  void anEmptySecretSealsToTheShortestValueAndOpens() {
    byte[] sealed = cipher.seal("", "111");
    assertThat(sealed).hasSize(1 + 12 + 16);
    assertThat(cipher.open(sealed, "111")).isEmpty();
    assertThatThrownBy(() -> cipher.open(Arrays.copyOf(sealed, sealed.length - 1), "111"))
        .isInstanceOf(TokenCipher.SecretUnreadableException.class);
  }

  @Test
  void aValueOfAnotherVersionIsRefusedEvenWhenItsCiphertextIsIntact() {
    byte[] sealed = cipher.seal("EAAG-secret-token", "111");
    assertThat(sealed[0]).isEqualTo((byte) 1);
    byte[] otherVersion = sealed.clone();
    otherVersion[0] = 2; // the version byte is not authenticated: only the check refuses it
    assertThatThrownBy(() -> cipher.open(otherVersion, "111"))
        .isInstanceOf(TokenCipher.SecretUnreadableException.class)
        .hasMessageContaining("known version");
  }

  @Test
  void theMasterKeyIsCopiedSoALaterChangeOfTheCallersArrayChangesNothing() {
    byte[] master = new byte[32];
    TokenCipher own = new TokenCipher(master, new SecureRandom());
    byte[] sealed = own.seal("EAAG-secret-token", "111");
    master[0] = 1;
    assertThat(own.open(sealed, "111")).isEqualTo("EAAG-secret-token");
    assertThatThrownBy(() -> new TokenCipher(new byte[33], new SecureRandom()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("32 bytes, got 33");
  }

  @Test
  void aNullSecretNeverMatchesOnEitherSide() {
    assertThat(Secrets.constantTimeEquals("abc", null)).isFalse();
    assertThat(Secrets.constantTimeEquals(null, null)).isFalse();
    assertThat(Secrets.constantTimeEquals("", "")).isTrue();
  }

  @Test
  void hashesAndEncodingsMatchTheirStandardVectors() {
    // FIPS 180-2, "abc"
    String abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assertThat(Secrets.sha256Hex("abc")).isEqualTo(abc);
    assertThat(Secrets.hex(Secrets.sha256("abc".getBytes(StandardCharsets.UTF_8)))).isEqualTo(abc);
    assertThat(Secrets.hex(new byte[] {0, 15, (byte) 0xab})).isEqualTo("000fab");
    assertThat(Secrets.base64(new byte[] {(byte) 0xfb, (byte) 0xff})).isEqualTo("+/8=");
    // RFC 4231 test case 2, on bytes and on a slice of a larger array
    byte[] key = "Jefe".getBytes(StandardCharsets.UTF_8);
    byte[] data = "what do ya want for nothing?".getBytes(StandardCharsets.UTF_8);
    String expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    assertThat(Secrets.hex(Secrets.hmacSha256(key, data))).isEqualTo(expected);
    byte[] framed = ("[" + new String(data, StandardCharsets.UTF_8) + "]").getBytes(StandardCharsets.UTF_8);
    assertThat(Secrets.hex(Secrets.hmacSha256(key, framed, 1, data.length))).isEqualTo(expected);
  }

  @Test
  void newIdsAreTheKindAndFreshRandomHex() {
    SecureRandom random = new SecureRandom();
    String id = Secrets.newId("key", random, 10);
    assertThat(id).matches("key_[0-9a-f]{20}").isNotEqualTo("key_" + "0".repeat(20));
    assertThat(Secrets.newId("key", random, 10)).isNotEqualTo(id);
  }
}

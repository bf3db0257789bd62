package dev.metalayer.keys;

import dev.metalayer.crypto.TokenCipher;
import java.util.Objects;

/**
 * A known value sealed with the master key and kept beside the secrets it sealed, so that a layer can
 * tell at start whether the key it was given is the one that sealed its store. The value is fixed and
 * public (nothing is learnt from it but whether a key opens it); each seal has a fresh nonce.
 */
final class MasterKeyCheck {
  /** The associated data of the check: it opens only as a check, never as a token of some row. */
  static final String ASSOCIATED_DATA = "layer_master_key_check";

  static final String VALUE = "meta-layer master key check 1";

  private MasterKeyCheck() {}

  /** A new check value, sealed with {@code cipher}'s key. */
  static byte[] seal(TokenCipher cipher) {
    return Objects.requireNonNull(cipher, "cipher").seal(VALUE, ASSOCIATED_DATA);
  }

  /** Whether {@code sealed} is a check value sealed with {@code cipher}'s key. Never throws for bad bytes. */
  static boolean opens(TokenCipher cipher, byte[] sealed) {
    try {
      return VALUE.equals(cipher.open(sealed, ASSOCIATED_DATA));
    } catch (TokenCipher.SecretUnreadableException e) {
      return false;
    }
  }
}

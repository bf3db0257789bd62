package dev.metalayer.keys;

import dev.metalayer.crypto.Secrets;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * The format of provider keys: {@code ps_} followed by 43 URL-safe base64 characters (256 random
 * bits). Only the SHA-256 hash and an 8-character display prefix are ever stored.
 */
final class ApiKeys {
  static final String PREFIX = "ps_";
  /** Keys of other lengths may exist (embedders' own), but never shorter than this many random chars. */
  static final int MIN_RANDOM_CHARS = 32;

  static final int MAX_LENGTH = 128;
  private static final int DISPLAY_PREFIX_LENGTH = 8;

  private ApiKeys() {}

  static String generate(SecureRandom random) {
    byte[] bytes = new byte[32];
    random.nextBytes(bytes);
    return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  /** Whether a credential has the shape of a provider key; says nothing of its validity. */
  static boolean looksLikeKey(String credential) {
    if (credential == null
        || credential.length() < PREFIX.length() + MIN_RANDOM_CHARS
        || credential.length() > MAX_LENGTH
        || !credential.startsWith(PREFIX)) {
      return false;
    }
    for (int i = PREFIX.length(); i < credential.length(); i++) {
      char c = credential.charAt(i);
      boolean urlSafe =
          (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
      if (!urlSafe) {
        return false;
      }
    }
    return true;
  }

  static String hash(String key) {
    return Secrets.sha256Hex(key);
  }

  static String displayPrefix(String key) {
    return key.substring(0, Math.min(DISPLAY_PREFIX_LENGTH, key.length()));
  }

  /** A public identifier, e.g. {@code key_3f9c…}: 20 random hex digits. */
  static String newId(String kind, SecureRandom random) {
    return Secrets.newId(kind, random, 10);
  }
}

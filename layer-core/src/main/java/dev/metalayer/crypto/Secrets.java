package dev.metalayer.crypto;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** Small, allocation-light helpers for hashing, HMAC and constant-time comparison. */
public final class Secrets {
  private static final HexFormat HEX = HexFormat.of();

  private Secrets() {}

  /** Compares two secrets in time that depends only on their lengths. Nulls never match. */
  public static boolean constantTimeEquals(String a, String b) {
    if (a == null || b == null) {
      return false;
    }
    return MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
  }

  public static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is not available", e);
    }
  }

  public static String sha256Hex(String text) {
    return HEX.formatHex(sha256(text.getBytes(StandardCharsets.UTF_8)));
  }

  public static byte[] hmacSha256(byte[] key, byte[] data) {
    return hmacSha256(key, data, 0, data.length);
  }

  public static byte[] hmacSha256(byte[] key, byte[] data, int offset, int length) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      mac.update(data, offset, length);
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }

  /** Lowercase hex HMAC-SHA256 of UTF-8 text under a UTF-8 key, as Graph's {@code appsecret_proof}. */
  public static String hmacSha256Hex(String key, String data) {
    return HEX.formatHex(
        hmacSha256(key.getBytes(StandardCharsets.UTF_8), data.getBytes(StandardCharsets.UTF_8)));
  }

  /**
   * A public identifier: {@code kind}, an underscore and {@code randomBytes} random bytes in hex (e.g.
   * {@code key_3f9c…}). Not a secret; unique by chance.
   */
  public static String newId(String kind, java.security.SecureRandom random, int randomBytes) {
    byte[] bytes = new byte[randomBytes];
    random.nextBytes(bytes);
    return kind + "_" + hex(bytes);
  }

  public static String hex(byte[] bytes) {
    return HEX.formatHex(bytes);
  }

  public static String base64(byte[] bytes) {
    return Base64.getEncoder().encodeToString(bytes);
  }
}

package dev.metalayer.crypto;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Objects;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Seals secrets at rest (Meta access tokens, subscription secrets) with AES-256-GCM.
 *
 * <p>A sealed value is {@code version(1) || nonce(12) || ciphertext+tag(16)}. Every seal takes a fresh
 * random nonce. The associated data binds a ciphertext to the row it belongs to (for instance the phone
 * number ID), so a ciphertext copied into another row fails to open instead of silently decrypting.
 *
 * <p>Thread-safe: a new {@link Cipher} is created per call.
 */
public final class TokenCipher {
  private static final byte VERSION = 1;
  private static final int NONCE_BYTES = 12;
  private static final int TAG_BITS = 128;

  private final SecretKey key;
  private final SecureRandom random;

  /**
   * @param masterKey exactly 32 bytes; copied
   * @param random source of nonces
   */
  public TokenCipher(byte[] masterKey, SecureRandom random) {
    Objects.requireNonNull(masterKey, "masterKey");
    if (masterKey.length != 32) {
      throw new IllegalArgumentException("the master key must be 32 bytes, got " + masterKey.length);
    }
    this.key = new SecretKeySpec(Arrays.copyOf(masterKey, 32), "AES");
    this.random = Objects.requireNonNull(random, "random");
  }

  public byte[] seal(String plaintext, String associatedData) {
    byte[] nonce = new byte[NONCE_BYTES];
    random.nextBytes(nonce);
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
      cipher.updateAAD(associatedData.getBytes(StandardCharsets.UTF_8));
      byte[] sealed = cipher.doFinal(plaintext.getBytes(StandardCharsets.UTF_8));
      return ByteBuffer.allocate(1 + NONCE_BYTES + sealed.length).put(VERSION).put(nonce).put(sealed).array();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES-GCM is not available", e);
    }
  }

  /**
   * @throws SecretUnreadableException when the value was sealed with another key, for another row, or
   *     was altered
   */
  public String open(byte[] sealed, String associatedData) {
    if (sealed == null || sealed.length < 1 + NONCE_BYTES + TAG_BITS / 8 || sealed[0] != VERSION) {
      throw new SecretUnreadableException("not a sealed value of a known version", null);
    }
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, sealed, 1, NONCE_BYTES));
      cipher.updateAAD(associatedData.getBytes(StandardCharsets.UTF_8));
      byte[] plain = cipher.doFinal(sealed, 1 + NONCE_BYTES, sealed.length - 1 - NONCE_BYTES);
      return new String(plain, StandardCharsets.UTF_8);
    } catch (javax.crypto.AEADBadTagException e) {
      throw new SecretUnreadableException("the sealed value does not open with this master key", e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES-GCM is not available", e);
    }
  }

  /** A stored secret could not be decrypted: wrong master key or tampered storage. */
  public static final class SecretUnreadableException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    SecretUnreadableException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}

package dev.metalayer.keys;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Persistence of numbers (with their sealed Meta tokens) and of key hashes. Implementations:
 * in memory and on JDBC (see {@code dev.metalayer.store.Stores}); both pass the same contract tests. All methods
 * are thread-safe. Nothing here decrypts or hashes: that is {@link dev.metalayer.keys.KeyService}'s job.
 */
public interface KeyStore {

  /** A number as stored: the value plus its sealed Meta token. */
  record StoredNumber(WhatsAppNumber number, byte[] sealedToken) {}

  /** A key as stored: its record plus the SHA-256 hex of the key. */
  record StoredKey(KeyRecord record, String hash) {}

  /** A key with the number it is scoped to: what resolving a presented key needs, read at once. */
  record KeyWithNumber(StoredKey key, StoredNumber number) {}

  /** @return false, and nothing stored, when the phone number ID or the phone is already registered */
  boolean insertNumber(StoredNumber number);

  /** Replaces the sealed token of an existing number. @return false when there is no such number */
  boolean updateToken(String phoneNumberId, byte[] sealedToken);

  Optional<StoredNumber> findNumber(String phoneNumberId);

  /** Ordered by creation time. */
  List<StoredNumber> listNumbers();

  /** Removes the number and every key scoped to it. @return false when there was no such number */
  boolean deleteNumber(String phoneNumberId);

  /** @throws IllegalArgumentException when the number does not exist */
  void insertKey(StoredKey key);

  Optional<StoredKey> findKeyByHash(String hash);

  /**
   * Sets the key's own rate limit (empty: the layer's default), revoked or not, and moves the
   * {@linkplain #keyChanges change counter} in the same transaction, so that every instance applies it
   * within its next poll. This default refuses: a store written before rate limits existed cannot keep one.
   *
   * @return false when there is no such key
   */
  default boolean updateRateLimit(String id, Optional<Grant.RateLimit> limit) {
    throw new UnsupportedOperationException("this key store cannot keep a key's rate limit");
  }

  /**
   * The key whose hash is {@code hash} with its number, revoked or not, in one read (the JDBC store joins
   * them in one query). Empty when there is no such key, or its number is gone. This default composes
   * {@link #findKeyByHash} and {@link #findNumber}.
   */
  default Optional<KeyWithNumber> findKeyWithNumber(String hash) {
    return findKeyByHash(hash).flatMap(k -> findNumber(k.record().phoneNumberId()).map(n -> new KeyWithNumber(k, n)));
  }

  /** Ordered by creation time. */
  List<KeyRecord> listKeys();

  /** @return false when there is no such key or it was already revoked */
  boolean revokeKey(String id, Instant at);

  void touchKey(String id, Instant at);

  /**
   * Records the last use of several keys at once (the JDBC store sends one batched statement in one
   * transaction): a key's {@code last_used_at} only moves forward (an older time than the one stored is
   * ignored, so instances writing in any order agree), and an unknown id is ignored. This default calls
   * {@link #touchKey} for each, which does not keep times from moving back.
   */
  default void touchKeys(Map<String, Instant> lastUsed) {
    lastUsed.forEach(this::touchKey);
  }

  /**
   * A counter that moves whenever a key is revoked, a number is added or removed, or a number's Meta
   * token changes, through any instance sharing this store: written in the same transaction as the change.
   * {@link KeyService} reads it about every second and forgets what it cached when it moved, so that a
   * change made on one instance holds on all within seconds. This default never moves: a store no other
   * instance shares (changes made through the service itself apply at once anyway).
   */
  default long keyChanges() {
    return 0;
  }

  /** Whether the store answers right now (readiness). Never throws. */
  boolean ping();

  /**
   * The master key check value ({@link dev.metalayer.keys.MasterKeyCheck}) saved with the first
   * master key; empty until one is saved. This default keeps none: a store without it is checked by
   * opening one of its sealed tokens at every start.
   */
  default Optional<byte[]> masterKeyCheck() {
    return Optional.empty();
  }

  /**
   * Saves the master key check value unless one is saved already (then nothing changes: the first one
   * stays, whichever instance wrote it). @return whether this call saved it. This default saves nothing.
   */
  default boolean saveMasterKeyCheck(byte[] sealed) {
    return false;
  }
}

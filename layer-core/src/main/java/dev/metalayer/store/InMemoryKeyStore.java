package dev.metalayer.store;

import dev.metalayer.keys.Grant;
import dev.metalayer.keys.KeyStore;
import dev.metalayer.keys.KeyRecord;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** A {@link KeyStore} in memory, for tests and embedders that keep their own persistence. */
final class InMemoryKeyStore implements KeyStore {
  private final Map<String, StoredNumber> numbers = new LinkedHashMap<>();
  private final Map<String, StoredKey> keysById = new LinkedHashMap<>();
  private final Map<String, String> idsByHash = new HashMap<>();
  private long changes;

  @Override
  public synchronized boolean insertNumber(StoredNumber number) {
    String id = number.number().phoneNumberId();
    boolean phoneTaken =
        numbers.values().stream().anyMatch(n -> n.number().phone().equals(number.number().phone()));
    if (numbers.containsKey(id) || phoneTaken) {
      return false;
    }
    numbers.put(id, number);
    changes++;
    return true;
  }

  @Override
  public synchronized boolean updateToken(String phoneNumberId, byte[] sealedToken) {
    StoredNumber existing = numbers.get(phoneNumberId);
    if (existing == null) {
      return false;
    }
    numbers.put(phoneNumberId, new StoredNumber(existing.number(), sealedToken.clone()));
    changes++;
    return true;
  }

  @Override
  public synchronized Optional<StoredNumber> findNumber(String phoneNumberId) {
    return Optional.ofNullable(numbers.get(phoneNumberId));
  }

  @Override
  public synchronized List<StoredNumber> listNumbers() {
    List<StoredNumber> list = new ArrayList<>(numbers.values());
    list.sort(Comparator.comparing(n -> n.number().createdAt()));
    return list;
  }

  @Override
  public synchronized boolean deleteNumber(String phoneNumberId) {
    if (numbers.remove(phoneNumberId) == null) {
      return false;
    }
    keysById.values().removeIf(k -> k.record().phoneNumberId().equals(phoneNumberId));
    idsByHash.values().retainAll(keysById.keySet());
    changes++;
    return true;
  }

  @Override
  public synchronized void insertKey(StoredKey key) {
    if (!numbers.containsKey(key.record().phoneNumberId())) {
      throw new IllegalArgumentException("no number " + key.record().phoneNumberId());
    }
    keysById.put(key.record().id(), key);
    idsByHash.put(key.hash(), key.record().id());
  }

  @Override
  public synchronized Optional<StoredKey> findKeyByHash(String hash) {
    String id = idsByHash.get(hash);
    return id == null ? Optional.empty() : Optional.ofNullable(keysById.get(id));
  }

  @Override
  public synchronized boolean updateRateLimit(String id, Optional<Grant.RateLimit> limit) {
    StoredKey key = keysById.get(id);
    if (key == null) {
      return false;
    }
    keysById.put(id, new StoredKey(key.record().withRateLimit(limit), key.hash()));
    changes++;
    return true;
  }

  @Override
  public synchronized List<KeyRecord> listKeys() {
    return keysById.values().stream()
        .map(StoredKey::record)
        .sorted(Comparator.comparing(KeyRecord::createdAt))
        .toList();
  }

  @Override
  public synchronized boolean revokeKey(String id, Instant at) {
    StoredKey key = keysById.get(id);
    if (key == null || key.record().revoked()) {
      return false;
    }
    KeyRecord r = key.record();
    keysById.put(
        id,
        new StoredKey(r.withRevokedAt(Optional.of(at)), key.hash()));
    changes++;
    return true;
  }

  @Override
  public synchronized void touchKey(String id, Instant at) {
    StoredKey key = keysById.get(id);
    if (key != null) {
      KeyRecord r = key.record();
      keysById.put(
          id,
          new StoredKey(r.withLastUsedAt(Optional.of(at)), key.hash()));
    }
  }

  @Override
  public synchronized void touchKeys(Map<String, Instant> lastUsed) {
    lastUsed.forEach((id, at) -> {
      StoredKey key = keysById.get(id);
      if (key != null && key.record().lastUsedAt().map(at::isAfter).orElse(true)) {
        touchKey(id, at);
      }
    });
  }

  @Override
  public synchronized long keyChanges() {
    return changes;
  }

  @Override
  public boolean ping() {
    return true;
  }

  private byte[] masterKeyCheck;

  @Override
  public synchronized Optional<byte[]> masterKeyCheck() {
    return Optional.ofNullable(masterKeyCheck).map(byte[]::clone);
  }

  @Override
  public synchronized boolean saveMasterKeyCheck(byte[] sealed) {
    if (masterKeyCheck != null) {
      return false;
    }
    masterKeyCheck = sealed.clone();
    return true;
  }
}

package dev.metalayer.keys;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * A store that passes the SPI's required methods to another and keeps the interface's defaults for
 * the rest, as a store written against an older SPI would: tests extend it and change one method
 * (a store that is down, a hook during a read, a store without the master key check).
 */
class ForwardingKeyStore implements KeyStore {
  final KeyStore d;

  ForwardingKeyStore(KeyStore d) {
    this.d = d;
  }

  @Override public boolean insertNumber(StoredNumber n) { return d.insertNumber(n); }
  @Override public boolean updateToken(String id, byte[] t) { return d.updateToken(id, t); }
  @Override public Optional<StoredNumber> findNumber(String id) { return d.findNumber(id); }
  @Override public List<StoredNumber> listNumbers() { return d.listNumbers(); }
  @Override public boolean deleteNumber(String id) { return d.deleteNumber(id); }
  @Override public void insertKey(StoredKey k) { d.insertKey(k); }
  @Override public Optional<StoredKey> findKeyByHash(String h) { return d.findKeyByHash(h); }
  @Override public List<KeyRecord> listKeys() { return d.listKeys(); }
  @Override public boolean revokeKey(String id, Instant at) { return d.revokeKey(id, at); }
  @Override public void touchKey(String id, Instant at) { d.touchKey(id, at); }
  @Override public boolean ping() { return d.ping(); }
}

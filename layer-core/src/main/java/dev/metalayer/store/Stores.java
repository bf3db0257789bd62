package dev.metalayer.store;

import dev.metalayer.calls.CallStore;
import dev.metalayer.keys.KeyStore;
import dev.metalayer.relay.RelayStore;

/**
 * The store implementations, the one way to obtain them: in memory (one process, nothing survives it;
 * the builder's default), or on a JDBC {@link Database} (the embedded H2 file, or PostgreSQL), whose
 * schema {@link Database#open} has brought up to date.
 */
public final class Stores {
  private Stores() {}

  /** Numbers and keys in memory. */
  public static KeyStore inMemoryKeys() {
    return new InMemoryKeyStore();
  }

  /** The relay's envelopes, subscriptions and deliveries in memory. */
  public static RelayStore inMemoryRelay() {
    return new InMemoryRelayStore();
  }

  /** Call records, answering modes and remembered calling limits in memory. */
  public static CallStore inMemoryCalls() {
    return new InMemoryCallStore();
  }

  /** Numbers and keys in {@code db}. */
  public static KeyStore keys(Database db) {
    return new JdbcKeyStore(db);
  }

  /** The relay's envelopes, subscriptions and deliveries in {@code db}. */
  public static RelayStore relay(Database db) {
    return new JdbcRelayStore(db);
  }
}

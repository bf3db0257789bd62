package dev.metalayer.store;

import dev.metalayer.keys.KeyStore;

class InMemoryKeyStoreTest extends KeyStoreContract {
  @Override
  KeyStore newStore() {
    return new InMemoryKeyStore();
  }
}

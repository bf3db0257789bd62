package dev.metalayer.store;

class InMemoryKeyStoreTest extends KeyStoreContract {
  @Override
  KeyStore newStore() {
    return new InMemoryKeyStore();
  }
}

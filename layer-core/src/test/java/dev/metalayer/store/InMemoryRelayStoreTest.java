package dev.metalayer.store;

class InMemoryRelayStoreTest extends RelayStoreContract {
  @Override
  RelayStore newStore() {
    return new InMemoryRelayStore();
  }
}

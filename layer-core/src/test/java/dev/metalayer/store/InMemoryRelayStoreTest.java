package dev.metalayer.store;

import dev.metalayer.relay.RelayStore;

class InMemoryRelayStoreTest extends RelayStoreContract {
  @Override
  RelayStore newStore() {
    return new InMemoryRelayStore();
  }

  @Override
  long[] bodiesStored() {
    return ((InMemoryRelayStore) store).bodiesStored();
  }
}

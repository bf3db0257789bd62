package dev.metalayer.store;

import dev.metalayer.relay.RelayStore;

class InMemoryCallStoreTest extends CallStoreContract {
  @Override
  RelayStore newRelayStore() {
    return new InMemoryRelayStore();
  }
}

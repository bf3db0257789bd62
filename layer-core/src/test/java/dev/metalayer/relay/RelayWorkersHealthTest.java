package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.MetaLayer;
import dev.metalayer.store.Stores;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * What readiness is built on: the relay names its background workers that stopped. An
 * {@link OutOfMemoryError} thrown while a lane claims (as under a memory flood) ends that lane's pump,
 * and the relay says so instead of accepting webhooks it will never deliver.
 */
class RelayWorkersHealthTest {

  @Test
  void aLaneWhosePumpDiedOfAnErrorIsNamedAsStopped() throws Exception {
    AtomicBoolean outOfMemory = new AtomicBoolean();
    // the relay store as it behaves when the heap is exhausted: claims throw an Error
    RelayStore failing = outOfMemoryIn("claimDue", outOfMemory);
    MetaLayer layer = MetaLayer.builder().keyStore(Stores.inMemoryKeys()).masterKey(new byte[32]).relayStore(failing)
        .allowUnsignedWebhooks(true).build();
    CallWebhookRelay relay = layer.relay();
    try {
      assertThat(relay.deadWorkers()).as("before start").isEmpty();
      relay.start();
      assertThat(relay.deadWorkers()).as("running").isEmpty();

      outOfMemory.set(true);
      // each lane pumps at least every second: wait (bounded) for the next pump to die
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      List<String> dead = relay.deadWorkers();
      while (dead.size() < 2 && System.nanoTime() < deadline) {
        Thread.sleep(50); // a poll interval
        dead = relay.deadWorkers();
      }
      assertThat(dead).containsExactlyInAnyOrder("relay-calls-scheduler", "relay-default-scheduler");
    } finally {
      relay.close();
    }
    assertThat(relay.deadWorkers()).as("a closed relay reports nothing").isEmpty();
  }

  @Test
  void theBackgroundRouterStoppedByAnErrorIsNamedAsStopped() throws Exception {
    // the store as it behaves when the heap is exhausted: listing the unrouted envelopes throws an Error
    RelayStore failing = outOfMemoryIn("unrouted", new AtomicBoolean(true));
    MetaLayer layer = MetaLayer.builder().keyStore(Stores.inMemoryKeys()).masterKey(new byte[32]).relayStore(failing)
        .allowUnsignedWebhooks(true).build();
    CallWebhookRelay relay = layer.relay();
    try {
      relay.start(); // the router's first sweep runs at once, and dies
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      List<String> dead = relay.deadWorkers();
      while (!dead.contains("relay-routing") && System.nanoTime() < deadline) {
        Thread.sleep(50); // a poll interval
        dead = relay.deadWorkers();
      }
      assertThat(dead).contains("relay-routing");
    } finally {
      relay.close();
    }
    assertThat(relay.deadWorkers()).as("a closed relay reports nothing").isEmpty();
  }

  /** The background router never keeps a JVM alive on its own: an embedder that forgets close() can still exit. */
  @Test
  void theBackgroundRouterRunsOnADaemonThread() {
    MetaLayer layer = MetaLayer.builder().keyStore(Stores.inMemoryKeys()).masterKey(new byte[32])
        .relayStore(Stores.inMemoryRelay()).allowUnsignedWebhooks(true).build();
    CallWebhookRelay relay = layer.relay();
    try {
      relay.start();
      List<Thread> routing = Thread.getAllStackTraces().keySet().stream()
          .filter(t -> t.getName().equals("relay-routing")).toList();
      assertThat(routing).isNotEmpty().allSatisfy(t -> assertThat(t.isDaemon()).as(t.getName()).isTrue());
    } finally {
      relay.close();
    }
  }

  /** An in-memory relay store whose {@code method} throws an {@link OutOfMemoryError} while {@code failing} is set. */
  private static RelayStore outOfMemoryIn(String method, AtomicBoolean failing) {
    RelayStore real = Stores.inMemoryRelay();
    return (RelayStore) Proxy.newProxyInstance(RelayStore.class.getClassLoader(), new Class<?>[] {RelayStore.class},
        (proxy, called, args) -> {
          if (called.getName().equals(method) && failing.get()) {
            throw new OutOfMemoryError("Java heap space (simulated)");
          }
          try {
            return called.invoke(real, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }
}

package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.MetaLayer;
import dev.metalayer.keys.KeyService.Registration;
import dev.metalayer.keys.KeyStore;
import dev.metalayer.relay.WebhookSubscriptions.Outcome;
import dev.metalayer.relay.WebhookSubscriptions.Spec;
import dev.metalayer.store.Database;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.TestDatabases;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two layer instances on one PostgreSQL schema (each its own pool and stores): a subscription created
 * on one while the other removes the number never outlives the number, whichever way the steps
 * interleave, and the per-number cap counts both instances' subscriptions. The interleavings are driven
 * deterministically: a hook in one instance's key store runs the other instance's step at the point
 * where it would race.
 */
class PgSubscriptionRacesTest {
  static final String PNID = RelayHarness.PNID_1;
  final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  TestDatabases.PgSchema pg;
  final List<AutoCloseable> closing = new ArrayList<>();
  /** Runs once, when instance A reads the number from its key store (its check after the insert). */
  final AtomicReference<Runnable> beforeARead = new AtomicReference<>();
  final AtomicReference<Runnable> afterARead = new AtomicReference<>();
  /** Runs once, right after instance B deleted the number (before its subscriptions go). */
  final AtomicReference<Runnable> afterBDeletesTheNumber = new AtomicReference<>();
  /** Makes B's removal of the number's subscriptions fail once (the relay store unavailable). */
  final AtomicBoolean failBSubscriptionRemoval = new AtomicBoolean();
  MetaLayer a;
  MetaLayer b;

  @BeforeEach
  void twoInstances() {
    pg = TestDatabases.postgres();
    a = instance(hooked(keys(), "findNumber", beforeARead, afterARead), false);
    b = instance(hooked(keys(), "deleteNumber", null, afterBDeletesTheNumber), true);
    assertThat(a.keys().addNumber("+13175551399", PNID, RelayHarness.WABA_1, "900", "EAAG-token-1"))
        .isInstanceOf(Registration.Added.class);
  }

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : closing) {
      c.close();
    }
    if (pg != null) {
      pg.close();
    }
  }

  private KeyStore keys() {
    return Stores.keys(database());
  }

  private Database database() {
    var pool = pg.pool(4);
    closing.add(0, pool);
    return Database.open(pool);
  }

  private MetaLayer instance(KeyStore keys, boolean failingRemoval) {
    RelayStore relay = Stores.relay(database());
    if (failingRemoval) {
      relay = RelayHarness.hooked(relay, (method, args) -> {
        if (method.equals("deleteSubscriptionsOf") && failBSubscriptionRemoval.compareAndSet(true, false)) {
          throw new StoreException("database transaction failed", new IllegalStateException("down"), false);
        }
      });
    }
    return MetaLayer.builder().keyStore(keys).relayStore(relay).masterKey(RelayHarness.MASTER_KEY).clock(clock)
        .egressGuard(EgressGuard.of(false, List.of("127.0.0.0/8"))).maxSubscriptionsPerNumber(3).build();
  }

  /** {@code store}, running {@code before}/{@code after} (once each, when set) around the method {@code name}. */
  private static KeyStore hooked(KeyStore store, String name, AtomicReference<Runnable> before,
      AtomicReference<Runnable> after) {
    return (KeyStore) Proxy.newProxyInstance(KeyStore.class.getClassLoader(), new Class<?>[] {KeyStore.class},
        (proxy, method, args) -> {
          boolean hooked = method.getName().equals(name);
          Runnable first = hooked && before != null ? before.getAndSet(null) : null;
          if (first != null) {
            first.run();
          }
          Object result = invoke(store, method, args);
          Runnable then = hooked && after != null ? after.getAndSet(null) : null;
          if (then != null) {
            then.run();
          }
          return result;
        });
  }

  private static Object invoke(Object target, java.lang.reflect.Method method, Object[] args) throws Throwable {
    try {
      return method.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  private static Spec spec(String name) {
    return new Spec(name, "http://127.0.0.1:9/" + name, List.of("calls"), null, null, null);
  }

  private List<Subscription> remaining() {
    return b.relay().subscriptions().list(PNID);
  }

  @Test
  void theNumberRemovedBetweenTheInsertAndItsCheckLeavesNoSubscription() {
    // A inserts; B removes the number (and the subscriptions it finds: A's); A checks: gone
    beforeARead.set(() -> assertThat(b.keys().removeNumber(PNID)).isTrue());

    Outcome created = a.relay().subscriptions().create(PNID, spec("late"));

    assertThat(created).isInstanceOf(Outcome.Invalid.class);
    assertThat(((Outcome.Invalid) created).message()).contains("not registered");
    assertThat(remaining()).isEmpty();
  }

  @Test
  void theNumberRemovedAfterTheCheckTakesTheNewSubscriptionWithIt() {
    // A inserts and checks (the number is there); then B removes the number and its subscriptions
    afterARead.set(() -> assertThat(b.keys().removeNumber(PNID)).isTrue());

    assertThat(a.relay().subscriptions().create(PNID, spec("early"))).isInstanceOf(Outcome.Saved.class);

    assertThat(remaining()).isEmpty();
  }

  @Test
  void aSubscriptionCreatedBetweenTheNumbersDeletionAndItsSubscriptionsRemovalIsRemovedByBoth() {
    // B deletes the number; A creates (insert, check: gone, delete); B removes the subscriptions
    AtomicReference<Outcome> created = new AtomicReference<>();
    afterBDeletesTheNumber.set(() -> created.set(a.relay().subscriptions().create(PNID, spec("between"))));

    assertThat(b.keys().removeNumber(PNID)).isTrue();

    assertThat(created.get()).isInstanceOf(Outcome.Invalid.class);
    assertThat(remaining()).isEmpty();
  }

  @Test
  void aRemovalWhoseSubscriptionsCouldNotBeRemovedIsCompletedByRepeatingIt() {
    assertThat(a.relay().subscriptions().create(PNID, spec("kept"))).isInstanceOf(Outcome.Saved.class);
    failBSubscriptionRemoval.set(true);

    assertThatThrownBy(() -> b.keys().removeNumber(PNID)).isInstanceOf(StoreException.class);
    assertThat(a.keys().isRegistered(PNID)).as("the number went first").isFalse();
    assertThat(remaining()).hasSize(1);

    assertThat(b.keys().removeNumber(PNID)).as("already gone").isFalse();
    assertThat(remaining()).as("the repetition removed what was left").isEmpty();
  }

  @Test
  void theCapPerNumberCountsTheSubscriptionsOfEveryInstance() {
    assertThat(a.relay().subscriptions().create(PNID, spec("a1"))).isInstanceOf(Outcome.Saved.class);
    assertThat(b.relay().subscriptions().create(PNID, spec("b1"))).isInstanceOf(Outcome.Saved.class);
    assertThat(a.relay().subscriptions().create(PNID, spec("a2"))).isInstanceOf(Outcome.Saved.class);

    Outcome refused = b.relay().subscriptions().create(PNID, spec("b2"));

    assertThat(refused).isInstanceOf(Outcome.Invalid.class);
    assertThat(((Outcome.Invalid) refused).message()).contains("at most 3");
    assertThat(remaining()).hasSize(3);
  }
}

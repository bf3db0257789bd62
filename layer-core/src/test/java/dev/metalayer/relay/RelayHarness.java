package dev.metalayer.relay;

import dev.metalayer.relay.CallWebhookRelay.IngestResult;

import dev.metalayer.relay.WebhookSubscriptions.Spec;

import dev.metalayer.relay.WebhookSubscriptions.Outcome;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.MetaLayer;
import dev.metalayer.keys.KeyService.Registration;
import dev.metalayer.store.Database;
import dev.metalayer.store.Stores;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.util.List;
import java.util.function.UnaryOperator;
import org.h2.jdbcx.JdbcConnectionPool;

/**
 * A real layer for relay tests: keys in memory, the relay on an H2 file, subscribers on loopback
 * allowed through the egress guard's CIDR list (not by switching the guard off). Two numbers:
 * {@link #PNID_1} (WABA {@link #WABA_1}) and {@link #PNID_2} (WABA {@link #WABA_2}).
 */
final class RelayHarness implements AutoCloseable {
  static final String APP_SECRET = "meta-app-secret-1";
  static final byte[] MASTER_KEY = new byte[32];
  static final String PNID_1 = "436666719526789";
  static final String WABA_1 = "366634483210360";
  static final String PNID_2 = "106540352242922";
  static final String WABA_2 = "102290129340398";

  final JdbcConnectionPool pool;
  final Database db;
  final MetaLayer layer;
  /** The relay's store, as the test's wrap made it. */
  final RelayStore store;
  /** What the layer counted. */
  final io.micrometer.core.instrument.simple.SimpleMeterRegistry meters = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();

  RelayHarness(Path dir, Clock clock) {
    this(dir, clock, List.of("old-rotated-secret", APP_SECRET), false);
  }

  RelayHarness(Path dir, Clock clock, List<String> appSecrets, boolean allowUnsigned) {
    this(dir, clock, appSecrets, allowUnsigned, store -> store);
  }

  /** @param wrap what the relay sees of the real H2 store (a test's view of it, e.g. a racing writer) */
  RelayHarness(Path dir, Clock clock, List<String> appSecrets, boolean allowUnsigned, UnaryOperator<RelayStore> wrap) {
    this(dir, clock, appSecrets, allowUnsigned, wrap, options -> options);
  }

  /** @param options the relay's settings a test sets (workers, concurrency caps), on top of the harness's own */
  RelayHarness(Path dir, Clock clock, List<String> appSecrets, boolean allowUnsigned, UnaryOperator<RelayStore> wrap,
      UnaryOperator<MetaLayer.Builder> options) {
    pool = JdbcConnectionPool.create("jdbc:h2:file:" + dir.resolve("relay") + ";WRITE_DELAY=0", "sa", "");
    db = Database.open(pool);
    store = wrap.apply(Stores.relay(db));
    layer =
        options.apply(MetaLayer.builder()
            .keyStore(Stores.inMemoryKeys())
            .masterKey(MASTER_KEY)
            .clock(clock)
            .relayStore(store)
            .egressGuard(EgressGuard.of(false, List.of("127.0.0.0/8")))
            .appSecrets(appSecrets)
            .allowUnsignedWebhooks(allowUnsigned)
            .meterRegistry(meters))
            .build();
    assertThat(layer.keys().addNumber("+13175551399", PNID_1, WABA_1, "900", "EAAG-token-1"))
        .isInstanceOf(Registration.Added.class);
    assertThat(layer.keys().addNumber("+15550783881", PNID_2, WABA_2, "900", "EAAG-token-2"))
        .isInstanceOf(Registration.Added.class);
  }

  /** What a test does before a call of the relay's store reaches it: throw to fail it, or act first (a racing writer). */
  @FunctionalInterface
  interface StoreHook {
    void before(String method, Object[] args) throws Throwable;
  }

  /** {@code real}, with {@code hook} run before each of its calls (the real store answers those it lets through). */
  static RelayStore hooked(RelayStore real, StoreHook hook) {
    return answered(real, (method, args, answer) -> {
      hook.before(method, args);
      return answer.call();
    });
  }

  /** What a test makes of a call of the relay's store: {@code answer} asks the real store; its result may be changed or acted on. */
  @FunctionalInterface
  interface StoreAnswer {
    Object answer(String method, Object[] args, java.util.concurrent.Callable<Object> answer) throws Throwable;
  }

  /** {@code real}, each of its calls answered through {@code answer}. */
  static RelayStore answered(RelayStore real, StoreAnswer answer) {
    return (RelayStore) java.lang.reflect.Proxy.newProxyInstance(RelayStore.class.getClassLoader(),
        new Class<?>[] {RelayStore.class}, (proxy, method, args) -> answer.answer(method.getName(), args, () -> {
          try {
            return method.invoke(real, args);
          } catch (java.lang.reflect.InvocationTargetException e) {
            throw rethrown(e.getCause());
          }
        }));
  }

  /** The real store's own exception, rethrown as it was (the store throws only unchecked ones). */
  private static RuntimeException rethrown(Throwable t) {
    if (t instanceof RuntimeException r) {
      throw r;
    }
    if (t instanceof Error e) {
      throw e;
    }
    throw new IllegalStateException(t);
  }

  /**
   * Another relay on this harness's store, keys and master key, built directly (not through
   * {@link MetaLayer}) so that a test may set the engine's own waits; the caller closes it.
   */
  CallWebhookRelay relayWith(DeliveryEngine.Timing timing) {
    return CallWebhookRelay.builder().timing(timing).clock(layer.clock())
        .egressGuard(EgressGuard.of(false, List.of("127.0.0.0/8"))).appSecrets(List.of(APP_SECRET))
        .build(store, layer.keys(), new dev.metalayer.crypto.TokenCipher(MASTER_KEY, new java.security.SecureRandom()));
  }

  WebhookSubscriptions subscriptions() {
    return layer.relay().subscriptions();
  }

  Subscription subscribe(String pnid, String url, List<String> events, String secret, boolean terminateReason) {
    Outcome o =
        subscriptions().create(pnid, new Spec("test " + url, url, events, secret, terminateReason, null));
    assertThat(o).isInstanceOf(Outcome.Saved.class);
    return ((Outcome.Saved) o).subscription();
  }

  IngestResult.Accepted ingestSigned(byte[] body) {
    IngestResult r = layer.relay().ingest(body, dev.metalayer.testing.MetaFixtures.metaSignature(APP_SECRET, body));
    assertThat(r).isInstanceOf(IngestResult.Accepted.class);
    return (IngestResult.Accepted) r;
  }

  long rows(String table) {
    return db.withConnection(c -> {
      try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM " + table)) {
        rs.next();
        return rs.getLong(1);
      }
    });
  }

  @Override
  public void close() {
    layer.relay().close();
    pool.dispose();
  }
}

package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.relay.WebhookSubscriptions.Outcome;
import dev.metalayer.relay.WebhookSubscriptions.Spec;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import dev.metalayer.testing.RecordingSubscriber.Answer;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A subscription turned off (by the operator, or by a 410 answer) keeps its backlog paused, and
 * turning it back on delivers it, in order, calls past their TTL excepted. Real H2 file, real HTTP
 * subscriber, the engine driven by {@code runDueNow()} on a hand-moved clock.
 */
class RelayPausedBacklogTest {
  @TempDir Path dir;
  MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  RelayHarness h;
  RecordingSubscriber subscriber;
  volatile int status = 200;

  @BeforeEach
  void setUp() {
    h = new RelayHarness(dir, clock);
    subscriber = RecordingSubscriber.start();
    subscriber.answer(r -> Answer.of(status));
  }

  @AfterEach
  void tearDown() {
    h.close();
    subscriber.close();
  }

  List<Delivery> log(Subscription s, DeliveryState state) {
    return h.subscriptions().deliveries(s.phoneNumberId(), s.id(), Optional.of(state), 50).orElseThrow();
  }

  Outcome active(Subscription s, boolean active) {
    return h.subscriptions().update(s.phoneNumberId(), s.id(), new Spec(null, null, null, null, null, active));
  }

  static String messageId(RecordingSubscriber.Received r) {
    String t = r.text();
    int at = t.indexOf("wamid.");
    return t.substring(at, t.indexOf('"', at));
  }

  @Test
  void theOperatorsSwitchPausesTheBacklogAndTurningItBackOnDeliversItInOrderButNoCallLate() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/h"), List.of("messages", "calls"), null, false);
    h.ingestSigned(RelayTimeRulesTest.message("wamid.1"));
    h.ingestSigned(RelayTimeRulesTest.message("wamid.2"));
    h.ingestSigned(RelayTimeRulesTest.callEvent("wacid.P", "connect", clock.instant()));
    h.ingestSigned(RelayTimeRulesTest.message("wamid.3"));

    assertThat(active(s, false)).isInstanceOf(Outcome.Saved.class);

    assertThat(log(s, DeliveryState.PAUSED)).hasSize(4);
    clock.advance(Duration.ofMinutes(5));
    assertThat(h.layer.relay().runDueNow()).isZero();
    assertThat(subscriber.count()).isZero();
    // retention never purges a paused delivery, however old
    clock.advance(Duration.ofDays(20));
    h.layer.relay().purge();
    assertThat(log(s, DeliveryState.PAUSED)).hasSize(4);
    // a replay is refused while the subscription is off: the delivery is left paused
    Delivery paused = log(s, DeliveryState.PAUSED).get(0);
    assertThat(h.subscriptions().retry(s.phoneNumberId(), s.id(), paused.id())).get()
        .extracting(Delivery::state).isEqualTo(DeliveryState.PAUSED);

    assertThat(active(s, true)).isInstanceOf(Outcome.Saved.class);
    h.layer.relay().runDueNow();

    assertThat(subscriber.received()).extracting(RelayPausedBacklogTest::messageId)
        .containsExactly("wamid.1", "wamid.2", "wamid.3");
    assertThat(log(s, DeliveryState.DELIVERED)).hasSize(3);
    Delivery call = log(s, DeliveryState.EXPIRED).get(0);
    assertThat(call.lane()).isEqualTo(Lane.CALLS);
    assertThat(call.attempts()).as("never rung late").isEmpty();
  }

  @Test
  void a410DeactivatesAndPausesTheRestWhichTurningBackOnDelivers() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/h"), List.of("messages"), null, false);
    status = 410;
    h.ingestSigned(RelayTimeRulesTest.message("wamid.1"));
    h.ingestSigned(RelayTimeRulesTest.message("wamid.2"));
    h.ingestSigned(RelayTimeRulesTest.message("wamid.3"));

    h.layer.relay().runDueNow();

    assertThat(subscriber.count()).as("one 410, then nothing more is sent").isEqualTo(1);
    assertThat(h.subscriptions().find(RelayHarness.PNID_1, s.id()).orElseThrow().active()).isFalse();
    assertThat(log(s, DeliveryState.DEAD)).as("the delivery answered 410").hasSize(1);
    assertThat(log(s, DeliveryState.PAUSED)).as("the others, kept").hasSize(2)
        .allSatisfy(d -> assertThat(d.attempts()).isEmpty());
    assertThat(h.ingestSigned(RelayTimeRulesTest.message("wamid.after")).deliveries()).isZero();

    status = 200;
    assertThat(active(s, true)).isInstanceOf(Outcome.Saved.class);
    h.layer.relay().runDueNow();
    assertThat(subscriber.received().subList(1, 3)).extracting(RelayPausedBacklogTest::messageId)
        .containsExactly("wamid.2", "wamid.3");
    // the one answered 410 is replayed by hand
    Delivery dead = log(s, DeliveryState.DEAD).get(0);
    h.subscriptions().retry(s.phoneNumberId(), s.id(), dead.id());
    h.layer.relay().runDueNow();
    assertThat(log(s, DeliveryState.DELIVERED)).hasSize(3);
  }

  @Test
  void anAttemptClaimedJustBeforeTheDeactivationParksItsDeliveryPausedWithoutAnAttempt() {
    h.close();
    AtomicReference<RelayStore> real = new AtomicReference<>();
    AtomicBoolean deactivateAfterClaim = new AtomicBoolean();
    h = new RelayHarness(dir.resolve("raced"), clock, List.of(RelayHarness.APP_SECRET), false, store -> {
      real.set(store);
      return (RelayStore) Proxy.newProxyInstance(RelayStore.class.getClassLoader(), new Class<?>[] {RelayStore.class},
          (proxy, method, args) -> {
            Object result;
            try {
              result = method.invoke(store, args);
            } catch (InvocationTargetException e) {
              throw e.getCause();
            }
            if (method.getName().equals("claimDue") && !((List<?>) result).isEmpty()
                && deactivateAfterClaim.compareAndSet(true, false)) {
              // the operator turns the subscription off right after this claim, before its attempt
              RelayStore.Claimed c = (RelayStore.Claimed) ((List<?>) result).get(0);
              store.setActive(c.subscriptionId(), false, clock.instant());
            }
            return result;
          });
    });
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/h"), List.of("messages"), null, false);
    h.ingestSigned(RelayTimeRulesTest.message("wamid.1"));
    h.ingestSigned(RelayTimeRulesTest.message("wamid.2"));
    deactivateAfterClaim.set(true);

    h.layer.relay().runDueNow();

    assertThat(subscriber.count()).isZero();
    List<Delivery> paused = log(s, DeliveryState.PAUSED);
    assertThat(paused).hasSize(2);
    assertThat(paused).allSatisfy(d -> assertThat(d.attempts()).isEmpty());

    assertThat(active(s, true)).isInstanceOf(Outcome.Saved.class);
    h.layer.relay().runDueNow();
    assertThat(subscriber.received()).extracting(RelayPausedBacklogTest::messageId)
        .containsExactly("wamid.1", "wamid.2");
    assertThat(new String(subscriber.received().get(0).body(), StandardCharsets.UTF_8)).contains("wamid.1");
  }
}

package dev.metalayer.relay;

import dev.metalayer.relay.CallWebhookRelay.IngestResult;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import dev.metalayer.testing.RecordingSubscriber.Answer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retry schedules, TTL, dead-lettering, replay, ordering, 410 and Retry-After, with a hand-moved
 * clock and the engine driven by {@code runDueNow()}: no sleeps, no workers. The subscribers are real
 * HTTP servers.
 */
class RelayTimeRulesTest {
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

  int runDue() {
    return h.layer.relay().runDueNow();
  }

  Delivery only(Subscription s) {
    List<Delivery> all = h.subscriptions().deliveries(s.phoneNumberId(), s.id(), Optional.empty(), 50).orElseThrow();
    assertThat(all).hasSize(1);
    return all.get(0);
  }

  static byte[] message(String id) {
    return ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + RelayHarness.WABA_1 + "\",\"changes\":[{"
        + "\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":"
        + "\"13175551399\",\"phone_number_id\":\"" + RelayHarness.PNID_1 + "\"},\"messages\":[{\"from\":\"16315553602\","
        + "\"id\":\"" + id + "\",\"timestamp\":\"1749196801\",\"type\":\"text\",\"text\":{\"body\":\"caf\\u00e9\"}}]}}]}]}")
        .getBytes(StandardCharsets.UTF_8);
  }

  /** A call event stamped with the test clock's time, as Meta sends it when nothing is late. */
  byte[] callEvent(String callId, String event) {
    return callEvent(callId, event, clock.instant());
  }

  static byte[] callEvent(String callId, String event, Instant at) {
    return new String(RelayEndToEndTest.callConnect(callId, at), StandardCharsets.UTF_8)
        .replace("\"event\":\"connect\"", "\"event\":\"" + event + "\"").getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void aCallEventThatCannotBeDeliveredWithinItsTtlExpiresAndIsNeverSentLate() {
    status = 503;
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/calls"), List.of("calls"), null, false);
    h.ingestSigned(callEvent("wacid.A", "connect"));

    // attempts at once, then after 250 ms, 500 ms, 1 s, 2 s, 4 s, 8 s, 8 s … until 45 s
    long[] retryOffsetsMs = {0, 250, 750, 1750, 3750, 7750, 15750, 23750, 31750, 39750};
    long elapsed = 0;
    for (int i = 0; i < retryOffsetsMs.length; i++) {
      clock.advance(Duration.ofMillis(retryOffsetsMs[i] - elapsed - (i == 0 ? 0 : 1)));
      if (i > 0) {
        assertThat(runDue()).as("nothing due 1 ms before retry %d", i).isZero();
        clock.advance(Duration.ofMillis(1));
      }
      elapsed = retryOffsetsMs[i];
      assertThat(runDue()).as("retry %d", i).isEqualTo(1);
      assertThat(subscriber.count()).isEqualTo(i + 1);
    }
    // the next retry would be at 47.75 s, past the TTL: recorded as expired, not scheduled
    Delivery d = only(s);
    assertThat(d.state()).isEqualTo(DeliveryState.EXPIRED);
    assertThat(d.attempts()).hasSize(10);
    assertThat(d.attempts()).allMatch(a -> a.status().equals(Optional.of(503)));
    clock.advance(Duration.ofMinutes(10));
    status = 200;
    assertThat(runDue()).isZero();
    assertThat(subscriber.count()).isEqualTo(10);
  }

  @Test
  void aCallEventWaitingBehindADeadSubscriberIsRecordedExpiredWithoutBeingSent() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/calls"), List.of("calls"), null, false);
    h.ingestSigned(callEvent("wacid.B", "connect"));

    clock.advance(Duration.ofSeconds(46)); // the layer was busy or down past the TTL
    assertThat(runDue()).isEqualTo(1);

    assertThat(subscriber.count()).isZero();
    Delivery d = only(s);
    assertThat(d.state()).isEqualTo(DeliveryState.EXPIRED);
    assertThat(d.attempts()).isEmpty();
  }

  @Test
  void aConnectMetaRedeliversTenMinutesLateIsRecordedExpiredAtIngestAndNeverSent() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/calls"), List.of("calls"), null, false);
    Instant rang = clock.instant().minus(Duration.ofMinutes(10)); // the layer was down when Meta first sent it
    byte[] late = callEvent("wacid.late", "connect", rang);

    assertThat(h.ingestSigned(late).deliveries()).isEqualTo(1);

    Delivery d = only(s);
    assertThat(d.state()).isEqualTo(DeliveryState.EXPIRED);
    assertThat(d.expiresAt()).contains(rang.plusSeconds(45));
    assertThat(d.attempts()).isEmpty();
    assertThat(d.nextAttemptAt()).isEmpty();
    assertThat(runDue()).isZero();
    clock.advance(Duration.ofMinutes(1));
    assertThat(runDue()).isZero();
    // Meta tries once more: a duplicate of the recorded one, still not sent
    assertThat(h.ingestSigned(late)).isEqualTo(new IngestResult.Accepted(1, 0, 1));
    assertThat(runDue()).isZero();
    assertThat(subscriber.count()).isZero();
  }

  @Test
  void aTerminateMetaRedeliversTenMinutesLateIsStillDeliveredToEndTheCall() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/calls"), List.of("calls"), null, false);
    Instant ended = clock.instant().minus(Duration.ofMinutes(10));
    h.ingestSigned(callEvent("wacid.ended", "terminate", ended));
    Instant received = clock.instant();
    assertThat(runDue()).isZero(); // the first delivery of its call: held for its connect
    clock.advance(CallWebhookRelay.DEFAULT_TERMINATE_HOLD);

    assertThat(runDue()).isEqualTo(1);

    assertThat(subscriber.count()).isEqualTo(1);
    assertThat(only(s).state()).isEqualTo(DeliveryState.DELIVERED);
    assertThat(only(s).expiresAt()).contains(received.plusSeconds(45));
  }

  @Test
  void aFreshConnectIsDeliveredAndItsTtlCountsFromMetasTimestamp() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/calls"), List.of("calls"), null, false);
    Instant rang = clock.instant().minusSeconds(3);
    h.ingestSigned(callEvent("wacid.fresh", "connect", rang));

    assertThat(runDue()).isEqualTo(1);

    assertThat(subscriber.count()).isEqualTo(1);
    assertThat(subscriber.received().get(0).text()).contains("wacid.fresh");
    assertThat(only(s).state()).isEqualTo(DeliveryState.DELIVERED);
    assertThat(only(s).expiresAt()).contains(rang.plusSeconds(45));
  }

  @Test
  void aConnectThatArrives40SecondsLateHasOnlyTheRestOfItsTtlForRetries() {
    status = 503;
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/calls"), List.of("calls"), null, false);
    h.ingestSigned(callEvent("wacid.slow", "connect", clock.instant().minusSeconds(40)));

    // attempts at 0, 250 ms, 750 ms, 1.75 s and 3.75 s after receipt; the next (7.75 s) would pass the TTL at 5 s
    long[] offsetsMs = {0, 250, 750, 1750, 3750};
    Instant received = clock.instant();
    for (long offset : offsetsMs) {
      clock.set(received.plusMillis(offset));
      assertThat(runDue()).as("attempt at %d ms", offset).isEqualTo(1);
    }

    Delivery d = only(s);
    assertThat(d.state()).isEqualTo(DeliveryState.EXPIRED);
    assertThat(d.attempts()).hasSize(5);
    assertThat(d.expiresAt()).contains(received.plusSeconds(5));
    status = 200;
    clock.set(received.plusSeconds(8));
    assertThat(runDue()).isZero();
    assertThat(subscriber.count()).isEqualTo(5);
  }

  @Test
  void aTimestampAheadOfTheLayersClockFallsBackToReceipt() {
    status = 503;
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/calls"), List.of("calls"), null, false);
    Instant received = clock.instant();
    h.ingestSigned(callEvent("wacid.future", "connect", received.plus(Duration.ofHours(2))));

    assertThat(runDue()).isEqualTo(1);
    assertThat(only(s).expiresAt()).contains(received.plusSeconds(45));
    assertThat(only(s).state()).isEqualTo(DeliveryState.PENDING);
    status = 200;
    clock.advance(Duration.ofMillis(250));
    assertThat(runDue()).isEqualTo(1);
    assertThat(only(s).state()).isEqualTo(DeliveryState.DELIVERED);
  }

  @Test
  void aMessageEventRetriesOnTheLongScheduleEndsDeadAndAReplayDeliversIt() {
    status = 500;
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/m"), List.of("messages"), "s3cret-value", false);
    h.ingestSigned(message("wamid.1"));

    assertThat(runDue()).isEqualTo(1);
    Duration[] schedule = {Duration.ofSeconds(5), Duration.ofMinutes(5), Duration.ofMinutes(30), Duration.ofHours(2),
        Duration.ofHours(5), Duration.ofHours(10), Duration.ofHours(10)};
    for (int i = 0; i < schedule.length; i++) {
      Instant last = clock.instant();
      Instant next = only(s).nextAttemptAt().orElseThrow();
      // within ±20 % jitter of the nominal delay
      Duration delay = Duration.between(last, next);
      assertThat(delay).as("delay %d", i).isBetween(schedule[i].multipliedBy(8).dividedBy(10),
          schedule[i].multipliedBy(12).dividedBy(10));
      clock.set(next.minusMillis(1));
      assertThat(runDue()).isZero();
      clock.set(next);
      assertThat(runDue()).isEqualTo(1);
    }
    Delivery dead = only(s);
    assertThat(dead.state()).isEqualTo(DeliveryState.DEAD);
    assertThat(dead.attempts()).hasSize(8);
    assertThat(dead.nextAttemptAt()).isEmpty();
    assertThat(subscriber.count()).isEqualTo(8);
    clock.advance(Duration.ofDays(3));
    assertThat(runDue()).isZero();

    status = 200;
    Delivery replayed = h.subscriptions().retry(RelayHarness.PNID_1, s.id(), dead.id()).orElseThrow();
    assertThat(replayed.state()).isEqualTo(DeliveryState.PENDING);
    assertThat(runDue()).isEqualTo(1);
    assertThat(only(s).state()).isEqualTo(DeliveryState.DELIVERED);
    assertThat(only(s).attempts()).hasSize(9);
    // every attempt carried the same webhook-id, and a fresh, valid signature
    List<RecordingSubscriber.Received> all = subscriber.received();
    assertThat(all).extracting(r -> r.header("webhook-id")).containsOnly(dead.webhookId());
    RecordingSubscriber.Received last = all.get(all.size() - 1);
    assertThat(last.header("webhook-timestamp")).isEqualTo(Long.toString(clock.instant().getEpochSecond()));
    assertThat(last.header("webhook-signature")).isEqualTo(MetaFixtures.standardSignature(
        "s3cret-value".getBytes(StandardCharsets.UTF_8), dead.webhookId(), last.header("webhook-timestamp"), last.body()));
  }

  @Test
  void anExpiredCallEventCanBeReplayedByTheOperator() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/calls"), List.of("calls"), null, false);
    h.ingestSigned(callEvent("wacid.C", "connect"));
    clock.advance(Duration.ofMinutes(5));
    runDue();
    assertThat(only(s).state()).isEqualTo(DeliveryState.EXPIRED);

    h.subscriptions().retry(RelayHarness.PNID_1, s.id(), only(s).id());
    assertThat(runDue()).isEqualTo(1);

    assertThat(only(s).state()).isEqualTo(DeliveryState.DELIVERED);
    assertThat(subscriber.count()).isEqualTo(1);
  }

  @Test
  void aTerminateIsNeverDeliveredBeforeTheConnectThatCameBeforeIt() {
    AtomicInteger connectFailures = new AtomicInteger(2);
    subscriber.answer(r -> r.text().contains("wacid.D") && r.text().contains("\"event\":\"connect\"") && connectFailures.getAndDecrement() > 0
        ? Answer.of(503) : Answer.of(200));
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/calls"), List.of("calls"), null, false);
    h.ingestSigned(callEvent("wacid.D", "connect"));
    h.ingestSigned(callEvent("wacid.D", "terminate"));
    h.ingestSigned(callEvent("wacid.other", "connect"));

    runDue(); // connect fails; the terminate of the same call must wait; the other call goes
    assertThat(subscriber.received()).extracting(r -> r.text().contains("wacid.D") ? eventOf(r) : "other")
        .containsExactly("connect", "other");
    clock.advance(Duration.ofMillis(250));
    runDue(); // connect fails again (the terminate still waits)
    assertThat(subscriber.count()).isEqualTo(3);
    clock.advance(Duration.ofMillis(500));
    runDue(); // connect succeeds, and then its terminate, in the same run

    assertThat(subscriber.received()).extracting(r -> r.text().contains("wacid.D") ? eventOf(r) : "other")
        .containsExactly("connect", "other", "connect", "connect", "terminate");
    assertThat(h.subscriptions().deliveries(RelayHarness.PNID_1, s.id(), Optional.of(DeliveryState.DELIVERED), 50)
        .orElseThrow()).hasSize(3);
  }

  private static String eventOf(RecordingSubscriber.Received r) {
    return r.text().contains("\"event\":\"terminate\"") ? "terminate" : "connect";
  }

  @Test
  void a410GoneDeactivatesTheSubscription() {
    status = 410;
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/gone"), List.of("messages"), null, false);
    h.ingestSigned(message("wamid.gone"));

    runDue();

    assertThat(only(s).state()).isEqualTo(DeliveryState.DEAD);
    assertThat(h.subscriptions().find(RelayHarness.PNID_1, s.id()).orElseThrow().active()).isFalse();
    // an inactive subscription gets nothing new
    assertThat(h.ingestSigned(message("wamid.after")).deliveries()).isZero();
    assertThat(subscriber.count()).isEqualTo(1);
  }

  @Test
  void retryAfterIsHonoured() {
    subscriber.answer(r -> new Answer(429, Map.of("Retry-After", "120"), "slow down"));
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/busy"), List.of("messages"), null, false);
    h.ingestSigned(message("wamid.ra"));
    Instant first = clock.instant();

    runDue();

    assertThat(only(s).nextAttemptAt()).contains(first.plusSeconds(120));
    assertThat(only(s).attempts().get(0).status()).contains(429);
    assertThat(only(s).attempts().get(0).responseExcerpt()).contains("slow down");
    assertThat(only(s).attempts().get(0).latencyMs()).as("the attempt's own duration").isBetween(0L, 60_000L);
    clock.advance(Duration.ofSeconds(119));
    assertThat(runDue()).isZero();
    clock.advance(Duration.ofSeconds(1));
    assertThat(runDue()).isEqualTo(1);
  }

  @Test
  void redirectsAndUnreachableSubscribersAreFailedAttempts() {
    subscriber.answer(r -> new Answer(302, Map.of("Location", subscriber.url("/elsewhere")), ""));
    Subscription redirecting = h.subscribe(RelayHarness.PNID_1, subscriber.url("/moved"), List.of("messages"), null, false);
    Subscription closed = h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:1/nothing-listens", List.of("messages"), null,
        false);
    h.ingestSigned(message("wamid.r"));

    runDue();

    assertThat(subscriber.received()).extracting(RecordingSubscriber.Received::path).containsExactly("/moved");
    assertThat(only(redirecting).state()).isEqualTo(DeliveryState.PENDING);
    assertThat(only(redirecting).attempts().get(0).status()).contains(302);
    assertThat(only(closed).state()).isEqualTo(DeliveryState.PENDING);
    assertThat(only(closed).attempts().get(0).status()).isEmpty();
    assertThat(only(closed).attempts().get(0).error()).isPresent();
  }

  @Test
  void chatwootTerminateReasonIsAddedAndTheNewBytesAreSigned() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/cw"), List.of("calls"), "chatwoot-app-secret", true);
    Subscription plain = h.subscribe(RelayHarness.PNID_1, subscriber.url("/plain"), List.of("calls"), null, false);
    byte[] raw = MetaFixtures.at(MetaFixtures.bytes("terminate-failed.json"), clock.instant());
    h.ingestSigned(raw);
    clock.advance(CallWebhookRelay.DEFAULT_TERMINATE_HOLD); // a first terminate waits for its connect

    runDue();

    RecordingSubscriber.Received enriched = subscriber.received().stream().filter(r -> r.path().equals("/cw")).findFirst()
        .orElseThrow();
    RecordingSubscriber.Received untouched = subscriber.received().stream().filter(r -> r.path().equals("/plain"))
        .findFirst().orElseThrow();
    assertThat(untouched.body()).isEqualTo(raw);
    assertThat(enriched.text()).isEqualTo(new String(raw, StandardCharsets.UTF_8)
        .replace("\"status\":\"FAILED\"}", "\"status\":\"FAILED\",\"terminate_reason\":\"failed_138021\"}"));
    assertThat(enriched.header("x-hub-signature-256"))
        .isEqualTo(MetaFixtures.metaSignature("chatwoot-app-secret", enriched.body()));
    assertThat(enriched.header("webhook-id")).isEqualTo(untouched.header("webhook-id"));
    assertThat(only(s).state()).isEqualTo(DeliveryState.DELIVERED);
    assertThat(only(plain).state()).isEqualTo(DeliveryState.DELIVERED);
  }

  @Test
  void aTestEventGoesThroughTheRealPathOnce() {
    status = 500;
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/t"), List.of("calls"), null, false);

    Delivery queued = h.subscriptions().sendTest(RelayHarness.PNID_1, s.id()).orElseThrow();
    runDue();

    assertThat(subscriber.received()).hasSize(1);
    assertThat(subscriber.received().get(0).text()).contains("\"field\":\"test\"", RelayHarness.PNID_1);
    assertThat(only(s).id()).isEqualTo(queued.id());
    assertThat(only(s).state()).isEqualTo(DeliveryState.DEAD);
    clock.advance(Duration.ofHours(1));
    assertThat(runDue()).isZero();
    assertThat(h.subscriptions().sendTest(RelayHarness.PNID_2, s.id())).as("another number's subscription").isEmpty();
  }

  @Test
  void aTestEventIsRoutedLikeAnyChangeButOnlyToTheSubscriptionTested() {
    Subscription tested = h.subscribe(RelayHarness.PNID_1, subscriber.url("/tested"), List.of("calls"), null, false);
    Subscription everything = h.subscribe(RelayHarness.PNID_1, subscriber.url("/all"), List.of("*"), null, false);

    Delivery queued = h.subscriptions().sendTest(RelayHarness.PNID_1, tested.id()).orElseThrow();
    runDue();

    assertThat(subscriber.received()).as("only the subscription tested, though the other asks for everything")
        .hasSize(1);
    RecordingSubscriber.Received got = subscriber.received().get(0);
    assertThat(got.text()).contains("\"field\":\"test\"", "\"id\":\"" + queued.id() + "\"");
    // the webhook id of a routed change: a digest of its bytes, as for Meta's own changes
    assertThat(got.header("webhook-id")).matches("msg_[0-9a-f]{32}");
    assertThat(only(tested).state()).isEqualTo(DeliveryState.DELIVERED);
    assertThat(h.subscriptions().deliveries(RelayHarness.PNID_1, everything.id(), Optional.empty(), 50).orElseThrow())
        .isEmpty();
  }

  @Test
  void aCallEventReachedExactlyAtItsTtlIsExpiredWithoutBeingSent() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/calls"), List.of("calls"), null, false);
    h.ingestSigned(callEvent("wacid.edge", "connect"));

    clock.advance(Duration.ofSeconds(45));
    assertThat(runDue()).isEqualTo(1);

    assertThat(subscriber.count()).isZero();
    assertThat(only(s).state()).isEqualTo(DeliveryState.EXPIRED);
    assertThat(only(s).attempts()).isEmpty();
  }

  /** A relay whose store, right after each claim, lets {@code meanwhile} act on the claimed row. */
  private RelayHarness racing(java.util.function.BiConsumer<RelayStore, RelayStore.Claimed> meanwhile) {
    h.close();
    return new RelayHarness(dir.resolve("raced"), clock, List.of(RelayHarness.APP_SECRET), false,
        store -> RelayHarness.answered(store, (method, args, answer) -> {
          Object result = answer.call();
          if (method.equals("claimDue")) {
            for (Object c : (List<?>) result) {
              meanwhile.accept(store, (RelayStore.Claimed) c);
            }
          }
          return result;
        }));
  }

  @Test
  void aDeliveryWhoseSubscriptionIsRemovedAfterItsClaimIsNeverSent() {
    h = racing((store, c) -> store.deleteSubscription(c.subscriptionId()));
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/removed"), List.of("messages"), null, false);
    h.ingestSigned(message("wamid.removed"));

    assertThat(runDue()).isEqualTo(1);

    assertThat(subscriber.count()).isZero();
    assertThat(h.subscriptions().find(RelayHarness.PNID_1, s.id())).isEmpty();
    assertThat(runDue()).isZero();
  }

  /** Another instance took the row over (its lease was released) between the claim and the send. */
  @Test
  void anAttemptWhoseLeaseWasTakenOverSendsNothingAndTheDeliveryIsSentOnceLater() {
    java.util.concurrent.atomic.AtomicBoolean takeOver = new java.util.concurrent.atomic.AtomicBoolean(true);
    h = racing((store, c) -> {
      if (takeOver.getAndSet(false)) {
        store.releaseLeases(clock.instant());
      }
    });
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/lease"), List.of("messages"), null, false);
    h.ingestSigned(message("wamid.lease"));

    runDue();

    assertThat(subscriber.count()).isEqualTo(1);
    Delivery d = only(s);
    assertThat(d.state()).isEqualTo(DeliveryState.DELIVERED);
    assertThat(d.attempts()).hasSize(1);
  }

  /** The subscriber can tie a delivery to the webhook POST that caused it, on every attempt. */
  @Test
  void everyAttemptCarriesTheRequestIdOfTheWebhookThatCausedIt() {
    status = 503;
    h.subscribe(RelayHarness.PNID_1, subscriber.url("/traced"), List.of("messages"), null, false);
    byte[] body = message("wamid.traced");
    assertThat(h.layer.relay().ingest(body, MetaFixtures.metaSignature(RelayHarness.APP_SECRET, body),
        Optional.of("req-4f2a:77"))).isInstanceOf(IngestResult.Accepted.class);

    runDue();
    status = 200;
    clock.advance(Duration.ofSeconds(6));
    runDue();

    assertThat(subscriber.received()).hasSize(2).allSatisfy(r -> {
      assertThat(r.header("x-request-id")).isEqualTo("req-4f2a:77");
      assertThat(r.header("user-agent")).isNotEqualTo("MetaLayer/null").startsWith("MetaLayer/");
    });
  }

  /** A secret sealed under another master key is a failed attempt with its own class, and nothing is sent unsigned. */
  @Test
  void aSecretThatDoesNotOpenWithThisMasterKeyFailsTheAttemptWithoutSending() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/sealed"), List.of("messages"), "s3cret-value", false);
    byte[] otherKey = new byte[32];
    java.util.Arrays.fill(otherKey, (byte) 7);
    dev.metalayer.MetaLayer other = dev.metalayer.MetaLayer.builder().keyStore(dev.metalayer.store.Stores.inMemoryKeys())
        .masterKey(otherKey).clock(clock).relayStore(dev.metalayer.store.Stores.relay(h.db))
        .egressGuard(EgressGuard.of(false, List.of("127.0.0.0/8"))).appSecrets(List.of(RelayHarness.APP_SECRET)).build();
    try {
      other.keys().addNumber("+13175551399", RelayHarness.PNID_1, RelayHarness.WABA_1, "900", "EAAG-token-1");
      byte[] body = message("wamid.sealed");
      assertThat(other.relay().ingest(body, MetaFixtures.metaSignature(RelayHarness.APP_SECRET, body)))
          .isInstanceOf(IngestResult.Accepted.class);

      assertThat(other.relay().runDueNow()).isEqualTo(1);
    } finally {
      other.close();
    }

    assertThat(subscriber.count()).isZero();
    Delivery d = only(s);
    assertThat(d.state()).isEqualTo(DeliveryState.PENDING);
    assertThat(d.attempts()).singleElement().satisfies(a -> {
      assertThat(a.status()).isEmpty();
      assertThat(a.errorClass()).contains("secret_unreadable");
    });
  }
}

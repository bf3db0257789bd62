package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import dev.metalayer.testing.RecordingSubscriber.Answer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Per-call order on the calls lane, end to end: Meta's webhooks in (signed), a real subscriber out, the
 * relay on an H2 file, the clock moved by hand and the engine driven by {@code runDueNow()}.
 */
class CallOrderTest {
  static final Duration HOLD = CallWebhookRelay.DEFAULT_TERMINATE_HOLD;
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

  Subscription subscribe(String... events) {
    return h.subscribe(RelayHarness.PNID_1, subscriber.url("/hook"), List.of(events), null, false);
  }

  int runDue() {
    return h.layer.relay().runDueNow();
  }

  byte[] call(String callId, String event) {
    return RelayTimeRulesTest.callEvent(callId, event, clock.instant());
  }

  /** The events the subscriber received, in order: {@code connect}, {@code terminate}, a status, a message type. */
  List<String> received() {
    return subscriber.received().stream().map(r -> {
      String t = r.text();
      for (String e : List.of("connect", "terminate", "call_created")) {
        if (t.contains("\"event\":\"" + e + "\"")) {
          return e + " " + callId(t);
        }
      }
      if (t.contains("\"statuses\"")) {
        return "status " + callId(t);
      }
      return "message " + callId(t);
    }).toList();
  }

  /** The call's (or else the message's) id in a delivered body. */
  static String callId(String text) {
    int i = text.indexOf("\"id\":\"wacid.");
    if (i < 0) {
      i = text.indexOf("\"id\":\"wamid.");
    }
    return text.substring(i + 6, text.indexOf('"', i + 6));
  }

  List<Delivery> log(Subscription s, DeliveryState state) {
    return h.subscriptions().deliveries(s.phoneNumberId(), s.id(), Optional.of(state), 50).orElseThrow();
  }

  @Test
  void aTerminateBeforeItsConnectReachesTheSubscriberAfterTheConnect() {
    subscribe("calls");
    h.ingestSigned(call("wacid.A", "terminate"));
    assertThat(runDue()).isZero(); // held for its connect

    clock.advance(Duration.ofMillis(700));
    h.ingestSigned(call("wacid.A", "connect"));
    assertThat(runDue()).isEqualTo(2); // at once: the connect released the hold, and went first

    assertThat(received()).containsExactly("connect wacid.A", "terminate wacid.A");
  }

  @Test
  void aTerminateAloneIsDeliveredAtTheEndOfTheHoldAndNotBefore() {
    Subscription s = subscribe("calls");
    h.ingestSigned(call("wacid.B", "terminate"));

    clock.advance(HOLD.minusMillis(1));
    assertThat(runDue()).isZero();
    assertThat(subscriber.count()).isZero();
    assertThat(log(s, DeliveryState.PENDING)).singleElement()
        .satisfies(d -> assertThat(d.nextAttemptAt()).contains(clock.instant().plusMillis(1)));

    clock.advance(Duration.ofMillis(1));
    assertThat(runDue()).isEqualTo(1);
    assertThat(received()).containsExactly("terminate wacid.B");
  }

  @Test
  void aConnectAfterItsTerminateWasDeliveredIsSupersededNeverSentAndShownInTheLog() {
    Subscription s = subscribe("calls");
    h.ingestSigned(call("wacid.C", "terminate"));
    clock.advance(HOLD);
    assertThat(runDue()).isEqualTo(1);

    clock.advance(Duration.ofSeconds(1));
    h.ingestSigned(call("wacid.C", "connect"));
    runDue();
    clock.advance(Duration.ofMinutes(5));
    runDue();

    assertThat(received()).containsExactly("terminate wacid.C");
    Delivery superseded = log(s, DeliveryState.SUPERSEDED).get(0);
    assertThat(superseded.field()).isEqualTo("calls");
    assertThat(superseded.lane()).isEqualTo(Lane.CALLS);
    assertThat(superseded.attempts()).isEmpty();
    // an explicit replay is refused: the API answers why, and nothing is sent
    Delivery after = h.subscriptions().retry(s.phoneNumberId(), s.id(), superseded.id()).orElseThrow();
    assertThat(after.state()).isEqualTo(DeliveryState.SUPERSEDED);
    assertThat(WebhookSubscriptions.refusedReplay(after.state())).contains(WebhookSubscriptions.SUPERSEDED_REPLAY);
    assertThat(runDue()).isZero();
    assertThat(subscriber.count()).isEqualTo(1);
  }

  @Test
  void aConnectWhileItsTerminateIsBeingRetriedIsSupersededAndTheTerminateStillEndsTheCall() {
    Subscription s = subscribe("calls");
    h.ingestSigned(call("wacid.D", "terminate"));
    clock.advance(HOLD);
    status = 503;
    assertThat(runDue()).isEqualTo(1); // attempted, failed: the subscriber saw it, or may have
    status = 200;

    h.ingestSigned(call("wacid.D", "connect"));
    clock.advance(Duration.ofSeconds(1));
    runDue();

    assertThat(received()).containsExactly("terminate wacid.D", "terminate wacid.D");
    assertThat(log(s, DeliveryState.SUPERSEDED)).hasSize(1);
    assertThat(log(s, DeliveryState.DELIVERED)).hasSize(1);
  }

  @Test
  void aTerminateAfterItsDeliveredConnectIsNotHeld() {
    subscribe("calls");
    h.ingestSigned(call("wacid.E", "connect"));
    assertThat(runDue()).isEqualTo(1);
    clock.advance(Duration.ofSeconds(20));
    h.ingestSigned(call("wacid.E", "terminate"));

    assertThat(runDue()).isEqualTo(1);
    assertThat(received()).containsExactly("connect wacid.E", "terminate wacid.E");
  }

  @Test
  void callsOfOtherCallsAndOtherSubscribersAreNotHeldBack() {
    subscribe("calls");
    h.ingestSigned(call("wacid.F", "terminate"));
    h.ingestSigned(call("wacid.G", "connect"));

    assertThat(runDue()).isEqualTo(1);
    assertThat(received()).containsExactly("connect wacid.G");
  }

  @Test
  void aCallStatusDuringTheHoldGoesBeforeTheTerminateWhichStillWaitsForItsConnect() {
    subscribe("calls");
    h.ingestSigned(call("wacid.H", "terminate"));
    clock.advance(Duration.ofMillis(100));
    h.ingestSigned(status("wacid.H", "REJECTED"));

    assertThat(runDue()).isEqualTo(1);
    clock.advance(HOLD);
    assertThat(runDue()).isEqualTo(1);
    assertThat(received()).containsExactly("status wacid.H", "terminate wacid.H");
  }

  @Test
  void aPermissionReplyRidesTheCallsLaneWithoutTheRingTtlAndRetriesOnTheMessagesSchedule() {
    Subscription s = subscribe("call_permission_replies");
    status = 503;
    h.ingestSigned(permissionReply("wamid.P1"));
    assertThat(runDue()).isEqualTo(1);

    Delivery d = log(s, DeliveryState.PENDING).get(0);
    assertThat(d.lane()).isEqualTo(Lane.CALLS);
    assertThat(d.expiresAt()).isEmpty();
    // the default lane's second attempt after about 5 s (±20 %), not the ring's 250 ms
    assertThat(d.nextAttemptAt().orElseThrow()).isBetween(clock.instant().plusSeconds(4), clock.instant().plusSeconds(6));

    // a minute later, well past the ring TTL of 45 s: still pending, and delivered once the subscriber is back
    clock.advance(Duration.ofMinutes(6));
    status = 200;
    runDue();
    clock.advance(Duration.ofMinutes(40));
    runDue();
    assertThat(log(s, DeliveryState.DELIVERED)).hasSize(1);
    assertThat(log(s, DeliveryState.EXPIRED)).isEmpty();
  }

  @Test
  void oneUsersPermissionRepliesKeepTheirOrder() {
    Subscription s = subscribe("call_permission_replies");
    status = 503;
    h.ingestSigned(permissionReply("wamid.P1"));
    assertThat(runDue()).isEqualTo(1); // failed: the next reply of that user waits for it
    status = 200;
    h.ingestSigned(permissionReply("wamid.P2"));
    assertThat(runDue()).isZero();

    clock.advance(Duration.ofSeconds(7));
    assertThat(runDue()).isEqualTo(2);
    assertThat(received()).containsExactly("message wamid.P1", "message wamid.P1", "message wamid.P2");
    assertThat(log(s, DeliveryState.DELIVERED)).hasSize(2);
  }

  @Test
  void aVoicemailRidesTheCallsLaneAfterItsCallsHeldTerminate() {
    Subscription s = subscribe("calls", "messages");
    h.ingestSigned(call("wacid.V", "terminate"));
    h.ingestSigned(voicemail("wacid.V"));

    assertThat(runDue()).isZero(); // behind the held terminate of its call
    clock.advance(HOLD);
    assertThat(runDue()).isEqualTo(2);
    assertThat(received()).containsExactly("terminate wacid.V", "message wacid.V");
    assertThat(log(s, DeliveryState.DELIVERED)).extracting(Delivery::lane).containsOnly(Lane.CALLS);
  }

  @Test
  void anOrdinaryMessageStaysOnTheDefaultLane() {
    Subscription s = subscribe("messages");
    h.ingestSigned(RelayTimeRulesTest.message("wamid.M1"));
    runDue();
    assertThat(log(s, DeliveryState.DELIVERED)).extracting(Delivery::lane).containsExactly(Lane.DEFAULT);
  }

  static byte[] status(String callId, String status) {
    return envelope("calls", "\"statuses\":[{\"id\":\"" + callId + "\",\"type\":\"call\",\"status\":\"" + status
        + "\",\"timestamp\":\"1749197010\",\"recipient_id\":\"16505551234\"}]");
  }

  static byte[] permissionReply(String id) {
    return envelope("messages", "\"contacts\":[{\"profile\":{\"name\":\"Sam\"},\"wa_id\":\"12185552828\"}],"
        + "\"messages\":[{\"from\":\"12185552828\",\"id\":\"" + id + "\",\"timestamp\":\"1749196800\",\"type\":"
        + "\"interactive\",\"interactive\":{\"type\":\"call_permission_reply\",\"call_permission_reply\":{\"response\":"
        + "\"accept\",\"is_permanent\":false,\"expiration_timestamp\":\"1768550400\",\"response_source\":\"user_action\"}}}]");
  }

  static byte[] voicemail(String callId) {
    return envelope("messages", "\"messages\":[{\"from\":\"16315553602\",\"id\":\"" + callId + "\",\"timestamp\":"
        + "\"1749196800\",\"type\":\"audio\",\"audio\":{\"id\":\"1234567890\",\"mime_type\":\"audio/ogg\"}}]");
  }

  static byte[] envelope(String field, String value) {
    return ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + RelayHarness.WABA_1 + "\",\"changes\":[{"
        + "\"field\":\"" + field + "\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":"
        + "\"13175551399\",\"phone_number_id\":\"" + RelayHarness.PNID_1 + "\"}," + value + "}}]}]}")
        .getBytes(StandardCharsets.UTF_8);
  }
}

package dev.metalayer.relay;

import dev.metalayer.relay.CallWebhookRelay.IngestResult;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.RecordingSubscriber;
import dev.metalayer.testing.RecordingSubscriber.Received;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The relay running for real: its workers started, the system clock, real HTTP subscribers on
 * loopback, the H2 store. A Meta-signed batch goes in; single-change envelopes come out.
 */
class RelayEndToEndTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final byte[] WHSEC_KEY = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
  private static final String WHSEC = "whsec_" + Base64.getEncoder().encodeToString(WHSEC_KEY);

  @TempDir Path dir;
  RelayHarness h;
  RecordingSubscriber callsApp;
  RecordingSubscriber messagesApp;
  RecordingSubscriber everything2;
  RecordingSubscriber slow;

  @BeforeEach
  void setUp() {
    h = new RelayHarness(dir, Clock.systemUTC());
    callsApp = RecordingSubscriber.start();
    messagesApp = RecordingSubscriber.start();
    everything2 = RecordingSubscriber.start();
    slow = RecordingSubscriber.start();
  }

  @AfterEach
  void tearDown() {
    h.close();
    callsApp.close();
    messagesApp.close();
    everything2.close();
    slow.close();
  }

  @Test
  void aSignedBatchArrivesAsSingleChangeEnvelopesOnlyWhereSubscribedAndVerifiable() throws Exception {
    Subscription calls = h.subscribe(RelayHarness.PNID_1, callsApp.url("/calls"), List.of("calls", "call_permission_replies"),
        WHSEC, false);
    Subscription messages = h.subscribe(RelayHarness.PNID_1, messagesApp.url("/messages"), List.of("messages"),
        "plain-secret-123", false);
    Subscription all2 = h.subscribe(RelayHarness.PNID_2, everything2.url("/all"), List.of("*"), null, false);
    byte[] raw = MetaFixtures.at(MetaFixtures.bytes("multi-entry.json"), Instant.now()); // fresh call events
    List<byte[]> slices = EnvelopeSplitterTest.originalChanges(raw);
    h.layer.relay().start();

    IngestResult.Accepted accepted = h.ingestSigned(raw);

    assertThat(accepted).isEqualTo(new IngestResult.Accepted(5, 6, 0));
    List<Received> toCalls = callsApp.await(2, WAIT);
    List<Received> toMessages = messagesApp.await(2, WAIT);
    List<Received> toAll2 = everything2.await(2, WAIT);
    // calls + call_permission_replies: the connect and the permission reply, not the other message
    assertThat(changesOf(toCalls)).containsExactlyInAnyOrder(text(slices.get(0)), text(slices.get(1)));
    assertThat(changesOf(toMessages)).containsExactlyInAnyOrder(text(slices.get(1)), text(slices.get(2)));
    // number 2: its call status, and the WABA-level account_update (no metadata) routed by WABA id
    assertThat(changesOf(toAll2)).containsExactlyInAnyOrder(text(slices.get(3)), text(slices.get(4)));

    for (Received r : toCalls) {
      assertStandardHeaders(r);
      assertThat(r.header("webhook-signature"))
          .isEqualTo(MetaFixtures.standardSignature(WHSEC_KEY, r.header("webhook-id"), r.header("webhook-timestamp"), r.body()));
      assertThat(r.header("x-hub-signature-256")).isEqualTo(MetaFixtures.metaSignature(WHSEC, r.body()));
    }
    for (Received r : toMessages) {
      assertStandardHeaders(r);
      assertThat(r.header("webhook-signature")).isEqualTo(MetaFixtures.standardSignature(
          "plain-secret-123".getBytes(StandardCharsets.UTF_8), r.header("webhook-id"), r.header("webhook-timestamp"), r.body()));
      assertThat(r.header("x-hub-signature-256")).isEqualTo(MetaFixtures.metaSignature("plain-secret-123", r.body()));
    }
    for (Received r : toAll2) {
      assertStandardHeaders(r);
      assertThat(r.header("webhook-signature")).isNull();
      assertThat(r.header("x-hub-signature-256")).isNull();
    }
    // the permission reply went to both subscriptions under the same webhook-id
    assertThat(idOf(toCalls, slices.get(1))).isEqualTo(idOf(toMessages, slices.get(1)));

    // Meta delivers the same batch again: recognised, nothing queued twice
    IngestResult.Accepted again = h.ingestSigned(raw);
    assertThat(again).isEqualTo(new IngestResult.Accepted(5, 0, 6));
    // and the same change alone (unbatched redelivery) is a duplicate too
    assertThat(h.ingestSigned(envelopeOf(toAll2, slices.get(3)))).isEqualTo(new IngestResult.Accepted(1, 0, 1));

    awaitDelivered(calls, 2);
    awaitDelivered(messages, 2);
    awaitDelivered(all2, 2);
    assertThat(callsApp.count() + messagesApp.count() + everything2.count()).isEqualTo(6);
  }

  @Test
  void aSlowSubscriberDoesNotDelayAnother() throws Exception {
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    slow.answer(r -> {
      try {
        release.await(20, java.util.concurrent.TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return RecordingSubscriber.Answer.of(200);
    });
    h.subscribe(RelayHarness.PNID_1, slow.url("/slow"), List.of("calls"), null, false);
    h.subscribe(RelayHarness.PNID_1, callsApp.url("/fast"), List.of("calls"), null, false);
    h.layer.relay().start();
    try {
      for (int i = 0; i < 12; i++) {
        h.ingestSigned(callConnect("wacid.slow" + i, Instant.now()));
      }
      // the slow one holds at most its share of workers; the fast one gets all 12 meanwhile
      callsApp.await(12, WAIT);
      assertThat(slow.count()).isLessThanOrEqualTo(4);
    } finally {
      release.countDown();
    }
  }

  /** A user-initiated connect of {@code callId} that Meta stamped {@code at}. */
  static byte[] callConnect(String callId, Instant at) {
    return ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + RelayHarness.WABA_1 + "\",\"changes\":[{"
        + "\"field\":\"calls\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":"
        + "\"13175551399\",\"phone_number_id\":\"" + RelayHarness.PNID_1 + "\"},\"calls\":[{\"id\":\"" + callId
        + "\",\"from\":\"16315553602\",\"to\":\"13175551399\",\"event\":\"connect\",\"timestamp\":\"" + at.getEpochSecond() + "\","
        + "\"direction\":\"USER_INITIATED\",\"session\":{\"sdp_type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}}]}}]}]}")
        .getBytes(StandardCharsets.UTF_8);
  }

  private void awaitDelivered(Subscription s, int n) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (h.subscriptions().deliveries(s.phoneNumberId(), s.id(), java.util.Optional.of(DeliveryState.DELIVERED), 50)
        .orElseThrow().size() < n) {
      assertThat(System.nanoTime()).as("deliveries of %s recorded as delivered", s.id()).isLessThan(deadline);
      java.util.concurrent.locks.LockSupport.parkNanos(5_000_000L); // a poll interval, not a timing assumption
    }
  }

  private static void assertStandardHeaders(Received r) throws Exception {
    assertThat(r.header("content-type")).isEqualTo("application/json");
    assertThat(r.header("user-agent")).startsWith("MetaLayer/");
    assertThat(r.header("webhook-id")).matches("msg_[0-9a-f]{32}");
    long ts = Long.parseLong(r.header("webhook-timestamp"));
    assertThat(Math.abs(ts - Instant.now().getEpochSecond())).isLessThan(60);
    JsonNode envelope = JSON.readTree(r.body());
    assertThat(envelope.path("object").asText()).isEqualTo("whatsapp_business_account");
    assertThat(envelope.path("entry")).hasSize(1);
    assertThat(envelope.path("entry").path(0).path("changes")).hasSize(1);
  }

  /** The change bytes inside each received single-change envelope, as text. */
  private static List<String> changesOf(List<Received> received) {
    return received.stream().map(r -> {
      String body = r.text();
      int start = body.indexOf("\"changes\":[") + "\"changes\":[".length();
      return body.substring(start, body.length() - "]}]}".length());
    }).toList();
  }

  private static String idOf(List<Received> received, byte[] slice) {
    return received.stream().filter(r -> changesOf(List.of(r)).get(0).equals(text(slice))).findFirst().orElseThrow()
        .header("webhook-id");
  }

  private static byte[] envelopeOf(List<Received> received, byte[] slice) {
    return received.stream().filter(r -> changesOf(List.of(r)).get(0).equals(text(slice))).findFirst().orElseThrow().body();
  }

  private static String text(byte[] b) {
    return new String(Arrays.copyOf(b, b.length), StandardCharsets.UTF_8);
  }
}

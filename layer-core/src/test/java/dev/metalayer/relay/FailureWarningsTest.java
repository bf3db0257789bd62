package dev.metalayer.relay;

import dev.metalayer.relay.CallWebhookRelay.UnknownNumbers;

import dev.metalayer.relay.CallWebhookRelay.IngestResult;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import dev.metalayer.testing.RecordingSubscriber.Answer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * What used to fail in silence is logged once at WARN, with the number and the reason, at most once a
 * minute per kind and number (the clock is moved by hand), and never with a secret in it.
 */
class FailureWarningsTest {
  private static final String UNKNOWN_PNID = "777000111222333";
  private static final String UNKNOWN_WABA = "888000111222333";

  @TempDir Path dir;
  final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  final ListAppender<ILoggingEvent> logged = new ListAppender<>();
  final List<Logger> loggers =
      List.of((Logger) LoggerFactory.getLogger(Ingest.class), (Logger) LoggerFactory.getLogger(Router.class),
          (Logger) LoggerFactory.getLogger(Attempter.class));
  RelayHarness h;

  @BeforeEach
  void setUp() {
    logged.start();
    loggers.forEach(l -> l.addAppender(logged));
    h = new RelayHarness(dir, clock);
  }

  @AfterEach
  void tearDown() {
    loggers.forEach(l -> l.detachAppender(logged));
    h.close();
  }

  List<String> warnings() {
    return logged.list.stream().filter(e -> e.getLevel() == Level.WARN).map(ILoggingEvent::getFormattedMessage).toList();
  }

  static byte[] message(String waba, String pnid) {
    return ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + waba + "\",\"changes\":[{"
        + "\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":"
        + "\"15550001111\",\"phone_number_id\":\"" + pnid + "\"},\"messages\":[{\"from\":\"16315553602\","
        + "\"id\":\"wamid.1\",\"timestamp\":\"1749196801\",\"type\":\"text\",\"text\":{\"body\":\"hello\"}}]}}]}]}")
        .getBytes(StandardCharsets.UTF_8);
  }

  static byte[] wabaLevel(String waba) {
    return ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + waba + "\",\"changes\":[{"
        + "\"field\":\"message_template_status_update\",\"value\":{\"event\":\"APPROVED\"}}]}]}")
        .getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void aWebhookForAnUnknownNumberIsWarnedOnceAMinuteCountedAndListed() {
    Instant first = clock.instant();
    IngestResult.Accepted accepted = h.ingestSigned(message(UNKNOWN_WABA, UNKNOWN_PNID));
    assertThat(accepted.deliveries()).isZero();
    assertThat(warnings()).singleElement().asString()
        .contains("phone number ID " + UNKNOWN_PNID + " (WABA " + UNKNOWN_WABA + ")", "not registered",
            "a messages change answered 200 and dropped", "register the number");

    for (int i = 0; i < 50; i++) {
      clock.advance(Duration.ofMillis(100));
      h.ingestSigned(message(UNKNOWN_WABA, UNKNOWN_PNID));
    }
    assertThat(warnings()).as("a flood is one line a minute").hasSize(1);
    clock.advance(Duration.ofMinutes(1));
    h.ingestSigned(message(UNKNOWN_WABA, UNKNOWN_PNID));
    assertThat(warnings()).hasSize(2);
    assertThat(warnings().get(1)).contains("52 such change(s)", "(50 more suppressed since the last such line)");

    // another unknown number has its own line; a WABA-level change of an unknown WABA is counted by its WABA
    h.ingestSigned(message(UNKNOWN_WABA, "777000111222444"));
    h.ingestSigned(wabaLevel("999000111222333"));
    assertThat(warnings()).hasSize(4);
    assertThat(warnings().get(3)).contains("WABA 999000111222333", "message_template_status_update");

    UnknownNumbers unknown = h.layer.relay().unknownNumbers();
    assertThat(unknown.total()).isEqualTo(54);
    assertThat(unknown.recent()).hasSize(3);
    UnknownNumbers.Seen seen = unknown.recent().stream()
        .filter(s -> s.phoneNumberId().equals(Optional.of(UNKNOWN_PNID))).findFirst().orElseThrow();
    assertThat(seen.count()).isEqualTo(52);
    assertThat(seen.wabaId()).contains(UNKNOWN_WABA);
    assertThat(seen.firstSeen()).isEqualTo(first);
    assertThat(seen.lastSeen()).isEqualTo(first.plus(Duration.ofMillis(5000)).plus(Duration.ofMinutes(1)));
    assertThat(unknown.recent().get(0).wabaId()).contains("999000111222333");
    assertThat(unknown.recent().get(0).phoneNumberId()).isEmpty();

    // a registered number is not unknown
    h.ingestSigned(message(RelayHarness.WABA_1, RelayHarness.PNID_1));
    assertThat(unknown.total()).isEqualTo(54);
  }

  /** A phone number ID the layer does not know is unknown even when its WABA is registered (another tenant's number). */
  @Test
  void anUnknownPhoneNumberIdUnderARegisteredWabaIsCountedAndWarned() {
    h.ingestSigned(message(RelayHarness.WABA_1, UNKNOWN_PNID));

    UnknownNumbers unknown = h.layer.relay().unknownNumbers();
    assertThat(unknown.total()).isEqualTo(1);
    assertThat(unknown.recent()).singleElement().satisfies(seen -> {
      assertThat(seen.phoneNumberId()).contains(UNKNOWN_PNID);
      assertThat(seen.wabaId()).contains(RelayHarness.WABA_1);
    });
    assertThat(warnings()).singleElement().asString().contains("phone number ID " + UNKNOWN_PNID, "not registered");
  }

  @Test
  void theUnknownNumbersKeptAreBoundedAndOutsideTextIsNeverKept() {
    UnknownNumbers unknown = new UnknownNumbers(clock);
    for (int i = 0; i < UnknownNumbers.MAX_KEPT + 50; i++) {
      clock.advance(Duration.ofSeconds(1));
      unknown.record(Long.toString(100_000_000_000L + i), "1");
    }
    assertThat(unknown.recent()).hasSize(UnknownNumbers.MAX_KEPT);
    assertThat(unknown.recent().get(0).phoneNumberId()).contains(Long.toString(100_000_000_000L + 149));
    assertThat(unknown.total()).isEqualTo(150);
    assertThat(unknown.record("<script>ps_secret", "x y").phoneNumberId()).contains(UnknownNumbers.NOT_AN_ID);
    assertThat(unknown.recent().get(0).wabaId()).contains(UnknownNumbers.NOT_AN_ID);
  }

  @Test
  void aWebhookRefusedForItsSignatureIsWarnedOnceAMinuteWithoutAnySecret() {
    byte[] body = message(RelayHarness.WABA_1, RelayHarness.PNID_1);
    String forged = MetaFixtures.metaSignature("not-the-app-secret", body);
    assertThat(h.layer.relay().ingest(body, forged)).isInstanceOf(IngestResult.Refused.class);
    assertThat(h.layer.relay().ingest(body, forged)).isInstanceOf(IngestResult.Refused.class);
    assertThat(warnings()).singleElement().asString()
        .startsWith("Webhook refused with 401: its X-Hub-Signature-256 matches none of the 2 configured app secret(s)")
        .contains("it names phone number ID(s) " + RelayHarness.PNID_1);

    assertThat(h.layer.relay().ingest(body, null)).isInstanceOf(IngestResult.Refused.class);
    assertThat(warnings()).hasSize(2);
    assertThat(warnings().get(1)).contains("it has no X-Hub-Signature-256");

    clock.advance(Duration.ofMinutes(1));
    h.layer.relay().ingest(body, forged);
    assertThat(warnings()).hasSize(3);
    assertThat(warnings().get(2)).contains("(1 more suppressed since the last such line)");

    for (String line : warnings()) {
      assertThat(line).doesNotContain(RelayHarness.APP_SECRET, "old-rotated-secret", forged, forged.substring(7),
          "hello", "EAAG");
    }
  }

  @Test
  void aCallEventExpiredAfterItsAttemptsIsWarnedWithItsNumber() {
    try (RecordingSubscriber subscriber = RecordingSubscriber.start()) {
      subscriber.answer(r -> Answer.of(503));
      Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/calls"), List.of("calls"), "subscriber-secret-1",
          false);
      h.ingestSigned(RelayTimeRulesTest.callEvent("wacid.W", "connect", clock.instant()));
      assertThat(h.layer.relay().runDueNow()).isEqualTo(1);
      assertThat(warnings()).isEmpty();

      // the next retry (500 ms after this attempt) would be past the 45 s TTL: expired after 2 attempts
      clock.advance(Duration.ofMillis(44_900));
      assertThat(h.layer.relay().runDueNow()).isEqualTo(1);
      Delivery d = h.subscriptions().deliveries(RelayHarness.PNID_1, s.id(), Optional.empty(), 5).orElseThrow().get(0);
      assertThat(d.state()).isEqualTo(DeliveryState.EXPIRED);
      assertThat(warnings()).singleElement().asString()
          .isEqualTo("Call event not delivered: delivery " + d.id() + " (calls) of phone number ID " + RelayHarness.PNID_1
              + " to subscription " + s.id() + " expired after 2 attempt(s): the last attempt was answered HTTP 503");

      // a second call of the same number within the minute: counted, not logged; after it, logged with the count
      h.ingestSigned(RelayTimeRulesTest.callEvent("wacid.X", "connect", clock.instant()));
      clock.advance(Duration.ofSeconds(46));
      h.layer.relay().runDueNow();
      assertThat(warnings()).hasSize(1);
      h.ingestSigned(RelayTimeRulesTest.callEvent("wacid.Y", "connect", clock.instant()));
      clock.advance(Duration.ofSeconds(46));
      h.layer.relay().runDueNow();
      assertThat(warnings()).hasSize(2);
      assertThat(warnings().get(1)).contains("expired after 0 attempt(s): no attempt was left before its TTL",
          "(1 more suppressed since the last such line)");
      assertThat(String.join("\n", warnings())).doesNotContain("subscriber-secret-1", subscriber.url("/calls"));
    }
  }

  @Test
  void aWebhookRefusedBecauseNoAppSecretIsConfiguredSaysSo(@TempDir Path other) {
    try (RelayHarness noSecret = new RelayHarness(other, clock, List.of(), false)) {
      byte[] body = message(RelayHarness.WABA_1, RelayHarness.PNID_1);
      assertThat(noSecret.layer.relay().ingest(body, MetaFixtures.metaSignature("any", body)))
          .isInstanceOf(IngestResult.Refused.class);
    }
    assertThat(warnings()).singleElement().asString()
        .startsWith("Webhook refused with 401: no Meta app secret is configured, so no webhook can be verified");
  }
  @Test
  void aWabaLevelChangeIsKeptByItsWabaIdAndOneWithoutAnyIdTogetherWithTheOthersWithout() {
    CallWebhookRelay.UnknownNumbers unknown = new CallWebhookRelay.UnknownNumbers(MutableClock.at("2026-03-01T10:00:00Z"));
    unknown.record(null, null);
    unknown.record(null, "");
    unknown.record(null, "not-an-id");
    assertThat(unknown.recent()).extracting(CallWebhookRelay.UnknownNumbers.Seen::wabaId,
        CallWebhookRelay.UnknownNumbers.Seen::count).containsExactly(
            org.assertj.core.groups.Tuple.tuple(java.util.Optional.of(CallWebhookRelay.UnknownNumbers.NOT_AN_ID), 1L),
            org.assertj.core.groups.Tuple.tuple(java.util.Optional.empty(), 2L));
  }
}

package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.keys.KeyService.Registration;
import dev.metalayer.testing.MutableClock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Routing of WABA-level changes on a WABA that two tenants share: number A ({@link RelayHarness#PNID_1},
 * +13175551399) and number B ({@link #PNID_B}, +15550000222), both of WABA {@link RelayHarness#WABA_1}.
 * A change that names a number goes to that number only; one that names a number the layer does not
 * know goes to none; one that names none goes to every number of the WABA, unless it is always about
 * one number.
 */
class SharedWabaRoutingTest {
  static final String PNID_B = "222000000000222";
  static final String PHONE_B = "15550000222";

  @TempDir Path dir;
  RelayHarness h;
  Subscription a;
  Subscription b;

  @BeforeEach
  void setUp() {
    h = new RelayHarness(dir, MutableClock.at("2026-03-01T10:00:00Z"));
    assertThat(h.layer.keys().addNumber("+" + PHONE_B, PNID_B, RelayHarness.WABA_1, "900", "EAAG-token-b"))
        .isInstanceOf(Registration.Added.class);
    a = h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/a", List.of("*"), null, false);
    b = h.subscribe(PNID_B, "http://127.0.0.1:9/b", List.of("*"), null, false);
  }

  @AfterEach
  void tearDown() {
    h.close();
  }

  static byte[] envelope(String... changes) {
    return ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + RelayHarness.WABA_1
        + "\",\"time\":1767225600,\"changes\":[" + String.join(",", changes) + "]}]}").getBytes(StandardCharsets.UTF_8);
  }

  static String change(String field, String value) {
    return "{\"field\":\"" + field + "\",\"value\":" + value + "}";
  }

  List<String> fieldsOf(String pnid, Subscription s) {
    return h.subscriptions().deliveries(pnid, s.id(), Optional.empty(), 200).orElseThrow().stream()
        .map(Delivery::field).sorted().toList();
  }

  List<String> fieldsOfA() {
    return fieldsOf(RelayHarness.PNID_1, a);
  }

  List<String> fieldsOfB() {
    return fieldsOf(PNID_B, b);
  }

  @Test
  void anotherNumbersQualityNameAndAccountEventsOnASharedWabaReachOnlyThatNumber() {
    h.ingestSigned(envelope(
        change("phone_number_quality_update",
            "{\"display_phone_number\":\"" + PHONE_B + "\",\"event\":\"FLAGGED\",\"current_limit\":\"TIER_1K\"}"),
        change("phone_number_name_update",
            "{\"display_phone_number\":\"" + PHONE_B + "\",\"decision\":\"APPROVED\","
                + "\"requested_verified_name\":\"B Clinic Ltd\",\"rejection_reason\":null}"),
        change("account_update",
            "{\"phone_number\":\"" + PHONE_B + "\",\"event\":\"ACCOUNT_VIOLATION\","
                + "\"violation_info\":{\"violation_type\":\"SCAM\"}}")));

    assertThat(fieldsOfA()).isEmpty();
    assertThat(fieldsOfB())
        .containsExactly("account_update", "phone_number_name_update", "phone_number_quality_update");
  }

  @Test
  void aNumberIsRecognisedByItsDigitsWhateverTheFormattingAndByItsPhoneNumberId() {
    h.ingestSigned(envelope(
        change("phone_number_quality_update", "{\"display_phone_number\":\"+1 555-000-0222\",\"event\":\"FLAGGED\"}"),
        change("account_update", "{\"phone_number\":15550000222,\"event\":\"ACCOUNT_RESTRICTION\"}"),
        change("account_update", "{\"phone_number_id\":\"" + PNID_B + "\",\"event\":\"ACCOUNT_RESTRICTION\"}"),
        change("account_settings_update", "{\"type\":\"phone_number_settings\",\"phone_number_settings\":"
            + "{\"phone_number_id\":\"" + PNID_B + "\",\"calling\":{\"status\":\"ENABLED\"}}}"),
        change("account_alerts", "{\"entity_type\":\"PHONE_NUMBER\",\"entity_id\":\"" + PNID_B + "\","
            + "\"alert_info\":{\"alert_severity\":\"WARNING\"}}"),
        // about the WABA, not a number: both
        change("account_alerts", "{\"entity_type\":\"WABA\",\"entity_id\":\"" + RelayHarness.WABA_1 + "\"}")));

    assertThat(fieldsOfA()).containsExactly("account_alerts");
    assertThat(fieldsOfB()).containsExactly("account_alerts", "account_alerts", "account_settings_update",
        "account_update", "account_update", "phone_number_quality_update");
  }

  @Test
  void aChangeNamingANumberTheLayerDoesNotKnowUnderThatWabaGoesToNoNumber() {
    Subscription other = h.subscribe(RelayHarness.PNID_2, "http://127.0.0.1:9/2", List.of("*"), null, false);
    h.ingestSigned(envelope(
        // not registered at all
        change("phone_number_quality_update", "{\"display_phone_number\":\"15559999999\",\"event\":\"FLAGGED\"}"),
        // registered, but under another WABA (number 2 of the harness)
        change("phone_number_name_update", "{\"display_phone_number\":\"15550783881\",\"decision\":\"APPROVED\"}"),
        change("account_update", "{\"phone_number_id\":\"" + RelayHarness.PNID_2 + "\",\"event\":\"X\"}"),
        // two names that disagree, and names that are no number
        change("account_update", "{\"phone_number\":\"" + PHONE_B + "\",\"phone_number_id\":\"" + RelayHarness.PNID_1 + "\"}"),
        change("account_update", "{\"phone_number\":\"\",\"event\":\"X\"}"),
        change("account_update", "{\"phone_number\":{\"digits\":\"" + PHONE_B + "\"}}")));

    assertThat(fieldsOfA()).isEmpty();
    assertThat(fieldsOfB()).isEmpty();
    assertThat(fieldsOf(RelayHarness.PNID_2, other)).isEmpty();
  }

  @Test
  void aChangeNamingNoNumberGoesToEveryNumberOfTheWabaUnlessItIsAlwaysAboutOneNumber() {
    h.ingestSigned(envelope(
        change("message_template_status_update", "{\"event\":\"APPROVED\",\"message_template_id\":12345}"),
        change("account_update", "{\"event\":\"VOLUME_BASED_PRICING_TIER_UPDATE\"}"),
        change("phone_number_quality_update", "{\"event\":\"FLAGGED\"}"),
        change("phone_number_name_update", "{\"decision\":\"APPROVED\"}"),
        change("account_settings_update", "{\"type\":\"phone_number_settings\"}")));

    assertThat(fieldsOfA()).containsExactly("account_update", "message_template_status_update");
    assertThat(fieldsOfB()).containsExactly("account_update", "message_template_status_update");
  }

  @Test
  void aChangeWithMetadataStillGoesToTheNumberOfItsPhoneNumberId() {
    h.ingestSigned(envelope(change("messages", "{\"messaging_product\":\"whatsapp\",\"metadata\":"
        + "{\"display_phone_number\":\"" + PHONE_B + "\",\"phone_number_id\":\"" + PNID_B + "\"},"
        + "\"messages\":[{\"from\":\"447700900000\",\"id\":\"wamid.X\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}]}")));

    assertThat(fieldsOfA()).isEmpty();
    assertThat(fieldsOfB()).containsExactly("messages");
  }

  @Test
  void aDisplayPhoneAndAPhoneThatNameTheSameNumberGoToItAndTwoThatDisagreeGoToNone() {
    h.ingestSigned(envelope(
        change("phone_number_quality_update",
            "{\"display_phone_number\":\"" + PHONE_B + "\",\"phone_number\":\"+" + PHONE_B + "\",\"event\":\"FLAGGED\"}"),
        change("phone_number_name_update",
            "{\"display_phone_number\":\"" + PHONE_B + "\",\"phone_number\":\"13175551399\"}"),
        change("account_update",
            "{\"phone_number\":\"" + PHONE_B + "\",\"phone_number_id\":\"" + PNID_B + "\",\"event\":\"X\"}")));

    assertThat(fieldsOfA()).isEmpty();
    assertThat(fieldsOfB()).containsExactly("account_update", "phone_number_quality_update");
  }

  @Test
  void aWabaLevelChangeInAnEntryWithoutAnIdGoesToNoNumber() {
    byte[] noId = ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":["
        + change("message_template_status_update", "{\"event\":\"APPROVED\"}") + "]}]}").getBytes(StandardCharsets.UTF_8);

    CallWebhookRelay.IngestResult.Accepted accepted = h.ingestSigned(noId);

    assertThat(accepted.changes()).isEqualTo(1);
    assertThat(accepted.deliveries()).isZero();
    assertThat(fieldsOfA()).isEmpty();
    assertThat(fieldsOfB()).isEmpty();
  }
}

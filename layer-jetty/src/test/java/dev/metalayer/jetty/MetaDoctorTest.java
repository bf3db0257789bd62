package dev.metalayer.jetty;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.core.Options;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.metalayer.MetaLayer;
import dev.metalayer.crypto.Secrets;
import dev.metalayer.doctor.Doctor;
import dev.metalayer.doctor.Doctor.Check;
import dev.metalayer.doctor.Doctor.Status;
import dev.metalayer.relay.CallWebhookRelay;
import dev.metalayer.relay.EgressGuard;
import dev.metalayer.relay.RelayStore;
import dev.metalayer.relay.WebhookSubscriptions;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The Meta doctor's checks against Meta played by WireMock (real HTTP): each check's ok, warn and fail,
 * Meta's errors as checks (never an exception), the background streak warned once per streak on an
 * injected clock, and the token nowhere in a check or a log line.
 */
class MetaDoctorTest {
  static final String PNID = "106540352242922";
  static final String WABA = "102290129340398";
  static final String TOKEN = "EAAGm0PX4ZCpsBAdoctorTokenOfTheNumber0123456789";
  static final String APP_ID = "1234567890123";
  static final String SECRET = "doctor-app-secret-0123456789";
  static final String PUBLIC = "https://layer.example.com";
  static final String V = "/v23.0/";

  WireMockServer meta;
  MutableClock clock = MutableClock.at("2026-12-01T12:00:00Z");
  RelayStore relayStore;
  MetaLayer layer;
  RecordingSubscriber subscriber;
  ListAppender<ILoggingEvent> logs = new ListAppender<>();
  List<Check> seen = new ArrayList<>();

  @BeforeEach
  void start() {
    meta = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1")
        .useChunkedTransferEncoding(Options.ChunkedEncodingPolicy.NEVER));
    meta.start();
    layer = layer(meta.baseUrl(), true, Duration.ofSeconds(30));
    healthy();
    ch.qos.logback.classic.Logger root = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger("ROOT");
    logs.start();
    root.addAppender(logs);
    root.setLevel(Level.DEBUG);
  }

  @AfterEach
  void stop() throws Exception {
    ch.qos.logback.classic.Logger root = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger("ROOT");
    root.detachAppender(logs);
    root.setLevel(Level.INFO);
    layer.close();
    meta.stop();
    if (subscriber != null) {
      subscriber.close();
    }
    // the token and the app secret never reach a check or a log line, whatever the test did
    for (Check c : seen) {
      assertThat(c.detail() + c.fix().orElse("")).doesNotContain(TOKEN).doesNotContain(SECRET);
    }
    // the layer's log lines (WireMock's own, which may print the URLs it was asked, are not the layer's)
    for (ILoggingEvent e : logs.list) {
      if (e.getLoggerName().startsWith("dev.metalayer")) {
        assertThat(e.getFormattedMessage()).doesNotContain(TOKEN).doesNotContain(SECRET);
      }
    }
  }

  /** The layer's meters: the doctor's operator events are a gauge there. */
  final io.micrometer.core.instrument.simple.SimpleMeterRegistry meters =
      new io.micrometer.core.instrument.simple.SimpleMeterRegistry();

  private double failingChecksGauge() {
    return meters.get("metalayer.doctor.failing.checks").gauge().value();
  }

  private MetaLayer layer(String graphUrl, boolean publicUrl, Duration upstreamTimeout) {
    relayStore = Stores.inMemoryRelay();
    MetaLayer.Builder b = MetaLayer.builder().keyStore(Stores.inMemoryKeys()).masterKey(new byte[32]).clock(clock)
        .graphUrl(URI.create(graphUrl)).appSecret(SECRET).appId(APP_ID).relayStore(relayStore)
        .egressGuard(EgressGuard.of(true, List.of())).upstreamTimeout(upstreamTimeout).doctorInterval(Duration.ZERO)
        .meterRegistry(meters);
    if (publicUrl) {
      b.publicUrl(URI.create(PUBLIC));
    }
    MetaLayer built = b.build();
    built.keys().addNumber("+15550783881", PNID, WABA, "900000000000001", TOKEN);
    return built;
  }

  private void stub(String path, ResponseDefinitionBuilder answer) {
    meta.stubFor(get(urlPathEqualTo(V + path)).willReturn(answer));
  }

  private void healthy() {
    stub("debug_token", okJson("{\"data\":{\"app_id\":\"" + APP_ID + "\",\"type\":\"SYSTEM_USER\",\"application\":\"Layer\","
        + "\"expires_at\":0,\"is_valid\":true,\"scopes\":[\"business_management\",\"whatsapp_business_messaging\","
        + "\"whatsapp_business_management\"],\"granular_scopes\":[{\"scope\":\"whatsapp_business_management\","
        + "\"target_ids\":[\"" + WABA + "\"]}]}}"));
    number("CONNECTED", "GREEN", "TIER_10K", "{\"application\":\"" + PUBLIC + "/webhooks/meta\"}");
    stub(WABA + "/subscribed_apps", okJson("{\"data\":[{\"whatsapp_business_api_data\":{\"id\":\"" + APP_ID
        + "\",\"link\":\"https://example.com\",\"name\":\"Layer\"}}]}"));
    settings("ENABLED", "DISABLED");
  }

  private void number(String status, String quality, String tier, String webhookConfiguration) {
    stub(PNID, okJson("{" + (status == null ? "" : "\"status\":\"" + status + "\",") + "\"quality_rating\":\"" + quality
        + "\"," + (tier == null ? "" : "\"messaging_limit_tier\":\"" + tier + "\",") + "\"webhook_configuration\":"
        + webhookConfiguration + ",\"id\":\"" + PNID + "\"}"));
  }

  private void settings(String calling, String sip) {
    stub(PNID + "/settings", okJson("{\"calling\":{\"status\":\"" + calling + "\",\"call_icon_visibility\":\"DEFAULT\","
        + "\"sip\":{\"status\":\"" + sip + "\",\"servers\":[]}}}"));
  }

  private static ResponseDefinitionBuilder error(int status, int code, String message) {
    return aResponse().withStatus(status).withHeader("Content-Type", "application/json").withBody(
        "{\"error\":{\"message\":\"" + message + "\",\"type\":\"OAuthException\",\"code\":" + code
            + ",\"fbtrace_id\":\"AbC\"}}");
  }

  /** The doctor's checks of the number, by check key (a subscription's as {@code deliveries:<id>}). */
  private Map<String, Check> examine() throws Exception {
    Doctor.Report report = layer.doctor().examine(PNID).get(30, TimeUnit.SECONDS).orElseThrow();
    Map<String, Check> byKey = new LinkedHashMap<>();
    report.checks().forEach(c -> byKey.put(c.key(), c));
    seen.addAll(report.checks());
    return byKey;
  }

  private Check check(String key) throws Exception {
    return examine().get(key);
  }

  private static final AtomicInteger webhooks = new AtomicInteger();

  /** A signed status webhook for the number, ingested now. */
  private void webhook() {
    byte[] body = ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + WABA + "\",\"changes\":[{\"field\":"
        + "\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":"
        + "\"15550783881\",\"phone_number_id\":\"" + PNID + "\"},\"statuses\":[{\"id\":\"wamid.D" + webhooks.incrementAndGet()
        + "\",\"status\":\"delivered\",\"timestamp\":\"1764590400\",\"recipient_id\":\"15551234567\"}]}}]}]}")
        .getBytes(StandardCharsets.UTF_8);
    CallWebhookRelay.IngestResult r = layer.relay().ingest(body, MetaFixtures.metaSignature(SECRET, body));
    assertThat(r).isInstanceOf(CallWebhookRelay.IngestResult.Accepted.class);
  }

  private String subscribe(int... answers) {
    subscriber = RecordingSubscriber.start();
    AtomicInteger n = new AtomicInteger();
    subscriber.answer(r -> RecordingSubscriber.Answer.of(answers[Math.min(n.getAndIncrement(), answers.length - 1)]));
    var outcome = layer.relay().subscriptions().create(PNID, new WebhookSubscriptions.Spec("helpdesk",
        subscriber.url("/hook"), List.of("messages"), null, null, null));
    assertThat(outcome).isInstanceOf(WebhookSubscriptions.Outcome.Saved.class);
    return ((WebhookSubscriptions.Outcome.Saved) outcome).subscription().id();
  }

  // ---- every check ok

  @Test
  void everyCheckIsOkWhenMetaAndTheLayerAreHealthy() throws Exception {
    String sub = subscribe(200);
    webhook();
    layer.relay().runDueNow();
    Map<String, Check> checks = examine();
    assertThat(checks.keySet()).containsExactly("token", "number_status", "quality_rating", "messaging_limit",
        "app_subscription", "callback_url", "calling", "sip", "last_webhook", "deliveries:" + sub);
    assertThat(checks.values()).allSatisfy(c -> {
      assertThat(c.status()).as(c.key() + ": " + c.detail()).isEqualTo(Status.OK);
      assertThat(c.fix()).isEmpty();
      assertThat(c.phoneNumberId()).isEqualTo(PNID);
    });
    assertThat(checks.get("last_webhook").detail()).contains("2026-12-01T12:00:00Z");
    assertThat(checks.get("deliveries:" + sub).detail()).contains("last success 2026-12-01T12:00:00Z", "0 of 1 attempts");
    // the token is debugged with the app's token; the number's reads carry its token and appsecret_proof
    LoggedRequest debug = meta.findAll(getRequestedFor(urlPathEqualTo(V + "debug_token"))).get(0);
    assertThat(debug.getHeader("Authorization")).isEqualTo("Bearer " + APP_ID + "|" + SECRET);
    assertThat(debug.queryParameter("input_token").firstValue()).isEqualTo(TOKEN);
    LoggedRequest settings = meta.findAll(getRequestedFor(urlPathEqualTo(V + PNID + "/settings"))).get(0);
    assertThat(settings.getHeader("Authorization")).isEqualTo("Bearer " + TOKEN);
    assertThat(settings.queryParameter("appsecret_proof").firstValue()).isEqualTo(Secrets.hmacSha256Hex(SECRET, TOKEN));
  }

  // ---- the token

  @Test
  void theTokenWarnsBeforeItExpiresAndFailsWhenInvalidExpiredOrShortOfPermissions() throws Exception {
    long inThreeDays = clock.instant().plus(Duration.ofDays(3)).getEpochSecond();
    stub("debug_token", okJson("{\"data\":{\"app_id\":\"" + APP_ID + "\",\"is_valid\":true,\"expires_at\":" + inThreeDays
        + ",\"scopes\":[\"whatsapp_business_messaging\",\"whatsapp_business_management\"]}}"));
    Check soon = check("token");
    assertThat(soon.status()).isEqualTo(Status.WARN);
    assertThat(soon.detail()).contains("expires at 2026-12-04T12:00:00Z", "in 3 days");
    assertThat(soon.fix().orElseThrow()).contains("PATCH /admin/v1/numbers/" + PNID);

    clock.advance(Duration.ofDays(4));
    assertThat(check("token").status()).isEqualTo(Status.FAIL);

    stub("debug_token", okJson("{\"data\":{\"is_valid\":false,\"error\":{\"code\":190,\"message\":\"Session has expired\"},"
        + "\"scopes\":[]}}"));
    Check invalid = check("token");
    assertThat(invalid.status()).isEqualTo(Status.FAIL);
    assertThat(invalid.detail()).contains("not valid", "Session has expired");

    stub("debug_token", okJson("{\"data\":{\"is_valid\":true,\"expires_at\":0,\"scopes\":[\"whatsapp_business_messaging\"]}}"));
    Check scopes = check("token");
    assertThat(scopes.status()).isEqualTo(Status.FAIL);
    assertThat(scopes.detail()).contains("lacks", "whatsapp_business_management");

    stub("debug_token", okJson("{\"data\":{\"is_valid\":true,\"expires_at\":0,\"scopes\":[\"whatsapp_business_messaging\","
        + "\"whatsapp_business_management\"],\"granular_scopes\":[{\"scope\":\"whatsapp_business_management\","
        + "\"target_ids\":[\"999\"]}]}}"));
    Check otherWaba = check("token");
    assertThat(otherWaba.status()).isEqualTo(Status.FAIL);
    assertThat(otherWaba.detail()).contains("not on WABA " + WABA);
  }

  @Test
  void withoutAnAppIdTheTokenDebugsItself() throws Exception {
    layer.close();
    relayStore = Stores.inMemoryRelay();
    layer = MetaLayer.builder().keyStore(Stores.inMemoryKeys()).masterKey(new byte[32]).clock(clock)
        .graphUrl(URI.create(meta.baseUrl())).relayStore(relayStore).publicUrl(URI.create(PUBLIC))
        .doctorInterval(Duration.ZERO).build();
    layer.keys().addNumber("+15550783881", PNID, WABA, "900000000000001", TOKEN);
    Map<String, Check> checks = examine();
    assertThat(checks.get("token").status()).isEqualTo(Status.OK);
    assertThat(checks.get("token").detail()).contains("checked with the token itself");
    assertThat(checks.get("app_subscription").status()).isEqualTo(Status.OK);
    assertThat(checks.get("app_subscription").detail()).contains("set META_APP_ID");
    LoggedRequest debug = meta.findAll(getRequestedFor(urlPathEqualTo(V + "debug_token"))).get(0);
    assertThat(debug.getHeader("Authorization")).isEqualTo("Bearer " + TOKEN);
    assertThat(debug.getQueryParams()).doesNotContainKey("appsecret_proof");
  }

  // ---- the number

  @Test
  void theNumbersStatusQualityAndLimitWarnAndFail() throws Exception {
    number("FLAGGED", "YELLOW", "TIER_2K", "{}");
    Map<String, Check> a = examine();
    assertThat(a.get("number_status").status()).isEqualTo(Status.WARN);
    assertThat(a.get("quality_rating").status()).isEqualTo(Status.WARN);
    assertThat(a.get("messaging_limit").status()).as("2,000 is enough for calling").isEqualTo(Status.OK);

    number("BANNED", "RED", "TIER_1K", "{}");
    Map<String, Check> b = examine();
    assertThat(b.get("number_status").status()).isEqualTo(Status.FAIL);
    assertThat(b.get("quality_rating").status()).isEqualTo(Status.FAIL);
    assertThat(b.get("messaging_limit").status()).isEqualTo(Status.FAIL);
    assertThat(b.get("messaging_limit").detail()).contains("TIER_1K", "138015");

    number(null, "UNKNOWN", null, "{}");
    Map<String, Check> c = examine();
    assertThat(c.get("number_status").status()).isEqualTo(Status.WARN);
    assertThat(c.get("quality_rating").status()).isEqualTo(Status.OK);
    assertThat(c.get("messaging_limit").status()).isEqualTo(Status.WARN);
    number("CONNECTED", "GREEN", "TIER_UNLIMITED", "{}");
    assertThat(check("messaging_limit").status()).isEqualTo(Status.OK);
  }

  // ---- webhooks: subscription and callback

  @Test
  void theAppMustBeSubscribedAndMetaMustCallThisLayer() throws Exception {
    stub(WABA + "/subscribed_apps", okJson("{\"data\":[{\"whatsapp_business_api_data\":{\"id\":\"555\",\"name\":\"Other\"}}]}"));
    Check missing = check("app_subscription");
    assertThat(missing.status()).isEqualTo(Status.FAIL);
    assertThat(missing.fix().orElseThrow()).contains("POST /" + WABA + "/subscribed_apps");

    // the WABA's override wins over the app's callback
    stub(WABA + "/subscribed_apps", okJson("{\"data\":[{\"whatsapp_business_api_data\":{\"id\":\"" + APP_ID + "\"},"
        + "\"override_callback_uri\":\"https://elsewhere.example.com/hook?secret=x\"}]}"));
    Check elsewhere = check("callback_url");
    assertThat(elsewhere.status()).isEqualTo(Status.FAIL);
    assertThat(elsewhere.detail()).contains("https://elsewhere.example.com/hook").doesNotContain("secret=x");
    assertThat(elsewhere.fix().orElseThrow()).contains(PUBLIC + "/webhooks/meta");

    // the number's own override wins over both
    number("CONNECTED", "GREEN", "TIER_10K", "{\"phone_number\":\"" + PUBLIC + "/webhooks/meta/\","
        + "\"application\":\"https://old.example.com/\"}");
    assertThat(check("callback_url").status()).isEqualTo(Status.OK);

    number("CONNECTED", "GREEN", "TIER_10K", "{}");
    stub(WABA + "/subscribed_apps", okJson("{\"data\":[{\"whatsapp_business_api_data\":{\"id\":\"" + APP_ID + "\"}}]}"));
    assertThat(check("callback_url").status()).as("Meta did not say").isEqualTo(Status.WARN);
  }

  @Test
  void withoutAPublicUrlTheCallbackIsAWarning() throws Exception {
    layer.close();
    layer = layer(meta.baseUrl(), false, Duration.ofSeconds(30));
    Check callback = check("callback_url");
    assertThat(callback.status()).isEqualTo(Status.WARN);
    assertThat(callback.detail()).contains("Meta calls " + PUBLIC + "/webhooks/meta");
    assertThat(callback.fix().orElseThrow()).contains("LAYER_PUBLIC_URL");
  }

  // ---- calling settings

  @Test
  void callingMustBeOnAndSipOff() throws Exception {
    settings("DISABLED", "ENABLED");
    Map<String, Check> checks = examine();
    assertThat(checks.get("calling").status()).isEqualTo(Status.FAIL);
    assertThat(checks.get("calling").fix().orElseThrow()).contains("\"status\":\"ENABLED\"");
    assertThat(checks.get("sip").status()).isEqualTo(Status.FAIL);
    assertThat(checks.get("sip").detail()).contains("131055");
  }

  // ---- the layer's own records

  @Test
  void aNumberNeverHeardFromOrSilentForADayWarns() throws Exception {
    Check never = check("last_webhook");
    assertThat(never.status()).isEqualTo(Status.WARN);
    assertThat(never.detail()).contains("never");
    webhook();
    clock.advance(Duration.ofHours(25));
    Check silent = check("last_webhook");
    assertThat(silent.status()).isEqualTo(Status.WARN);
    assertThat(silent.detail()).contains("25 h ago");
    webhook();
    assertThat(check("last_webhook").status()).isEqualTo(Status.OK);
    assertThat(relayStore.lastWebhook(PNID)).contains(clock.instant());
  }

  @Test
  void deliveriesWarnWithoutSubscriptionsOrWhenSomeFailAndFailWhenMostFail() throws Exception {
    assertThat(check("deliveries").status()).isEqualTo(Status.WARN);

    String sub = subscribe(500, 500, 500);
    for (int i = 0; i < 3; i++) {
      webhook();
    }
    layer.relay().runDueNow();
    Check failing = check("deliveries:" + sub);
    assertThat(failing.status()).isEqualTo(Status.FAIL);
    assertThat(failing.detail()).contains("3 of 3 attempts failed", "HTTP 500", "no success");
    assertThat(failing.fix().orElseThrow()).contains("127.0.0.1", "/admin/v1/webhooks/" + sub + "/deliveries");

    // eight successes later (retries and new webhooks), three failures in eleven attempts: a warning
    subscriber.answer(r -> RecordingSubscriber.Answer.of(200));
    for (int i = 0; i < 5; i++) {
      webhook();
    }
    clock.advance(Duration.ofMinutes(5));
    layer.relay().runDueNow();
    Check someFail = check("deliveries:" + sub);
    assertThat(someFail.status()).as(someFail.detail()).isEqualTo(Status.WARN);
    assertThat(someFail.detail()).contains("3 of 11 attempts failed", "last success");

    // a day later the failures are out of the window
    clock.advance(Duration.ofHours(25));
    assertThat(check("deliveries:" + sub).status()).isEqualTo(Status.OK);

    layer.relay().subscriptions().update(PNID, sub, new WebhookSubscriptions.Spec(null, null, null, null, null, false));
    Check off = check("deliveries:" + sub);
    assertThat(off.status()).isEqualTo(Status.WARN);
    assertThat(off.detail()).contains("turned off");
  }

  // ---- Meta's errors are checks, never exceptions

  @Test
  void metasErrorsBecomeChecksWithTheirFixes() throws Exception {
    stub("debug_token", error(401, 190, "Error validating access token: Session has expired"));
    stub(PNID, error(403, 10, "(#10) Application does not have permission for this action"));
    stub(WABA + "/subscribed_apps", error(400, 100, "Unsupported get request. Object with ID '" + WABA + "' does not exist"));
    stub(PNID + "/settings", aResponse().withStatus(500).withBody("oops"));
    Map<String, Check> checks = examine();
    assertThat(checks.get("token").status()).isEqualTo(Status.FAIL);
    assertThat(checks.get("token").detail()).contains("refused the number's token", "code 190");
    assertThat(checks.get("token").fix().orElseThrow()).contains("PATCH /admin/v1/numbers/" + PNID);
    assertThat(checks.get("number_status").status()).isEqualTo(Status.FAIL);
    assertThat(checks.get("number_status").detail()).contains("lacks a permission", "code 10");
    assertThat(checks.get("messaging_limit").status()).isEqualTo(Status.FAIL);
    assertThat(checks.get("app_subscription").status()).isEqualTo(Status.FAIL);
    assertThat(checks.get("app_subscription").detail()).contains("does not know", "code 100");
    assertThat(checks.get("calling").status()).isEqualTo(Status.WARN);
    assertThat(checks.get("calling").detail()).contains("HTTP 500");

    stub(PNID + "/settings", error(400, 80007, "rate limit"));
    assertThat(check("calling").status()).isEqualTo(Status.WARN);
  }

  @Test
  void metaEchoingTheTokenIsScrubbed() throws Exception {
    stub(PNID, error(400, 190, "Invalid OAuth access token " + TOKEN + " for app secret " + SECRET));
    Check c = check("number_status");
    assertThat(c.status()).isEqualTo(Status.FAIL);
    assertThat(c.detail()).contains("<redacted>");
    // stop() asserts that neither appears in any check or log line
  }

  @Test
  void aSlowMetaIsAWarningAndAnUnreachableOneAFailure() throws Exception {
    layer.close();
    layer = layer(meta.baseUrl(), true, Duration.ofSeconds(1));
    stub(PNID + "/settings", okJson("{}").withFixedDelay(3_000));
    long started = System.nanoTime();
    Check slow = check("calling");
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(3));
    assertThat(slow.status()).isEqualTo(Status.WARN);
    assertThat(slow.detail()).contains("did not answer in time");

    layer.close();
    int closed;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    layer = layer("http://127.0.0.1:" + closed, true, Duration.ofSeconds(5));
    Map<String, Check> checks = examine();
    assertThat(checks.get("token").status()).isEqualTo(Status.FAIL);
    assertThat(checks.get("token").detail()).contains("could not be reached");
    assertThat(checks.get("calling").fix().orElseThrow()).contains("LAYER_GRAPH_URL");
    // the layer's own checks still answer
    assertThat(checks.get("last_webhook").status()).isEqualTo(Status.WARN);
  }

  @Test
  void anUnknownNumberHasNoReport() throws Exception {
    assertThat(layer.doctor().examine("999").get(5, TimeUnit.SECONDS)).isEmpty();
  }

  // ---- the background doctor

  private List<String> doctorWarnings() {
    return logs.list.stream().filter(e -> e.getLevel() == Level.WARN && e.getLoggerName().endsWith("Doctor"))
        .map(ILoggingEvent::getFormattedMessage).toList();
  }

  @Test
  void aCheckFailingThreeRunsInARowIsWarnedOncePerStreak() {
    settings("DISABLED", "DISABLED");
    Doctor doctor = layer.doctor();
    doctor.runBackgroundNow();
    doctor.runBackgroundNow();
    assertThat(doctorWarnings()).isEmpty();
    assertThat(doctor.consecutiveFailures(PNID, "calling")).isEqualTo(2);
    assertThat(failingChecksGauge()).isZero();
    doctor.runBackgroundNow();
    assertThat(failingChecksGauge()).isEqualTo(1);
    assertThat(doctorWarnings()).singleElement().satisfies(line -> assertThat(line)
        .contains("calling", "phone number ID " + PNID, "3 times in a row", "Fix: Turn it on"));
    clock.advance(Duration.ofMinutes(15));
    doctor.runBackgroundNow();
    doctor.runBackgroundNow();
    assertThat(doctorWarnings()).hasSize(1);
    assertThat(doctor.consecutiveFailures(PNID, "calling")).isEqualTo(5);
    assertThat(doctor.streaks()).contains(new Doctor.Streak(PNID, "calling", 5), new Doctor.Streak(PNID, "sip", 0));

    // it passes: the streak ends (one INFO line), and a new streak is warned again
    settings("ENABLED", "DISABLED");
    doctor.runBackgroundNow();
    assertThat(doctor.consecutiveFailures(PNID, "calling")).isZero();
    assertThat(failingChecksGauge()).isZero();
    assertThat(logs.list).anySatisfy(e -> assertThat(e.getFormattedMessage()).contains("passes again"));
    settings("DISABLED", "DISABLED");
    for (int i = 0; i < 3; i++) {
      doctor.runBackgroundNow();
    }
    assertThat(doctorWarnings()).hasSize(2);

    // a number removed is forgotten
    layer.keys().removeNumber(PNID);
    doctor.runBackgroundNow();
    assertThat(doctor.streaks()).isEmpty();
  }

  @Test
  void theIntervalIsZeroOrAtLeastAMinute() {
    MetaLayer.Builder b = MetaLayer.builder();
    b.doctorInterval(Duration.ZERO).doctorInterval(Duration.ofMinutes(1));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.doctorInterval(Duration.ofSeconds(30)))
        .hasMessageContaining("at least 1 minute");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.appId("12ab")).hasMessageContaining("numeric");
  }
}

package dev.metalayer.relay;

import dev.metalayer.relay.CallWebhookRelay.IngestResult;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.MutableClock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Verification and refusals of {@code ingest}: what is refused is stored nowhere. */
class RelayIngestTest {
  @TempDir Path dir;
  RelayHarness h;
  final byte[] body = MetaFixtures.bytes("multi-entry.json");

  @BeforeEach
  void setUp() {
    h = new RelayHarness(dir, MutableClock.at("2026-03-01T10:00:00Z"));
    h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/h", List.of("*"), null, false);
  }

  @AfterEach
  void tearDown() {
    h.close();
  }

  private IngestResult.Refused refused(byte[] b, String signature) {
    IngestResult r = h.layer.relay().ingest(b, signature);
    assertThat(r).isInstanceOf(IngestResult.Refused.class);
    return (IngestResult.Refused) r;
  }

  private void assertNothingStored() {
    assertThat(h.rows("layer_envelopes")).isZero();
    assertThat(h.rows("layer_deliveries")).isZero();
  }

  @Test
  void aMissingSignatureIs401AndNothingIsStored() {
    IngestResult.Refused r = refused(body, null);
    assertThat(r.reason()).isEqualTo(IngestResult.Reason.UNSIGNED);
    assertThat(r.error().status()).isEqualTo(401);
    assertNothingStored();
  }

  @Test
  void aWrongSignatureIs401AndNothingIsStored() {
    assertThat(refused(body, MetaFixtures.metaSignature("not-the-secret", body)).error().status()).isEqualTo(401);
    assertThat(refused(body, "sha256=").reason()).isEqualTo(IngestResult.Reason.BAD_SIGNATURE);
    assertThat(refused(body, "sha1=" + "0".repeat(40)).reason()).isEqualTo(IngestResult.Reason.BAD_SIGNATURE);
    // the signature covers the raw bytes: the same JSON re-serialised (\/ unescaped) does not verify
    byte[] reencoded = new String(body, StandardCharsets.UTF_8).replace("\\/", "/").getBytes(StandardCharsets.UTF_8);
    assertThat(refused(reencoded, MetaFixtures.metaSignature(RelayHarness.APP_SECRET, body)).reason())
        .isEqualTo(IngestResult.Reason.BAD_SIGNATURE);
    assertNothingStored();
  }

  @Test
  void anyConfiguredAppSecretVerifiesDuringARotation() {
    assertThat(h.layer.relay().ingest(body, MetaFixtures.metaSignature("old-rotated-secret", body)))
        .isInstanceOf(IngestResult.Accepted.class);
    assertThat(h.layer.relay().ingest(body, MetaFixtures.metaSignature(RelayHarness.APP_SECRET, body).toUpperCase()
        .replace("SHA256=", "sha256="))).isInstanceOf(IngestResult.Accepted.class);
  }

  @Test
  void malformedJsonIs400AndNothingIsStored() {
    byte[] bad = "{\"object\":\"whatsapp_business_account\",\"entry\":[".getBytes(StandardCharsets.UTF_8);
    IngestResult.Refused r = refused(bad, MetaFixtures.metaSignature(RelayHarness.APP_SECRET, bad));
    assertThat(r.reason()).isEqualTo(IngestResult.Reason.MALFORMED);
    assertThat(r.error().status()).isEqualTo(400);
    assertNothingStored();
  }

  @Test
  void aWrongObjectIs400() {
    byte[] page = "{\"object\":\"page\",\"entry\":[]}".getBytes(StandardCharsets.UTF_8);
    IngestResult.Refused r = refused(page, MetaFixtures.metaSignature(RelayHarness.APP_SECRET, page));
    assertThat(r.reason()).isEqualTo(IngestResult.Reason.WRONG_OBJECT);
    assertThat(r.error().status()).isEqualTo(400);
    assertNothingStored();
  }

  @Test
  void aBodyOver3MbIs413AndNothingIsStored() {
    byte[] big = new byte[CallWebhookRelay.MAX_BODY_BYTES + 1];
    Arrays.fill(big, (byte) ' ');
    IngestResult.Refused r = refused(big, MetaFixtures.metaSignature(RelayHarness.APP_SECRET, big));
    assertThat(r.reason()).isEqualTo(IngestResult.Reason.TOO_LARGE);
    assertThat(r.error().status()).isEqualTo(413);
    assertNothingStored();
  }

  @Test
  void anAcceptedEnvelopeIsStoredBeforeIngestReturns() {
    IngestResult.Accepted a = h.ingestSigned(body);

    assertThat(a.changes()).isEqualTo(5);
    assertThat(a.deliveries()).isEqualTo(3); // the * subscription of number 1 gets its three changes
    assertThat(h.rows("layer_envelopes")).isEqualTo(1);
    assertThat(h.rows("layer_deliveries")).isEqualTo(3);
  }

  @Test
  void unsignedWebhooksAreAcceptedOnlyWhenExplicitlyAllowed(@TempDir Path other) {
    try (RelayHarness noSecret = new RelayHarness(other, MutableClock.at("2026-03-01T10:00:00Z"), List.of(), false)) {
      assertThat(noSecret.layer.relay().ingest(body, null)).isInstanceOf(IngestResult.Refused.class);
      assertThat(noSecret.layer.relay().ingest(body, MetaFixtures.metaSignature("x", body)))
          .isInstanceOf(IngestResult.Refused.class);
    }
  }

  @Test
  void unsignedWebhooksPassWhenAllowed(@TempDir Path other) {
    try (RelayHarness open = new RelayHarness(other, MutableClock.at("2026-03-01T10:00:00Z"), List.of("s3cret-app"), true)) {
      assertThat(open.layer.relay().ingest(body, null)).isInstanceOf(IngestResult.Accepted.class);
      // a signature that is present is still checked
      assertThat(open.layer.relay().ingest(body, MetaFixtures.metaSignature("wrong", body)))
          .isInstanceOf(IngestResult.Refused.class);
    }
  }

  /**
   * Values longer than Meta ever sends must not make the batch fail to store: the layer would answer
   * 500, Meta would retry the whole batch for days, and its other changes would never be delivered.
   */
  @Test
  void anOverlongCallIdOrFieldDoesNotSinkTheBatch() {
    String callId = "wacid." + "A".repeat(300);
    String meta = "{\"display_phone_number\":\"15550783881\",\"phone_number_id\":\"" + RelayHarness.PNID_1 + "\"}";
    byte[] batch = ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + RelayHarness.WABA_1 + "\",\"changes\":["
        + "{\"field\":\"calls\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":" + meta + ",\"calls\":[{\"id\":\""
        + callId + "\",\"event\":\"terminate\",\"timestamp\":\"1772359200\",\"status\":\"COMPLETED\"}]}},"
        + "{\"field\":\"" + "f".repeat(150) + "\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":" + meta + "}},"
        + "{\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":" + meta
        + ",\"messages\":[{\"id\":\"wamid.1\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}]}}]}]}")
        .getBytes(StandardCharsets.UTF_8);

    IngestResult r = h.layer.relay().ingest(batch, MetaFixtures.metaSignature(RelayHarness.APP_SECRET, batch));

    assertThat(r).isInstanceOf(IngestResult.Accepted.class);
    assertThat(h.rows("layer_deliveries")).isEqualTo(2); // the call and the message; the odd field is not routed

  }

  /** A webhook that came without a request id gets one, which its envelope and deliveries carry to subscribers. */
  @Test
  void anEnvelopeReceivedWithoutARequestIdIsStoredWithANewValidOne() {
    h.ingestSigned(body);

    String requestId = h.db.withConnection(c -> {
      try (var st = c.createStatement(); var rs = st.executeQuery("SELECT request_id FROM layer_envelopes")) {
        rs.next();
        return rs.getString(1);
      }
    });
    assertThat(dev.metalayer.log.RequestIds.valid(requestId)).as("request id %s", requestId).isTrue();
  }

  /** The store's column holds 100 characters: a field of exactly 100 is routed, one of 101 is not. */
  @Test
  void aFieldOfExactlyOneHundredCharactersIsRoutedAndALongerOneIsNot() {
    String meta = "{\"display_phone_number\":\"15550783881\",\"phone_number_id\":\"" + RelayHarness.PNID_1 + "\"}";
    String longest = "f".repeat(Router.MAX_FIELD);
    byte[] batch = ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + RelayHarness.WABA_1
        + "\",\"changes\":[{\"field\":\"" + longest + "\",\"value\":{\"metadata\":" + meta + "}},"
        + "{\"field\":\"" + longest + "g\",\"value\":{\"metadata\":" + meta + "}}]}]}").getBytes(StandardCharsets.UTF_8);

    IngestResult.Accepted a = h.ingestSigned(batch);

    assertThat(a.deliveries()).isEqualTo(1);
    String routed = h.db.withConnection(c -> {
      try (var st = c.createStatement(); var rs = st.executeQuery("SELECT field FROM layer_deliveries")) {
        rs.next();
        return rs.getString(1);
      }
    });
    assertThat(routed).isEqualTo(longest);
  }

  /**
   * Another instance stores one change of the same envelope between this one's check and its commit:
   * the store reports the taken key, and the relay stores the envelope once more under a new id, the
   * change already queued skipped, and every delivery it queues pointing at an envelope that exists.
   */
  @Test
  void anEnvelopeRacedByAnotherInstanceIsStoredOnceMoreAndItsDeliveriesPointAtIt() {
    h.close();
    java.util.concurrent.atomic.AtomicBoolean raced = new java.util.concurrent.atomic.AtomicBoolean();
    h = new RelayHarness(dir.resolve("raced"), MutableClock.at("2026-03-01T10:00:00Z"),
        List.of(RelayHarness.APP_SECRET), false, real -> RelayHarness.hooked(real, (method, args) -> {
          if (method.equals("ingest") && raced.compareAndSet(false, true)) {
            RelayStore.Envelope mine = (RelayStore.Envelope) args[0];
            @SuppressWarnings("unchecked")
            List<RelayStore.NewDelivery> deliveries = (List<RelayStore.NewDelivery>) args[1];
            RelayStore.NewDelivery first = deliveries.get(0);
            real.ingest(new RelayStore.Envelope("env_other", mine.body(), mine.receivedAt()),
                List.of(RelayStore.NewDelivery.builder().ids("dlv_other", first.subscriptionId(), "env_other")
                    .change(first.webhookId(), first.field(), first.lane(), first.body())
                    .maxAttempts(first.maxAttempts()).createdAt(first.createdAt()).build()));
            throw new StoreException("unique key taken", new IllegalStateException("23505"), true);
          }
        }));
    h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/h", List.of("*"), null, false);

    IngestResult.Accepted accepted = h.ingestSigned(body);

    assertThat(raced).isTrue();
    assertThat(accepted.duplicates()).isEqualTo(1);
    assertThat(accepted.deliveries()).isPositive();
    assertThat(h.rows("layer_deliveries")).isEqualTo(accepted.deliveries() + 1L);
    assertThat(h.rows("layer_envelopes")).isEqualTo(2);
    long orphans = h.db.withConnection(c -> {
      try (var s = c.createStatement(); var rs = s.executeQuery("SELECT COUNT(*) FROM layer_deliveries d WHERE NOT"
          + " EXISTS (SELECT 1 FROM layer_envelopes e WHERE e.id = d.envelope_id)")) {
        rs.next();
        return rs.getLong(1);
      }
    });
    assertThat(orphans).as("deliveries whose envelope was never stored").isZero();
  }

  @Test
  void aBodyOfExactly3MbIsAccepted() {
    byte[] exact = new byte[CallWebhookRelay.MAX_BODY_BYTES];
    Arrays.fill(exact, (byte) ' ');
    System.arraycopy(body, 0, exact, 0, body.length);

    IngestResult.Accepted a = h.ingestSigned(exact);

    assertThat(a.changes()).isEqualTo(5);
    assertThat(h.rows("layer_envelopes")).isEqualTo(1);
  }

  @Test
  void aBlankSignatureIsAMissingOne() {
    assertThat(refused(body, "  ").reason()).isEqualTo(IngestResult.Reason.UNSIGNED);
    assertNothingStored();
  }

  /** The line an operator reads at start: the trial switch is loud, a missing app secret is named, a sound setup says nothing. */
  @Test
  void theStartWarningNamesTheTrialSwitchOrTheMissingAppSecret() {
    dev.metalayer.log.WarnLimiter warnings = new dev.metalayer.log.WarnLimiter(MutableClock.at("2026-03-01T10:00:00Z"));
    var keys = h.layer.keys();
    assertThat(new Ingest(List.of("s"), true, keys, warnings).startWarning()).hasValueSatisfying(
        w -> assertThat(w).contains("LAYER_ALLOW_UNSIGNED_WEBHOOKS is on", "ACCEPTED"));
    assertThat(new Ingest(List.of(), true, keys, warnings).startWarning()).hasValueSatisfying(
        w -> assertThat(w).contains("LAYER_ALLOW_UNSIGNED_WEBHOOKS is on"));
    assertThat(new Ingest(List.of(), false, keys, warnings).startWarning()).hasValueSatisfying(
        w -> assertThat(w).contains("No Meta app secret is configured", "every webhook from Meta will be refused"));
    assertThat(new Ingest(List.of("s"), false, keys, warnings).startWarning()).isEmpty();
  }
}

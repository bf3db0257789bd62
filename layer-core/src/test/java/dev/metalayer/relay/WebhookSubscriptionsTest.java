package dev.metalayer.relay;

import dev.metalayer.relay.WebhookSubscriptions.Spec;

import dev.metalayer.relay.WebhookSubscriptions.Outcome;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.MutableClock;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WebhookSubscriptionsTest {
  @TempDir Path dir;
  RelayHarness h;
  WebhookSubscriptions subs;

  @BeforeEach
  void setUp() {
    h = new RelayHarness(dir, MutableClock.at("2026-03-01T10:00:00Z"));
    subs = h.subscriptions();
  }

  @AfterEach
  void tearDown() {
    h.close();
  }

  private String invalid(Spec spec) {
    Outcome o = subs.create(RelayHarness.PNID_1, spec);
    assertThat(o).isInstanceOf(Outcome.Invalid.class);
    return ((Outcome.Invalid) o).message();
  }

  @Test
  void invalidRequestsAreRefusedWithClearMessages() {
    List<String> calls = List.of("calls");
    assertThat(invalid(new Spec(null, "http://127.0.0.1/x", calls, null, null, null))).contains("required");
    assertThat(invalid(new Spec("x".repeat(101), "http://127.0.0.1/x", calls, null, null, null))).contains("name");
    assertThat(invalid(new Spec("n", "not a url", calls, null, null, null))).contains("url");
    assertThat(invalid(new Spec("n", "http://127.0.0.1/x", List.of("calls", "nope"), null, null, null)))
        .contains("known event names");
    assertThat(invalid(new Spec("n", "http://127.0.0.1/x", List.of(), null, null, null))).contains("events");
    assertThat(invalid(new Spec("n", "http://127.0.0.1/x", calls, "short", null, null))).contains("secret")
        .doesNotContain("short");
    // private targets beyond the allowed range are refused
    assertThat(invalid(new Spec("n", "http://10.0.0.5/x", calls, null, null, null))).contains("private");
    assertThat(invalid(new Spec("n", "http://169.254.169.254/latest", calls, null, null, null))).contains("private");
    assertThat(subs.list(RelayHarness.PNID_1)).isEmpty();
  }

  @Test
  void aNumberSeesAndChangesOnlyItsOwnSubscriptionsAndPatchesMerge() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/a", List.of("calls"), "secret-one-1", false);
    assertThat(s.hasSecret()).isTrue();
    assertThat(s.toString()).doesNotContain("secret-one-1");

    assertThat(subs.find(RelayHarness.PNID_2, s.id())).isEmpty();
    assertThat(subs.list(RelayHarness.PNID_2)).isEmpty();
    assertThat(subs.update(RelayHarness.PNID_2, s.id(), new Spec("x", null, null, null, null, null)))
        .isInstanceOf(Outcome.NotFound.class);
    assertThat(subs.delete(RelayHarness.PNID_2, s.id())).isFalse();
    assertThat(subs.deliveries(RelayHarness.PNID_2, s.id(), Optional.empty(), 10)).isEmpty();

    Outcome patched = subs.update(RelayHarness.PNID_1, s.id(),
        new Spec(null, null, List.of("calls", "call_permission_replies", "calls"), null, true, null));
    Subscription p = ((Outcome.Saved) patched).subscription();
    assertThat(p.name()).isEqualTo(s.name());
    assertThat(p.url()).isEqualTo(s.url());
    assertThat(p.events()).containsExactly("calls", "call_permission_replies");
    assertThat(p.chatwootTerminateReason()).isTrue();
    assertThat(p.hasSecret()).isTrue();
    assertThat(subs.find(RelayHarness.PNID_1, s.id())).contains(p);

    assertThat(subs.delete(RelayHarness.PNID_1, s.id())).isTrue();
    assertThat(subs.find(RelayHarness.PNID_1, s.id())).isEmpty();
  }

  @Test
  void theSecretIsSealedAtRest() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/a", List.of("calls"), "plain-text-secret", false);

    byte[] stored = h.db.withConnection(c -> {
      try (var p = c.prepareStatement("SELECT secret FROM layer_subscriptions WHERE id = ?")) {
        p.setString(1, s.id());
        try (var rs = p.executeQuery()) {
          rs.next();
          return rs.getBytes(1);
        }
      }
    });
    assertThat(new String(stored, java.nio.charset.StandardCharsets.ISO_8859_1)).doesNotContain("plain-text-secret");
    assertThat(Arrays.equals(stored, "plain-text-secret".getBytes())).isFalse();
    // what opens it: a cipher with the layer's master key (the layer hands out no cipher)
    assertThat(new dev.metalayer.crypto.TokenCipher(RelayHarness.MASTER_KEY, new java.security.SecureRandom())
        .open(stored, s.id())).isEqualTo("plain-text-secret");
  }

  private Subscription saved(Spec spec) {
    Outcome o = subs.create(RelayHarness.PNID_1, spec);
    assertThat(o).as(String.valueOf(spec)).isInstanceOf(Outcome.Saved.class);
    return ((Outcome.Saved) o).subscription();
  }

  @Test
  void eachLimitIsAcceptedAtItsEdgeAndRefusedOnePast() {
    String url = "http://127.0.0.1:9/x";
    List<String> calls = List.of("calls");
    assertThat(saved(new Spec("x".repeat(100), url, calls, null, null, null)).name()).hasSize(100);
    assertThat(saved(new Spec("  padded name  ", url, calls, null, null, null)).name()).isEqualTo("padded name");
    assertThat(invalid(new Spec("   ", url, calls, null, null, null))).isEqualTo("name must be 1 to 100 characters.");
    List<String> fifty = new java.util.ArrayList<>(java.util.Collections.nCopies(49, "messages"));
    fifty.add("calls");
    assertThat(saved(new Spec("n", url, fifty, null, null, null)).events()).containsExactly("messages", "calls");
    List<String> fiftyOne = new java.util.ArrayList<>(fifty);
    fiftyOne.add("calls");
    assertThat(invalid(new Spec("n", url, fiftyOne, null, null, null))).isEqualTo("events must list 1 to 50 event names.");
    assertThat(invalid(new Spec("n", url, Arrays.asList("calls", null), null, null, null))).contains("known event names");
    assertThat(saved(new Spec("n", url, calls, "s".repeat(8), null, null)).hasSecret()).isTrue();
    assertThat(saved(new Spec("n", url, calls, "s".repeat(200), null, null)).hasSecret()).isTrue();
    for (String secret : List.of("s".repeat(7), "s".repeat(201), "secret\u0007bell", " secret-with-space", "secret-with-space ")) {
      assertThat(invalid(new Spec("n", url, calls, secret, null, null))).as(secret)
          .isEqualTo("secret must be 8 to 200 characters, without control characters or surrounding spaces.");
    }
    String longUrl = "http://127.0.0.1:9/" + "a".repeat(2048 - "http://127.0.0.1:9/".length());
    assertThat(saved(new Spec("n", longUrl, calls, null, null, null)).url()).hasSize(2048);
    assertThat(invalid(new Spec("n", longUrl + "a", calls, null, null, null))).isEqualTo("url must be at most 2048 characters.");
    // the same limits hold on a change, and a change that breaks one changes nothing
    Subscription s = saved(new Spec("n", url, calls, null, null, null));
    assertThat(subs.update(RelayHarness.PNID_1, s.id(), new Spec(null, null, null, "short", null, null)))
        .isInstanceOf(Outcome.Invalid.class);
    assertThat(subs.update(RelayHarness.PNID_1, s.id(), new Spec(null, "http://10.0.0.5/x", null, null, null, null)))
        .isInstanceOf(Outcome.Invalid.class);
    assertThat(subs.find(RelayHarness.PNID_1, s.id())).map(Subscription::url).contains(url);
  }
  @Test
  void theOperatorFindsAnySubscriptionAndItsLogByIdAloneAndNothingForNoId() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/a", List.of("calls"), null, false);
    java.time.Instant at = java.time.Instant.parse("2026-03-01T10:00:00Z");
    h.ingestSigned(RelayTimeRulesTest.callEvent("wacid.OP1", "connect", at));
    h.ingestSigned(RelayTimeRulesTest.callEvent("wacid.OP2", "connect", at));
    assertThat(subs.findForOperator(s.id())).contains(s);
    assertThat(subs.findForOperator("wh_none")).isEmpty();
    assertThat(subs.findForOperator(null)).isEmpty();

    assertThat(subs.deliveriesForOperator(s.id(), Optional.empty(), 10).orElseThrow()).hasSize(2);
    assertThat(subs.deliveriesForOperator(s.id(), Optional.empty(), 0).orElseThrow()).as("at least one").hasSize(1);
    assertThat(subs.deliveriesForOperator(s.id(), Optional.of(DeliveryState.DELIVERED), 10).orElseThrow()).isEmpty();
    assertThat(subs.deliveriesForOperator("wh_none", Optional.empty(), 10)).isEmpty();
    assertThat(subs.deliveriesForOperator(null, Optional.empty(), 10)).isEmpty();
    // a number's own view clamps the same way
    assertThat(subs.deliveries(RelayHarness.PNID_1, s.id(), Optional.empty(), 0).orElseThrow()).hasSize(1);
  }

  @Test
  void removingANumbersSubscriptionsTakesAllOfItsOwnAndNoneOfAnother() {
    Subscription a = h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/a", List.of("calls"), null, false);
    h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/b", List.of("calls"), null, false);
    Subscription other = h.subscribe(RelayHarness.PNID_2, "http://127.0.0.1:9/c", List.of("calls"), null, false);

    assertThat(subs.deleteAll(RelayHarness.PNID_1)).isEqualTo(2);
    assertThat(subs.list(RelayHarness.PNID_1)).isEmpty();
    assertThat(subs.findForOperator(a.id())).isEmpty();
    assertThat(subs.list(RelayHarness.PNID_2)).containsExactly(other);
    assertThat(subs.deleteAll(RelayHarness.PNID_1)).as("idempotent").isZero();
  }
  @Test
  void aSubscriptionIsCreatedOnAndWithoutTheTerminateReasonUnlessTheSpecSaysOtherwise() {
    String url = "http://127.0.0.1:9/x";
    Subscription plain = saved(new Spec("n", url, List.of("calls"), null, null, null));
    assertThat(plain.active()).isTrue();
    assertThat(plain.chatwootTerminateReason()).isFalse();
    assertThat(plain.hasSecret()).isFalse();
    Subscription off = saved(new Spec("n", url, List.of("calls"), null, true, false));
    assertThat(off.active()).isFalse();
    assertThat(off.chatwootTerminateReason()).isTrue();
    assertThat(saved(new Spec("n", url, List.of("calls"), null, false, true)).active()).isTrue();
    assertThat(subs.find(RelayHarness.PNID_1, off.id())).contains(off);
  }
  @Test
  void aSpecShowsEveryFieldButTheSecret() {
    assertThat(new Spec("n", "http://h/x", List.of("calls"), "the-secret-1", true, false).toString())
        .isEqualTo("Spec[name=n, url=http://h/x, events=[calls], secret=<redacted>, chatwootTerminateReason=true,"
            + " active=false]");
    assertThat(new Spec(null, null, null, null, null, null).toString()).contains("secret=null");
  }

  private static Spec.Read read(String json, boolean patch) throws Exception {
    return Spec.read(new com.fasterxml.jackson.databind.ObjectMapper().readTree(json), patch);
  }

  @Test
  void aSpecIsReadByTypeOnlyAndActiveOnlyOnAChange() throws Exception {
    String all = "{\"name\":\"n\",\"url\":\"u\",\"events\":[\"calls\",\"messages\"],\"secret\":\"s\","
        + "\"chatwoot_terminate_reason\":true,\"active\":false,\"other\":1}";
    assertThat(read(all, true)).isEqualTo(new Spec.Read.Valid(
        new Spec("n", "u", List.of("calls", "messages"), "s", true, false)));
    assertThat(read(all, false)).as("active is not read on a create")
        .isEqualTo(new Spec.Read.Valid(new Spec("n", "u", List.of("calls", "messages"), "s", true, null)));
    assertThat(read("{\"chatwoot_terminate_reason\":false,\"active\":true}", true))
        .isEqualTo(new Spec.Read.Valid(new Spec(null, null, null, null, false, true)));
    String nulls = "{\"name\":null,\"url\":null,\"events\":null,\"secret\":null,\"chatwoot_terminate_reason\":null,"
        + "\"active\":null}";
    assertThat(read(nulls, true)).isEqualTo(new Spec.Read.Valid(new Spec(null, null, null, null, null, null)));
    assertThat(read("{}", true)).isEqualTo(new Spec.Read.Valid(new Spec(null, null, null, null, null, null)));

    assertThat(read("{\"events\":\"calls\"}", false)).isEqualTo(new Spec.Read.Invalid("events must be an array of strings."));
    assertThat(read("{\"events\":[\"calls\",1]}", false))
        .isEqualTo(new Spec.Read.Invalid("events must be an array of strings."));
    assertThat(read("{\"name\":5}", false)).isEqualTo(new Spec.Read.Invalid("name must be a string."));
    assertThat(read("{\"url\":true}", false)).isEqualTo(new Spec.Read.Invalid("url must be a string."));
    assertThat(read("{\"chatwoot_terminate_reason\":\"yes\"}", false))
        .isEqualTo(new Spec.Read.Invalid("chatwoot_terminate_reason must be true or false."));
    assertThat(read("{\"active\":1}", true)).isEqualTo(new Spec.Read.Invalid("active must be true or false."));
  }

  @Test
  void aReplayFindsOnlyADeliveryOfTheSubscriptionNamed() {
    Subscription a = h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/a", List.of("calls"), null, false);
    Subscription b = h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/b", List.of("calls"), null, false);
    h.ingestSigned(RelayTimeRulesTest.callEvent("wacid.R1", "connect", java.time.Instant.parse("2026-03-01T10:00:00Z")));
    Delivery ofB = subs.deliveries(RelayHarness.PNID_1, b.id(), Optional.empty(), 10).orElseThrow().get(0);

    assertThat(subs.retry(RelayHarness.PNID_1, a.id(), ofB.id())).as("the same number, another subscription").isEmpty();
    assertThat(subs.retry(RelayHarness.PNID_1, b.id(), ofB.id())).map(Delivery::id).contains(ofB.id());
  }

  @Test
  void aNumberAtItsSubscriptionCapGetsNoMoreAndIsToldTheCap() {
    for (int i = 0; i < CallWebhookRelay.DEFAULT_MAX_SUBSCRIPTIONS; i++) {
      saved(new Spec("n" + i, "http://127.0.0.1:9/x", List.of("calls"), null, null, null));
    }
    assertThat(invalid(new Spec("one more", "http://127.0.0.1:9/x", List.of("calls"), null, null, null)))
        .isEqualTo("Subscription cap: a number may have at most 25 subscriptions (LAYER_MAX_SUBSCRIPTIONS_PER_NUMBER).");
    assertThat(subs.list(RelayHarness.PNID_1)).hasSize(CallWebhookRelay.DEFAULT_MAX_SUBSCRIPTIONS);
  }
  @Test
  void aSubscriptionCreatedWhileItsNumberIsRemovedIsNotKeptAndOneDeletedWhileChangedIsNotFound(@TempDir Path other) {
    java.util.concurrent.atomic.AtomicReference<Runnable> beforeWrite = new java.util.concurrent.atomic.AtomicReference<>();
    try (RelayHarness raced = new RelayHarness(other, MutableClock.at("2026-03-01T10:00:00Z"),
        List.of(RelayHarness.APP_SECRET), false, real -> RelayHarness.hooked(real, (method, args) -> {
          if (method.equals("insertSubscription") || method.equals("updateSubscription")) {
            Runnable r = beforeWrite.getAndSet(null);
            if (r != null) {
              r.run();
            }
          }
        }))) {
      Subscription s = raced.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/a", List.of("calls"), null, false);
      beforeWrite.set(() -> raced.subscriptions().delete(RelayHarness.PNID_1, s.id()));
      assertThat(raced.subscriptions().update(RelayHarness.PNID_1, s.id(), new Spec("renamed", null, null, null, null, null)))
          .isEqualTo(new Outcome.NotFound());

      beforeWrite.set(() -> assertThat(raced.layer.keys().removeNumber(RelayHarness.PNID_2)).isTrue());
      Outcome created = raced.subscriptions().create(RelayHarness.PNID_2,
          new Spec("n", "http://127.0.0.1:9/b", List.of("calls"), null, null, null));
      assertThat(created).isEqualTo(new Outcome.Invalid(
          "This number is not registered in the layer (it was removed): no subscription was created."));
      assertThat(raced.subscriptions().list(RelayHarness.PNID_2)).isEmpty();
    }
  }
}

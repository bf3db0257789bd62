package dev.metalayer.relay;

import dev.metalayer.relay.WebhookSubscriptions.Spec;

import dev.metalayer.relay.WebhookSubscriptions.Outcome;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.MetaLayer;
import dev.metalayer.json.Json;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.FuzzInputs;
import dev.metalayer.testing.FuzzRuns;
import dev.metalayer.testing.MutableClock;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes subscription requests: the client's JSON body read into a {@link Spec}, then a
 * create or a change by number A, on a real layer (keys and relay in memory; the egress guard allows
 * every address, so that no name is resolved, and is tested on its own). Invariant: what is saved is
 * valid (name 1–100 characters, an absolute http(s) URL with a host and no user info or fragment,
 * 1–50 known events without repeats), belongs to A and is found, changed or deleted by no other
 * number; a change leaves what it does not name as it was; a refusal quotes no secret and changes
 * nothing.
 */
class WebhookSubscriptionsFuzzTest {
  static final FuzzRuns RUNS = new FuzzRuns("WebhookSubscriptions");
  static final String A = FuzzInputs.A.phoneNumberId();
  static final String B = FuzzInputs.B.phoneNumberId();
  static final Spec BASE_SPEC =
      new Spec("base", "https://example.com/base", List.of("calls"), "base-secret-1", false, true);
  static final WebhookSubscriptions SUBS;
  static final Subscription BASE;

  static {
    MetaLayer layer = MetaLayer.builder()
        .keyStore(Stores.inMemoryKeys())
        .relayStore(Stores.inMemoryRelay())
        .masterKey(new byte[32])
        .clock(MutableClock.at("2026-03-01T10:00:00Z"))
        .egressGuard(EgressGuard.of(true, List.of()))
        .appSecrets(List.of("meta-app-secret-1"))
        .build();
    for (var n : List.of(FuzzInputs.A, FuzzInputs.B)) {
      layer.keys().addNumber(n.phone(), n.phoneNumberId(), n.wabaId(), n.businessId(), "EAAG-token-" + n.phoneNumberId());
    }
    SUBS = layer.relay().subscriptions();
    BASE = ((Outcome.Saved) SUBS.create(A, BASE_SPEC)).subscription();
  }

  @AfterAll
  static void figures() {
    RUNS.report();
  }

  @FuzzTest(maxDuration = "10s")
  void aSavedSubscriptionIsValidAndReachableOnlyByItsNumber(FuzzedDataProvider data) {
    RUNS.executed();
    boolean patch = data.consumeBoolean();
    byte[] body = data.consumeBoolean()
        ? FuzzInputs.subscriptionBody(data).getBytes(StandardCharsets.UTF_8)
        : data.consumeRemainingAsBytes();
    JsonNode tree;
    try {
      tree = Json.mapper().readTree(body);
    } catch (IOException e) {
      return; // the adapter answers 400: the body must be a JSON object
    }
    if (tree == null || !tree.isObject()) {
      return;
    }
    Spec.Read read = Spec.read(tree, patch);
    if (read instanceof Spec.Read.Invalid invalid) {
      assertThat(invalid.message()).matches("[a-z_]+ must be (a string|true or false|an array of strings)\\.");
      return;
    }
    Spec spec = ((Spec.Read.Valid) read).spec();
    if (spec.secret() != null) {
      Spec other = new Spec(
          spec.name(), spec.url(), spec.events(), "another secret", spec.chatwootTerminateReason(), spec.active());
      assertThat(spec.toString()).as("the secret leaves no trace in toString").isEqualTo(other.toString());
    }

    Outcome outcome = patch ? SUBS.update(A, BASE.id(), spec) : SUBS.create(A, spec);
    if (!(outcome instanceof Outcome.Saved saved)) {
      assertThat(outcome).isInstanceOf(Outcome.Invalid.class);
      String message = ((Outcome.Invalid) outcome).message();
      if (spec.secret() != null && spec.secret().strip().length() >= 3 && message.contains(spec.secret().strip())) {
        // the secret's text may be part of a fixed wording ("cret" in "secret must be…"): then a secret of
        // the same shape with other letters and digits gets the very same message; an echo would differ
        Spec masked = new Spec(spec.name(), spec.url(), spec.events(), masked(spec.secret()),
            spec.chatwootTerminateReason(), spec.active());
        Outcome again = patch ? SUBS.update(A, BASE.id(), masked) : SUBS.create(A, masked);
        assertThat(again).isInstanceOf(Outcome.Invalid.class);
        assertThat(message).as("a refusal quotes no secret").isEqualTo(((Outcome.Invalid) again).message());
      }
      assertThat(SUBS.find(A, BASE.id())).as("a refused change changes nothing").contains(BASE);
      assertThat(SUBS.list(A)).hasSize(1);
      return;
    }
    Subscription s = saved.subscription();
    try {
      assertThat(s.phoneNumberId()).isEqualTo(A);
      assertThat(s.name()).isEqualTo(s.name().strip()).isNotEmpty().hasSizeLessThanOrEqualTo(100);
      URI url = URI.create(s.url());
      assertThat(url.getScheme().toLowerCase(Locale.ROOT)).isIn("http", "https");
      assertThat(url.getHost()).isNotNull();
      assertThat(url.getRawUserInfo()).isNull();
      assertThat(url.getRawFragment()).isNull();
      assertThat(s.events()).isNotEmpty().hasSizeLessThanOrEqualTo(50).allMatch(Events::isKnown);
      assertThat(new HashSet<>(s.events())).hasSameSizeAs(s.events());
      if (patch) {
        assertThat(s.name()).isEqualTo(spec.name() == null ? BASE.name() : spec.name().strip());
        assertThat(s.url()).isEqualTo(spec.url() == null ? BASE.url() : spec.url().strip());
        assertThat(s.events()).isEqualTo(spec.events() == null ? BASE.events() : List.copyOf(new java.util.LinkedHashSet<>(spec.events())));
        assertThat(s.active()).isEqualTo(spec.active() == null ? BASE.active() : spec.active());
        assertThat(s.hasSecret()).isTrue();
      } else {
        assertThat(s.hasSecret()).isEqualTo(spec.secret() != null);
      }
      assertThat(SUBS.find(B, s.id())).as("another number finds it").isEmpty();
      assertThat(SUBS.list(B)).isEmpty();
      assertThat(SUBS.update(B, s.id(), BASE_SPEC)).isInstanceOf(Outcome.NotFound.class);
      assertThat(SUBS.delete(B, s.id())).isFalse();
      assertThat(SUBS.find(A, s.id())).contains(s);
    } finally {
      if (patch) {
        SUBS.update(A, BASE.id(), BASE_SPEC);
      } else {
        SUBS.delete(A, s.id());
      }
    }
  }

  /** {@code secret} with every letter and digit changed, everything else (length, spaces, controls) kept. */
  private static String masked(String secret) {
    StringBuilder b = new StringBuilder(secret.length());
    secret.chars().forEach(c -> b.append(Character.isLetter(c) ? (c == 'x' ? 'y' : 'x') : Character.isDigit(c) ? (c == '7' ? '8' : '7') : (char) c));
    return b.toString();
  }
}

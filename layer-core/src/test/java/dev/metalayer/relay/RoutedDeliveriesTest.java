package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.MutableClock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the router puts in each delivery it queues, on the real H2 file: the Chatwoot
 * {@code terminate_reason} only for a subscription that asks for it, and an owner (the receiving
 * instance) only for a call delivery.
 */
class RoutedDeliveriesTest {
  @TempDir Path dir;

  @Test
  void onlyASubscriptionThatAsksForItGetsTheTerminateReason() {
    MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
    try (RelayHarness h = new RelayHarness(dir, clock)) {
      Subscription chatwoot = h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/chatwoot", List.of("calls"), null, true);
      Subscription plain = h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/plain", List.of("calls"), null, false);

      h.ingestSigned(new String(RelayTimeRulesTest.callEvent("wacid.T1", "terminate", clock.instant()),
          StandardCharsets.UTF_8).replace("\"event\":\"terminate\"", "\"event\":\"terminate\",\"status\":\"COMPLETED\"")
          .getBytes(StandardCharsets.UTF_8));

      Map<String, String> bodyBySubscription = h.db.withConnection(c -> {
        Map<String, String> out = new HashMap<>();
        try (var st = c.createStatement(); var rs = st.executeQuery("SELECT d.subscription_id, b.body FROM"
            + " layer_deliveries d JOIN layer_bodies b ON b.id = d.body_id")) {
          while (rs.next()) {
            out.put(rs.getString(1), new String(rs.getBytes(2), StandardCharsets.UTF_8));
          }
        }
        return out;
      });
      assertThat(bodyBySubscription.get(chatwoot.id())).contains("\"terminate_reason\"");
      assertThat(bodyBySubscription.get(plain.id())).contains("\"event\":\"terminate\"").doesNotContain("terminate_reason");
    }
  }

  @Test
  void aCallDeliveryIsOwnedByTheInstanceThatReceivedItAndAMessageDeliveryByNone() {
    MutableClock clock = new MutableClock(Instant.parse("2026-03-01T10:00:00Z"));
    try (RelayHarness h = new RelayHarness(dir, clock)) {
      h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/s", List.of("calls", "messages"), null, false);

      h.ingestSigned(LargeEnvelopeTest.envelope(1, clock.instant()));

      Map<String, Optional<String>> ownerByField = h.db.withConnection(c -> {
        Map<String, Optional<String>> out = new HashMap<>();
        try (var st = c.createStatement(); var rs = st.executeQuery("SELECT field, owner FROM layer_deliveries")) {
          while (rs.next()) {
            out.put(rs.getString(1), Optional.ofNullable(rs.getString(2)));
          }
        }
        return out;
      });
      assertThat(ownerByField).containsOnly(
          Map.entry("calls", Optional.of(((WebhookRelay) h.layer.relay()).instanceId())),
          Map.entry("messages", Optional.empty()));
    }
  }
}

package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * When a webhook last arrived for a number (the Meta doctor reads it): written for the numbers an
 * envelope is routed to, at most once per {@link Router#WEBHOOK_SEEN_EVERY} per number, on the real H2 file.
 */
class LastWebhookTest {
  @TempDir Path dir;

  @Test
  void aNumbersLastWebhookIsWrittenForTheNumbersRoutedToAtMostOnceAMinuteEach() {
    MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
    try (RelayHarness h = new RelayHarness(dir, clock)) {
      RelayStore store = Stores.relay(h.db);
      Instant t0 = clock.instant();

      h.ingestSigned(FailureWarningsTest.message(RelayHarness.WABA_1, RelayHarness.PNID_1));
      assertThat(store.lastWebhook(RelayHarness.PNID_1)).contains(t0);
      assertThat(store.lastWebhook(RelayHarness.PNID_2)).as("a number no change was routed to").isEmpty();

      clock.advance(Router.WEBHOOK_SEEN_EVERY.minusSeconds(1));
      h.ingestSigned(FailureWarningsTest.message(RelayHarness.WABA_1, RelayHarness.PNID_1));
      assertThat(store.lastWebhook(RelayHarness.PNID_1)).as("within the minute: not written again").contains(t0);
      h.ingestSigned(FailureWarningsTest.message(RelayHarness.WABA_2, RelayHarness.PNID_2));
      assertThat(store.lastWebhook(RelayHarness.PNID_2)).as("each number has its own minute").contains(clock.instant());

      clock.advance(Duration.ofSeconds(1));
      h.ingestSigned(FailureWarningsTest.message(RelayHarness.WABA_1, RelayHarness.PNID_1));
      assertThat(store.lastWebhook(RelayHarness.PNID_1)).as("a minute after the last write").contains(clock.instant());
    }
  }
}

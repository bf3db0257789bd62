package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.relay.CallWebhookRelay.IngestResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * What {@link CallWebhookRelay}'s default methods promise an implementation that keeps them (the layer's
 * own relay overrides each): the request id is ignored and the webhook ingested as without it, nothing is
 * refused before the body, no unknown number is kept, no worker is dead, and a close with a grace closes.
 */
class CallWebhookRelayDefaultsTest {
  /** An embedder's relay implementing only what it must; it records the calls it gets. */
  static final class MinimalRelay implements CallWebhookRelay {
    final List<String> calls = new ArrayList<>();
    final IngestResult answer = new IngestResult.Accepted(1, 1, 0);

    @Override
    public IngestResult ingest(byte[] body, String signatureHeader) {
      calls.add("ingest " + new String(body, java.nio.charset.StandardCharsets.UTF_8) + " " + signatureHeader);
      return answer;
    }

    @Override
    public WebhookSubscriptions subscriptions() {
      throw new UnsupportedOperationException();
    }

    @Override
    public void start() {
      calls.add("start");
    }

    @Override
    public int runDueNow() {
      return 0;
    }

    @Override
    public RelayStore.Purged purge() {
      throw new UnsupportedOperationException();
    }

    @Override
    public void close() {
      calls.add("close");
    }
  }

  @Test
  void theDefaultsIngestWithoutTheRequestIdRefuseNothingEarlyKeepNoNumberAndCloseWithAGrace() {
    MinimalRelay relay = new MinimalRelay();

    assertThat(relay.ingest("{}".getBytes(java.nio.charset.StandardCharsets.UTF_8), "sha256=ab", Optional.of("req-1")))
        .isSameAs(relay.answer);
    assertThat(relay.refusalBeforeBody(null)).isEmpty();
    assertThat(relay.unknownNumbers().recent()).isEmpty();
    assertThat(relay.unknownNumbers().total()).isZero();
    assertThat(relay.deadWorkers()).isEmpty();
    relay.close(Duration.ofSeconds(1));

    assertThat(relay.calls).containsExactly("ingest {} sha256=ab", "close");
  }
}

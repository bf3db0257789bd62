package dev.metalayer.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.MetaLayer;
import dev.metalayer.examples.chatwoot.FakeChatwoot;
import dev.metalayer.examples.chatwoot.OneNumberGraph;
import dev.metalayer.examples.chatwoot.MetaWebhooks;
import dev.metalayer.keys.WhatsAppNumber;
import dev.metalayer.relay.WebhookSubscriptions.Spec;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The core embedded in a plain JDK HttpServer, with the host's own keys, does the layer's job. */
class EmbeddedInJdkHttpServerTest {
  static final String TOKEN = "EAAG-host-vault-token-0123456789";
  final WhatsAppNumber number =
      new WhatsAppNumber("+15550783881", "106540352242922", "102290129340398", "555", Instant.parse("2026-01-01T00:00:00Z"));

  @Test
  void hostKeysProxyGraphAndTheRelayDeliversSignedChanges() throws Exception {
    try (OneNumberGraph meta = new OneNumberGraph(number.phoneNumberId(), number.wabaId(), TOKEN).start();
        FakeChatwoot client = new FakeChatwoot(number.phone(), number.phoneNumberId(), number.wabaId(), "subscriber-secret").start()) {
      EmbeddedInJdkHttpServer.HostKeys keys = new EmbeddedInJdkHttpServer.HostKeys();
      keys.add("acct-42", "host-key-of-account-42", number, TOKEN);
      MetaLayer layer = EmbeddedInJdkHttpServer.layer(keys, meta.baseUri(), "meta-app-secret");
      layer.keys().addNumber(number.phone(), number.phoneNumberId(), number.wabaId(), number.businessId(), TOKEN);
      try (EmbeddedInJdkHttpServer host = new EmbeddedInJdkHttpServer(layer, 0).start()) {
        String base = "http://127.0.0.1:" + host.port();

        client.configure(URI.create(base + EmbeddedInJdkHttpServer.PREFIX), "host-key-of-account-42");
        FakeChatwoot.Answer sent = client.sendText("15551234567", "Hello");
        assertThat(sent.status()).isEqualTo(200);
        assertThat(sent.body().at("/messages/0/id").asText()).startsWith("wamid.");
        assertThat(meta.seen().get(0).headers().get("authorization")).isEqualTo("Bearer " + TOKEN);
        assertThat(meta.seen().get(0).toString()).doesNotContain("host-key-of-account-42");

        client.configure(URI.create(base + EmbeddedInJdkHttpServer.PREFIX), "not-a-host-key");
        assertThat(client.sendText("15551234567", "Hello").status()).isEqualTo(401);

        layer.relay().subscriptions().create(number.phoneNumberId(), new Spec(
            "subscriber", client.webhookUrl().toString(), List.of("calls"), "subscriber-secret", null, null));
        MetaWebhooks webhooks = new MetaWebhooks(URI.create(base + "/webhooks/meta"), "meta-app-secret",
            number.wabaId(), number.digits(), number.phoneNumberId());
        String connect = webhooks.envelope(webhooks.inboundConnect("wacid.EMBED1", "15551234567", "Jane", "v=0\r\n",
            Instant.now().getEpochSecond()));
        assertThat(webhooks.post(connect)).isEqualTo(200);
        FakeChatwoot.Received got = client.nextWebhook(Duration.ofSeconds(10)).orElseThrow();
        assertThat(got.signatureValid()).isTrue();
        assertThat(got.rawBody()).isEqualTo(connect);

        MetaWebhooks forger = new MetaWebhooks(URI.create(base + "/webhooks/meta"), "wrong-secret",
            number.wabaId(), number.digits(), number.phoneNumberId());
        assertThat(forger.post(connect)).isEqualTo(401);
      }
    }
  }
}

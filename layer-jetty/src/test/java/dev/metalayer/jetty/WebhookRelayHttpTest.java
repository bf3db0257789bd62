package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.metalayer.keys.KeyService.CreatedKey;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.RecordingSubscriber;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The relay through the standalone layer's HTTP surface: Meta's handshake and POSTs on
 * {@code /webhooks/meta}, the subscriptions API on {@code /v1/webhooks}, deliveries through the Jetty
 * client to a real subscriber. Loopback subscribers are allowed by CIDR, not by turning the guard off.
 */
class WebhookRelayHttpTest {
  static final String APP_SECRET = "meta-app-secret";
  static final String PNID_1 = "436666719526789";
  static final String PNID_2 = "106540352242922";
  static final ObjectMapper JSON = new ObjectMapper();
  static final Duration TIMEOUT = Duration.ofSeconds(10);

  @TempDir Path dir;
  LayerServer server;
  RecordingSubscriber subscriber;
  HttpClient http;
  String key1;
  String key2;

  @BeforeEach
  void start() throws Exception {
    server = LayerServer.start(Settings.of(Map.of(
        Option.PORT, "0",
        Option.HOST, "127.0.0.1",
        Option.DATA_DIR, dir.toString(),
        Option.APP_SECRET, "rotated-old-secret, " + APP_SECRET,
        Option.VERIFY_TOKEN, "verify-me-please",
        Option.ALLOWED_TARGET_CIDRS, "127.0.0.0/8")));
    server.layer().keys().addNumber("+13175551399", PNID_1, "366634483210360", "900", "EAAG-1");
    server.layer().keys().addNumber("+15550783881", PNID_2, "102290129340398", "900", "EAAG-2");
    key1 = server.layer().keys().createKey(PNID_1).map(CreatedKey::key).orElseThrow();
    key2 = server.layer().keys().createKey(PNID_2).map(CreatedKey::key).orElseThrow();
    subscriber = RecordingSubscriber.start();
    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(TIMEOUT).build();
  }

  @AfterEach
  void stop() throws Exception {
    server.close();
    subscriber.close();
  }

  HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
    return http.send(b.timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpRequest.Builder at(String path) {
    return HttpRequest.newBuilder(server.localUri().resolve(path));
  }

  HttpResponse<String> postWebhook(byte[] body, String signature) throws Exception {
    HttpRequest.Builder b = at("/webhooks/meta").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (signature != null) {
      b.header("X-Hub-Signature-256", signature);
    }
    return send(b);
  }

  HttpResponse<String> api(String method, String path, String key, String json) throws Exception {
    HttpRequest.Builder b = at(path).header("x-api-key", key);
    if (json == null) {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    } else {
      b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
    }
    return send(b);
  }

  @Test
  void metasHandshakeEchoesTheChallengeOnlyForTheRightToken() throws Exception {
    HttpResponse<String> ok = send(at("/webhooks/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=verify-me-please").GET());
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(ok.body()).isEqualTo("1158201444");
    assertThat(ok.headers().firstValue("content-type").orElseThrow()).startsWith("text/plain");

    for (String q : new String[] {"hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong",
        "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=verify-me-please", "hub.challenge=1"}) {
      HttpResponse<String> refused = send(at("/webhooks/meta?" + q).GET());
      assertThat(refused.statusCode()).as(q).isEqualTo(403);
      assertThat(JSON.readTree(refused.body()).at("/error/message").asText()).isNotBlank();
    }
  }

  @Test
  void badInputGetsTheDocumentedAnswersAndTheLayerKeepsServing() throws Exception {
    byte[] body = MetaFixtures.bytes("multi-entry.json");
    assertThat(postWebhook(body, null).statusCode()).isEqualTo(401);
    assertThat(postWebhook(body, MetaFixtures.metaSignature("wrong", body)).statusCode()).isEqualTo(401);
    byte[] malformed = "{\"object\":".getBytes(StandardCharsets.UTF_8);
    HttpResponse<String> bad = postWebhook(malformed, MetaFixtures.metaSignature(APP_SECRET, malformed));
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(bad.body()).at("/error/code").asInt()).isEqualTo(100);
    byte[] huge = new byte[3 * 1024 * 1024 + 10];
    Arrays.fill(huge, (byte) ' ');
    assertThat(postWebhook(huge, MetaFixtures.metaSignature(APP_SECRET, huge)).statusCode()).isEqualTo(413);
    assertThat(api("POST", "/v1/webhooks", key1, "{\"name\":\"x\",\"url\":\"http://10.0.0.8/hook\",\"events\":[\"calls\"]}")
        .statusCode()).isEqualTo(400);
    assertThat(api("GET", "/v1/webhooks", "ps_not-a-real-key-xxxxxxxxxxxxxxxxxxxxxxxxxxxx", null).statusCode()).isEqualTo(401);

    // still serving, and a good webhook still goes through
    assertThat(send(at("/healthz").GET()).statusCode()).isEqualTo(200);
    assertThat(postWebhook(body, MetaFixtures.metaSignature(APP_SECRET, body)).statusCode()).isEqualTo(200);
  }

  /**
   * A body a little over the limit is read to its end before the 413, so that the client, which is
   * still sending, reads the answer, and the connection carries the next request. Answering first and
   * closing would reset the connection under the client's feet: often it would get no answer at all.
   */
  @Test
  void anOversizedWebhookIsAnswered413OnAConnectionThatStaysUsable() throws Exception {
    byte[] huge = new byte[3 * 1024 * 1024 + 10];
    Arrays.fill(huge, (byte) ' ');
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(10_000);
      java.io.OutputStream out = socket.getOutputStream();
      java.io.BufferedInputStream in = new java.io.BufferedInputStream(socket.getInputStream());
      for (int round = 0; round < 3; round++) {
        out.write(("POST /webhooks/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Hub-Signature-256: "
            + MetaFixtures.metaSignature(APP_SECRET, huge) + "\r\nContent-Length: " + huge.length + "\r\n\r\n")
            .getBytes(StandardCharsets.ISO_8859_1));
        out.write(huge);
        out.flush();
        String[] answer = readAnswer(in);
        assertThat(answer[0]).as("round %d", round).startsWith("HTTP/1.1 413");
        assertThat(answer[0]).doesNotContainIgnoringCase("connection: close");
        assertThat(JSON.readTree(answer[1]).at("/error/code").asInt()).isEqualTo(100);
      }
      // the same with no declared length: chunked, the refusal found while reading
      out.write(("POST /webhooks/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Hub-Signature-256: "
          + MetaFixtures.metaSignature(APP_SECRET, huge) + "\r\nTransfer-Encoding: chunked\r\n\r\n"
          + Integer.toHexString(huge.length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.write(huge);
      out.write("\r\n0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      assertThat(readAnswer(in)[0]).startsWith("HTTP/1.1 413");
      out.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      assertThat(readAnswer(in)[0]).startsWith("HTTP/1.1 200");
    }
  }

  /** One HTTP/1.1 answer with a Content-Length: its head and its body. */
  private static String[] readAnswer(java.io.InputStream in) throws java.io.IOException {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new java.io.EOFException("connection closed after: " + head);
      }
      head.append((char) b);
    }
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
    int length = m.find() ? Integer.parseInt(m.group(1)) : 0;
    return new String[] {head.toString(), new String(in.readNBytes(length), StandardCharsets.UTF_8)};
  }

  @Test
  void subscriptionsApiWithDeliveryLogRetryAndTest() throws Exception {
    HttpResponse<String> created = api("POST", "/v1/webhooks", key1, "{\"name\":\"Chatwoot\",\"url\":\""
        + subscriber.url("/webhooks/whatsapp/+13175551399") + "\",\"events\":[\"calls\",\"call_permission_replies\"],"
        + "\"secret\":\"chatwoot-app-secret\",\"chatwoot_terminate_reason\":true,\"unknown\":1}");
    assertThat(created.statusCode()).isEqualTo(201);
    assertThat(created.body()).doesNotContain("chatwoot-app-secret");
    JsonNode sub = JSON.readTree(created.body());
    String id = sub.path("id").asText();
    assertThat(id).startsWith("wh_");
    assertThat(sub.path("has_secret").asBoolean()).isTrue();
    assertThat(sub.path("active").asBoolean()).isTrue();
    assertThat(sub.path("chatwoot_terminate_reason").asBoolean()).isTrue();

    // the other number's key neither sees nor touches it
    assertThat(api("GET", "/v1/webhooks/" + id, key2, null).statusCode()).isEqualTo(404);
    assertThat(api("PATCH", "/v1/webhooks/" + id, key2, "{\"name\":\"x\"}").statusCode()).isEqualTo(404);
    assertThat(api("DELETE", "/v1/webhooks/" + id, key2, null).statusCode()).isEqualTo(404);
    assertThat(api("GET", "/v1/webhooks/" + id + "/deliveries", key2, null).statusCode()).isEqualTo(404);
    assertThat(JSON.readTree(api("GET", "/v1/webhooks", key2, null).body()).path("data")).isEmpty();
    HttpResponse<String> bearer = send(at("/v1/webhooks").header("Authorization", "Bearer " + key1).GET());
    assertThat(JSON.readTree(bearer.body()).path("data")).hasSize(1);

    // merge-safe PATCH
    JsonNode patched = JSON.readTree(api("PATCH", "/v1/webhooks/" + id, key1, "{\"name\":\"Chatwoot main\"}").body());
    assertThat(patched.path("name").asText()).isEqualTo("Chatwoot main");
    assertThat(patched.path("events").toString()).isEqualTo("[\"calls\",\"call_permission_replies\"]");
    assertThat(patched.path("has_secret").asBoolean()).isTrue();

    // a Meta terminate goes through the Jetty client, enriched and re-signed
    byte[] terminate = MetaFixtures.at(MetaFixtures.bytes("terminate-failed.json"), Instant.now()); // not late
    assertThat(postWebhook(terminate, MetaFixtures.metaSignature(APP_SECRET, terminate)).statusCode()).isEqualTo(200);
    RecordingSubscriber.Received got = subscriber.await(1, TIMEOUT).get(0);
    assertThat(got.path()).isEqualTo("/webhooks/whatsapp/+13175551399");
    assertThat(got.text()).contains("\"terminate_reason\":\"failed_138021\"");
    assertThat(got.header("x-hub-signature-256")).isEqualTo(MetaFixtures.metaSignature("chatwoot-app-secret", got.body()));

    JsonNode log = awaitLog(id, "delivered", 1);
    JsonNode d = log.path("data").path(0);
    assertThat(d.path("field").asText()).isEqualTo("calls");
    assertThat(d.path("lane").asText()).isEqualTo("calls");
    assertThat(d.path("webhook_id").asText()).isEqualTo(got.header("webhook-id"));
    assertThat(d.path("attempts").path(0).path("status_code").asInt()).isEqualTo(200);
    assertThat(d.path("attempts").path(0).has("latency_ms")).isFalse(); // the operator's view only
    assertThat(api("GET", "/v1/webhooks/" + id + "/deliveries?status=bogus", key1, null).statusCode()).isEqualTo(400);

    // replay one, and send a test event
    HttpResponse<String> retried =
        api("POST", "/v1/webhooks/" + id + "/deliveries/" + d.path("id").asText() + "/retry", key1, null);
    assertThat(retried.statusCode()).isEqualTo(202);
    subscriber.await(2, TIMEOUT);
    HttpResponse<String> test = api("POST", "/v1/webhooks/" + id + "/test", key1, null);
    assertThat(test.statusCode()).isEqualTo(202);
    assertThat(subscriber.await(3, TIMEOUT).get(2).text()).contains("\"field\":\"test\"");
    assertThat(api("POST", "/v1/webhooks/" + id + "/deliveries/dlv_nope/retry", key1, null).statusCode()).isEqualTo(404);

    assertThat(api("DELETE", "/v1/webhooks/" + id, key1, null).statusCode()).isEqualTo(200);
    assertThat(api("GET", "/v1/webhooks/" + id, key1, null).statusCode()).isEqualTo(404);
  }

  @Test
  void aSubscriptionTurnedOffKeepsItsBacklogPausedAndTurnedOnDeliversIt() throws Exception {
    subscriber.answer(r -> RecordingSubscriber.Answer.of(503));
    HttpResponse<String> created = api("POST", "/v1/webhooks", key1, "{\"name\":\"helpdesk\",\"url\":\""
        + subscriber.url("/h") + "\",\"events\":[\"messages\"]}");
    String id = JSON.readTree(created.body()).path("id").asText();
    byte[] message = ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"366634483210360\",\"changes\":[{"
        + "\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":"
        + "\"13175551399\",\"phone_number_id\":\"" + PNID_1 + "\"},\"messages\":[{\"from\":\"16315553602\","
        + "\"id\":\"wamid.paused\",\"timestamp\":\"1749196801\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}]}}]}]}")
        .getBytes(StandardCharsets.UTF_8);
    assertThat(postWebhook(message, MetaFixtures.metaSignature(APP_SECRET, message)).statusCode()).isEqualTo(200);
    subscriber.await(1, TIMEOUT);
    awaitLog(id, "pending", 1); // its failed attempt recorded: waiting for a retry

    assertThat(api("PATCH", "/v1/webhooks/" + id, key1, "{\"active\":false}").statusCode()).isEqualTo(200);

    String deliveryId = awaitLog(id, "paused", 1).path("data").path(0).path("id").asText();
    HttpResponse<String> replay = api("POST", "/v1/webhooks/" + id + "/deliveries/" + deliveryId + "/retry", key1, null);
    assertThat(replay.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(replay.body()).at("/error/message").asText()).contains("turn the subscription back on");

    subscriber.answer(r -> RecordingSubscriber.Answer.of(200));
    assertThat(api("PATCH", "/v1/webhooks/" + id, key1, "{\"active\":true}").statusCode()).isEqualTo(200);
    assertThat(awaitLog(id, "delivered", 1).path("data").path(0).path("id").asText()).isEqualTo(deliveryId);
    assertThat(subscriber.await(2, TIMEOUT).get(1).text()).contains("wamid.paused");
  }

  @Test
  void validationErrorsAreGraphShaped() throws Exception {
    for (String body : new String[] {"[]", "{\"name\":\"x\",\"url\":\"ftp://a\",\"events\":[\"calls\"]}",
        "{\"name\":\"x\",\"url\":\"https://example.com\",\"events\":[\"nope\"]}",
        "{\"name\":\"x\",\"url\":\"https://example.com\",\"events\":\"calls\"}",
        "{\"name\":\"x\",\"url\":\"https://example.com\",\"events\":[\"calls\"],\"secret\":\"short\"}",
        "{\"name\":1,\"url\":\"https://example.com\",\"events\":[\"calls\"]}"}) {
      HttpResponse<String> r = api("POST", "/v1/webhooks", key1, body);
      assertThat(r.statusCode()).as(body).isEqualTo(400);
      JsonNode error = JSON.readTree(r.body()).path("error");
      assertThat(error.path("message").asText()).as(body).isNotBlank();
      assertThat(error.path("type").asText()).isEqualTo("OAuthException");
    }
  }

  private JsonNode awaitLog(String id, String state, int n) throws Exception {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (true) {
      JsonNode log = JSON.readTree(api("GET", "/v1/webhooks/" + id + "/deliveries?status=" + state, key1, null).body());
      if (log.path("data").size() >= n) {
        return log;
      }
      assertThat(System.nanoTime()).as("delivery log of %s", id).isLessThan(deadline);
      java.util.concurrent.locks.LockSupport.parkNanos(10_000_000L); // a poll interval, not a timing assumption
    }
  }

  @Test
  void theJettyTransportRefusesPrivateAddressesAtConnectTime() throws Exception {
    JettyDeliveryTransport strict = new JettyDeliveryTransport(dev.metalayer.relay.EgressGuard.publicOnly());
    strict.client().start();
    try {
      var result = strict.send(new dev.metalayer.relay.DeliveryTransport.Request(URI.create(subscriber.url("/x")),
          Map.of("Content-Type", "application/json"), "{}".getBytes(StandardCharsets.UTF_8), Duration.ofSeconds(5)));
      assertThat(result).isInstanceOf(dev.metalayer.relay.DeliveryTransport.Result.Failed.class);
      assertThat(((dev.metalayer.relay.DeliveryTransport.Result.Failed) result).error()).contains("not allowed");
      assertThat(subscriber.count()).isZero();
    } finally {
      strict.client().stop();
    }
  }

  @Test
  void theJettyTransportDoesNotFollowRedirectsAndTimesOut() throws Exception {
    JettyDeliveryTransport open = new JettyDeliveryTransport(dev.metalayer.relay.EgressGuard.of(false, java.util.List.of("127.0.0.0/8")));
    open.client().start();
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    subscriber.answer(r -> {
      if (r.path().equals("/slow")) {
        try {
          release.await(10, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return r.path().equals("/moved")
          ? new RecordingSubscriber.Answer(301, Map.of("Location", subscriber.url("/target")), "")
          : RecordingSubscriber.Answer.of(200);
    });
    try {
      var moved = open.send(new dev.metalayer.relay.DeliveryTransport.Request(URI.create(subscriber.url("/moved")),
          Map.of(), new byte[0], Duration.ofSeconds(5)));
      assertThat(moved).isEqualTo(new dev.metalayer.relay.DeliveryTransport.Result.Answered(301, java.util.Optional.empty(), ""));
      var slow = open.send(new dev.metalayer.relay.DeliveryTransport.Request(URI.create(subscriber.url("/slow")),
          Map.of(), new byte[0], Duration.ofMillis(300)));
      assertThat(slow).isInstanceOf(dev.metalayer.relay.DeliveryTransport.Result.Failed.class);
      assertThat(((dev.metalayer.relay.DeliveryTransport.Result.Failed) slow).timedOut()).isTrue();
      assertThat(subscriber.received()).extracting(RecordingSubscriber.Received::path).doesNotContain("/target");
    } finally {
      release.countDown();
      open.client().stop();
    }
  }
}

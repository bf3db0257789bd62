package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.RecordingSubscriber;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One tenant cannot make another tenant's call never ring, measured on the real jar: number B has 25
 * subscriptions on hanging subscribers (real HTTP servers that accept and never answer, so each attempt
 * runs to its timeout), 200 call events and a 20,000-delivery message backlog; number A's {@code
 * connect}, sent while all of that is in flight, is delivered within the documented bound (see
 * docs/security.md, "Fairness"). Loopback only; bounded in load (about 25,000 rows) and time.
 */
class FairDeliveryIT {
  static final String APP_SECRET = "fair-app-secret";
  static final String PNID_A = "436666719526789";
  static final String PNID_B = "106540352242922";
  static final String WABA_A = "366634483210360";
  static final String WABA_B = "102290129340398";
  static final int B_SUBSCRIPTIONS = 25;
  static final int B_CALLS = 200;
  static final int B_MESSAGES = 800; // × 25 subscriptions = 20,000 deliveries
  /**
   * The documented bound for a number whose lane has a free worker (always true while at most one
   * other number saturates it): the first pump after the ingest commit. One second of margin on top
   * for a loaded build machine.
   */
  static final Duration RING_BOUND = Duration.ofSeconds(2);
  static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  @Test
  void aNumbersRingIsDeliveredWithinItsBoundWhileAnotherNumberFloodsHangingSubscribers() throws Exception {
    LayerJar jar = LayerJar.in(dir).heap("256m").env("META_APP_SECRET", APP_SECRET)
        .env("LAYER_ALLOWED_TARGET_CIDRS", "127.0.0.0/8");
    jar.addNumber("+13175551399", PNID_A, WABA_A, "900", "EAAG-a");
    jar.addNumber("+15550783881", PNID_B, WABA_B, "900", "EAAG-b");
    String keyA = jar.createKey(PNID_A);
    String keyB = jar.createKey(PNID_B);
    List<Hanging> hanging = new ArrayList<>();
    try (RecordingSubscriber a = RecordingSubscriber.start(); LayerJar.Running layer = jar.start()) {
      for (int i = 0; i < 5; i++) {
        hanging.add(Hanging.start());
      }
      subscribe(layer.base(), keyA, a.url("/a"));
      for (int i = 0; i < B_SUBSCRIPTIONS; i++) {
        subscribe(layer.base(), keyB, "http://127.0.0.1:" + hanging.get(i % hanging.size()).port() + "/b" + i);
      }

      // B's flood: 200 rings (5,000 call deliveries) and 20,000 message deliveries, all on hanging ends
      long floodStart = System.nanoTime();
      long now = Instant.now().getEpochSecond();
      for (int e = 0; e < B_CALLS / 50; e++) {
        List<String> changes = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
          changes.add(call(PNID_B, "15550783881", "wacid.B" + e + "_" + i, now));
        }
        assertThat(postWebhook(layer.base(), envelope(WABA_B, changes))).isEqualTo(200);
      }
      for (int e = 0; e < B_MESSAGES / 40; e++) {
        List<String> changes = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
          changes.add(message(PNID_B, "15550783881", "wamid.B" + e + "_" + i));
        }
        assertThat(postWebhook(layer.base(), envelope(WABA_B, changes))).isEqualTo(200);
      }
      Duration flood = Duration.ofNanos(System.nanoTime() - floodStart);
      // B's attempts hang in both lanes (each runs to its timeout: 5 s for calls, 15 s for messages)
      long deadline = System.nanoTime() + CALL_TIMEOUT.toNanos();
      while (hanging.stream().mapToInt(Hanging::accepted).sum() < 16 && System.nanoTime() < deadline) {
        LockSupport.parkNanos(20_000_000L); // a poll interval, not a timing assumption
      }
      assertThat(hanging.stream().mapToInt(Hanging::accepted).sum()).as("B's hanging attempts in flight")
          .isGreaterThanOrEqualTo(16);

      // A rings
      long sent = System.nanoTime();
      assertThat(postWebhook(layer.base(), envelope(WABA_A, List.of(call(PNID_A, "13175551399", "wacid.A1",
          Instant.now().getEpochSecond()))))).isEqualTo(200);
      a.await(1, CALL_TIMEOUT);
      Duration ring = Duration.ofNanos(System.nanoTime() - sent);
      assertThat(a.received().get(0).text()).contains("wacid.A1").contains("\"event\":\"connect\"");

      // and A's message, behind B's 20,000-delivery backlog in the default lane
      long sentMessage = System.nanoTime();
      assertThat(postWebhook(layer.base(), envelope(WABA_A, List.of(message(PNID_A, "13175551399", "wamid.A1")))))
          .isEqualTo(200);
      a.await(2, CALL_TIMEOUT);
      Duration message = Duration.ofNanos(System.nanoTime() - sentMessage);

      int inFlight = hanging.stream().mapToInt(Hanging::accepted).sum();
      System.out.printf("FairDeliveryIT: A's connect delivered %d ms after its webhook, A's message %d ms, with B's"
          + " %d subscriptions hanging (%d connections accepted, never answered), %d rings and %d message"
          + " deliveries queued (B's %d webhooks acknowledged in %d ms)%n", ring.toMillis(), message.toMillis(), B_SUBSCRIPTIONS,
          inFlight, B_CALLS * B_SUBSCRIPTIONS, B_MESSAGES * B_SUBSCRIPTIONS, B_CALLS / 50 + B_MESSAGES / 40,
          flood.toMillis());
      assertThat(ring).as("A's ring").isLessThan(RING_BOUND);
      assertThat(message).as("A's message").isLessThan(RING_BOUND);
      assertThat(layer.log()).doesNotContain("OutOfMemoryError");
      for (Hanging h : hanging) {
        h.close(); // before the layer stops: its in-flight attempts end at once instead of at their timeout
      }
    } finally {
      for (Hanging h : hanging) {
        h.close();
      }
    }
  }

  private void subscribe(URI base, String key, String url) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve("/v1/webhooks")).timeout(CALL_TIMEOUT)
        .header("x-api-key", key).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"s\",\"url\":\"" + url
            + "\",\"events\":[\"calls\",\"messages\"]}")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    JsonNode created = JSON.readTree(r.body());
    assertThat(created.path("id").asText()).startsWith("wh_");
  }

  private int postWebhook(URI base, byte[] body) throws Exception {
    return http.send(HttpRequest.newBuilder(base.resolve("/webhooks/meta")).timeout(CALL_TIMEOUT)
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", MetaFixtures.metaSignature(APP_SECRET, body))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  static byte[] envelope(String waba, List<String> changes) {
    return ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + waba + "\",\"changes\":["
        + String.join(",", changes) + "]}]}").getBytes(StandardCharsets.UTF_8);
  }

  static String call(String pnid, String display, String callId, long timestamp) {
    return "{\"field\":\"calls\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\""
        + display + "\",\"phone_number_id\":\"" + pnid + "\"},\"calls\":[{\"id\":\"" + callId
        + "\",\"from\":\"12185552828\",\"to\":\"" + display + "\",\"event\":\"connect\",\"timestamp\":\"" + timestamp
        + "\",\"direction\":\"USER_INITIATED\"}]}}";
  }

  static String message(String pnid, String display, String wamid) {
    return "{\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\""
        + display + "\",\"phone_number_id\":\"" + pnid + "\"},\"messages\":[{\"from\":\"16315553602\",\"id\":\"" + wamid
        + "\",\"timestamp\":\"1749196801\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}]}}";
  }

  /** A real HTTP server that accepts every connection and never answers (nor closes) until closed. */
  static final class Hanging implements AutoCloseable {
    private final ServerSocket server;
    private final List<Socket> held = new CopyOnWriteArrayList<>();
    private final AtomicInteger accepted = new AtomicInteger();

    private Hanging(ServerSocket server) {
      this.server = server;
    }

    static Hanging start() throws IOException {
      Hanging h = new Hanging(new ServerSocket(0, 200, InetAddress.getLoopbackAddress()));
      Thread t = new Thread(h::acceptAll, "hanging-subscriber-" + h.port());
      t.setDaemon(true);
      t.start();
      return h;
    }

    private void acceptAll() {
      while (!server.isClosed()) {
        try {
          held.add(server.accept());
          accepted.incrementAndGet();
        } catch (IOException closed) {
          return;
        }
      }
    }

    int port() {
      return server.getLocalPort();
    }

    int accepted() {
      return accepted.get();
    }

    @Override
    public void close() throws IOException {
      server.close();
      for (Socket s : held) {
        s.close();
      }
    }
  }
}

package dev.metalayer.jetty;

import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static dev.metalayer.jetty.Layer.PNID;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import dev.metalayer.json.Json;
import dev.metalayer.testing.MetaFixtures;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bodies read before anyone is authenticated: a credential in the header is checked before a form is
 * read and a missing webhook signature before the webhook's body, a keyless form has its own small limit, a body trickled past the read deadline is a 408, and
 * a full budget of buffered bytes is a 503 with {@code Retry-After} that clears when the holder goes.
 * The layer runs with a 64 KiB budget and a 1 s read deadline.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BodyBoundsTest {
  static final int BUDGET = 64 * 1024;
  WireMockServer meta;
  Layer layer;

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    meta = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    meta.start();
    layer = Layer.start(dir, meta.baseUrl(),
        Map.of(Option.BODY_BUFFER_BYTES, String.valueOf(BUDGET), Option.BODY_READ_TIMEOUT, "1s"));
  }

  @AfterAll
  void stop() throws Exception {
    layer.close();
    meta.stop();
  }

  @BeforeEach
  void reset() throws Exception {
    meta.resetAll();
    meta.stubFor(post(urlPathEqualTo("/v13.0/" + PNID + "/messages")).willReturn(okJson("{\"messages\":[{\"id\":\"wamid.1\"}]}")));
    awaitNothingHeld();
  }

  @Test
  void aFormWithAnUnknownKeyInTheHeaderIsRefusedBeforeItsBodyIsSent() throws Exception {
    try (Socket socket = socket()) {
      head(socket, "/api/layer/meta/v13.0/" + PNID + "/messages", "application/x-www-form-urlencoded", 1_000_000,
          "Authorization: Bearer ps_live_" + "x".repeat(40) + "\r\n");
      // not a byte of the body is sent: the answer comes anyway
      String answer = answer(socket);
      assertThat(answer).startsWith("HTTP/1.1 401").contains("\"code\":190");
    }
    assertThat(meta.getAllServeEvents()).isEmpty();
  }

  @Test
  void anUnsignedWebhookIsRefusedBeforeItsBodyIsSent() throws Exception {
    try (Socket socket = socket()) {
      head(socket, "/webhooks/meta", "application/json", 3_000_000, "");
      assertThat(answer(socket)).startsWith("HTTP/1.1 401").contains("Missing X-Hub-Signature-256");
    }
  }

  @Test
  void aFormThatCarriesItsOwnKeyIsReadUpToSixtyFourKilobytesOnly() throws Exception {
    String small = "access_token=" + layer.key + "&to=15551234567&type=text&text=" + "h".repeat(1000);
    HttpResponse<String> ok = postForm("/v13.0/" + PNID + "/messages", small);
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(meta.getAllServeEvents()).hasSize(1);

    String large = "access_token=" + layer.key + "&text=" + "h".repeat(70 * 1024);
    HttpResponse<String> refused = postForm("/v13.0/" + PNID + "/messages", large);
    assertThat(refused.statusCode()).isEqualTo(413);
    assertThat(error(refused).get("message").asText()).contains("64 KB").contains("Authorization header");
    assertThat(meta.getAllServeEvents()).hasSize(1);
  }

  @Test
  void aWebhookBodyTrickledPastTheReadDeadlineIs408AndTheConnectionCloses() throws Exception {
    long started = System.nanoTime();
    try (Socket socket = socket()) {
      head(socket, "/webhooks/meta", "application/json", 100, "X-Hub-Signature-256: sha256=" + "0".repeat(64) + "\r\n");
      OutputStream out = socket.getOutputStream();
      // one byte every 200 ms: an idle timeout never fires, the read deadline does
      for (int i = 0; i < 15 && !socket.isClosed(); i++) {
        try {
          out.write('{');
          out.flush();
        } catch (IOException closedByTheLayer) {
          break;
        }
        Thread.sleep(200); // the attacker's pace, not a wait for the layer
        if (socket.getInputStream().available() > 0) {
          break;
        }
      }
      assertThat(answer(socket)).startsWith("HTTP/1.1 408").contains("LAYER_BODY_READ_TIMEOUT").contains("Connection: close");
    }
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(3));
  }

  @Test
  void aFullBudgetIs503WithRetryAfterAndClearsWhenTheHolderGoes() throws Exception {
    byte[] webhook = MetaFixtures.bytes("multi-entry.json");
    try (Socket holder = socket()) {
      // declares 60 KiB (held at once) and sends almost all of it, then stalls
      head(holder, "/webhooks/meta", "application/json", 60 * 1024, "X-Hub-Signature-256: sha256=" + "0".repeat(64) + "\r\n");
      holder.getOutputStream().write(new byte[59 * 1024]);
      holder.getOutputStream().flush();
      awaitHeld(60 * 1024);

      HttpResponse<String> busy = postWebhook(new byte[8 * 1024]);
      assertThat(busy.statusCode()).isEqualTo(503);
      assertThat(busy.headers().firstValue("Retry-After")).hasValue("5");
      assertThat(error(busy).get("message").asText()).contains("LAYER_BODY_BUFFER_BYTES");
    }
    awaitNothingHeld();
    assertThat(postWebhook(webhook).statusCode()).isEqualTo(200);
  }

  HttpResponse<String> postWebhook(byte[] body) throws Exception {
    return layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/webhooks/meta"))
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", MetaFixtures.metaSignature(Layer.APP_SECRET, body))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)));
  }

  HttpResponse<String> postForm(String path, String form) throws Exception {
    return layer.send(HttpRequest.newBuilder(URI.create(layer.base() + path))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString(form)));
  }

  static JsonNode error(HttpResponse<String> r) throws IOException {
    JsonNode error = Json.mapper().readTree(r.body()).get("error");
    assertThat(error.get("fbtrace_id").asText()).isNotBlank();
    return error;
  }

  Socket socket() throws IOException {
    Socket s = new Socket("127.0.0.1", layer.server.port());
    s.setSoTimeout(5_000);
    return s;
  }

  static void head(Socket socket, String path, String contentType, long length, String extraHeaders) throws IOException {
    socket.getOutputStream().write(("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: " + contentType
        + "\r\nContent-Length: " + length + "\r\n" + extraHeaders + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
    socket.getOutputStream().flush();
  }

  /** The answer's head and body as far as they come within the socket timeout. */
  static String answer(Socket socket) throws IOException {
    InputStream in = socket.getInputStream();
    StringBuilder s = new StringBuilder();
    byte[] buffer = new byte[4096];
    try {
      for (int n; (n = in.read(buffer)) >= 0; ) {
        s.append(new String(buffer, 0, n, StandardCharsets.UTF_8));
        if (s.indexOf("\r\n\r\n") >= 0 && s.indexOf("}}") >= 0) {
          break;
        }
      }
    } catch (java.net.SocketTimeoutException e) {
      // whatever came is the answer
    }
    return s.toString();
  }

  void awaitNothingHeld() throws Exception {
    awaitHeld(0);
  }

  /** Polls {@code /readyz} (at most 5 s) until the bytes held equal {@code bytes}. */
  void awaitHeld(long bytes) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    long held = -1;
    while (System.nanoTime() < deadline) {
      HttpResponse<String> r = layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/readyz")).GET());
      held = Json.mapper().readTree(r.body()).get("body_bytes_held").asLong();
      if (held == bytes) {
        return;
      }
      Thread.sleep(50); // a poll interval
    }
    assertThat(held).as("bytes of bodies held").isEqualTo(bytes);
  }
}

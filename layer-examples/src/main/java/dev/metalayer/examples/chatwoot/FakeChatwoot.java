package dev.metalayer.examples.chatwoot;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.crypto.Secrets;
import dev.metalayer.json.Json;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;

/**
 * A local stand-in for Chatwoot (v4.15) with a {@code whatsapp_cloud} inbox whose
 * {@code WHATSAPP_CLOUD_BASE_URL} points at the layer: it makes exactly Chatwoot's Graph requests
 * (the URLs, versions, headers and bodies of Chatwoot v4.15.1's
 * {@code app/services/whatsapp/providers/whatsapp_cloud_service.rb} and its Enterprise calling
 * overlay, in github.com/chatwoot/chatwoot), and receives webhooks on
 * {@code /webhooks/whatsapp/<phone>} with Chatwoot's rules: the {@code X-Hub-Signature-256} is checked
 * over the raw bytes with the inbox's {@code app_secret}, and only {@code entry[0].changes[0]} is read.
 */
public final class FakeChatwoot implements AutoCloseable {

  /** A webhook Chatwoot accepted, with what it read of it. */
  public record Received(
      String rawBody, JsonNode change, String field, String webhookId, boolean signatureValid,
      int entries, int changes, long arrivedNanos) {}

  /** A Graph answer as Chatwoot's HTTParty sees it. */
  public record Answer(int status, JsonNode body, String raw) {
    public boolean success() {
      return status >= 200 && status < 300 && body.path("error").isMissingNode();
    }
  }

  private final String phone;
  private final String phoneNumberId;
  private final String wabaId;
  private final String appSecret;
  private final HttpClient http = HttpClient.newBuilder()
      .connectTimeout(Duration.ofSeconds(5)).followRedirects(HttpClient.Redirect.NEVER).build();
  private final Server server = new Server();
  private final ServerConnector connector = new ServerConnector(server);
  private final BlockingQueue<Received> received = new LinkedBlockingQueue<>();
  private volatile URI layerBase;
  private volatile String apiKey;

  /**
   * @param phone the inbox phone, E.164 with {@code +}
   * @param appSecret the inbox {@code provider_config.app_secret}: Chatwoot verifies signatures with it
   */
  public FakeChatwoot(String phone, String phoneNumberId, String wabaId, String appSecret) {
    this.phone = phone;
    this.phoneNumberId = phoneNumberId;
    this.wabaId = wabaId;
    this.appSecret = appSecret;
    connector.setHost("127.0.0.1");
    server.addConnector(connector);
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) throws Exception {
        receive(request, response, callback);
        return true;
      }
    });
  }

  public FakeChatwoot start() throws Exception {
    server.start();
    return this;
  }

  /** Configures the inbox: {@code WHATSAPP_CLOUD_BASE_URL} and the inbox's API key. */
  public void configure(URI whatsappCloudBaseUrl, String apiKey) {
    this.layerBase = whatsappCloudBaseUrl;
    this.apiKey = apiKey;
  }

  /** Chatwoot's own callback URL for this inbox: {@code {FRONTEND_URL}/webhooks/whatsapp/{phone}}. */
  public URI webhookUrl() {
    return URI.create("http://127.0.0.1:" + connector.getLocalPort() + "/webhooks/whatsapp/" + phone);
  }

  /** Waits for the next webhook Chatwoot accepts. */
  public Optional<Received> nextWebhook(Duration timeout) throws InterruptedException {
    return Optional.ofNullable(received.poll(timeout.toMillis(), TimeUnit.MILLISECONDS));
  }

  // ---- Chatwoot's Graph requests (whatsapp_cloud_service.rb)

  /** A text message, {@code context} null when not a reply. */
  public Answer sendText(String to, String text) throws Exception {
    return post("/v13.0/" + phoneNumberId + "/messages",
        "{\"messaging_product\":\"whatsapp\",\"context\":null,\"to\":\"" + to + "\",\"text\":{\"body\":\"" + text
            + "\"},\"type\":\"text\"}");
  }

  /** Pre_accept then accept with the same SDP answer. */
  public Answer preAccept(String callId, String sdpAnswer) throws Exception {
    return callAction(callId, "pre_accept", sdpAnswer);
  }

  public Answer accept(String callId, String sdpAnswer) throws Exception {
    return callAction(callId, "accept", sdpAnswer);
  }

  /** Declines a ringing call. */
  public Answer reject(String callId) throws Exception {
    return post("/v22.0/" + phoneNumberId + "/calls",
        "{\"messaging_product\":\"whatsapp\",\"call_id\":\"" + callId + "\",\"action\":\"reject\"}");
  }

  /** Terminates a call. */
  public Answer terminate(String callId) throws Exception {
    return post("/v22.0/" + phoneNumberId + "/calls",
        "{\"messaging_product\":\"whatsapp\",\"call_id\":\"" + callId + "\",\"action\":\"terminate\"}");
  }

  /** An outbound call; Chatwoot reads {@code calls[0].id}. */
  public Answer connect(String to, String sdpOffer) throws Exception {
    return post("/v22.0/" + phoneNumberId + "/calls",
        "{\"messaging_product\":\"whatsapp\",\"to\":\"" + to + "\",\"action\":\"connect\",\"session\":{\"sdp\":"
            + Json.mapper().writeValueAsString(sdpOffer) + ",\"sdp_type\":\"offer\"}}");
  }

  /** The call permission request; Chatwoot stores {@code messages[0].id}. */
  public Answer requestCallPermission(String to) throws Exception {
    return post("/v22.0/" + phoneNumberId + "/messages",
        "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\",\"to\":\"" + to + "\","
            + "\"type\":\"interactive\",\"interactive\":{\"type\":\"call_permission_request\","
            + "\"action\":{\"name\":\"call_permission_request\"},"
            + "\"body\":{\"text\":\"We would like to call you regarding your conversation.\"}}}");
  }

  /** The only settings write Chatwoot ever makes. */
  public Answer enableVoiceCalling() throws Exception {
    return post("/v22.0/" + phoneNumberId + "/settings", "{\"calling\":{\"status\":\"ENABLED\"}}");
  }

  /** Media lookup, Bearer plus {@code Content-Type: application/json}; Chatwoot reads only {@code url}. */
  public Answer lookupMedia(String mediaId) throws Exception {
    HttpRequest request = HttpRequest.newBuilder(URI.create(layerBase + "/v13.0/" + mediaId))
        .timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + apiKey)
        .header("Content-Type", "application/json")
        .GET().build();
    return answer(http.send(request, HttpResponse.BodyHandlers.ofString()));
  }

  /** The download of the {@code url} the lookup gave, with the same Bearer header. */
  public HttpResponse<byte[]> download(String url) throws Exception {
    HttpRequest request = HttpRequest.newBuilder(URI.create(url))
        .timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + apiKey)
        .header("Content-Type", "application/json")
        .GET().build();
    return http.send(request, HttpResponse.BodyHandlers.ofByteArray());
  }

  /** Template sync with the key in the query, following {@code paging.next} verbatim. */
  public Answer syncTemplates() throws Exception {
    URI uri = URI.create(layerBase + "/v14.0/" + wabaId + "/message_templates?access_token=" + apiKey);
    return answer(http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).GET().build(),
        HttpResponse.BodyHandlers.ofString()));
  }

  private Answer callAction(String callId, String action, String sdp) throws Exception {
    return post("/v22.0/" + phoneNumberId + "/calls",
        "{\"messaging_product\":\"whatsapp\",\"call_id\":\"" + callId + "\",\"action\":\"" + action
            + "\",\"session\":{\"sdp\":" + Json.mapper().writeValueAsString(sdp) + ",\"sdp_type\":\"answer\"}}");
  }

  private Answer post(String path, String json) throws Exception {
    HttpRequest request = HttpRequest.newBuilder(URI.create(layerBase + path))
        .timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + apiKey)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json)).build();
    return answer(http.send(request, HttpResponse.BodyHandlers.ofString()));
  }

  private static Answer answer(HttpResponse<String> response) throws IOException {
    JsonNode body;
    try {
      body = Json.mapper().readTree(response.body());
    } catch (IOException e) {
      body = Json.mapper().createObjectNode();
    }
    return new Answer(response.statusCode(), body == null ? Json.mapper().createObjectNode() : body, response.body());
  }

  // ---- Chatwoot's webhook endpoint (app/controllers/webhooks/whatsapp_controller.rb)

  private void receive(Request request, Response response, Callback callback) throws IOException {
    long arrived = System.nanoTime();
    byte[] raw;
    try (InputStream in = Content.Source.asInputStream(request)) {
      raw = in.readAllBytes();
    }
    String path = request.getHttpURI().getDecodedPath();
    if (!request.getMethod().equals("POST") || !path.equals("/webhooks/whatsapp/" + phone)) {
      response.setStatus(404);
      callback.succeeded();
      return;
    }
    String header = request.getHeaders().get("X-Hub-Signature-256");
    boolean valid = header != null && Secrets.constantTimeEquals(header,
        "sha256=" + Secrets.hex(Secrets.hmacSha256(appSecret.getBytes(StandardCharsets.UTF_8), raw)));
    if (!valid) {
      response.setStatus(401); // Chatwoot: mismatch or missing header -> 401, empty body
      callback.succeeded();
      return;
    }
    JsonNode envelope = Json.mapper().readTree(raw);
    JsonNode change = envelope.path("entry").path(0).path("changes").path(0);
    int changes = 0;
    for (JsonNode entry : envelope.path("entry")) {
      changes += entry.path("changes").size();
    }
    received.add(new Received(new String(raw, StandardCharsets.UTF_8), change, change.path("field").asText(),
        request.getHeaders().get("webhook-id"), true, envelope.path("entry").size(), changes, arrived));
    response.setStatus(200);
    callback.succeeded();
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }
}

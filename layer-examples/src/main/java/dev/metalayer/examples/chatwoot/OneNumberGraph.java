package dev.metalayer.examples.chatwoot;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.metalayer.json.Json;
import java.io.InputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;

/**
 * A local stand-in for {@code graph.facebook.com} that behaves like the WhatsApp Cloud calling API
 * for one number: it accepts only the number's real Meta token, sends messages, refuses a
 * business-initiated {@code connect} with {@code 138006} until the user granted call permission, a call
 * permission request with {@code 138009} while the day's request to the user is spent,
 * checks that {@code accept} carries the {@code pre_accept} SDP, serves media in two steps (lookup,
 * then an authenticated download) and keeps {@code /settings} with Meta's replace semantics (an
 * omitted part of {@code calling} is deleted). Every request it receives is recorded.
 */
public final class OneNumberGraph implements AutoCloseable {

  /** One request as Meta saw it. */
  public record Seen(String method, String path, String query, Map<String, String> headers, String body) {}

  private final String phoneNumberId;
  private final String wabaId;
  private final String metaToken;
  private final Server server = new Server();
  private final ServerConnector connector = new ServerConnector(server);
  private final List<Seen> seen = new CopyOnWriteArrayList<>();
  private final Set<String> permittedUsers = ConcurrentHashMap.newKeySet();
  private final Map<String, String> preAcceptedSdp = new ConcurrentHashMap<>();
  private final Map<String, byte[]> media = new ConcurrentHashMap<>();
  private final Map<String, java.time.Instant> permissionRequestsSpent = new ConcurrentHashMap<>();
  private final AtomicInteger ids = new AtomicInteger();
  private volatile ObjectNode settings;
  private volatile Consumer<Seen> listener = s -> {};

  public OneNumberGraph(String phoneNumberId, String wabaId, String metaToken) {
    this.phoneNumberId = phoneNumberId;
    this.wabaId = wabaId;
    this.metaToken = metaToken;
    this.settings = (ObjectNode) parse(
        "{\"calling\":{\"status\":\"DISABLED\",\"call_icon_visibility\":\"DEFAULT\","
            + "\"call_hours\":{\"status\":\"ENABLED\",\"timezone_id\":\"America/Sao_Paulo\","
            + "\"weekly_operating_hours\":[{\"day_of_week\":\"MONDAY\",\"open_time\":\"0900\",\"close_time\":\"1800\"}],"
            + "\"holiday_schedule\":[{\"date\":\"2026-12-25\",\"start_time\":\"0000\",\"end_time\":\"2359\"}]},"
            + "\"callback_permission_status\":\"ENABLED\"}}");
    connector.setHost("127.0.0.1");
    server.addConnector(connector);
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) throws Exception {
        OneNumberGraph.this.handle(request, response, callback);
        return true;
      }
    });
  }

  public OneNumberGraph start() throws Exception {
    server.start();
    return this;
  }

  public URI baseUri() {
    return URI.create("http://127.0.0.1:" + connector.getLocalPort());
  }

  /** Everything Meta received, in order. */
  public List<Seen> seen() {
    return List.copyOf(seen);
  }

  /** Called for every request Meta receives (for a timeline). */
  public void onRequest(Consumer<Seen> listener) {
    this.listener = listener;
  }

  /** The user (wa_id) accepted the business's call permission request. */
  public void grantCallPermission(String waId) {
    permittedUsers.add(waId);
  }

  /**
   * The business already sent its call permission request of the day to the user (Meta allows one a
   * day): until {@code nextAllowed}, another is refused with {@code 138009}, naming that time.
   */
  public void permissionRequestSpent(String waId, java.time.Instant nextAllowed) {
    permissionRequestsSpent.put(waId, nextAllowed);
  }

  /** Makes a media object available for lookup and download. */
  public void putMedia(String mediaId, byte[] bytes) {
    media.put(mediaId, bytes);
  }

  public JsonNode settings() {
    return settings.deepCopy();
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }

  private void handle(Request request, Response response, Callback callback) throws Exception {
    String body;
    try (InputStream in = Content.Source.asInputStream(request)) {
      body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    Map<String, String> headers = new TreeMap<>();
    for (HttpField f : request.getHeaders()) {
      headers.put(f.getLowerCaseName(), f.getValue());
    }
    String path = request.getHttpURI().getPath();
    String query = request.getHttpURI().getQuery();
    Seen s = new Seen(request.getMethod(), path, query == null ? "" : query, headers, body);
    seen.add(s);
    listener.accept(s);

    if (!("Bearer " + metaToken).equals(headers.get("authorization"))) {
      error(response, callback, 401, 190, "Error validating access token: Session has expired.", null);
      return;
    }
    String[] parts = path.replaceFirst("^/v[0-9.]+/", "/").substring(1).split("/");
    String object = parts[0];
    String edge = parts.length > 1 ? parts[1] : "";
    if (object.equals("media-bytes")) {
      byte[] bytes = media.get(edge);
      if (bytes == null) {
        error(response, callback, 404, 100, "Media not found", null);
        return;
      }
      response.getHeaders().put(HttpHeader.CONTENT_TYPE, "image/jpeg");
      response.getHeaders().put("Content-Disposition", "attachment; filename=\"photo.jpg\"");
      response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
      response.write(true, ByteBuffer.wrap(bytes), callback);
      return;
    }
    if (media.containsKey(object) && edge.isEmpty()) {
      Fields q = Request.extractQueryParameters(request);
      if (q.get("phone_number_id") != null && !phoneNumberId.equals(q.get("phone_number_id").getValue())) {
        error(response, callback, 400, 100, "Media does not belong to this phone number", null);
        return;
      }
      byte[] bytes = media.get(object);
      json(response, callback, 200, "{\"messaging_product\":\"whatsapp\",\"url\":\"" + baseUri() + "/media-bytes/" + object
          + "?mid=" + object + "&ext=1750000000&hash=ATta\",\"mime_type\":\"image/jpeg\",\"sha256\":\"e3b0\","
          + "\"file_size\":" + bytes.length + ",\"id\":\"" + object + "\"}");
      return;
    }
    if (object.equals(wabaId) && edge.equals("message_templates")) {
      json(response, callback, 200, "{\"data\":[{\"name\":\"hello_world\",\"language\":\"en_US\",\"status\":\"APPROVED\","
          + "\"category\":\"UTILITY\",\"id\":\"1192339204654487\"}],\"paging\":{\"cursors\":{\"before\":\"MAZDZD\",\"after\":\"MjQZD\"}}}");
      return;
    }
    if (!object.equals(phoneNumberId)) {
      error(response, callback, 400, 100, "Unsupported request: object does not exist", null);
      return;
    }
    switch (edge) {
      case "messages" -> messages(parse(body), response, callback);
      case "calls" -> calls(parse(body), response, callback);
      case "settings" -> settings(request.getMethod(), parse(body), response, callback);
      default -> error(response, callback, 400, 100, "Unsupported request", null);
    }
  }

  private void messages(JsonNode body, Response response, Callback callback) {
    String to = body.path("to").asText();
    java.time.Instant nextAllowed = permissionRequestsSpent.get(to);
    if (nextAllowed != null && "call_permission_request".equals(body.path("interactive").path("type").asText())
        && java.time.Instant.now().isBefore(nextAllowed)) {
      ObjectNode e = Json.mapper().createObjectNode();
      ObjectNode inner = e.putObject("error");
      inner.put("message", "(#138009) Call permission request limit reached").put("type", "OAuthException")
          .put("code", 138009);
      inner.putObject("error_data").put("messaging_product", "whatsapp")
          .put("details", "The business has reached the limit of call permission requests to this user;"
              + " the next one is allowed after " + nextAllowed + ".");
      inner.put("fbtrace_id", "AFakeTrace");
      json(response, callback, 400, e.toString());
      return;
    }
    String wamid = "wamid.FAKE" + ids.incrementAndGet();
    json(response, callback, 200, "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":\"" + to
        + "\",\"wa_id\":\"" + to + "\"}],\"messages\":[{\"id\":\"" + wamid + "\"}]}");
  }

  private void calls(JsonNode body, Response response, Callback callback) {
    String action = body.path("action").asText();
    String callId = body.path("call_id").asText();
    String sdp = body.path("session").path("sdp").asText(null);
    switch (action) {
      case "connect" -> {
        String to = body.path("to").asText();
        if (!permittedUsers.contains(to)) {
          error(response, callback, 400, 138006, "(#138006) No approved call permission from the recipient",
              "Call permission required");
          return;
        }
        json(response, callback, 200, "{\"messaging_product\":\"whatsapp\",\"calls\":[{\"id\":\"wacid.FAKE"
            + ids.incrementAndGet() + "\"}]}");
      }
      case "pre_accept" -> {
        preAcceptedSdp.put(callId, sdp == null ? "" : sdp);
        success(response, callback);
      }
      case "accept" -> {
        if (!preAcceptedSdp.getOrDefault(callId, "").equals(sdp)) {
          error(response, callback, 400, 100, "(#100) accept must carry the pre_accept SDP", "Invalid SDP");
          return;
        }
        success(response, callback);
      }
      case "reject", "terminate" -> success(response, callback);
      default -> error(response, callback, 400, 100, "(#100) Invalid parameter: action", null);
    }
  }

  private void settings(String method, JsonNode body, Response response, Callback callback) {
    if (method.equals("GET")) {
      json(response, callback, 200, settings.toString());
      return;
    }
    if (body.has("calling")) {
      ObjectNode next = settings.deepCopy();
      next.set("calling", body.get("calling")); // Meta's semantics: the calling object is replaced
      settings = next;
    }
    json(response, callback, 200, "{\"success\":true}");
  }

  private static void success(Response response, Callback callback) {
    json(response, callback, 200, "{\"messaging_product\":\"whatsapp\",\"success\":true}");
  }

  private static void error(Response response, Callback callback, int status, int code, String message, String userMsg) {
    ObjectNode e = Json.mapper().createObjectNode();
    ObjectNode inner = e.putObject("error");
    inner.put("message", message).put("type", "OAuthException").put("code", code);
    if (userMsg != null) {
      inner.put("error_user_msg", userMsg);
    }
    inner.put("fbtrace_id", "AFakeTrace");
    json(response, callback, status, e.toString());
  }

  private static void json(Response response, Callback callback, int status, String body) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=UTF-8");
    response.getHeaders().put("x-fb-trace-id", "AFakeTrace");
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
    response.write(true, ByteBuffer.wrap(bytes), callback);
  }

  private static JsonNode parse(String body) {
    try {
      return body == null || body.isBlank() ? Json.mapper().createObjectNode() : Json.mapper().readTree(body);
    } catch (Exception e) {
      return Json.mapper().createObjectNode();
    }
  }
}

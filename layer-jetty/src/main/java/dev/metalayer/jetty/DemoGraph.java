package dev.metalayer.jetty;

import dev.metalayer.relay.CallWebhookRelay;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.metalayer.graph.GraphError;
import dev.metalayer.json.Json;
import dev.metalayer.keys.WhatsAppNumber;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Base64;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;

/**
 * A stand-in for {@code graph.facebook.com}, served by the layer itself under {@value #PATH}, for a
 * first try without a Meta account: with {@code LAYER_GRAPH_URL=demo} (or {@code --graph-url demo}) the
 * layer forwards every Graph call here instead of to Meta, and nothing leaves the machine. It answers
 * the way Meta does, with Meta's shapes, and remembers nothing it does not need to:
 *
 * <ul>
 *   <li>{@code POST /{phone-number-id}/messages}: {@code contacts} and {@code messages[0].id} (a new
 *       {@code wamid.…}; {@code message_status:"accepted"} for a template); a call permission request
 *       ({@code interactive.type} {@code call_permission_request}) to a user asked already in the last 24
 *       hours is refused as Meta does, with {@code 138009} and the time of the next allowed one;
 *   <li>{@code GET|POST|DELETE /{waba-id}/message_templates}: one approved {@code hello_world} template;
 *   <li>{@code POST /{phone-number-id}/media} (an upload: {@code {"id":…}}), {@code GET /{media-id}} (the
 *       media object with a {@code url} under {@value #PATH}), the download of that {@code url} (a small
 *       PNG, with the Bearer token like Meta's media host) and {@code DELETE /{media-id}};
 *   <li>{@code POST /{phone-number-id}/calls}: {@code connect} gives a new {@code wacid.…};
 *       {@code pre_accept}, {@code accept}, {@code reject} and {@code terminate} answer
 *       {@code {"messaging_product":"whatsapp","success":true}};
 *   <li>{@code GET /{phone-number-id}/call_permissions}: a temporary permission to call;
 *   <li>{@code GET|POST /{phone-number-id}/settings}: the {@code calling} object, kept per number with
 *       Meta's rule that a write replaces what it names;
 *   <li>{@code GET /{phone-number-id}} and {@code GET /{waba-id}/phone_numbers}: the layer's registered
 *       numbers, as Meta describes a verified Cloud API number ({@code fields} honoured).
 * </ul>
 *
 * It answers requests from this machine only (loopback, or the layer's own address). Like Meta, it
 * refuses a request without an access token (401, Graph error 190), and a provider key
 * ({@code ps_…}) as a malformed token, so that a key the layer failed to swap would show. Anything else
 * gets Meta's {@code (#100) Unsupported … request} error.
 *
 * <p>It also plays a webhook subscriber, under {@value #SUBSCRIBER_PATH} (no token: the layer's
 * deliveries carry none): a {@code POST} there is kept (the last {@value #KEPT} of them) and answered
 * 200, a {@code GET} lists them, newest first, with their signature headers, and {@code GET
 * /_demo-subscriber/last} gives the last one back as it came (its signature headers and its exact
 * bytes), so that a call webhook can be followed from Meta's side to a helpdesk's, and its signature
 * checked, without either.
 */
final class DemoGraph extends Handler.Abstract {
  /** The value of {@code LAYER_GRAPH_URL} that turns the stand-in on. */
  static final String DEMO = "demo";

  /** Where the stand-in answers, on the layer's own port. */
  static final String PATH = "/_demo-graph";

  /** Where the stand-in's webhook subscriber answers, on the layer's own port. */
  static final String SUBSCRIBER_PATH = "/_demo-subscriber";

  static final int KEPT = 20;
  private static final int MAX_BODY = 16 * 1024 * 1024;
  private static final Pattern VERSION = Pattern.compile("v[0-9]{1,3}\\.[0-9]{1,3}");
  private static final Pattern ID = Pattern.compile("[0-9]{1,32}");
  private static final String ATTACHMENTS = "/whatsapp_business/attachments/";

  /** A 16 × 16 PNG: what every media ID holds here. */
  static final byte[] IMAGE = Base64.getDecoder().decode(
      "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAUUlEQVR42mP4//+/6uU0IhFQMQOEIlI1kGRA5hBUjdCAXw+yFAMuCVyCDPilMY1g"
          + "wGMkVgsZcDkal5eooYE0J5HmadKClbSIIy1pkJb4SE3eAE05kfD1pHFpAAAAAElFTkSuQmCC");

  private final String base;
  private final Function<String, Optional<WhatsAppNumber>> number;
  private final Function<String, List<WhatsAppNumber>> numbersOfWaba;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();
  private final Map<String, ObjectNode> calling = new ConcurrentHashMap<>();
  private final Deque<Delivery> received = new ArrayDeque<>();
  /** The last call permission request sent per number and user (Meta allows one a day). */
  private final Map<String, Instant> permissionRequests = new java.util.LinkedHashMap<>() {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Instant> eldest) {
      return size() > KEPT_REQUESTS;
    }
  };
  static final int KEPT_REQUESTS = 10_000;
  static final java.time.Duration PERMISSION_REQUEST_WINDOW = java.time.Duration.ofHours(24);

  /**
   * @param base where the layer reaches this stand-in, e.g. {@code http://127.0.0.1:8080/_demo-graph}
   *     (media URLs point there)
   * @param number the layer's registered number of a phone number ID
   * @param numbersOfWaba the layer's registered numbers of a WABA
   */
  DemoGraph(String base, Function<String, Optional<WhatsAppNumber>> number,
      Function<String, List<WhatsAppNumber>> numbersOfWaba, Clock clock) {
    this.base = base;
    this.number = number;
    this.numbersOfWaba = numbersOfWaba;
    this.clock = clock;
  }

  /** Whether a configured Graph URL asks for the stand-in. */
  static boolean asked(String graphUrl) {
    return graphUrl.strip().equalsIgnoreCase(DEMO);
  }

  /** Where the layer reaches itself: the bound address, or loopback for a wildcard one. */
  static String loopbackBase(String host, int port) {
    String h = host == null || host.isBlank() || host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]")
        ? "127.0.0.1" : host;
    if (h.indexOf(':') >= 0 && !h.startsWith("[")) {
      h = "[" + h + "]";
    }
    return "http://" + h + ":" + port + PATH;
  }

  /** The subscriber half, to mount under {@value #SUBSCRIBER_PATH}. */
  Handler subscriber() {
    return new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) throws IOException {
        return subscribe(request, response, callback);
      }
    };
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) throws IOException {
    if (!fromThisMachine(request)) {
      return error(response, callback, otherMachine());
    }
    String path = request.getHttpURI().getPath();
    path = path == null ? "" : path.substring(Math.min(PATH.length(), path.length()));
    Fields query = Request.extractQueryParameters(request);
    String token = token(request, query);
    if (token == null) {
      return error(response, callback, GraphError.invalidToken("An active access token must be used to query information"
          + " about the current user."));
    }
    if (token.startsWith("ps_")) {
      return error(response, callback, GraphError.invalidToken("Malformed access token " + token.substring(0, 3) + "…"));
    }
    String method = request.getMethod();
    if (path.equals(ATTACHMENTS) && method.equals("GET")) {
      return image(response, callback);
    }
    List<String> segments = Arrays.stream(path.split("/")).filter(s -> !s.isEmpty()).toList();
    if (!segments.isEmpty() && VERSION.matcher(segments.get(0)).matches()) {
      segments = segments.subList(1, segments.size());
    }
    if (segments.isEmpty() || segments.size() > 2 || !ID.matcher(segments.get(0)).matches()) {
      return unsupported(response, callback, method, segments);
    }
    String id = segments.get(0);
    String edge = segments.size() == 2 ? segments.get(1) : "";
    byte[] body = method.equals("POST") ? body(request) : new byte[0];
    ObjectNode answer = switch (method + " " + edge) {
      case "GET " -> query.get("phone_number_id") != null ? media(id) : phoneNumber(id, query);
      case "DELETE " -> success();
      case "POST messages" -> sent(id, body);
      case "GET message_templates" -> templates();
      case "POST message_templates" -> templateCreated(body);
      case "DELETE message_templates" -> success();
      case "POST media" -> Json.mapper().createObjectNode().put("id", newId());
      case "POST calls" -> call(body);
      case "GET call_permissions" -> permissions();
      case "GET settings" -> settings(id);
      case "POST settings" -> writeSettings(id, body);
      case "GET phone_numbers" -> phoneNumbers(id, query);
      default -> null;
    };
    if (answer == null) {
      return unsupported(response, callback, method, segments);
    }
    if (answer.has("error")) {
      HttpIo.writeJson(response, callback, 400, Json.bytes(answer));
      return true;
    }
    HttpIo.writeJson(response, callback, 200, Json.bytes(answer));
    return true;
  }

  // ---- answers

  private ObjectNode sent(String phoneNumberId, byte[] body) {
    JsonNode request = json(body);
    if (request == null || !request.path("to").isTextual()) {
      return invalidParameter("(#100) The parameter to is required.");
    }
    String to = request.path("to").asText();
    if ("call_permission_request".equals(request.path("interactive").path("type").asText())) {
      Optional<ObjectNode> limited = permissionRequest(phoneNumberId, to.replaceAll("[^0-9]", ""));
      if (limited.isPresent()) {
        return limited.get();
      }
    }
    ObjectNode answer = Json.mapper().createObjectNode().put("messaging_product", "whatsapp");
    answer.putArray("contacts").addObject().put("input", to).put("wa_id", to.replaceAll("[^0-9]", ""));
    ObjectNode message = answer.putArray("messages").addObject().put("id", "wamid." + token(24));
    if ("template".equals(request.path("type").asText())) {
      message.put("message_status", "accepted");
    }
    return answer;
  }

  /**
   * Meta's limit of call permission requests, one per user and number in 24 hours: the first is sent and
   * its time kept; another within the 24 hours is refused with 138009, naming when the next one is
   * allowed. At most {@value #KEPT_REQUESTS} pairs are kept (the oldest forgotten first).
   */
  private Optional<ObjectNode> permissionRequest(String phoneNumberId, String user) {
    Instant now = clock.instant();
    String pair = phoneNumberId + " " + user;
    synchronized (permissionRequests) {
      Instant last = permissionRequests.get(pair);
      if (last != null && now.isBefore(last.plus(PERMISSION_REQUEST_WINDOW))) {
        Instant next = last.plus(PERMISSION_REQUEST_WINDOW);
        ObjectNode answer = Json.mapper().createObjectNode();
        ObjectNode error = answer.putObject("error")
            .put("message", "(#138009) Call permission request limit reached")
            .put("type", "OAuthException").put("code", 138009);
        error.putObject("error_data").put("messaging_product", "whatsapp")
            .put("details", "The business has reached the limit of call permission requests to this user;"
                + " the next one is allowed after " + next + ".");
        error.put("fbtrace_id", GraphError.newTraceId());
        return Optional.of(answer);
      }
      permissionRequests.put(pair, now);
      return Optional.empty();
    }
  }

  private ObjectNode templates() {
    ObjectNode answer = Json.mapper().createObjectNode();
    ObjectNode template = answer.putArray("data").addObject()
        .put("name", "hello_world").put("parameter_format", "POSITIONAL").put("language", "en_US")
        .put("status", "APPROVED").put("category", "UTILITY").put("id", "1192339204654487");
    ArrayNode components = template.putArray("components");
    components.addObject().put("type", "HEADER").put("format", "TEXT").put("text", "Hello World");
    components.addObject().put("type", "BODY")
        .put("text", "Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message"
            + " notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us.");
    components.addObject().put("type", "FOOTER").put("text", "WhatsApp Business Platform sample message");
    answer.putObject("paging").putObject("cursors").put("before", "MAZDZD").put("after", "MAZDZD");
    return answer;
  }

  private ObjectNode templateCreated(byte[] body) {
    JsonNode request = json(body);
    if (request == null || !request.path("name").isTextual()) {
      return invalidParameter("(#100) The parameter name is required.");
    }
    return Json.mapper().createObjectNode().put("id", newId()).put("status", "PENDING")
        .put("category", request.path("category").asText("UTILITY"));
  }

  private ObjectNode media(String id) {
    return Json.mapper().createObjectNode()
        .put("messaging_product", "whatsapp")
        .put("url", base + ATTACHMENTS + "?mid=" + id + "&ext=" + (clock.instant().getEpochSecond() + 300) + "&hash=demo")
        .put("mime_type", "image/png")
        .put("sha256", sha256Hex(IMAGE))
        .put("file_size", IMAGE.length)
        .put("id", id);
  }

  private ObjectNode call(byte[] body) {
    JsonNode request = json(body);
    String action = request == null ? "" : request.path("action").asText("");
    return switch (action) {
      case "connect" -> {
        if (!request.path("to").isTextual() || !request.path("session").path("sdp").isTextual()) {
          yield invalidParameter("(#100) Invalid parameter: connect needs to and session.sdp");
        }
        ObjectNode answer = Json.mapper().createObjectNode().put("messaging_product", "whatsapp");
        answer.putArray("calls").addObject().put("id", "wacid." + token(24));
        yield answer;
      }
      case "pre_accept", "accept", "reject", "terminate" -> {
        if (!request.path("call_id").isTextual()) {
          yield invalidParameter("(#100) Invalid parameter: call_id is required");
        }
        yield Json.mapper().createObjectNode().put("messaging_product", "whatsapp").put("success", true);
      }
      default -> invalidParameter("(#100) Invalid parameter: action must be connect, pre_accept, accept, reject"
          + " or terminate");
    };
  }

  private ObjectNode permissions() {
    long now = clock.instant().getEpochSecond();
    ObjectNode answer = Json.mapper().createObjectNode().put("messaging_product", "whatsapp");
    answer.putObject("permission").put("status", "temporary").put("expiration_time", now + 7 * 24 * 3600);
    ArrayNode actions = answer.putArray("actions");
    ObjectNode request = actions.addObject().put("action_name", "send_call_permission_request").put("can_perform_action", true);
    request.putArray("limits").addObject().put("time_period", "PT24H").put("max_allowed", 1).put("current_usage", 0);
    ObjectNode call = actions.addObject().put("action_name", "start_call").put("can_perform_action", true);
    call.putArray("limits").addObject().put("time_period", "PT24H").put("max_allowed", 100).put("current_usage", 0);
    return answer;
  }

  private ObjectNode settings(String phoneNumberId) {
    ObjectNode answer = Json.mapper().createObjectNode();
    answer.set("calling", calling.getOrDefault(phoneNumberId, defaultCalling()).deepCopy());
    return answer;
  }

  private ObjectNode writeSettings(String phoneNumberId, byte[] body) {
    JsonNode request = json(body);
    if (request == null || !request.path("calling").isObject()) {
      return invalidParameter("(#100) Invalid parameter: calling");
    }
    calling.put(phoneNumberId, ((ObjectNode) request.get("calling")).deepCopy());
    return success();
  }

  private static ObjectNode defaultCalling() {
    return Json.mapper().createObjectNode().put("status", "DISABLED").put("call_icon_visibility", "DEFAULT")
        .put("callback_permission_status", "DISABLED");
  }

  private ObjectNode phoneNumber(String id, Fields query) {
    Optional<WhatsAppNumber> registered = number.apply(id);
    if (registered.isEmpty()) {
      return null;
    }
    return fields(describe(registered.get()), query);
  }

  private ObjectNode phoneNumbers(String wabaId, Fields query) {
    ObjectNode answer = Json.mapper().createObjectNode();
    ArrayNode data = answer.putArray("data");
    numbersOfWaba.apply(wabaId).forEach(n -> data.add(fields(describe(n), query)));
    answer.putObject("paging").putObject("cursors").put("before", "QVFIUk").put("after", "QVFIUk");
    return answer;
  }

  private static ObjectNode describe(WhatsAppNumber n) {
    ObjectNode phone = Json.mapper().createObjectNode()
        .put("verified_name", "Meta Layer demo")
        .put("code_verification_status", "VERIFIED")
        .put("display_phone_number", n.phone().substring(1))
        .put("quality_rating", "GREEN")
        .put("platform_type", "CLOUD_API");
    phone.putObject("throughput").put("level", "STANDARD");
    phone.put("id", n.phoneNumberId());
    return phone;
  }

  /** Graph's {@code fields}: the named fields and {@code id}, or all when none are named. */
  private static ObjectNode fields(ObjectNode object, Fields query) {
    Fields.Field asked = query.get("fields");
    if (asked == null || asked.getValue().isBlank()) {
      return object;
    }
    List<String> names = Arrays.stream(asked.getValue().split(",")).map(String::strip).toList();
    ObjectNode kept = Json.mapper().createObjectNode();
    object.properties().forEach(e -> {
      if (e.getKey().equals("id") || names.contains(e.getKey())) {
        kept.set(e.getKey(), e.getValue());
      }
    });
    return kept;
  }

  private static ObjectNode success() {
    return Json.mapper().createObjectNode().put("success", true);
  }

  private static ObjectNode invalidParameter(String message) {
    ObjectNode answer = Json.mapper().createObjectNode();
    answer.putObject("error").put("message", message).put("type", "OAuthException").put("code", 100)
        .put("fbtrace_id", GraphError.newTraceId());
    return answer;
  }

  private boolean image(Response response, Callback callback) {
    response.setStatus(200);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "image/png");
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, IMAGE.length);
    response.write(true, ByteBuffer.wrap(IMAGE), callback);
    return true;
  }

  private static boolean unsupported(Response response, Callback callback, String method, List<String> segments) {
    String object = segments.isEmpty() ? "" : segments.get(0);
    ObjectNode answer = Json.mapper().createObjectNode();
    answer.putObject("error")
        .put("message", "Unsupported " + method.toLowerCase(Locale.ROOT) + " request. Object with ID '" + object
            + "' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            + " This is the layer's Graph stand-in (LAYER_GRAPH_URL=demo): it answers messages, templates, media,"
            + " calls, call_permissions, settings and phone numbers.")
        .put("type", "GraphMethodException").put("code", 100).put("error_subcode", 33)
        .put("fbtrace_id", GraphError.newTraceId());
    HttpIo.writeJson(response, callback, 400, Json.bytes(answer));
    return true;
  }

  private static boolean error(Response response, Callback callback, GraphError error) {
    HttpIo.writeError(response, callback, error);
    return true;
  }

  // ---- the subscriber

  /** The headers a subscriber checks a delivery with. */
  private static final List<String> KEPT_HEADERS =
      List.of("webhook-id", "webhook-timestamp", "webhook-signature", "X-Hub-Signature-256");

  /** A delivery the subscriber received: its signature headers and its exact bytes. */
  private record Delivery(String receivedAt, Map<String, String> headers, byte[] body) {}

  private boolean subscribe(Request request, Response response, Callback callback) throws IOException {
    if (!fromThisMachine(request)) {
      return error(response, callback, otherMachine());
    }
    String path = request.getHttpURI().getPath();
    boolean last = path != null && path.equals(SUBSCRIBER_PATH + "/last");
    switch (request.getMethod()) {
      case "POST" -> {
        Map<String, String> headers = new java.util.LinkedHashMap<>();
        for (String name : KEPT_HEADERS) {
          String value = request.getHeaders().get(name);
          if (value != null) {
            headers.put(name, value);
          }
        }
        Delivery delivery = new Delivery(clock.instant().toString(), headers, body(request, CallWebhookRelay.MAX_BODY_BYTES));
        synchronized (received) {
          received.addFirst(delivery);
          while (received.size() > KEPT) {
            received.removeLast();
          }
        }
        HttpIo.writeJson(response, callback, 200, Json.bytes(success()));
      }
      case "GET" -> {
        if (last) {
          Delivery delivery;
          synchronized (received) {
            delivery = received.peekFirst();
          }
          if (delivery == null) {
            HttpIo.writeError(response, callback, GraphError.notFound("The demo subscriber has received nothing yet."));
            return true;
          }
          // the last delivery as it came: its signature headers and its exact bytes, to check a signature on
          delivery.headers().forEach((name, value) -> response.getHeaders().put(name, value));
          response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
          response.getHeaders().put(HttpHeader.CONTENT_LENGTH, delivery.body().length);
          response.write(true, ByteBuffer.wrap(delivery.body()), callback);
          return true;
        }
        ObjectNode answer = Json.mapper().createObjectNode();
        ArrayNode data = answer.putArray("data");
        synchronized (received) {
          for (Delivery d : received) {
            ObjectNode kept = data.addObject().put("received_at", d.receivedAt());
            ObjectNode headers = kept.putObject("headers");
            d.headers().forEach((name, value) -> headers.put(name.toLowerCase(Locale.ROOT), value));
            JsonNode parsed = json(d.body());
            if (parsed != null) {
              kept.set("body", parsed);
            } else {
              kept.put("body_text", new String(d.body(), StandardCharsets.UTF_8));
            }
          }
        }
        HttpIo.writeJson(response, callback, 200, Json.bytes(answer));
      }
      default -> HttpIo.writeError(response, callback, GraphError.methodNotAllowed("The demo subscriber takes GET and POST."));
    }
    return true;
  }

  // ---- helpers

  private static GraphError otherMachine() {
    return GraphError.outOfScope("The Graph stand-in (LAYER_GRAPH_URL=demo) and its demo subscriber answer this"
        + " machine only.");
  }

  /**
   * Headers a reverse proxy adds (Caddy, Traefik, nginx as usually configured): behind one on the same
   * machine every request comes from loopback. The layer's own requests never carry them (it passes none
   * of them on to Graph, and its deliveries and media downloads send none).
   */
  private static final List<String> PROXY_HEADERS = List.of("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "Via");

  /**
   * Whether a request comes from the machine the layer runs on (loopback, or the address it was sent
   * to), and not through a reverse proxy: the layer's own calls and a newcomer's curl do; nobody else
   * reads the numbers or the webhooks the stand-in holds.
   */
  private static boolean fromThisMachine(Request request) {
    for (String forwarding : PROXY_HEADERS) {
      if (request.getHeaders().contains(forwarding)) {
        return false; // a reverse proxy on this machine passed it on: its client is elsewhere
      }
    }
    if (!(request.getConnectionMetaData().getRemoteSocketAddress() instanceof InetSocketAddress remote)
        || remote.getAddress() == null) {
      return false;
    }
    InetAddress from = remote.getAddress();
    return from.isLoopbackAddress()
        || request.getConnectionMetaData().getLocalSocketAddress() instanceof InetSocketAddress local
            && from.equals(local.getAddress());
  }

  /** The access token of a request: {@code Authorization: Bearer …} or {@code access_token}, as Graph takes it. */
  private static String token(Request request, Fields query) {
    String authorization = request.getHeaders().get(HttpHeader.AUTHORIZATION);
    if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)
        && !authorization.substring(7).isBlank()) {
      return authorization.substring(7).strip();
    }
    Fields.Field field = query.get("access_token");
    return field == null || field.getValue().isBlank() ? null : field.getValue();
  }

  private static byte[] body(Request request) throws IOException {
    return body(request, MAX_BODY);
  }

  /** At most {@code max} bytes: the demo subscriber keeps its last deliveries, each one a webhook at most. */
  private static byte[] body(Request request, int max) throws IOException {
    try (InputStream in = Content.Source.asInputStream(request)) {
      byte[] body = in.readNBytes(max + 1);
      if (body.length > max) {
        throw new IOException("a body over " + max + " bytes sent to the Graph stand-in");
      }
      return body;
    }
  }

  private static JsonNode json(byte[] body) {
    try {
      JsonNode node = Json.mapper().readTree(body);
      return node != null && node.isObject() ? node : null;
    } catch (IOException e) {
      return null;
    }
  }

  private String newId() {
    return Long.toString(1_000_000_000_000_000L + Math.floorMod(random.nextLong(), 8_000_000_000_000_000_000L));
  }

  private String token(int chars) {
    byte[] bytes = new byte[chars];
    random.nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes).substring(0, chars);
  }

  private static String sha256Hex(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}

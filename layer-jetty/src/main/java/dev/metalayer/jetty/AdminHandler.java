package dev.metalayer.jetty;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.MetaLayer;
import dev.metalayer.crypto.Secrets;
import dev.metalayer.graph.GraphError;
import dev.metalayer.keys.FailedAttempts;
import dev.metalayer.keys.KeyService;
import dev.metalayer.keys.NumberRegistration;
import dev.metalayer.relay.DeliveryState;
import dev.metalayer.relay.WebhookSubscriptions;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's API under {@code /admin/v1}: numbers, keys, the store's size, and the webhook subscriptions of a
 * number with their full delivery log ({@code GET /numbers/{id}/webhooks},
 * {@code GET /webhooks/{id}/deliveries?status=&limit=}: the operator's view, with each attempt's
 * latency, error text and answer excerpt, which a number's key does not see). Guarded by
 * {@code Authorization: Bearer $LAYER_ADMIN_TOKEN} (compared in constant time); absent altogether
 * (404) when no admin token is configured. Answers JSON with snake_case names; never echoes a Meta
 * token, and shows a key only in the answer that created it.
 *
 * <p>A wrong or missing token is logged (one line: the source address and its failures so far, never
 * the token presented) and counted per source address ({@link FailedAttempts}): past the limit the
 * source's wrong tokens get 429 with {@code Retry-After} until its window ends, unlogged. The right
 * token always passes: an attacker's failures from a shared address (a TLS proxy, a NAT) never lock
 * the operator out, and a token of 32 or more characters cannot be guessed at any rate.
 */
final class AdminHandler implements Request.Handler {
  private static final Logger log = LoggerFactory.getLogger(AdminHandler.class);
  private static final int MAX_BODY = 64 * 1024;

  private final KeyService keys;
  private final WebhookSubscriptions subscriptions;
  private final Optional<String> adminToken;
  private final Supplier<H2Store.Size> storeSize;
  private final FailedAttempts failures;
  private final BodyReader bodies;

  /** @param bodies the reader of request bodies (no thread waits for one; a shared budget and a read deadline) */
  AdminHandler(MetaLayer layer, Optional<String> adminToken, Supplier<H2Store.Size> storeSize, FailedAttempts failures,
      BodyReader bodies) {
    this.keys = layer.keys();
    this.subscriptions = layer.relay().subscriptions();
    this.adminToken = adminToken;
    this.storeSize = storeSize;
    this.failures = failures;
    this.bodies = bodies;
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    if (adminToken.isEmpty()) {
      HttpIo.writeError(response, callback, GraphError.notFound("Unknown path."));
      return true;
    }
    if (!Secrets.constantTimeEquals(HttpIo.bearer(request).orElse(null), adminToken.get())) {
      refuse(Request.getRemoteAddr(request), HttpIo.bearer(request).isPresent(), response, callback);
      return true;
    }
    String path = request.getHttpURI().getPath().substring("/admin/v1".length());
    String method = request.getMethod();
    route(method, path, request, response, callback);
    return true;
  }

  private void route(String method, String path, Request request, Response response, Callback callback) {
    if (path.equals("/numbers")) {
      switch (method) {
        case "GET" -> HttpIo.writeJson(response, callback, 200,
            Map.of("data", keys.listNumbers().stream().map(AdminViews::number).toList()));
        case "POST" -> addNumber(request, response, callback);
        default -> HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET or POST."));
      }
    } else if (path.startsWith("/numbers/") && path.endsWith("/webhooks")
        && path.indexOf('/', 9) == path.length() - "/webhooks".length()) {
      String id = path.substring("/numbers/".length(), path.length() - "/webhooks".length());
      if (!method.equals("GET")) {
        HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET."));
      } else {
        HttpIo.writeJson(response, callback, 200,
            Map.of("data", subscriptions.list(id).stream().map(WebhookViews::subscription).toList()));
      }
    } else if (path.startsWith("/webhooks/") && path.endsWith("/deliveries")
        && path.indexOf('/', 10) == path.length() - "/deliveries".length()) {
      String id = path.substring("/webhooks/".length(), path.length() - "/deliveries".length());
      if (!method.equals("GET")) {
        HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET."));
      } else {
        deliveries(id, request, response, callback);
      }
    } else if (path.startsWith("/numbers/") && path.indexOf('/', 9) < 0) {
      String id = path.substring("/numbers/".length());
      switch (method) {
        case "GET" -> keys.findNumber(id).ifPresentOrElse(
            n -> HttpIo.writeJson(response, callback, 200, AdminViews.number(n)),
            () -> HttpIo.writeError(response, callback, GraphError.notFound("No such number.")));
        case "PATCH" -> updateToken(id, request, response, callback);
        case "DELETE" -> {
          if (keys.removeNumber(id)) {
            HttpIo.writeJson(response, callback, 200, Map.of("success", true));
          } else {
            HttpIo.writeError(response, callback, GraphError.notFound("No such number."));
          }
        }
        default -> HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET, PATCH or DELETE."));
      }
    } else if (path.equals("/keys")) {
      switch (method) {
        case "GET" -> HttpIo.writeJson(response, callback, 200,
            Map.of("data", keys.listKeys().stream().map(AdminViews::key).toList()));
        case "POST" -> createKey(request, response, callback);
        default -> HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET or POST."));
      }
    } else if (path.startsWith("/keys/") && path.indexOf('/', 6) < 0) {
      String id = path.substring("/keys/".length());
      if (!method.equals("DELETE")) {
        HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use DELETE to revoke a key."));
      } else if (keys.revokeKey(id)) {
        HttpIo.writeJson(response, callback, 200, Map.of("success", true));
      } else {
        HttpIo.writeError(response, callback, GraphError.notFound("No such active key."));
      }
    } else if (path.equals("/store")) {
      if (method.equals("GET")) {
        HttpIo.writeJson(response, callback, 200, AdminViews.store(storeSize.get()));
      } else {
        HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET."));
      }
    } else {
      HttpIo.writeError(response, callback, GraphError.notFound("Unknown path."));
    }
  }

  /**
   * Answers a wrong or missing admin token: 401, counted and logged; past the limit 429 with
   * {@code Retry-After}, logged once per window.
   */
  private void refuse(String source, boolean presented, Response response, Callback callback) {
    Optional<Duration> refused = failures.refusedFor(source);
    if (refused.isPresent()) {
      if (failures.firstRefusal(source)) {
        log.warn("Admin API: refusing {} for {} s after {} failed admin tokens", source, refused.get().toSeconds(),
            failures.limit());
      }
      response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(refused.get().toSeconds()));
      HttpIo.writeError(response, callback, GraphError.of(429, 4, GraphError.LAYER,
          "Too many failed admin tokens from this address: retry after " + refused.get().toSeconds() + " s."));
      return;
    }
    FailedAttempts.Failure failure = failures.failed(source);
    log.warn("Admin API: {} admin token from {} ({} of {} allowed failures in {} s)", presented ? "a wrong" : "no",
        source, failure.count(), failures.limit(), failures.window().toSeconds());
    HttpIo.writeError(response, callback, GraphError.invalidToken("Invalid admin token."));
  }

  private void deliveries(String id, Request request, Response response, Callback callback) {
    Optional<WebhookViews.DeliveryQuery> query = WebhookViews.DeliveryQuery.read(request, response, callback);
    if (query.isEmpty()) {
      return;
    }
    subscriptions.deliveriesForOperator(id, query.get().state(), query.get().limit()).ifPresentOrElse(
        list -> HttpIo.writeJson(response, callback, 200,
            Map.of("data", list.stream().map(WebhookViews::deliveryForOperator).toList())),
        () -> HttpIo.writeError(response, callback, GraphError.notFound("No such subscription.")));
  }

  private void addNumber(Request request, Response response, Callback callback) {
    bodies.readJsonObject(request, MAX_BODY, response, callback, b -> addNumber(b, response, callback));
  }

  private void addNumber(JsonNode b, Response response, Callback callback) {
    NumberRegistration result =
        keys.addNumber(text(b, "phone"), text(b, "phone_number_id"), text(b, "waba_id"), text(b, "business_id"),
            text(b, "meta_token"));
    if (result instanceof NumberRegistration.Added added) {
      HttpIo.writeJson(response, callback, 201, AdminViews.number(added.number()));
    } else if (result instanceof NumberRegistration.Invalid invalid) {
      HttpIo.writeError(response, callback, GraphError.invalidParameter(invalid.reason()));
    } else {
      HttpIo.writeError(response, callback,
          GraphError.of(409, 100, GraphError.LAYER, "This phone number ID or phone is already registered."));
    }
  }

  private void updateToken(String id, Request request, Response response, Callback callback) {
    bodies.readJsonObject(request, MAX_BODY, response, callback, body -> updateToken(id, body, response, callback));
  }

  private void updateToken(String id, JsonNode body, Response response, Callback callback) {
    String token = text(body, "meta_token");
    if (token == null || token.isBlank()) {
      HttpIo.writeError(response, callback, GraphError.invalidParameter("meta_token is required."));
    } else if (keys.updateToken(id, token)) {
      HttpIo.writeJson(response, callback, 200, Map.of("success", true));
    } else {
      HttpIo.writeError(response, callback, GraphError.notFound("No such number."));
    }
  }

  private void createKey(Request request, Response response, Callback callback) {
    bodies.readJsonObject(request, MAX_BODY, response, callback, body -> createKey(body, response, callback));
  }

  private void createKey(JsonNode body, Response response, Callback callback) {
    String id = text(body, "phone_number_id");
    if (id == null) {
      HttpIo.writeError(response, callback, GraphError.invalidParameter("phone_number_id is required."));
      return;
    }
    keys.createKey(id).ifPresentOrElse(
        created -> HttpIo.writeJson(response, callback, 201, AdminViews.createdKey(created)),
        () -> HttpIo.writeError(response, callback, GraphError.notFound("No such number.")));
  }

  private static String text(JsonNode node, String field) {
    JsonNode v = node.get(field);
    return v == null || v.isNull() ? null : v.isValueNode() ? v.asText() : null;
  }
}

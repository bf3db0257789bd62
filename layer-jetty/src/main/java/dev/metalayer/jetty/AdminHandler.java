package dev.metalayer.jetty;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.MetaLayer;
import dev.metalayer.calls.Calls;
import dev.metalayer.keys.WhatsAppNumber;
import dev.metalayer.crypto.Secrets;
import dev.metalayer.doctor.Doctor;
import dev.metalayer.graph.GraphError;
import dev.metalayer.keys.FailedAttempts;
import dev.metalayer.keys.Grant;
import dev.metalayer.keys.KeyService;
import dev.metalayer.keys.KeyService.Registration;
import dev.metalayer.relay.WebhookSubscriptions;
import dev.metalayer.relay.CallWebhookRelay;
import dev.metalayer.relay.Delivery;
import dev.metalayer.relay.Subscription;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's API under {@code /admin/v1}: numbers, keys (with a key's own rate limit, set on creation
 * and changed with {@code PATCH /keys/{id}}), the store's size, the webhook subscriptions of a
 * number with their full delivery log ({@code GET /numbers/{id}/webhooks}, {@code GET /webhooks/{id}},
 * {@code GET /webhooks/{id}/deliveries?status=&limit=}: the operator's view, with each attempt's
 * latency, error text and answer excerpt, which a number's key does not see) and replays
 * ({@code POST /webhooks/{id}/deliveries/{did}/retry}), each audited at INFO with its number; and the
 * numbers Meta sent webhooks for that the layer does not know ({@code GET /unknown-numbers}); the call
 * records of any number ({@code GET /calls?phone_number_id=}, {@code GET /numbers/{id}/calls[/{wacid}]},
 * {@link CallViews}). Guarded by
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

  /** Every route of the admin API (docs/openapi.json documents each): a request is admitted through it. */
  static final RouteTable ROUTES = new RouteTable(LayerServer.ADMIN_PREFIX)
      .on("/numbers", "GET", "POST")
      .on("/numbers/{phone_number_id}", "GET", "PATCH", "DELETE")
      .on("/numbers/{phone_number_id}/webhooks", "GET", "POST")
      .on("/numbers/{phone_number_id}/answering", "GET", "PUT")
      .on("/numbers/{phone_number_id}/calls", "GET")
      .on("/numbers/{phone_number_id}/calls/{wacid...}", "GET")
      .on("/numbers/{phone_number_id}/doctor", "GET")
      .on("/keys", "GET", "POST")
      .on("/keys/{key_id}", "PATCH", "DELETE")
      .on("/webhooks/{subscription_id}", "GET", "PATCH", "DELETE")
      .on("/webhooks/{subscription_id}/test", "POST")
      .on("/webhooks/{subscription_id}/deliveries", "GET")
      .on("/webhooks/{subscription_id}/deliveries/{delivery_id}/retry", "POST")
      .on("/unknown-numbers", "GET")
      .on("/calls", "GET")
      .on("/doctor", "GET")
      .on("/store", "GET")
      .on("/stats", "GET")
      .refusing("/keys/{key_id}", "Use DELETE to revoke a key.")
      .refusing("/calls", CallsHandler.READ_ONLY)
      .refusing("/numbers/{phone_number_id}/calls", CallsHandler.READ_ONLY)
      .refusing("/numbers/{phone_number_id}/calls/{wacid...}", CallsHandler.READ_ONLY);

  private final KeyService keys;
  private final Calls calls;
  private final WebhookSubscriptions subscriptions;
  private final CallWebhookRelay relay;
  private final Optional<String> adminToken;
  private final Supplier<LayerStore.Size> storeSize;
  private final FailedAttempts failures;
  private final BodyReader bodies;
  private final CallViews callViews;
  private final Doctor doctor;
  private final java.time.Clock layerClock;

  /** @param bodies the reader of request bodies (no thread waits for one; a shared budget and a read deadline) */
  AdminHandler(MetaLayer layer, Optional<String> adminToken, Supplier<LayerStore.Size> storeSize, FailedAttempts failures,
      BodyReader bodies) {
    this.keys = layer.keys();
    this.calls = layer.calls();
    this.subscriptions = layer.relay().subscriptions();
    this.relay = layer.relay();
    this.adminToken = adminToken;
    this.storeSize = storeSize;
    this.failures = failures;
    this.bodies = bodies;
    this.callViews = new CallViews(layer);
    this.doctor = layer.doctor();
    this.layerClock = layer.clock();
  }

  /** Whether the request carries the admin token ({@code Authorization: Bearer …}, constant time); false when there is none. */
  boolean admits(Request request) {
    return isAdminToken(HttpIo.bearer(request).orElse(null));
  }

  /** Whether an admin token is configured. */
  boolean enabled() {
    return adminToken.isPresent();
  }

  /**
   * Answers, for another handler that also accepts the admin token, a bearer credential that is neither
   * of its own kind nor the admin token: counted and logged as a wrong admin token, 401 with
   * {@code message} (429 past the limit), so that no path guesses the admin token faster than this API.
   */
  void refuseWrongToken(Request request, Response response, Callback callback, String message) {
    refuse(Request.getRemoteAddr(request), true, response, callback, message);
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    if (adminToken.isEmpty()) {
      HttpIo.writeError(response, callback, GraphError.notFound("Unknown path."));
      return true;
    }
    if (!admits(request)) {
      refuse(Request.getRemoteAddr(request), HttpIo.bearer(request).isPresent(), response, callback,
          "Invalid admin token.");
      return true;
    }
    dispatch(request.getMethod(), request.getHttpURI().getPath().substring(LayerServer.ADMIN_PREFIX.length()), request,
        response, callback);
    return true;
  }

  /**
   * An authenticated admin request for {@code path} (below {@code /admin/v1}), from the API or the console:
   * the route table's 404 or 405 first, then its route.
   */
  void dispatch(String method, String path, Request request, Response response, Callback callback) {
    Optional<GraphError> refused = ROUTES.refusal(method, LayerServer.ADMIN_PREFIX + path);
    if (refused.isPresent()) {
      HttpIo.writeError(response, callback, refused.get());
      return;
    }
    route(method, path, request, response, callback);
  }

  /** Whether {@code presented} is the admin token (constant time); false when none is configured. */
  boolean isAdminToken(String presented) {
    return adminToken.isPresent() && Secrets.constantTimeEquals(presented, adminToken.get());
  }

  /**
   * Answers a request already admitted as the operator's (the console's session): {@code path} is the part
   * after {@code /admin/v1}, and the same rules apply as to a request with the admin token.
   */
  private void route(String method, String path, Request request, Response response, Callback callback) {
    if (adminToken.isEmpty()) {
      HttpIo.writeError(response, callback, GraphError.notFound("Unknown path."));
      return;
    }
    routeAdmitted(method, path, request, response, callback);
  }

  private void routeAdmitted(String method, String path, Request request, Response response, Callback callback) {
    if (path.equals("/numbers")) {
      switch (method) {
        case "GET" -> HttpIo.writeJson(response, callback, 200,
            Map.of("data", keys.listNumbers().stream().map(this::number).toList()));
        case "POST" -> addNumber(request, response, callback);
        default -> HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET or POST."));
      }
    } else if (path.startsWith("/numbers/") && path.endsWith("/webhooks")
        && path.indexOf('/', 9) == path.length() - "/webhooks".length()) {
      String id = path.substring("/numbers/".length(), path.length() - "/webhooks".length());
      switch (method) {
        case "GET" -> webhooksOf(id, response, callback);
        case "POST" -> createWebhook(id, request, response, callback);
        default -> HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET or POST."));
      }
    } else if (path.startsWith("/numbers/") && HttpIo.segments(path).size() == 3
        && HttpIo.segments(path).get(2).equals("answering") && path.endsWith("/answering")) {
      String id = HttpIo.segments(path).get(1);
      switch (method) {
        case "GET" -> answering(id, response, callback);
        case "PUT" -> bodies.readJsonObject(request, MAX_BODY, response, callback, b -> setAnswering(id, b, response, callback));
        default -> HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET or PUT."));
      }
    } else if (path.equals("/doctor") || path.startsWith("/numbers/") && HttpIo.segments(path).size() == 3
        && HttpIo.segments(path).get(2).equals("doctor") && path.endsWith("/doctor")) {
      if (!method.equals("GET")) {
        HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET."));
      } else {
        doctor(path.equals("/doctor") ? Optional.empty() : Optional.of(HttpIo.segments(path).get(1)), response, callback);
      }
    } else if (path.startsWith("/webhooks/") && path.endsWith("/deliveries")
        && path.indexOf('/', 10) == path.length() - "/deliveries".length()) {
      String id = path.substring("/webhooks/".length(), path.length() - "/deliveries".length());
      if (!method.equals("GET")) {
        HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET."));
      } else {
        deliveries(id, request, response, callback);
      }
    } else if (path.startsWith("/webhooks/") && path.endsWith("/retry") && HttpIo.segments(path).size() == 5
        && HttpIo.segments(path).get(2).equals("deliveries")) {
      List<String> parts = HttpIo.segments(path);
      if (!method.equals("POST")) {
        HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use POST."));
      } else {
        replay(parts.get(1), parts.get(3), response, callback);
      }
    } else if (path.startsWith("/webhooks/") && path.endsWith("/test") && HttpIo.segments(path).size() == 3) {
      if (!method.equals("POST")) {
        HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use POST."));
      } else {
        testWebhook(HttpIo.segments(path).get(1), response, callback);
      }
    } else if (path.startsWith("/webhooks/") && HttpIo.segments(path).size() == 2) {
      String id = HttpIo.segments(path).get(1);
      switch (method) {
        case "GET" -> webhook(id, response, callback);
        case "PATCH" -> changeWebhook(id, request, response, callback);
        case "DELETE" -> deleteWebhook(id, response, callback);
        default -> HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET, PATCH or DELETE."));
      }
    } else if (path.equals("/unknown-numbers")) {
      if (!method.equals("GET")) {
        HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET."));
      } else {
        HttpIo.writeJson(response, callback, 200, AdminViews.unknownNumbers(relay.unknownNumbers()));
      }
    } else if (path.equals("/calls") || path.startsWith("/numbers/") && HttpIo.segments(path).size() >= 3
        && HttpIo.segments(path).get(2).equals("calls")) {
      if (!method.equals("GET")) {
        HttpIo.writeError(response, callback, GraphError.methodNotAllowed(CallsHandler.READ_ONLY));
      } else {
        callRecords(HttpIo.segments(path), request, response, callback);
      }
    } else if (path.startsWith("/numbers/") && path.indexOf('/', 9) < 0) {
      String id = path.substring("/numbers/".length());
      switch (method) {
        case "GET" -> keys.findNumber(id).ifPresentOrElse(
            n -> HttpIo.writeJson(response, callback, 200, number(n)),
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
      if (method.equals("PATCH")) {
        bodies.readJsonObject(request, MAX_BODY, response, callback, body -> updateKey(id, body, response, callback));
      } else if (!method.equals("DELETE")) {
        HttpIo.writeError(response, callback,
            GraphError.methodNotAllowed("Use DELETE to revoke a key, or PATCH to change its rate_limit."));
      } else if (keys.revokeKey(id)) {
        HttpIo.writeJson(response, callback, 200, Map.of("success", true));
      } else {
        HttpIo.writeError(response, callback, GraphError.notFound("No such active key."));
      }
    } else if (path.equals("/stats")) {
      if (method.equals("GET")) {
        HttpIo.writeJson(response, callback, 200, AdminViews.charts(subscriptions.charts()));
      } else {
        HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET."));
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
  private void refuse(String source, boolean presented, Response response, Callback callback, String message) {
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
    HttpIo.writeError(response, callback, GraphError.invalidToken(message));
  }

  // ---- the operator's reads of any number's subscriptions, and replays: here and on /v1/webhooks with
  // the admin token; each is logged at INFO with the number it concerns (never the token)

  /** The subscriptions of a number. */
  void webhooksOf(String phoneNumberId, Response response, Callback callback) {
    List<Map<String, Object>> list = subscriptions.list(phoneNumberId).stream().map(WebhookViews::subscription).toList();
    log.info("Admin token: read the {} webhook subscription(s) of phone number ID {}", list.size(), shown(phoneNumberId));
    HttpIo.writeJson(response, callback, 200, Map.of("data", list));
  }

  /** One subscription of any number. */
  void webhook(String id, Response response, Callback callback) {
    subscriptions.findForOperator(id).ifPresentOrElse(s -> {
      log.info("Admin token: read webhook subscription {} of phone number ID {}", s.id(), s.phoneNumberId());
      HttpIo.writeJson(response, callback, 200, WebhookViews.subscription(s));
    }, () -> HttpIo.writeError(response, callback, GraphError.notFound("No such subscription.")));
  }

  /** The delivery log of any subscription, in the operator's view. */
  void deliveries(String id, Request request, Response response, Callback callback) {
    Optional<WebhookViews.DeliveryQuery> query = WebhookViews.DeliveryQuery.read(request, response, callback);
    if (query.isEmpty()) {
      return;
    }
    Optional<Subscription> found = subscriptions.findForOperator(id);
    Optional<List<Delivery>> entries = found.isEmpty() ? Optional.empty()
        : subscriptions.deliveriesForOperator(id, query.get().state(), query.get().limit());
    if (entries.isEmpty()) {
      HttpIo.writeError(response, callback, GraphError.notFound("No such subscription."));
      return;
    }
    log.info("Admin token: read the delivery log of webhook subscription {} of phone number ID {}", id,
        found.get().phoneNumberId());
    HttpIo.writeJson(response, callback, 200,
        Map.of("data", entries.get().stream().map(WebhookViews::deliveryForOperator).toList()));
  }

  /** One more attempt of a delivery of any subscription (a replay), in the operator's view. */
  void replay(String id, String deliveryId, Response response, Callback callback) {
    Optional<Subscription> found = subscriptions.findForOperator(id);
    Optional<Delivery> replayed = found.flatMap(s -> subscriptions.retry(s.phoneNumberId(), id, deliveryId));
    if (replayed.isEmpty()) {
      HttpIo.writeError(response, callback, GraphError.notFound("No such delivery."));
      return;
    }
    Optional<String> refused = WebhookSubscriptions.refusedReplay(replayed.get().state());
    if (refused.isPresent()) {
      HttpIo.writeError(response, callback, GraphError.invalidParameter(refused.get()));
      return;
    }
    log.info("Admin token: replayed delivery {} of webhook subscription {} of phone number ID {}", replayed.get().id(),
        id, found.get().phoneNumberId());
    HttpIo.writeJson(response, callback, 202, WebhookViews.deliveryForOperator(replayed.get()));
  }

  /** Creates a subscription of any number, as the number's key would (the same rules); audited at INFO. */
  private void createWebhook(String phoneNumberId, Request request, Response response, Callback callback) {
    if (keys.findNumber(phoneNumberId).isEmpty()) {
      HttpIo.writeError(response, callback, GraphError.notFound("No such number."));
      return;
    }
    SubscriptionsHandler.spec(bodies, request, response, callback, false, spec -> {
      WebhookSubscriptions.Outcome outcome = subscriptions.create(phoneNumberId, spec);
      if (outcome instanceof WebhookSubscriptions.Outcome.Saved saved) {
        log.info("Admin token: created webhook subscription {} of phone number ID {}", saved.subscription().id(),
            phoneNumberId);
      }
      SubscriptionsHandler.answer(outcome, 201, response, callback);
    });
  }

  /** Changes the given fields of any number's subscription (events, active, …); audited at INFO. */
  private void changeWebhook(String id, Request request, Response response, Callback callback) {
    Optional<Subscription> found = subscriptions.findForOperator(id);
    if (found.isEmpty()) {
      HttpIo.writeError(response, callback, GraphError.notFound("No such subscription."));
      return;
    }
    String number = found.get().phoneNumberId();
    SubscriptionsHandler.spec(bodies, request, response, callback, true, spec -> {
      WebhookSubscriptions.Outcome outcome = subscriptions.update(number, id, spec);
      if (outcome instanceof WebhookSubscriptions.Outcome.Saved) {
        log.info("Admin token: changed webhook subscription {} of phone number ID {}", id, number);
      }
      SubscriptionsHandler.answer(outcome, 200, response, callback);
    });
  }

  /** Deletes any number's subscription with its delivery log; audited at INFO. */
  private void deleteWebhook(String id, Response response, Callback callback) {
    Optional<Subscription> found = subscriptions.findForOperator(id);
    if (found.isEmpty() || !subscriptions.delete(found.get().phoneNumberId(), id)) {
      HttpIo.writeError(response, callback, GraphError.notFound("No such subscription."));
      return;
    }
    log.info("Admin token: deleted webhook subscription {} of phone number ID {}", id, found.get().phoneNumberId());
    HttpIo.writeJson(response, callback, 200, Map.of("success", true));
  }

  /** Queues a synthetic event to any number's subscription, in the operator's view; audited at INFO. */
  private void testWebhook(String id, Response response, Callback callback) {
    Optional<Subscription> found = subscriptions.findForOperator(id);
    Optional<Delivery> queued = found.flatMap(s -> subscriptions.sendTest(s.phoneNumberId(), id));
    if (queued.isEmpty()) {
      HttpIo.writeError(response, callback, GraphError.notFound("No such subscription."));
      return;
    }
    log.info("Admin token: sent a test event to webhook subscription {} of phone number ID {}", id,
        found.get().phoneNumberId());
    HttpIo.writeJson(response, callback, 202, WebhookViews.deliveryForOperator(queued.get()));
  }

  /**
   * The calls of every number ({@code /calls?phone_number_id=} to name one), of one number
   * ({@code /numbers/{id}/calls}) and one call ({@code /numbers/{id}/calls/{wacid}}), as {@code /v1/calls}
   * shows them; each read logged at INFO with its number.
   */
  private void callRecords(List<String> parts, Request request, Response response, Callback callback) {
    if (parts.size() == 1) {
      callViews.listForOperator(request, "/admin/v1/calls", response, callback);
      return;
    }
    String number = parts.get(1);
    if (!CallViews.phoneNumberId(number)) {
      HttpIo.writeError(response, callback, GraphError.notFound("No such number."));
    } else if (parts.size() == 3) {
      callViews.listForOperator(number, request, "/admin/v1/numbers/" + number + "/calls", response, callback);
    } else {
      callViews.oneForOperator(number, parts.subList(3, parts.size()), response, callback);
    }
  }

  /**
   * The Meta doctor's checks of one number, or of every number: answered when the last check ends
   * (each Graph read has its timeout); an unknown number is a 404. Logged at INFO with the worst status.
   */
  private void doctor(Optional<String> phoneNumberId, Response response, Callback callback) {
    java.time.Instant asked = layerClock.instant();
    java.util.concurrent.CompletableFuture<Optional<List<Doctor.Report>>> reports = phoneNumberId.isPresent()
        ? doctor.examine(phoneNumberId.get()).thenApply(r -> r.map(List::of))
        : doctor.examineAll().thenApply(Optional::of);
    reports.whenComplete((found, failure) -> {
      // on the thread that ended the last check: whatever happens here, the callback completes once
      try {
        if (failure != null) {
          log.warn("Admin token: the Meta doctor failed: {}", failure.toString());
          HttpIo.writeError(response, callback, GraphError.unavailable("The doctor could not finish; try again."));
        } else if (found.isEmpty()) {
          HttpIo.writeError(response, callback, GraphError.notFound("No such number."));
        } else {
          Map<String, Object> view = AdminViews.doctor(found.get(), asked, phoneNumberId);
          log.info("Admin token: ran the Meta doctor on {}: {}", phoneNumberId.map(id -> "phone number ID " + id)
              .orElse(found.get().size() + " number(s)"), view.get("status"));
          HttpIo.writeJson(response, callback, 200, view);
        }
      } catch (RuntimeException e) {
        callback.failed(e);
      }
    });
  }

  /** A phone number ID from a path, for a log line: digits as they are, anything else replaced. */
  private static String shown(String id) {
    return id.matches("[0-9]{1,32}") ? id : "(not a phone number ID)";
  }

  /** A number as the admin API shows it, with its answering mode. */
  private Map<String, Object> number(WhatsAppNumber n) {
    return AdminViews.number(n, calls.answering(n.phoneNumberId()));
  }

  /** The answering mode of a registered number. */
  private void answering(String id, Response response, Callback callback) {
    if (keys.findNumber(id).isEmpty()) {
      HttpIo.writeError(response, callback, GraphError.notFound("No such number."));
      return;
    }
    HttpIo.writeJson(response, callback, 200, AdminViews.answering(id, calls.answering(id)));
  }

  /** Sets the answering mode of a registered number: {@code single} (one answering surface per call) or {@code any}. */
  private void setAnswering(String id, JsonNode body, Response response, Callback callback) {
    String mode;
    try {
      mode = Calls.answeringMode(text(body, "mode"));
    } catch (IllegalArgumentException e) {
      HttpIo.writeError(response, callback, GraphError.invalidParameter("mode must be \"single\" or \"any\"."));
      return;
    }
    if (keys.findNumber(id).isEmpty()) {
      HttpIo.writeError(response, callback, GraphError.notFound("No such number."));
      return;
    }
    calls.setAnswering(id, mode);
    log.info("Admin token: set the answering mode of phone number ID {} to {}", id, mode);
    HttpIo.writeJson(response, callback, 200, AdminViews.answering(id, mode));
  }

  private void addNumber(Request request, Response response, Callback callback) {
    bodies.readJsonObject(request, MAX_BODY, response, callback, b -> addNumber(b, response, callback));
  }

  private void addNumber(JsonNode b, Response response, Callback callback) {
    Registration result =
        keys.addNumber(text(b, "phone"), text(b, "phone_number_id"), text(b, "waba_id"), text(b, "business_id"),
            text(b, "meta_token"));
    if (result instanceof Registration.Added added) {
      HttpIo.writeJson(response, callback, 201, number(added.number()));
    } else if (result instanceof Registration.Invalid invalid) {
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
      return;
    }
    boolean updated;
    try {
      updated = keys.updateToken(id, token);
    } catch (IllegalArgumentException brokenRule) {
      // the token rule (visible ASCII, bounded length): the operator's mistake, a 400 like on POST /numbers
      HttpIo.writeError(response, callback, GraphError.invalidParameter(brokenRule.getMessage()));
      return;
    }
    if (updated) {
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
    Set<Grant.Scope> scopes;
    try {
      scopes = scopes(body.get("scopes"));
    } catch (IllegalArgumentException e) {
      HttpIo.writeError(response, callback, GraphError.invalidParameter(e.getMessage() + "."));
      return;
    }
    Optional<Grant.RateLimit> rateLimit;
    try {
      rateLimit = body.has("rate_limit") ? rateLimit(body.get("rate_limit")) : Optional.empty();
    } catch (IllegalArgumentException e) {
      HttpIo.writeError(response, callback, GraphError.invalidParameter(e.getMessage() + "."));
      return;
    }
    keys.createKey(id, scopes, rateLimit).ifPresentOrElse(
        created -> HttpIo.writeJson(response, callback, 201, AdminViews.createdKey(created)),
        () -> HttpIo.writeError(response, callback, GraphError.notFound("No such number.")));
  }

  /**
   * The {@code scopes} of a key to create: absent or null, every scope; else an array of scope names.
   *
   * @throws IllegalArgumentException naming what is wrong (not an array, an empty one, an unknown name)
   */
  private static Set<Grant.Scope> scopes(JsonNode scopes) {
    if (scopes == null || scopes.isNull()) {
      return Grant.Scope.ALL;
    }
    if (!scopes.isArray()) {
      throw new IllegalArgumentException("scopes must be an array of scope names (" + Grant.Scope.names(Grant.Scope.ALL) + ")");
    }
    List<String> names = new java.util.ArrayList<>();
    for (JsonNode name : scopes) {
      if (!name.isTextual()) {
        throw new IllegalArgumentException("scopes must be an array of scope names (" + Grant.Scope.names(Grant.Scope.ALL) + ")");
      }
      names.add(name.asText());
    }
    return Grant.Scope.parse(names);
  }

  /** Changes a key's {@code rate_limit} (the one field a key's update takes), revoked or not. */
  private void updateKey(String id, JsonNode body, Response response, Callback callback) {
    java.util.Iterator<String> fields = body.fieldNames();
    while (fields.hasNext()) {
      String field = fields.next();
      if (!field.equals("rate_limit")) {
        HttpIo.writeError(response, callback, GraphError.invalidParameter("A key's update takes only rate_limit;"
            + " its scopes are fixed when it is created."));
        return;
      }
    }
    if (!body.has("rate_limit")) {
      HttpIo.writeError(response, callback, GraphError.invalidParameter("rate_limit is required (null for the default)."));
      return;
    }
    Optional<Grant.RateLimit> limit;
    try {
      limit = rateLimit(body.get("rate_limit"));
    } catch (IllegalArgumentException e) {
      HttpIo.writeError(response, callback, GraphError.invalidParameter(e.getMessage() + "."));
      return;
    }
    if (!keys.setRateLimit(id, limit)) {
      HttpIo.writeError(response, callback, GraphError.notFound("No such key."));
      return;
    }
    keys.listKeys().stream().filter(k -> k.id().equals(id)).findFirst().ifPresentOrElse(
        k -> HttpIo.writeJson(response, callback, 200, AdminViews.key(k)),
        () -> HttpIo.writeError(response, callback, GraphError.notFound("No such key.")));
  }

  /**
   * A key's {@code rate_limit}: {@code null} for the layer's default, {@code "off"} for none, or
   * {@code {"per_second": 2.5, "burst": 20}} (0 in either is {@code "off"}).
   *
   * @throws IllegalArgumentException naming what is wrong
   */
  static Optional<Grant.RateLimit> rateLimit(JsonNode limit) {
    if (limit == null || limit.isNull()) {
      return Optional.empty();
    }
    String shape = "rate_limit must be null (the default), \"off\" or {\"per_second\": 2.5, \"burst\": 20}";
    if (limit.isTextual()) {
      if (limit.asText().equals("off")) {
        return Optional.of(Grant.RateLimit.OFF);
      }
      throw new IllegalArgumentException(shape);
    }
    JsonNode rate = limit.get("per_second");
    JsonNode burst = limit.get("burst");
    if (!limit.isObject() || limit.size() != 2 || rate == null || !rate.isNumber() || burst == null
        || !burst.canConvertToInt() || !burst.isIntegralNumber()) {
      throw new IllegalArgumentException(shape);
    }
    return Optional.of(rate.asDouble() == 0 || burst.asInt() == 0 ? Grant.RateLimit.OFF
        : new Grant.RateLimit(rate.asDouble(), burst.asInt()));
  }

  private static String text(JsonNode node, String field) {
    JsonNode v = node.get(field);
    return v == null || v.isNull() ? null : v.isValueNode() ? v.asText() : null;
  }
}

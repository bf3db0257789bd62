package dev.metalayer.jetty;

import dev.metalayer.MetaLayer;
import dev.metalayer.graph.GraphError;
import dev.metalayer.keys.Grant;
import dev.metalayer.relay.DeliveryState;
import dev.metalayer.relay.WebhookSubscriptions.Spec;
import dev.metalayer.relay.WebhookSubscriptions;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The subscriptions API under {@code /v1/webhooks}, for a number's own key that holds the scope
 * {@code webhooks} (found by {@link KeyAuth}). Every
 * operation is scoped to the key's number; another number's subscription is 404. Answers JSON with
 * snake_case names; a secret is never echoed.
 *
 * <pre>
 * POST   /v1/webhooks                                  create → 201
 * GET    /v1/webhooks                                  list → {"data":[…]}
 * GET    /v1/webhooks/{id}                             one
 * PATCH  /v1/webhooks/{id}                             change only the given fields
 * DELETE /v1/webhooks/{id}                             remove (with its delivery log)
 * GET    /v1/webhooks/{id}/deliveries?status=&amp;limit=  the delivery log, newest first
 * POST   /v1/webhooks/{id}/deliveries/{did}/retry      one more attempt now → 202
 * POST   /v1/webhooks/{id}/test                        queue a synthetic event → 202
 * </pre>
 *
 * <p>The operator's admin token ({@code Authorization: Bearer $LAYER_ADMIN_TOKEN}) reads any number's
 * subscriptions ({@code GET /v1/webhooks?phone_number_id=…}, {@code GET /v1/webhooks/{id}}) and delivery
 * logs (in the operator's view, as in the admin API) and replays deliveries ({@code …/retry}); it changes
 * nothing else here (403: a subscription is created, changed and deleted with the number's key, or by the
 * operator on the admin API, {@link AdminHandler}). Each use is
 * logged at INFO with the number it concerns. A bearer credential that is neither a key nor the admin
 * token counts as a wrong admin token ({@link AdminHandler#refuseWrongToken}).
 */
final class SubscriptionsHandler implements Request.Handler {
  static final String PREFIX = "/v1/webhooks";
  private static final int MAX_BODY = 64 * 1024;

  /** Every route of the subscriptions API (docs/openapi.json documents each): a request is admitted through it. */
  static final RouteTable ROUTES = new RouteTable(PREFIX)
      .on("", "GET", "POST")
      .on("/{subscription_id}", "GET", "PATCH", "DELETE")
      .on("/{subscription_id}/deliveries", "GET")
      .on("/{subscription_id}/deliveries/{delivery_id}/retry", "POST")
      .on("/{subscription_id}/test", "POST");

  private final MetaLayer layer;
  private final WebhookSubscriptions subscriptions;
  private final BodyReader bodies;
  private final AdminHandler admin;

  /**
   * @param bodies the reader of request bodies (no thread waits for one; a shared budget and a read deadline)
   * @param admin the admin API, whose token (when configured) reads and replays here too
   */
  SubscriptionsHandler(MetaLayer layer, BodyReader bodies, AdminHandler admin) {
    this.admin = admin;
    this.layer = layer;
    this.subscriptions = layer.relay().subscriptions();
    this.bodies = bodies;
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    boolean operator = admin.admits(request);
    Optional<Grant> grant = operator ? Optional.empty()
        : KeyAuth.grant(layer, admin, request, response, callback, Grant.Scope.WEBHOOKS);
    if (!operator && grant.isEmpty()) {
      return true;
    }
    Optional<GraphError> unrouted = ROUTES.refusal(request.getMethod(), request.getHttpURI().getPath());
    if (unrouted.isPresent()) {
      HttpIo.writeError(response, callback, unrouted.get());
      return true;
    }
    if (operator) {
      operator(request, response, callback);
      return true;
    }
    String pnid = grant.get().number().phoneNumberId();
    String rest = request.getHttpURI().getPath().substring(PREFIX.length());
    List<String> parts = HttpIo.segments(rest);
    String method = request.getMethod();
    if (parts.isEmpty()) {
      switch (method) {
        case "GET" -> HttpIo.writeJson(response, callback, 200,
            Map.of("data", subscriptions.list(pnid).stream().map(WebhookViews::subscription).toList()));
        case "POST" -> create(pnid, request, response, callback);
        default -> HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET or POST."));
      }
    } else if (parts.size() == 1) {
      one(pnid, parts.get(0), method, request, response, callback);
    } else if (parts.size() == 2 && parts.get(1).equals("deliveries") && method.equals("GET")) {
      deliveries(pnid, parts.get(0), request, response, callback);
    } else if (parts.size() == 4 && parts.get(1).equals("deliveries") && parts.get(3).equals("retry")
        && method.equals("POST")) {
      subscriptions.retry(pnid, parts.get(0), parts.get(2)).ifPresentOrElse(
          d -> {
            Optional<String> refused = WebhookSubscriptions.refusedReplay(d.state());
            if (refused.isPresent()) {
              HttpIo.writeError(response, callback, GraphError.invalidParameter(refused.get()));
            } else {
              HttpIo.writeJson(response, callback, 202, WebhookViews.delivery(d));
            }
          },
          () -> HttpIo.writeError(response, callback, GraphError.notFound("No such delivery.")));
    } else if (parts.size() == 2 && parts.get(1).equals("test") && method.equals("POST")) {
      subscriptions.sendTest(pnid, parts.get(0)).ifPresentOrElse(
          d -> HttpIo.writeJson(response, callback, 202, WebhookViews.delivery(d)),
          () -> HttpIo.writeError(response, callback, GraphError.notFound("No such subscription.")));
    } else {
      HttpIo.writeError(response, callback, GraphError.notFound("Unknown path."));
    }
    return true;
  }

  /** The admin token's requests: reads of any number's subscriptions and delivery logs, and replays. */
  private void operator(Request request, Response response, Callback callback) {
    List<String> parts = HttpIo.segments(request.getHttpURI().getPath().substring(PREFIX.length()));
    String method = request.getMethod();
    if (parts.isEmpty() && method.equals("GET")) {
      Optional<String> number = HttpIo.queryParameter(request, "phone_number_id").filter(v -> !v.isBlank());
      if (number.isEmpty()) {
        HttpIo.writeError(response, callback, GraphError.invalidParameter(
            "With the admin token, name the number: GET /v1/webhooks?phone_number_id=…"));
      } else {
        admin.webhooksOf(number.get(), response, callback);
      }
    } else if (parts.size() == 1 && method.equals("GET")) {
      admin.webhook(parts.get(0), response, callback);
    } else if (parts.size() == 2 && parts.get(1).equals("deliveries") && method.equals("GET")) {
      admin.deliveries(parts.get(0), request, response, callback);
    } else if (parts.size() == 4 && parts.get(1).equals("deliveries") && parts.get(3).equals("retry")
        && method.equals("POST")) {
      admin.replay(parts.get(0), parts.get(2), response, callback);
    } else if (parts.size() <= 2) {
      HttpIo.writeError(response, callback, GraphError.of(403, 200, GraphError.LAYER, "The admin token reads"
          + " subscriptions and delivery logs and replays deliveries; create, change, test or delete a subscription"
          + " with the number's key here, or with the admin token on /admin/v1 (POST /admin/v1/numbers/{id}/webhooks,"
          + " PATCH, DELETE /admin/v1/webhooks/{id}, POST /admin/v1/webhooks/{id}/test)."));
    } else {
      HttpIo.writeError(response, callback, GraphError.notFound("Unknown path."));
    }
  }

  private void one(String pnid, String id, String method, Request request, Response response, Callback callback) {
    switch (method) {
      case "GET" -> subscriptions.find(pnid, id).ifPresentOrElse(
          s -> HttpIo.writeJson(response, callback, 200, WebhookViews.subscription(s)),
          () -> HttpIo.writeError(response, callback, GraphError.notFound("No such subscription.")));
      case "PATCH" -> spec(bodies, request, response, callback, true,
          spec -> answer(subscriptions.update(pnid, id, spec), 200, response, callback));
      case "DELETE" -> {
        if (subscriptions.delete(pnid, id)) {
          HttpIo.writeJson(response, callback, 200, Map.of("success", true));
        } else {
          HttpIo.writeError(response, callback, GraphError.notFound("No such subscription."));
        }
      }
      default -> HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET, PATCH or DELETE."));
    }
  }

  private void create(String pnid, Request request, Response response, Callback callback) {
    spec(bodies, request, response, callback, false, spec -> answer(subscriptions.create(pnid, spec), 201, response, callback));
  }

  private void deliveries(String pnid, String id, Request request, Response response, Callback callback) {
    Optional<WebhookViews.DeliveryQuery> query = WebhookViews.DeliveryQuery.read(request, response, callback);
    if (query.isEmpty()) {
      return;
    }
    subscriptions.deliveries(pnid, id, query.get().state(), query.get().limit()).ifPresentOrElse(
        list -> HttpIo.writeJson(response, callback, 200,
            Map.of("data", list.stream().map(WebhookViews::delivery).toList())),
        () -> HttpIo.writeError(response, callback, GraphError.notFound("No such subscription.")));
  }

  /** Answers a create or change: {@code status} with the subscription, 400 naming the mistake, or 404. */
  static void answer(WebhookSubscriptions.Outcome outcome, int status, Response response, Callback callback) {
    if (outcome instanceof WebhookSubscriptions.Outcome.Saved saved) {
      HttpIo.writeJson(response, callback, status, WebhookViews.subscription(saved.subscription()));
    } else if (outcome instanceof WebhookSubscriptions.Outcome.Invalid invalid) {
      HttpIo.writeError(response, callback, GraphError.invalidParameter(invalid.message()));
    } else {
      HttpIo.writeError(response, callback, GraphError.notFound("No such subscription."));
    }
  }

  /** Reads a subscription body and runs {@code then} with it, or answers 400 (413, 408, 503) itself. Returns at once. */
  static void spec(BodyReader bodies, Request request, Response response, Callback callback, boolean patch, Consumer<Spec> then) {
    bodies.readJsonObject(request, MAX_BODY, response, callback, body -> {
      Spec.Read read = Spec.read(body, patch);
      if (read instanceof Spec.Read.Invalid invalid) {
        HttpIo.writeError(response, callback, GraphError.invalidParameter(invalid.message()));
        return;
      }
      then.accept(((Spec.Read.Valid) read).spec());
    });
  }
}

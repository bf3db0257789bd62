package dev.metalayer.jetty;

import dev.metalayer.MetaLayer;
import dev.metalayer.graph.GraphError;
import dev.metalayer.keys.Grant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The call records API under {@code /v1/calls}, for a number's own key (found as on {@code /v1/webhooks},
 * {@link KeyAuth}); every read is scoped to the key's number, and another number's call is 404 as an
 * unknown one is. Answers JSON with snake_case names ({@link CallViews}; {@code docs/calls.md}).
 *
 * <pre>
 * GET /v1/calls?state=&amp;direction=&amp;since=&amp;until=&amp;limit=&amp;after=   the number's calls, newest first
 * GET /v1/calls/{wacid}                                          one call: record, timeline, deliveries, refusals
 * </pre>
 *
 * <p>The operator's admin token reads any number's calls here too (as on {@code /v1/webhooks}):
 * {@code GET /v1/calls[?phone_number_id=…]} (every number without it) and
 * {@code GET /v1/calls/{wacid}?phone_number_id=…}, each read logged at INFO with its number.
 */
final class CallsHandler implements Request.Handler {
  static final String PREFIX = "/v1/calls";
  static final String READ_ONLY = "Use GET: call records are read-only.";

  /** Every route of the call records API (docs/openapi.json documents each): a request is admitted through it. */
  static final RouteTable ROUTES = new RouteTable(PREFIX)
      .on("", "GET")
      .on("/{wacid...}", "GET")
      .refusing("", READ_ONLY)
      .refusing("/{wacid...}", READ_ONLY);

  private final MetaLayer layer;
  private final AdminHandler admin;
  private final CallViews views;

  CallsHandler(MetaLayer layer, AdminHandler admin) {
    this.layer = layer;
    this.admin = admin;
    this.views = new CallViews(layer);
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    List<String> parts = HttpIo.segments(request.getHttpURI().getPath().substring(PREFIX.length()));
    boolean operator = admin.admits(request);
    Optional<Grant> grant = operator ? Optional.empty() : KeyAuth.grant(layer, admin, request, response, callback, Grant.Scope.CALLS);
    if (!operator && grant.isEmpty()) {
      return true;
    }
    if (!request.getMethod().equals("GET")) {
      // the body is not read: the connection closes after the answer, so say so (a client must not reuse it)
      response.getHeaders().put(org.eclipse.jetty.http.HttpHeader.CONNECTION,
          org.eclipse.jetty.http.HttpHeaderValue.CLOSE.asString());
      HttpIo.writeError(response, callback, GraphError.methodNotAllowed(READ_ONLY));
      return true;
    }
    Optional<GraphError> refused = ROUTES.refusal(request.getMethod(), request.getHttpURI().getPath());
    if (refused.isPresent()) {
      HttpIo.writeError(response, callback, refused.get());
      return true;
    }
    if (operator) {
      operator(parts, request, response, callback);
      return true;
    }
    String pnid = grant.get().number().phoneNumberId();
    if (parts.isEmpty()) {
      views.list(Optional.of(pnid), request, CallViews.listParameters(), PREFIX, Map.of(), response, callback);
      return true;
    }
    Optional<String> wacid = CallViews.wacid(parts);
    if (wacid.isEmpty()) {
      HttpIo.writeError(response, callback, GraphError.invalidParameter(CallViews.BAD_WACID));
    } else if (request.getHttpURI().getQuery() == null || request.getHttpURI().getQuery().isEmpty()) {
      views.one(pnid, wacid.get(), response, callback);
    } else {
      HttpIo.writeError(response, callback, GraphError.invalidParameter("A call is read without parameters."));
    }
    return true;
  }

  /** The admin token's reads: any number's calls (every number's without {@code phone_number_id}), and one call of a named number. */
  private void operator(List<String> parts, Request request, Response response, Callback callback) {
    if (parts.isEmpty()) {
      views.listForOperator(request, PREFIX, response, callback);
      return;
    }
    Optional<String> number = HttpIo.queryParameter(request, "phone_number_id");
    if (number.isPresent() && !CallViews.phoneNumberId(number.get())) {
      HttpIo.writeError(response, callback, GraphError.invalidParameter(CallViews.BAD_PHONE_NUMBER_ID));
    } else if (CallViews.wacid(parts).isEmpty()) {
      HttpIo.writeError(response, callback, GraphError.invalidParameter(CallViews.BAD_WACID));
    } else if (number.isEmpty()) {
      HttpIo.writeError(response, callback, GraphError.invalidParameter(
          "With the admin token, name the call's number: GET /v1/calls/{wacid}?phone_number_id=…"));
    } else {
      views.oneForOperator(number.get(), parts, response, callback);
    }
  }
}

package dev.metalayer.jetty;

import dev.metalayer.MetaLayer;
import dev.metalayer.graph.Credentials;
import dev.metalayer.graph.GraphError;
import dev.metalayer.graph.Outcome;
import dev.metalayer.graph.Surface;
import dev.metalayer.keys.Grant;
import dev.metalayer.keys.Resolution;
import java.util.Optional;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * How the layer's own APIs for a number's key ({@code /v1/webhooks}, {@code /v1/calls}) find the key:
 * {@code x-api-key: ps_…} or {@code Authorization: Bearer ps_…}, resolved by the layer's
 * {@code TokenResolver}, holding the API's scope ({@code webhooks}, {@code calls}); both with different keys is refused with 400 (the Graph proxy's rule,
 * {@link Credentials#ofApiRequest}). A bearer credential that is not shaped like a key counts as a wrong
 * admin token when the admin API is on ({@link AdminHandler#refuseWrongToken}), so that no path guesses the
 * admin token faster than the admin API.
 */
final class KeyAuth {
  private KeyAuth() {}

  /**
   * The grant of the request's key when it holds {@code scope}, or empty once the refusal (400, 401, 429,
   * or the 403 of a missing scope, {@link Surface#lacking}) is answered.
   */
  static Optional<Grant> grant(MetaLayer layer, AdminHandler admin, Request request, Response response, Callback callback,
      Grant.Scope scope) {
    Outcome<Optional<String>> credential =
        Credentials.ofApiRequest(request.getHeaders().get(HttpHeader.AUTHORIZATION), request.getHeaders().get("x-api-key"));
    if (credential instanceof Outcome.Refused<Optional<String>> refused) {
      HttpIo.writeError(response, callback, refused.error());
      return Optional.empty();
    }
    Optional<String> presented = ((Outcome.Ok<Optional<String>>) credential).value();
    Resolution resolution = presented.map(layer.tokenResolver()::resolve)
        .orElse(new Resolution.Refused(Resolution.Reason.MISSING));
    if (resolution instanceof Resolution.Granted granted) {
      Optional<GraphError> lacking = Surface.lacking(granted.grant(), scope);
      if (lacking.isPresent()) {
        HttpIo.writeError(response, callback, lacking.get());
        return Optional.empty();
      }
      return Optional.of(granted.grant());
    }
    if (admin.enabled() && HttpIo.bearer(request).isPresent()
        && ((Resolution.Refused) resolution).reason() == Resolution.Reason.MALFORMED) {
      // not shaped like a key: a try at the admin token, limited as in the admin API
      admin.refuseWrongToken(request, response, callback, "Invalid or missing provider key or admin token.");
    } else {
      HttpIo.writeError(response, callback, GraphError.invalidToken("Invalid or missing provider key."));
    }
    return Optional.empty();
  }
}

package dev.metalayer.jetty;

import dev.metalayer.graph.GraphError;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Replaces Jetty's HTML error pages (bad URIs, headers too large, idle timeouts…) with Graph-shaped
 * JSON, so that every answer of the layer is one a Graph client can read, with its request id in
 * {@code X-Request-Id}. Never echoes the request (an id that is not {@linkplain dev.metalayer.log.RequestIds#valid
 * valid} is replaced, never echoed).
 */
final class GraphErrorPages extends ErrorHandler {

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    int status = response.getStatus();
    Object attribute = request.getAttribute(ERROR_STATUS);
    if (attribute instanceof Integer s) {
      status = s;
    }
    if (status < 400) {
      status = 500;
    }
    GraphError error =
        switch (status) {
          case 400 -> GraphError.invalidParameter("The request could not be understood (malformed request).");
          case 404 -> GraphError.notFound("Unknown path.");
          case 405 -> GraphError.methodNotAllowed("Method not allowed.");
          case 413 -> GraphError.bodyTooLarge();
          case 414 -> GraphError.of(414, 100, GraphError.LAYER, "The request URI is too long.");
          case 431 -> GraphError.of(431, 100, GraphError.LAYER, "The request headers are too large.");
          case 500 -> GraphError.internal();
          default -> GraphError.of(status, 1, GraphError.LAYER, "The request failed (HTTP " + status + ").");
        };
    // a request Jetty refused before routing has its id made here (a valid one it sent is kept)
    response.getHeaders().put(dev.metalayer.log.RequestIds.HEADER, AccessLog.trace(request).requestId());
    HttpIo.writeError(response, callback, error);
    return true;
  }
}

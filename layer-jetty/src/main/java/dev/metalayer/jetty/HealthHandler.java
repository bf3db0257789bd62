package dev.metalayer.jetty;

import java.util.Map;
import java.util.function.BooleanSupplier;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * {@code /healthz}: the process serves (always 200). {@code /readyz}: the store answers (200), or 503
 * when it does not, so that a load balancer stops sending traffic to an instance that cannot work.
 */
final class HealthHandler implements Request.Handler {
  private final BooleanSupplier ready;

  HealthHandler(BooleanSupplier ready) {
    this.ready = ready;
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    String path = request.getHttpURI().getPath();
    if (path.equals("/readyz")) {
      boolean ok = ready.getAsBoolean();
      HttpIo.writeJson(response, callback, ok ? 200 : 503, Map.of("status", ok ? "ready" : "store unreachable"));
    } else {
      HttpIo.writeJson(response, callback, 200, Map.of("status", "ok"));
    }
    return true;
  }
}

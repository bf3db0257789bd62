package dev.metalayer.jetty;

import dev.metalayer.crypto.Secrets;
import dev.metalayer.graph.GraphError;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * {@code GET /metrics}: the layer's meters in Prometheus's text format (version 0.0.4). With
 * {@code LAYER_METRICS_TOKEN} set, only a request with {@code Authorization: Bearer <token>} (compared
 * in constant time) is answered; any other gets a Graph-shaped 401. The scrape reads counters and the
 * gauges, whose store reads are cached by the core ({@link dev.metalayer.metrics.LayerMetrics#backlog}),
 * so a scraper in a loop cannot load the database.
 */
final class MetricsHandler implements Request.Handler {
  static final String PATH = "/metrics";
  static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private final PrometheusMeterRegistry registry;
  private final Optional<String> token;

  MetricsHandler(PrometheusMeterRegistry registry, Optional<String> token) {
    this.registry = registry;
    this.token = token;
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    if (token.isPresent() && !Secrets.constantTimeEquals(HttpIo.bearer(request).orElse(null), token.get())) {
      HttpIo.writeError(response, callback, GraphError.invalidToken(
          "The metrics need Authorization: Bearer with the value of LAYER_METRICS_TOKEN."));
      return true;
    }
    if (!request.getMethod().equals("GET") && !request.getMethod().equals("HEAD")) {
      HttpIo.writeError(response, callback, GraphError.methodNotAllowed("The metrics take GET."));
      return true;
    }
    byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
    response.setStatus(200);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, CONTENT_TYPE);
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
    response.write(true, request.getMethod().equals("HEAD") ? ByteBuffer.allocate(0) : ByteBuffer.wrap(body), callback);
    return true;
  }
}

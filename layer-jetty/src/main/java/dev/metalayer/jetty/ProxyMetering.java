package dev.metalayer.jetty;

import dev.metalayer.graph.GraphProxy;
import dev.metalayer.metrics.LayerMetrics;
import java.util.Locale;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Reports the Graph proxy's requests to the core's {@link LayerMetrics}, which decides their labels: around
 * the {@link GraphProxyHandler}, each client request when its answer ends (its route class, method and
 * status, and whether Meta's answer is what the client got), and, through {@link #watch}, each upstream
 * exchange (Meta's status and the time to its headers, or no answer at all). Decides nothing itself.
 */
final class ProxyMetering implements Request.Handler {
  private static final String ATTRIBUTE = ProxyMetering.class.getName();

  /** What one client request met upstream; written by the upstream client's threads, read at the end. */
  private static final class Tally {
    final LayerMetrics metrics;
    final String route;
    /**
     * The status of Meta's answer to the last upstream exchange, 0 when none came. The client got Meta's
     * answer when its status is this one: a layer error after Meta answered (an answer over its bound, a
     * redirect refused) has another.
     */
    volatile int metaStatus;

    Tally(LayerMetrics metrics, String route) {
      this.metrics = metrics;
      this.route = route;
    }
  }

  private final Request.Handler graph;
  private final GraphProxy proxy;
  private final LayerMetrics metrics;

  ProxyMetering(Request.Handler graph, GraphProxy proxy, LayerMetrics metrics) {
    this.graph = graph;
    this.proxy = proxy;
    this.metrics = metrics;
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) throws Exception {
    String path = request.getHttpURI().getPath().substring(proxy.settings().prefix().length());
    Tally tally = new Tally(metrics, proxy.routeClass(path));
    String method = request.getMethod().toUpperCase(Locale.ROOT);
    request.setAttribute(ATTRIBUTE, tally);
    Callback counted = Callback.from(callback,
        () -> metrics.proxyRequest(tally.route, method, response.getStatus(), tally.metaStatus == response.getStatus()));
    try {
      if (!graph.handle(request, response, counted)) {
        counted.failed(new IllegalStateException("the Graph handler did not take the request"));
      }
    } catch (Throwable t) {
      Routes.answerFailure(graph.getClass().getSimpleName(), response, counted, t);
    }
    return true;
  }

  /**
   * Reports Meta's answer to {@code proxyToServerRequest}, sent for {@code clientToProxyRequest}: the
   * time to its headers and its status, or that none came. Nothing when the request is not metered.
   */
  static void watch(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest) {
    if (!(clientToProxyRequest.getAttribute(ATTRIBUTE) instanceof Tally tally)) {
      return;
    }
    long sent = System.nanoTime();
    tally.metaStatus = 0;
    proxyToServerRequest.onResponseHeaders(serverToProxyResponse -> {
      tally.metaStatus = serverToProxyResponse.getStatus();
      tally.metrics.upstreamAnswered(tally.route, serverToProxyResponse.getStatus(), System.nanoTime() - sent);
    });
    proxyToServerRequest.onComplete(result -> {
      if (result.isFailed() && tally.metaStatus == 0 && !clientsFault(result.getFailure())) {
        tally.metrics.upstreamFailed(tally.route);
      }
    });
  }

  /** A failure of the client's body (too large, unreadable, refused as it streamed), not of Meta. */
  private static boolean clientsFault(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof HttpIo.BodyTooLargeException || t instanceof HttpIo.BodyRefusedException
          || t instanceof LimitedRequestContent.UnreadableBodyException) {
        return true;
      }
    }
    return false;
  }
}

package dev.metalayer.jetty;

import dev.metalayer.graph.GraphError;
import dev.metalayer.keys.KeyService;
import dev.metalayer.relay.StoreException;
import java.io.EOFException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.io.EofException;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Dispatches on path prefixes (longest first, on segment boundaries) and guards every handler: an
 * exception becomes a Graph-shaped 500 (when nothing was sent yet) and is logged with its
 * {@code fbtrace_id}, never with headers; a store that fails (the database gone) is a Graph-shaped 503 to
 * retry; a failure of the client's own (a body cut short) is one DEBUG line. Unknown paths get a Graph-shaped 404. Handlers that need a
 * life cycle (an HTTP client, workers) are registered as beans of the server, not here.
 */
final class Routes extends Handler.Abstract {
  private static final Logger log = LoggerFactory.getLogger(Routes.class);

  private record Route(String prefix, Request.Handler handler) {}

  private final List<Route> routes = new ArrayList<>();

  /** Routes {@code prefix} itself and everything under {@code prefix + "/"} to {@code handler}. */
  Routes add(String prefix, Request.Handler handler) {
    routes.add(new Route(prefix, handler));
    routes.sort(Comparator.comparingInt((Route r) -> r.prefix().length()).reversed());
    return this;
  }

  /** The prefixes routed, longest first (the API document's test reads them). */
  List<String> prefixes() {
    return routes.stream().map(Route::prefix).toList();
  }

  /** A handler that answers every request with {@code error} (e.g. a feature that is turned off). */
  static Request.Handler answering(java.util.function.Supplier<GraphError> error) {
    return (request, response, callback) -> {
      HttpIo.writeError(response, callback, error.get());
      return true;
    };
  }

  /**
   * Answers with the request's id in {@code X-Request-Id} ({@link AccessLog#traced}), whatever the route
   * and the outcome, and keeps it in the MDC while the route's handler runs on this thread.
   */
  @Override
  public boolean handle(Request request, Response response, Callback callback) throws Exception {
    Response traced = AccessLog.traced(request, response);
    return AccessLog.withMdc(request, () -> route(request, traced, callback));
  }

  private boolean route(Request request, Response response, Callback callback) {
    String path = request.getHttpURI().getPath();
    if (path == null) {
      path = "/";
    }
    for (Route route : routes) {
      String p = route.prefix();
      if (path.equals(p) || path.startsWith(p.endsWith("/") ? p : p + "/")) {
        return guarded(route.handler(), request, response, callback);
      }
    }
    HttpIo.writeError(response, callback, GraphError.notFound("Unknown path."));
    return true;
  }

  private static boolean guarded(Request.Handler handler, Request request, Response response, Callback callback) {
    try {
      if (handler.handle(request, response, callback)) {
        return true;
      }
      HttpIo.writeError(response, callback, GraphError.notFound("Unknown path."));
      return true;
    } catch (Throwable t) {
      answerFailure(handler.getClass().getSimpleName(), response, callback, t);
      return true;
    }
  }

  private static final FailureTraces TRACES = new FailureTraces(System::nanoTime);

  /**
   * When a failure's stack trace is logged: the first time a kind of failure (where, exception class)
   * is seen, then at most once a minute per kind, so that a request that makes the layer fail cannot
   * fill the disk with traces (a review sent 3,007 requests that each logged 80 KB). Thread-safe.
   */
  static final class FailureTraces {
    static final long EVERY_NANOS = java.util.concurrent.TimeUnit.MINUTES.toNanos(1);
    private static final int MAX_KINDS = 1_000;
    private final java.util.function.LongSupplier nanos;
    private final java.util.concurrent.ConcurrentHashMap<String, Long> lastTrace = new java.util.concurrent.ConcurrentHashMap<>();

    FailureTraces(java.util.function.LongSupplier nanos) {
      this.nanos = nanos;
    }

    /** Whether this failure's stack trace is logged now (and if so, counts it as logged). */
    boolean due(String where, Throwable t) {
      if (lastTrace.size() > MAX_KINDS) {
        lastTrace.clear();
      }
      long now = nanos.getAsLong();
      boolean[] due = new boolean[1];
      lastTrace.compute(where + " " + t.getClass().getName(), (kind, last) -> {
        due[0] = last == null || now - last >= EVERY_NANOS;
        return due[0] ? now : last;
      });
      return due[0];
    }
  }

  /**
   * Answers an unexpected failure of {@code where}: logged with its {@code fbtrace_id}, a Graph-shaped
   * 500 when nothing was sent yet, else the callback fails (the connection closes). Also for work that
   * runs after the handler returned (a body read with demand).
   */
  static void answerFailure(String where, Response response, Callback callback, Throwable t) {
    if (storeFailure(t)) {
      // the database does not answer (the key store and relay said so once per outage): a 503 to retry,
      // checked first, since a lost database connection ends in an EOFException too
      if (TRACES.due(where, t)) { // at most once a minute per kind, without a stack trace
        log.warn("{} answered 503: the store failed ({})", where, t.getMessage());
      }
      if (!response.isCommitted()) {
        response.reset();
        HttpIo.writeError(response, callback, GraphError.unavailable(STORE_UNAVAILABLE));
      } else {
        callback.failed(t);
      }
      return;
    }
    if (byClient(t)) {
      // a body cut short or malformed by the client: not a server failure, and not worth a stack trace
      log.debug("A client's request failed in {}: {}", where, t.getClass().getSimpleName());
      callback.failed(t);
      return;
    }
    GraphError error = GraphError.internal();
    if (TRACES.due(where, t)) {
      log.error("Unhandled failure in {} (fbtrace_id {})", where, error.fbtraceId(), t);
    } else {
      log.error("Unhandled failure in {} (fbtrace_id {}): {} (its stack trace is logged at most once a minute)",
          where, error.fbtraceId(), t.getClass().getName());
    }
    if (!response.isCommitted()) {
      response.reset();
      HttpIo.writeError(response, callback, error);
    } else {
      callback.failed(t);
    }
  }

  static final String STORE_UNAVAILABLE = "The layer's database does not answer right now; retry later.";

  /**
   * Whether {@code t} is the store failing: a key that cannot be checked ({@link
   * KeyService.StoreUnavailableException}) or a {@link StoreException} that is not a duplicate key.
   */
  static boolean storeFailure(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof KeyService.StoreUnavailableException || c instanceof StoreException s && !s.duplicate()) {
        return true;
      }
      if (c.getCause() == c) {
        break;
      }
    }
    return false;
  }

  /**
   * Whether {@code t} is the client's doing (its connection closed mid-body, a malformed body): an
   * {@link EofException}, {@link EOFException} or a 4xx {@link HttpException} (a bad message) anywhere in
   * its causes.
   */
  static boolean byClient(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof EofException || c instanceof EOFException
          || c instanceof HttpException h && h.getCode() >= 400 && h.getCode() < 500) {
        return true;
      }
      if (c.getCause() == c) {
        break;
      }
    }
    return false;
  }
}

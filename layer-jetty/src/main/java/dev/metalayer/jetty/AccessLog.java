package dev.metalayer.jetty;

import dev.metalayer.log.RequestIds;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The request id of each request ({@link RequestIds}: read once, by {@link Routes} or, for a request
 * Jetty refused before routing, by {@link GraphErrorPages}) and the access line of each proxied Graph
 * request.
 *
 * <p>The access line: one INFO line on {@value #LOGGER} per Graph request (media downloads included),
 * written when its answer ends, with key-value pairs {@code request_id}, {@code number_id} (the phone
 * number ID, the Meta object id; {@code -} before a key was resolved), {@code method}, {@code route} (a
 * path template of the Graph surface's row, {@code /media/{media-id}/download}, or {@code -} for a request
 * refused before its row was known), {@code status}, {@code meta_status} (Meta's last answer, when one
 * came), {@code outcome} and {@code latency_ms}. Never a key, a token, a query, a body or a phone number.
 * Outcomes: {@code ok} (status below 400), {@code refused} (the layer answered 4xx without asking Meta),
 * {@code meta_error} (Meta answered, and the client got 400 or more), {@code upstream_failed} (Meta did not
 * answer usably: a 502, 503 or 504 of the layer), {@code error} (the layer failed before asking Meta),
 * {@code aborted} (the answer was cut: the client left, or Meta's answer broke off midway).
 */
final class AccessLog {
  static final String LOGGER = "dev.metalayer.access";
  private static final Logger log = LoggerFactory.getLogger(LOGGER);

  /** The request attribute holding the request's {@link RequestIds.Trace}. */
  static final String TRACE = AccessLog.class.getName() + ".trace";

  private AccessLog() {}

  /** The trace of {@code request}: read from its headers the first time, then kept on it. */
  static RequestIds.Trace trace(Request request) {
    if (request.getAttribute(TRACE) instanceof RequestIds.Trace t) {
      return t;
    }
    RequestIds.Trace t = RequestIds.incoming(request.getHeaders().get(RequestIds.HEADER),
        request.getHeaders().get(RequestIds.TRACEPARENT), ThreadLocalRandom.current());
    request.setAttribute(TRACE, t);
    return t;
  }

  /**
   * {@code response}, answering with the request id in {@value RequestIds#HEADER}, also after a
   * {@link Response#reset()} (a failure answered late).
   */
  static Response traced(Request request, Response response) {
    String id = trace(request).requestId();
    response.getHeaders().put(RequestIds.HEADER, id);
    return new Response.Wrapper(request, response) {
      @Override
      public void reset() {
        super.reset();
        getHeaders().put(RequestIds.HEADER, id);
      }
    };
  }

  /** Sets the MDC's request id for the lines logged while {@code work} runs, and clears it after. */
  static boolean withMdc(Request request, java.util.concurrent.Callable<Boolean> work) throws Exception {
    String before = MDC.get(RequestIds.MDC_KEY);
    MDC.put(RequestIds.MDC_KEY, trace(request).requestId());
    try {
      return work.call();
    } finally {
      if (before == null) {
        MDC.remove(RequestIds.MDC_KEY);
      } else {
        MDC.put(RequestIds.MDC_KEY, before);
      }
    }
  }

  /** {@link #withMdc(Request, java.util.concurrent.Callable)} for work that runs later, on another thread. */
  static void withMdc(Request request, Runnable work) {
    try {
      withMdc(request, () -> {
        work.run();
        return true;
      });
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e); // a Runnable throws nothing checked
    }
  }

  /** What one Graph request's line says; filled as the request goes, written once. Thread-safe. */
  static final class Line {
    private final long started = System.nanoTime();
    private final String requestId;
    private final String method;
    private final AtomicBoolean written = new AtomicBoolean();
    private volatile String numberId = "-";
    private volatile String route = "-";
    private volatile int sends;
    private volatile int metaStatus = -1;

    /** @param method as the client sent it: logged when it is 1 to 10 upper-case letters, else as {@code OTHER} */
    Line(String requestId, String method) {
      this.requestId = requestId;
      this.method = method.length() <= 10 && !method.isEmpty() && method.chars().allMatch(c -> c >= 'A' && c <= 'Z')
          ? method : "OTHER";
    }

    /** The request's number and route, once the core accepted it. */
    void accepted(String numberId, String route) {
      this.numberId = numberId;
      this.route = route;
    }

    void route(String route) {
      this.route = route;
    }

    /** A request went upstream. */
    void sent() {
      sends++;
    }

    /** Meta (or a media host) answered with {@code status}. */
    void metaAnswered(int status) {
      metaStatus = status;
    }

    /** {@code callback}, writing this line when it completes, before it completes. */
    Callback writtenBy(Callback callback, Response response) {
      return new Callback.Nested(callback) {
        @Override
        public void succeeded() {
          write(response.getStatus(), false);
          super.succeeded();
        }

        @Override
        public void failed(Throwable x) {
          write(response.getStatus(), true);
          super.failed(x);
        }
      };
    }

    String outcome(int status, boolean cut) {
      if (cut) {
        return "aborted";
      }
      if (status < 400) {
        return "ok";
      }
      if (metaStatus >= 0) {
        return "meta_error";
      }
      if (sends > 0 && status >= 500) {
        return "upstream_failed";
      }
      return status >= 500 ? "error" : "refused";
    }

    private void write(int status, boolean cut) {
      if (!written.compareAndSet(false, true) || !log.isInfoEnabled()) {
        return;
      }
      org.slf4j.spi.LoggingEventBuilder line = log.atInfo()
          .addKeyValue("request_id", requestId)
          .addKeyValue("number_id", numberId)
          .addKeyValue("method", method)
          .addKeyValue("route", route)
          .addKeyValue("status", status);
      if (metaStatus >= 0) {
        line = line.addKeyValue("meta_status", metaStatus);
      }
      line.addKeyValue("outcome", outcome(status, cut))
          .addKeyValue("latency_ms", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started))
          .log("graph request");
    }
  }
}

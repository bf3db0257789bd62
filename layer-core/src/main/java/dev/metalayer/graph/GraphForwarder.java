package dev.metalayer.graph;

import java.util.Map;
import java.util.List;
import java.net.URI;
import dev.metalayer.graph.GraphForwarder.UpstreamFailure;

import java.time.Duration;
import java.util.Objects;

/**
 * Sends a prepared request to Graph (or a media host) and brings back the answer: the extension point
 * between the core's decisions and an HTTP client.
 *
 * <p>Contract: the request is sent once, as given (never retried: a repeated {@code accept} of a call
 * is an error at Meta); redirects are not followed (the core decides which to follow); the whole
 * exchange ends within {@link GraphRequest#timeout()}. An upstream that answers, whatever the status,
 * gives {@link Forwarded.Answered}; a timeout gives {@link Forwarded.Failed} with
 * {@link UpstreamFailure#TIMEOUT} and any other failure (refused, reset, garbage)
 * {@link UpstreamFailure#UNREACHABLE}; the core turns either into the client's error. Implementations
 * are thread-safe and never log headers or bodies.
 *
 * <p>{@link GraphProxy#handle} executes the core's {@link GraphStep}s through a forwarder, buffered.
 * {@link #jdk(Duration)} is an implementation on {@code java.net.http}, enough for an embedder without
 * Jetty. The standalone layer does not use a forwarder: its Jetty adapter executes the same steps
 * itself, streaming.
 */
@FunctionalInterface
public interface GraphForwarder {

  Forwarded forward(GraphRequest request);

  /** The outcome of one upstream exchange. */
  sealed interface Forwarded {
    record Answered(GraphAnswer answer) implements Forwarded {
      public Answered {
        Objects.requireNonNull(answer, "answer");
      }
    }

    record Failed(UpstreamFailure reason) implements Forwarded {
      public Failed {
        Objects.requireNonNull(reason, "reason");
      }
    }
  }

  /**
   * A forwarder on the JDK's {@link java.net.http.HttpClient} (HTTP/1.1, no redirects, no cookies):
   * connects within {@code connectTimeout} and ends each exchange within the request's timeout. Bodies
   * are buffered in memory.
   */
  static GraphForwarder jdk(Duration connectTimeout) {
    return new JdkGraphForwarder(connectTimeout);
  }

  /**
   * A request ready to go upstream: the Meta token is already in {@code headers} and the client's
   * credential is gone. {@link #toString()} shows no header values.
   *
   * @param headers header names to values; names as the client wrote them
   * @param body the body to send, empty for none
   * @param timeout the total time the forwarder may spend on this exchange
   */
  record GraphRequest(String method, URI uri, Map<String, List<String>> headers, byte[] body, Duration timeout) {
    public GraphRequest {
      Objects.requireNonNull(method, "method");
      Objects.requireNonNull(uri, "uri");
      headers = Map.copyOf(headers);
      body = body == null ? new byte[0] : body;
      Objects.requireNonNull(timeout, "timeout");
    }

    /**
     * This request carrying {@code trace} on ({@link dev.metalayer.log.RequestIds.Trace#headers()}):
     * its headers of those names, in any case, replaced.
     */
    public GraphRequest traced(dev.metalayer.log.RequestIds.Trace trace) {
      Map<String, List<String>> out = new java.util.LinkedHashMap<>();
      headers.forEach((name, values) -> {
        if (trace.headers().keySet().stream().noneMatch(name::equalsIgnoreCase)) {
          out.put(name, values);
        }
      });
      trace.headers().forEach((name, value) -> out.put(name, List.of(value)));
      return new GraphRequest(method, uri, out, body, timeout);
    }

    @Override
    public String toString() {
      return "GraphRequest[" + method + " " + uri.getRawPath() + ", " + body.length + " bytes]";
    }
  }

  /**
   * Why an upstream exchange ended without an answer the layer could use, as an adapter observed it;
   * {@link GraphStep.Send#failed} turns it into the client's Graph-shaped error (one reading, in the core).
   */
  enum UpstreamFailure {
    /** The exchange did not end within its total or idle timeout: 504. */
    TIMEOUT(GraphError.gatewayTimeout("The Graph API did not answer in time.")),
    /** No connection, a reset, or bytes that are no HTTP answer: 502. */
    UNREACHABLE(GraphError.badGateway("The Graph API could not be reached or gave an invalid answer.")),
    /** A body to be read whole was larger than its bound ({@link GraphStep.Head.Buffer#maxBytes()}): 502. */
    ANSWER_TOO_LARGE(GraphError.badGateway("The Graph API answer is too large to rewrite.")),
    /** The request could not be built by the adapter's HTTP client (a value it refuses): 502. */
    UNSENDABLE(GraphError.badGateway("The upstream request could not be built.")),
    /** The adapter is stopping and gave up the exchange: 503. */
    STOPPING(GraphError.unavailable("The layer is shutting down."));

    private final GraphError template;

    UpstreamFailure(GraphError template) {
      this.template = template;
    }

    /** The client's error for this failure, with a fresh {@code fbtrace_id}. */
    GraphError error() {
      return GraphError.of(template.status(), template.code(), template.type(), template.message());
    }

    /** Whether Meta (Graph or a media host) could not be reached in time: the operator is told at WARN. */
    boolean metaUnreachable() {
      return this == TIMEOUT || this == UNREACHABLE;
    }
  }
}

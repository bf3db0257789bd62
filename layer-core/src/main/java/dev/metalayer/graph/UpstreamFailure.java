package dev.metalayer.graph;

/**
 * Why an upstream exchange ended without an answer the layer could use, as an adapter observed it;
 * {@link GraphStep.Send#failed} turns it into the client's Graph-shaped error (one reading, in the core).
 */
public enum UpstreamFailure {
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

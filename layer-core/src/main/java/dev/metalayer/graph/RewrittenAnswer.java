package dev.metalayer.graph;

/**
 * What the layer sends a client for a JSON answer from Graph ({@link GraphExchange#rewriteJson}).
 */
sealed interface RewrittenAnswer {

  /** Send {@code body} with the upstream status: the answer rewritten and scrubbed of the token. */
  record Send(byte[] body) implements RewrittenAnswer {}

  /**
   * Send {@code error} instead of the answer, whose bytes must not reach the client: a media lookup that
   * answered with an object that is no media object.
   */
  record Refuse(GraphError error) implements RewrittenAnswer {}

  /** The body is not JSON: a Graph client cannot read it (the layer answers 502). */
  record NotJson() implements RewrittenAnswer {}

  /**
   * The error the client gets when the answer is not sent: a refusal's own, or the 502 for an answer
   * of {@code upstreamStatus} that is not JSON. Only for what is not {@link Send}.
   */
  default GraphError instead(int upstreamStatus) {
    if (this instanceof Send) {
      throw new IllegalStateException("a rewritten answer is sent, not replaced");
    }
    return this instanceof Refuse refuse ? refuse.error() : GraphSteps.invalidAnswer(upstreamStatus);
  }
}

package dev.metalayer.graph;

import dev.metalayer.keys.Grant;
import java.util.Optional;

/**
 * What the Graph proxy asks of the layer's knowledge of calls (the {@code dev.metalayer.calls}
 * package implements it): whether a call action or a call permission request may go to Meta, and
 * what Meta answered. The proxy calls {@link #before} for every request its {@link Surface} allowed on
 * {@code POST /{phone-number-id}/calls} and {@code POST /{phone-number-id}/messages}, and
 * {@link #after} with the answer the client gets. Thread-safe.
 */
public interface CallGuard {
  /** A guard that lets everything through and records nothing (an embedder without call records). */
  CallGuard NONE = new CallGuard() {
    @Override
    public Optional<GraphAnswer> before(Grant grant, String edge, byte[] body) {
      return Optional.empty();
    }

    @Override
    public void after(Grant grant, String edge, byte[] requestBody, int status, byte[] answerBody) {}
  };

  /**
   * Decides before anything is sent upstream.
   *
   * @param edge {@code calls} or {@code messages}
   * @param body the request body as the client sent it (JSON or a form); empty when none
   * @return empty to send the request; else the answer the client gets instead, and nothing reaches Meta
   */
  Optional<GraphAnswer> before(Grant grant, String edge, byte[] body);

  /**
   * Records Meta's answer to a request {@link #before} let through.
   *
   * @param answerBody the answer's body as the client gets it (rewritten and scrubbed)
   */
  void after(Grant grant, String edge, byte[] requestBody, int status, byte[] answerBody);
}

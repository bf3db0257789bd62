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
   * What the layer's call rules read of a {@code /calls} or {@code /messages} body, read as Graph reads
   * it (a JSON object or a form; an object given as JSON text read as that object).
   *
   * @param action the call action, trimmed and lower case ({@code connect}, {@code pre_accept}…)
   * @param callId the {@code call_id} (visible ASCII, at most 256 characters)
   * @param user the user addressed: {@code to} as its digits alone (so that {@code +1 408-555-1234} and
   *     {@code 14085551234} are one user), else {@code recipient} (a business-scoped user ID)
   * @param permissionRequest whether the body is a call permission request: an {@code interactive} of
   *     type {@code call_permission_request}, or a {@code template} with a component of that type
   */
  record CallRequest(Optional<String> action, Optional<String> callId, Optional<String> user, boolean permissionRequest) {
    /** An empty body's. */
    public static final CallRequest NONE = new CallRequest(Optional.empty(), Optional.empty(), Optional.empty(), false);

    /**
     * Reads a request body (empty for none).
     *
     * @return the values, or the 400 to answer for a body whose call values are ambiguous or malformed
     *     (one of them given twice, a {@code call_id} that is no string or too long…)
     */
    public static Outcome<CallRequest> read(byte[] body) {
      return CallRequests.read(body);
    }
  }

  /**
   * Decides before anything is sent upstream.
   *
   * @param edge {@code calls} or {@code messages}
   * @param body the request body as the client sent it (JSON or a form); empty when none
   * @return empty to send the request; else the answer the client gets instead, and nothing reaches Meta
   */
  Optional<GraphAnswer> before(Grant grant, String edge, byte[] body);

  /**
   * Records Meta's answer to a request {@link #before} let through. Like {@link #before}, it may block
   * on a store (the layer's writes the call record): the proxy calls it before the client gets the
   * answer, on a thread that may block ({@link GraphStep.Send#answerMayBlock}).
   *
   * @param answerBody the answer's body as the client gets it (rewritten and scrubbed)
   */
  void after(Grant grant, String edge, byte[] requestBody, int status, byte[] answerBody);
}

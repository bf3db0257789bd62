package dev.metalayer.graph;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A request ready to go upstream: the Meta token is already in {@code headers} and the client's
 * credential is gone. {@link #toString()} shows no header values.
 *
 * @param headers header names to values; names as the client wrote them
 * @param body the body to send, empty for none
 * @param timeout the total time the forwarder may spend on this exchange
 */
public record GraphRequest(String method, URI uri, Map<String, List<String>> headers, byte[] body, Duration timeout) {
  public GraphRequest {
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(uri, "uri");
    headers = Map.copyOf(headers);
    body = body == null ? new byte[0] : body;
    Objects.requireNonNull(timeout, "timeout");
  }

  @Override
  public String toString() {
    return "GraphRequest[" + method + " " + uri.getRawPath() + ", " + body.length + " bytes]";
  }
}

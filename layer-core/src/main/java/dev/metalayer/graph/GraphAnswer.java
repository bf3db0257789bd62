package dev.metalayer.graph;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * An answer: from upstream as received, or from the layer as sent to the client.
 *
 * @param headers header names (lower case when made by the layer) to values
 */
public record GraphAnswer(int status, Map<String, List<String>> headers, byte[] body) {
  public GraphAnswer {
    headers = Map.copyOf(headers);
    Objects.requireNonNull(body, "body");
  }

  /** The first value of a header, case-insensitively, or null. */
  public String header(String name) {
    for (Map.Entry<String, List<String>> e : headers.entrySet()) {
      if (e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty()) {
        return e.getValue().get(0);
      }
    }
    return null;
  }

  /**
   * A layer error as an answer: JSON, never cached, with {@code WWW-Authenticate} on a 401 and
   * {@code Retry-After} on a 429.
   */
  public static GraphAnswer of(GraphError error) {
    Map<String, List<String>> h = new TreeMap<>();
    h.put("content-type", List.of("application/json; charset=UTF-8"));
    h.put("cache-control", List.of("no-store"));
    if (error.wwwAuthenticate() != null) {
      h.put("www-authenticate", List.of(error.wwwAuthenticate()));
    }
    if (error.retryAfter() != null) {
      h.put("retry-after", List.of(error.retryAfter()));
    }
    return new GraphAnswer(error.status(), h, error.toJson());
  }

  @Override
  public String toString() {
    return "GraphAnswer[" + status + ", " + body.length + " bytes]";
  }

  /** The body as UTF-8 text (for small JSON answers). */
  public String text() {
    return new String(body, StandardCharsets.UTF_8);
  }
}

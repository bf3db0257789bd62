package dev.metalayer.graph;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Checks the part names of a {@code multipart/form-data} body as it streams: each part's
 * {@code Content-Disposition} name must be one the route takes ({@link Surface}); the first part that
 * is not is a refusal, and the adapter then fails the upstream body before it is complete, so Graph
 * never runs the request. Only part headers are kept (at most {@value #MAX_HEADER_BYTES} bytes a
 * part); part contents pass through uninspected. Not thread-safe: one instance per request body, fed in
 * order.
 */
public final class MultipartParts {
  static final int MAX_HEADER_BYTES = 8 * 1024;

  private final byte[] delimiter;
  private final int[] failure;
  private final Set<String> allowed;
  private int matched;
  private boolean inHeaders;
  private boolean done;
  private int parts;
  private int tail;
  private final ByteArrayOutputStream header = new ByteArrayOutputStream();
  private GraphError refusal;

  private MultipartParts(String boundary, Set<String> allowed) {
    // the body is read as if preceded by CRLF, so that the first delimiter looks like the others
    this.delimiter = ("\r\n--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
    this.failure = failureFunction(delimiter);
    this.allowed = Set.copyOf(allowed);
    this.matched = 2;
  }

  /** A checker for a body of {@code contentType}, or a 400 when it names no boundary. */
  public static Outcome<MultipartParts> forContentType(String contentType, Set<String> allowed) {
    Optional<String> boundary = boundary(contentType);
    if (boundary.isEmpty()) {
      return Outcome.refused(GraphError.invalidParameter("A multipart body needs one boundary (1 to 70 characters)."));
    }
    return Outcome.ok(new MultipartParts(boundary.get(), allowed));
  }

  /**
   * Inspects the next bytes of the body (the buffer's position is not moved).
   *
   * @return the refusal, once a part name is not allowed (and from then on)
   */
  public Optional<GraphError> feed(ByteBuffer chunk) {
    for (int i = chunk.position(); i < chunk.limit() && refusal == null && !done; i++) {
      next(chunk.get(i));
    }
    return Optional.ofNullable(refusal);
  }

  /** {@link #feed(ByteBuffer)} of a whole array. */
  public Optional<GraphError> feed(byte[] bytes) {
    return feed(ByteBuffer.wrap(bytes));
  }

  private void next(byte b) {
    if (inHeaders) {
      header.write(b);
      if (header.size() > MAX_HEADER_BYTES) {
        refusal = GraphError.invalidParameter("A multipart part header is too large.");
        return;
      }
      tail = (tail << 8) | (b & 0xff);
      if (header.size() == 2 && tail == (('-' << 8) | '-')) {
        done = true; // the closing delimiter: the epilogue is not looked at
        return;
      }
      if (header.size() >= 4 && tail == 0x0d0a0d0a) {
        part(header.toString(StandardCharsets.UTF_8));
        header.reset();
        tail = 0;
        inHeaders = false;
        matched = 0;
      }
      return;
    }
    while (matched > 0 && delimiter[matched] != b) {
      matched = failure[matched - 1];
    }
    if (delimiter[matched] == b) {
      matched++;
    }
    if (matched == delimiter.length) {
      inHeaders = true;
      matched = 0;
    }
  }

  private void part(String headers) {
    if (++parts > Credentials.MAX_PARAMETERS) {
      refusal = GraphError.invalidParameter("Too many multipart parts.");
      return;
    }
    String name = null;
    for (String line : headers.split("\r\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase("content-disposition")) {
        for (String param : line.substring(colon + 1).split(";")) {
          int eq = param.indexOf('=');
          String key = eq < 0 ? param.trim() : param.substring(0, eq).trim().toLowerCase(Locale.ROOT);
          if (key.equals("name*")) {
            refusal = Surface.refusal("multipart-part", "An encoded multipart part name (name*) is refused.");
            return;
          }
          if (key.equals("name") && eq > 0) {
            if (name != null) {
              // Graph may read either: the layer cannot tell which, so it takes neither
              refusal = Surface.refusal("multipart-part", "A multipart part may have one name.");
              return;
            }
            name = unquote(param.substring(eq + 1).trim());
          }
        }
      }
    }
    if (name == null) {
      refusal = GraphError.invalidParameter("A multipart part has no name.");
      return;
    }
    String canonical = Credentials.canonicalName(name);
    if (Credentials.isCredentialName(canonical)) {
      refusal = Credentials.credentialName();
    } else if (!allowed.contains(canonical)) {
      refusal = Surface.refusal("multipart-part", "This route takes the multipart parts " + String.join(", ", new java.util.TreeSet<>(allowed)) + " only.");
    }
  }

  private static String unquote(String v) {
    return v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"") ? v.substring(1, v.length() - 1) : v;
  }

  /** The one boundary of {@code contentType}; empty when there is none, more than one, or a bad one. */
  static Optional<String> boundary(String contentType) {
    if (contentType == null) {
      return Optional.empty();
    }
    Optional<String> found = Optional.empty();
    for (String param : contentType.split(";")) {
      int eq = param.indexOf('=');
      if (eq > 0 && param.substring(0, eq).trim().equalsIgnoreCase("boundary")) {
        String b = unquote(param.substring(eq + 1).trim());
        if (found.isPresent() || b.isEmpty() || b.length() > 70) {
          return Optional.empty();
        }
        found = Optional.of(b);
      }
    }
    return found;
  }

  private static int[] failureFunction(byte[] pattern) {
    int[] f = new int[pattern.length];
    int k = 0;
    for (int i = 1; i < pattern.length; i++) {
      while (k > 0 && pattern[k] != pattern[i]) {
        k = f[k - 1];
      }
      if (pattern[k] == pattern[i]) {
        k++;
      }
      f[i] = k;
    }
    return f;
  }
}

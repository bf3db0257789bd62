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
 * part); part contents pass through uninspected but for the boundary. Not thread-safe: one instance
 * per request body, fed in order.
 *
 * <p>The body is read strictly, so that every parser reads the same parts (rule {@code multipart-part}):
 * the content type is {@code multipart/form-data} with exactly one {@code boundary} (and at most a
 * {@code charset}) and no other parameter; the boundary is 1 to 70 of {@code A-Z a-z 0-9 + _ - . / : = ?};
 * the body begins with the first delimiter (no preamble); {@code --boundary} occurs only at the start
 * of a line ending in CRLF and is followed by optional spaces and CRLF, or by {@code --} (the close);
 * part header lines end in CRLF (no bare CR or LF, no folded line, each a {@code Name: value}); after
 * the close only CR, LF, space and tab may follow. A parser that also splits at a bare LF, reads on
 * after the close, or picks another boundary out of the content type would otherwise see parts the
 * layer did not check.
 */
public final class MultipartParts {
  private static final String BAD_DELIMITER = "A multipart delimiter must be followed by CRLF or by -- (the close).";
  static final int MAX_HEADER_BYTES = 8 * 1024;
  private static final java.util.regex.Pattern BOUNDARY = java.util.regex.Pattern.compile("[A-Za-z0-9+_\\-./:=?]{1,70}");
  private static final java.util.regex.Pattern CHARSET = java.util.regex.Pattern.compile("[A-Za-z0-9_\\-.:]{1,40}");

  private enum State { START, AFTER_DELIMITER, CLOSING, PADDING_LF, HEADERS, CONTENT, EPILOGUE }

  /** {@code --boundary}: it may occur only as a delimiter. */
  private final byte[] dashBoundary;
  private final int[] failure;
  private final Set<String> allowed;
  /** The last bytes of the body, to see what precedes a {@code --boundary}. */
  private final byte[] recent;
  /** Where the next byte goes in {@link #recent}. */
  private int ring;
  private State state = State.START;
  private int matched;
  private int parts;
  private int tail;
  private final ByteArrayOutputStream header = new ByteArrayOutputStream();
  private GraphError refusal;

  private MultipartParts(String boundary, Set<String> allowed) {
    this.dashBoundary = ("--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
    this.failure = failureFunction(dashBoundary);
    this.allowed = Set.copyOf(allowed);
    this.recent = new byte[dashBoundary.length + 2];
  }

  /** A checker for a body of {@code contentType}, or a 400 when it is not a strict multipart form type. */
  public static Outcome<MultipartParts> forContentType(String contentType, Set<String> allowed) {
    Optional<String> boundary = boundary(contentType);
    if (boundary.isEmpty()) {
      return Outcome.refused(GraphError.invalidParameter("(rule multipart-part) A multipart body needs the type multipart/form-data"
          + " with one boundary (1 to 70 of A-Z a-z 0-9 + _ - . / : = ?) and no other parameter but charset."));
    }
    return Outcome.ok(new MultipartParts(boundary.get(), allowed));
  }

  /**
   * Inspects the next bytes of the body (the buffer's position is not moved).
   *
   * @return the refusal, once a part name is not allowed or the body is not read strictly (and from then on)
   */
  public Optional<GraphError> feed(ByteBuffer chunk) {
    byte[] recent = this.recent;
    for (int i = chunk.position(), limit = chunk.limit(); i < limit && refusal == null; i++) {
      byte b = chunk.get(i);
      if (matched == 0 && b != '-' && state == State.CONTENT) {
        // the common case, inside a part's content: this byte starts no "--boundary"
        recent[ring] = b;
        ring = ring + 1 == recent.length ? 0 : ring + 1;
        continue;
      }
      next(b);
    }
    return Optional.ofNullable(refusal);
  }

  /** {@link #feed(ByteBuffer)} of a whole array. */
  public Optional<GraphError> feed(byte[] bytes) {
    return feed(ByteBuffer.wrap(bytes));
  }

  private void malformed(String why) {
    refusal = Surface.refusal("multipart-part", why);
  }

  private void next(byte b) {
    recent[ring] = b;
    ring = ring + 1 == recent.length ? 0 : ring + 1;
    switch (state) {
      case START -> {
        if (b != dashBoundary[matched]) {
          malformed("A multipart body must begin with its first delimiter (no preamble).");
        } else if (++matched == dashBoundary.length) {
          state = State.AFTER_DELIMITER;
        }
      }
      case AFTER_DELIMITER -> {
        if (b == '-') {
          state = State.CLOSING;
        } else {
          padding(b);
        }
      }
      case CLOSING -> {
        if (b == '-') {
          state = State.EPILOGUE;
        } else {
          malformed(BAD_DELIMITER);
        }
      }
      case PADDING_LF -> padding(b);
      case EPILOGUE -> {
        if (b != '\r' && b != '\n' && b != ' ' && b != '\t') {
          // a parser that reads on after the close would find parts here
          malformed("Nothing but blank lines may follow the closing multipart delimiter.");
        }
      }
      case HEADERS -> headerByte(b);
      case CONTENT -> contentByte(b);
    }
  }

  /** Transport padding (spaces, tabs) and the CRLF that ends a delimiter line. */
  private void padding(byte b) {
    if (state == State.PADDING_LF && b == '\n') {
      state = State.HEADERS;
      header.reset();
      tail = 0;
    } else if (state == State.AFTER_DELIMITER && (b == ' ' || b == '\t')) {
      // stays
    } else if (state == State.AFTER_DELIMITER && b == '\r') {
      state = State.PADDING_LF;
    } else {
      malformed(BAD_DELIMITER);
    }
  }

  private void headerByte(byte b) {
    header.write(b);
    if (header.size() > MAX_HEADER_BYTES) {
      refusal = GraphError.invalidParameter("A multipart part header is too large.");
      return;
    }
    int previous = tail & 0xff;
    tail = (tail << 8) | (b & 0xff);
    if (b == '\n' && previous != '\r' || previous == '\r' && b != '\n') {
      malformed("A multipart part header line must end in CRLF (no bare CR or LF).");
      return;
    }
    if (header.size() == 2 && tail == 0x0d0a) {
      malformed("A multipart part needs a Content-Disposition header.");
      return;
    }
    if (header.size() >= 4 && tail == 0x0d0a0d0a) {
      part(header.toString(StandardCharsets.UTF_8));
      state = State.CONTENT;
      matched = 0;
      java.util.Arrays.fill(recent, (byte) 0); // the header's CRLF does not start a delimiter line
    }
  }

  private void contentByte(byte b) {
    while (matched > 0 && dashBoundary[matched] != b) {
      matched = failure[matched - 1];
    }
    if (dashBoundary[matched] == b) {
      matched++;
    }
    if (matched == dashBoundary.length) {
      matched = 0;
      // recent holds the match and, just before it (at ring, ring + 1), the two bytes that precede it
      if (recent[ring] != '\r' || recent[ring + 1 == recent.length ? 0 : ring + 1] != '\n') {
        // a parser that also splits at a bare LF (or anywhere) would see a part here
        malformed("A multipart boundary may occur only as a delimiter line (CRLF --boundary).");
        return;
      }
      state = State.AFTER_DELIMITER;
    }
  }

  private void part(String headers) {
    if (++parts > Credentials.MAX_PARAMETERS) {
      refusal = GraphError.invalidParameter("Too many multipart parts.");
      return;
    }
    String name = null;
    for (String line : headers.split("\r\n")) {
      if (line.isEmpty()) {
        continue;
      }
      int colon = line.indexOf(':');
      if (colon <= 0 || line.charAt(0) == ' ' || line.charAt(0) == '\t') {
        // a folded line or a stray one: parsers disagree on what it continues
        refusal = Surface.refusal("multipart-part", "A multipart part header line must be a Name: value line (no folding).");
        return;
      }
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

  /**
   * The one boundary of {@code contentType}; empty unless it is {@code multipart/form-data} with exactly
   * one {@code boundary} parameter (and at most one {@code charset}), no other parameter, no parameter
   * value with a comma, semicolon, quote or space, and no other mention of "boundary" before it (a
   * parser that searches the header for the word would find that one).
   */
  static Optional<String> boundary(String contentType) {
    if (contentType == null) {
      return Optional.empty();
    }
    String[] params = contentType.split(";", -1);
    if (!params[0].trim().equalsIgnoreCase("multipart/form-data")) {
      return Optional.empty();
    }
    String found = null;
    boolean charset = false;
    int boundaryAt = -1;
    int offset = params[0].length() + 1;
    for (int i = 1; i < params.length; i++) {
      String param = params[i];
      int eq = param.indexOf('=');
      if (eq < 0) {
        return Optional.empty();
      }
      String name = param.substring(0, eq).strip().toLowerCase(Locale.ROOT);
      String value = param.substring(eq + 1);
      if (!param.substring(0, eq).stripLeading().equals(param.substring(0, eq).strip()) || !value.equals(value.stripTrailing())) {
        return Optional.empty(); // nothing between a name and "=", nor after a value
      }
      if (name.equals("boundary") && found == null) {
        String v = value.length() >= 2 && value.startsWith("\"") && value.endsWith("\"") ? value.substring(1, value.length() - 1) : value;
        if (!BOUNDARY.matcher(v).matches()) {
          return Optional.empty();
        }
        found = v;
        boundaryAt = offset + param.indexOf(param.substring(0, eq).strip());
      } else if (name.equals("charset") && !charset && CHARSET.matcher(value).matches()) {
        charset = true;
      } else {
        return Optional.empty();
      }
      offset += param.length() + 1;
    }
    if (found == null || contentType.toLowerCase(Locale.ROOT).indexOf("boundary") != boundaryAt) {
      return Optional.empty();
    }
    return Optional.of(found);
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

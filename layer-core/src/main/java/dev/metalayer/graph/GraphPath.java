package dev.metalayer.graph;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The Graph path a client addressed, after the layer's prefix: an optional version segment, the object
 * (node) and its edges, e.g. {@code /v22.0/106540352242922/calls}.
 *
 * <p>Parsing is strict about what could escape the object the Graph surface sees: {@code .} and
 * {@code ..} segments, empty segments inside the path, backslashes, NUL and the encoded forms of
 * {@code /}, {@code \}, {@code .} and NUL ({@code %2F}, {@code %5C}, {@code %2E}, {@code %00}) are
 * refused with a 400. Leading slashes are tolerated (a client whose base URL ends in {@code /} sends
 * {@code //v13.0/…}), and so is one trailing slash. Segments are kept as the client encoded them, so
 * that the upstream path is the client's path byte for byte.
 *
 * @param version the version segment ({@code v13.0}, {@code v24.0}…), if any
 * @param object the first segment after the version, as sent (still percent-encoded)
 * @param edges the segments after the object, as sent; may be empty
 */
record GraphPath(Optional<String> version, String object, List<String> edges) {
  private static final Pattern VERSION = Pattern.compile("v[0-9]{1,3}(\\.[0-9]{1,3})?");
  private static final List<String> FORBIDDEN_ESCAPES = List.of("%2f", "%5c", "%2e", "%00");

  public GraphPath {
    version = version == null ? Optional.empty() : version;
    edges = List.copyOf(edges);
  }

  /**
   * @param rawPath the path after the prefix, percent-encoded as received; may be empty
   * @return the parsed path, or a 400 refusal
   */
  public static Outcome<GraphPath> parse(String rawPath) {
    String raw = rawPath == null ? "" : rawPath;
    String lower = raw.toLowerCase(Locale.ROOT);
    for (String escape : FORBIDDEN_ESCAPES) {
      if (lower.contains(escape)) {
        return Outcome.refused(GraphError.invalidParameter("The request path contains an encoded separator."));
      }
    }
    if (raw.indexOf('\\') >= 0 || raw.indexOf('\0') >= 0) {
      return Outcome.refused(GraphError.invalidParameter("The request path contains an invalid character."));
    }
    int start = 0;
    while (start < raw.length() && raw.charAt(start) == '/') {
      start++;
    }
    String trimmed = raw.substring(start);
    if (trimmed.endsWith("/")) {
      trimmed = trimmed.substring(0, trimmed.length() - 1);
    }
    if (trimmed.isEmpty()) {
      return noObject();
    }
    List<String> segments = new ArrayList<>(List.of(trimmed.split("/", -1)));
    for (String segment : segments) {
      if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
        return Outcome.refused(GraphError.invalidParameter("The request path contains an invalid segment."));
      }
    }
    Optional<String> version = Optional.empty();
    if (VERSION.matcher(segments.get(0)).matches()) {
      version = Optional.of(segments.remove(0));
    }
    if (segments.isEmpty()) {
      return noObject();
    }
    String object = segments.remove(0);
    return Outcome.ok(new GraphPath(version, object, segments));
  }

  private static Outcome<GraphPath> noObject() {
    return Outcome.refused(GraphError.invalidParameter("The request path must name a Graph object."));
  }

  /** {@code /v22.0/object/edge…} (or {@code /object/edge…} without a version): the path to send upstream. */
  public String upstreamPath() {
    StringBuilder b = new StringBuilder();
    version.ifPresent(v -> b.append('/').append(v));
    b.append('/').append(object);
    for (String edge : edges) {
      b.append('/').append(edge);
    }
    return b.toString();
  }
}

package dev.metalayer.graph;

import java.net.URI;
import java.util.List;
import java.util.Locale;

/**
 * The hosts the layer will fetch media from with a Meta token, over {@code https} only. A pattern is a
 * host name ({@code lookaside.fbsbx.com}) or {@code *.} and a domain ({@code *.fbsbx.com}: any
 * subdomain, not the domain itself). A pattern written {@code http://host} (or {@code http://*.domain})
 * also allows plain {@code http} for those hosts: for test set-ups with a local fake media host, never
 * for Meta, since the token travels with the request. Comparison ignores case and the port. Immutable.
 *
 * @param patterns the allowed hosts, as configured
 */
record MediaHosts(List<String> patterns) {
  private static final String PLAIN = "http://";

  public MediaHosts {
    patterns = patterns.stream().map(p -> p.trim().toLowerCase(Locale.ROOT)).filter(p -> !p.isEmpty()).toList();
    if (patterns.isEmpty()) {
      throw new IllegalArgumentException("at least one media host is required");
    }
    for (String p : patterns) {
      String host = p.startsWith(PLAIN) ? p.substring(PLAIN.length()) : p;
      boolean hostAndPort = host.indexOf(':') >= 0 && host.indexOf(':') == host.lastIndexOf(':'); // an IPv6 literal has several
      if (host.isEmpty() || host.contains("/") || hostAndPort) {
        throw new IllegalArgumentException("a media host is a host name, *.domain or http://host, got '" + p + "'");
      }
    }
  }

  /**
   * Whether {@code uri} is an absolute URL on an allowed host: {@code https}, or {@code http} for a host
   * allowed by an {@code http://} pattern.
   */
  public boolean allows(URI uri) {
    if (uri == null || uri.getHost() == null || uri.getScheme() == null) {
      return false;
    }
    String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
    boolean plain = scheme.equals("http");
    if (!scheme.equals("https") && !plain) {
      return false;
    }
    String host = uri.getHost().toLowerCase(Locale.ROOT);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    for (String p : patterns) {
      boolean plainAllowed = p.startsWith(PLAIN);
      if (plain && !plainAllowed) {
        continue;
      }
      String pattern = plainAllowed ? p.substring(PLAIN.length()) : p;
      if (pattern.startsWith("[") && pattern.endsWith("]")) {
        pattern = pattern.substring(1, pattern.length() - 1);
      }
      if (pattern.startsWith("*.") ? host.endsWith(pattern.substring(1)) : host.equals(pattern)) {
        return true;
      }
    }
    return false;
  }
}

package dev.metalayer.graph;

import java.net.URI;
import java.util.List;
import java.util.Locale;

/**
 * The hosts the layer will fetch media from with a Meta token. A pattern is a host name
 * ({@code lookaside.fbsbx.com}) or {@code *.} and a domain ({@code *.fbsbx.com}: any subdomain, not the
 * domain itself). Comparison ignores case and the port. Immutable.
 *
 * @param patterns the allowed hosts
 */
public record MediaHosts(List<String> patterns) {
  /** Meta's media domains: where {@code GET /{media-id}} URLs and their redirects point. */
  public static final List<String> META_DEFAULTS =
      List.of("lookaside.fbsbx.com", "*.fbsbx.com", "*.fbcdn.net", "*.whatsapp.net");

  public MediaHosts {
    patterns = patterns.stream().map(p -> p.trim().toLowerCase(Locale.ROOT)).filter(p -> !p.isEmpty()).toList();
    if (patterns.isEmpty()) {
      throw new IllegalArgumentException("at least one media host is required");
    }
  }

  /** Whether {@code uri} is an absolute http(s) URL on an allowed host. */
  public boolean allows(URI uri) {
    if (uri == null || uri.getHost() == null || uri.getScheme() == null) {
      return false;
    }
    String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("https") && !scheme.equals("http")) {
      return false;
    }
    String host = uri.getHost().toLowerCase(Locale.ROOT);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    for (String p : patterns) {
      if (p.startsWith("*.") ? host.endsWith(p.substring(1)) : host.equals(p)) {
        return true;
      }
    }
    return false;
  }
}

package dev.metalayer.graph;

import java.util.Locale;
import java.util.Set;

/**
 * Which headers cross the layer, in each direction. One named set of hop-by-hop headers (RFC 9110
 * §7.6.1) is dropped both ways, along with any header the {@code Connection} header names.
 *
 * <p>Client → Meta also drops {@code Authorization} (replaced by the Meta token), {@code Host},
 * {@code Cookie}, {@code Accept-Encoding} (the layer's HTTP client negotiates and decodes, so JSON can
 * be rewritten), {@code Content-Length} (recomputed), {@code Expect}, and any {@code Via},
 * {@code Forwarded} or {@code X-Forwarded-*} (the layer adds none and passes none on). Meta → client
 * also drops {@code Set-Cookie}, {@code Content-Length} and {@code Content-Encoding} (the adapter sets
 * the length it actually sends; bodies arrive decoded).
 */
public final class Headers {
  /** Hop-by-hop headers: meaningful for one connection only. Lower case. */
  public static final Set<String> HOP_BY_HOP =
      Set.of(
          "connection",
          "keep-alive",
          "proxy-authenticate",
          "proxy-authorization",
          "proxy-connection",
          "te",
          "trailer",
          "transfer-encoding",
          "upgrade",
          "http2-settings");

  private static final Set<String> NOT_TO_META =
      Set.of(
          "authorization",
          "host",
          "cookie",
          "accept-encoding",
          "content-length",
          "expect",
          "via",
          "forwarded");

  private static final Set<String> NOT_TO_CLIENT =
      Set.of("set-cookie", "set-cookie2", "content-length", "content-encoding");

  private Headers() {}

  /** Whether a client's request header goes on to Meta. */
  public static boolean toMeta(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    return !HOP_BY_HOP.contains(n) && !NOT_TO_META.contains(n) && !n.startsWith("x-forwarded-");
  }

  /** Whether an answer header from Meta goes on to the client. */
  public static boolean toClient(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    return !HOP_BY_HOP.contains(n) && !NOT_TO_CLIENT.contains(n);
  }

  /** Whether a content type is JSON (or Graph's older {@code text/javascript}): such answers are rewritten. */
  public static boolean isJson(String contentType) {
    if (contentType == null) {
      return false;
    }
    String t = contentType.toLowerCase(Locale.ROOT);
    return t.contains("json") || t.startsWith("text/javascript");
  }
}

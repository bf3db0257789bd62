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
 * {@code Forwarded} or {@code X-Forwarded-*} (the layer adds none and passes none on), and the client's
 * own {@code X-Request-Id} and {@code traceparent}: every upstream request carries the layer's instead
 * ({@link dev.metalayer.log.RequestIds.Trace#headers()}, added by the adapter that sends it). A request to a
 * media ID ({@code GET}/{@code DELETE /{media-id}}) carries even less: only {@link #TO_META_ON_MEDIA}
 * ({@link #toMetaOnMedia}), never an override such as {@code X-HTTP-Method-Override}; the layer's own
 * media downloads carry none of the client's headers at all.
 *
 * <p>Meta → client also drops {@code Set-Cookie}, {@code Content-Length} and {@code Content-Encoding}
 * (the adapter sets the length it actually sends; bodies arrive decoded), and {@code Date} and
 * {@code Server} (the answer is the layer's: its server sets its own {@code Date}, once, and names no
 * upstream software), and {@code X-Request-Id} (the client gets the layer's). An answer whose body is still encoded ({@link #decoded}) is never passed on: the
 * layer could not scrub it.
 */
final class Headers {
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
          "forwarded",
          "x-request-id",
          "traceparent");

  private static final Set<String> NOT_TO_CLIENT =
      Set.of("set-cookie", "set-cookie2", "content-length", "content-encoding", "date", "server", "x-request-id");

  /** The only client headers a request to a media ID carries on to Meta. Lower case. */
  public static final Set<String> TO_META_ON_MEDIA = Set.of("accept", "accept-language", "user-agent");

  private Headers() {}

  /** Whether a client's request header goes on to Meta. */
  public static boolean toMeta(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    return !HOP_BY_HOP.contains(n) && !NOT_TO_META.contains(n) && !n.startsWith("x-forwarded-");
  }

  /**
   * Whether a client's request header goes on to Meta on a request to a media ID: only
   * {@link #TO_META_ON_MEDIA}, since the layer reads such an ID only as media ({@link MediaObjects}).
   */
  public static boolean toMetaOnMedia(String name) {
    return TO_META_ON_MEDIA.contains(name.toLowerCase(Locale.ROOT));
  }

  /**
   * Whether an answer's body, as the layer's HTTP client hands it over, is plain bytes the layer can
   * read and scrub: no {@code Content-Encoding} left, or {@code identity}. Anything else ({@code gzip},
   * {@code deflate} or {@code br} the client did not decode, for one) is refused with a 502.
   *
   * @param contentEncoding the answer's {@code Content-Encoding} after the client's decoding, or null
   */
  public static boolean decoded(String contentEncoding) {
    if (contentEncoding == null) {
      return true;
    }
    for (String coding : contentEncoding.split(",")) {
      String c = coding.trim().toLowerCase(Locale.ROOT);
      if (!c.isEmpty() && !c.equals("identity")) {
        return false;
      }
    }
    return true;
  }

  /** The 502 for an answer whose body is still encoded ({@link #decoded}). */
  public static GraphError undecodedAnswer() {
    return GraphError.badGateway("The Graph API answer is in an encoding the layer does not read.");
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

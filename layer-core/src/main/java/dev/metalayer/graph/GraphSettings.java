package dev.metalayer.graph;

import dev.metalayer.keys.Grant;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The Graph proxy's configuration, as {@link dev.metalayer.MetaLayer.Builder} checked it.
 *
 * @param graphUrl upstream Graph base, without a trailing slash (default {@code https://graph.facebook.com})
 * @param prefix the path the layer serves Graph under, starting with {@code /}, no trailing slash
 * @param publicUrl the layer's public base URL for rewritten URLs; when empty, those URLs are relative
 *     to the Graph prefix and paging URLs carry no key (never derived from a request)
 * @param appSecret the app secret that computes {@code appsecret_proof}, if any
 * @param mediaHosts hosts media may be fetched from with the token: a host name, {@code *.domain} (any
 *     subdomain), or {@code http://host} to allow plain http for a local test host (see {@link #META_MEDIA_HOSTS})
 * @param connectTimeout time to open a connection upstream
 * @param idleTimeout longest silence on an upstream connection during an exchange
 * @param upstreamTimeout total time of one Graph exchange
 * @param mediaTimeout total time of one media download (lookup, redirects and bytes)
 * @param maxBodyBytes largest request body accepted from a client
 * @param maxJsonAnswerBytes largest JSON answer the layer buffers to rewrite (larger ones are a 502)
 * @param mergeCallingSettings whether a partial calling settings write is merged into the current ones
 * @param mediaDownloadsPerKey media transfers (downloads through the layer's media URLs, and multipart
 *     uploads) a key may have in flight at once; one more is answered 429
 * @param keyRateLimit the rate limit of a key without one of its own ({@link Grant.RateLimit#OFF}: none;
 *     default {@link #DEFAULT_KEY_RATE_LIMIT})
 */
public record GraphSettings(
    URI graphUrl,
    String prefix,
    Optional<URI> publicUrl,
    Optional<String> appSecret,
    List<String> mediaHosts,
    Duration connectTimeout,
    Duration idleTimeout,
    Duration upstreamTimeout,
    Duration mediaTimeout,
    long maxBodyBytes,
    int maxJsonAnswerBytes,
    boolean mergeCallingSettings,
    int mediaDownloadsPerKey,
    Grant.RateLimit keyRateLimit) {
  /** Meta's media domains: where {@code GET /{media-id}} URLs and their redirects point. */
  public static final List<String> META_MEDIA_HOSTS =
      List.of("lookaside.fbsbx.com", "*.fbsbx.com", "*.fbcdn.net", "*.whatsapp.net");

  /** The default of {@link #mediaDownloadsPerKey()}. */
  public static final int DEFAULT_MEDIA_TRANSFERS_PER_KEY = 8;

  /**
   * The default of {@link #keyRateLimit()}: 50 requests per second, 100 at once. Far above what one helpdesk
   * inbox sends (a Chatwoot agent's reply is one request; a busy inbox a few per second), and below Meta's
   * own per-number throughput (80 messages per second by default), so that one runaway client loop is
   * stopped at the layer before it spends the number's quota, which every key of the number shares.
   */
  public static final Grant.RateLimit DEFAULT_KEY_RATE_LIMIT = new Grant.RateLimit(50, 100);

  /** @throws IllegalArgumentException for a media host pattern that is none, or none at all */
  public GraphSettings {
    Objects.requireNonNull(graphUrl, "graphUrl");
    Objects.requireNonNull(prefix, "prefix");
    Objects.requireNonNull(publicUrl, "publicUrl");
    Objects.requireNonNull(appSecret, "appSecret");
    mediaHosts = new MediaHosts(mediaHosts).patterns();
    Objects.requireNonNull(connectTimeout, "connectTimeout");
    Objects.requireNonNull(idleTimeout, "idleTimeout");
    Objects.requireNonNull(upstreamTimeout, "upstreamTimeout");
    Objects.requireNonNull(mediaTimeout, "mediaTimeout");
    if (mediaDownloadsPerKey < 1) {
      throw new IllegalArgumentException("mediaDownloadsPerKey must be at least 1");
    }
    Objects.requireNonNull(keyRateLimit, "keyRateLimit");
  }

  @Override
  public String toString() {
    return "GraphSettings[graphUrl=" + graphUrl + ", prefix=" + prefix + ", publicUrl=" + publicUrl
        + ", appSecret=" + (appSecret.isPresent() ? "<set>" : "<none>") + ", mediaHosts=" + mediaHosts + "]";
  }
}

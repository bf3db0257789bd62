package dev.metalayer.graph;

import dev.metalayer.crypto.TokenCipher;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Objects;
import java.util.Optional;

/**
 * The layer's media URLs: {@code {base}/media/{media-id}/download?ref=<sealed>}, where {@code ref}
 * seals Meta's media URL and the time it was issued with AES-GCM under the master key, bound to the
 * number's phone number ID and the media ID. A {@code ref} therefore opens only for a key of the same
 * number and the same media; it carries no token and is useless alone.
 *
 * <p>A {@code ref} older than {@link #FRESH_FOR} (Meta's URLs live five minutes) is treated as absent:
 * the download then looks the media up again. Thread-safe.
 */
final class MediaLinks {
  /** How long a sealed media URL is used before the download looks the media up again. */
  public static final Duration FRESH_FOR = Duration.ofMinutes(4);

  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder B64D = Base64.getUrlDecoder();

  private final TokenCipher cipher;
  private final Clock clock;

  public MediaLinks(TokenCipher cipher, Clock clock) {
    this.cipher = Objects.requireNonNull(cipher, "cipher");
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /** The layer URL for {@code mediaUrl}, to hand to a client of number {@code phoneNumberId}. */
  public String link(String graphBase, String phoneNumberId, String mediaId, String mediaUrl) {
    String plain = clock.instant().getEpochSecond() + "\n" + mediaUrl;
    String ref = B64.encodeToString(cipher.seal(plain, binding(phoneNumberId, mediaId)));
    return graphBase + "/media/" + mediaId + "/download?ref=" + ref;
  }

  /** What a presented {@code ref} holds for this number and media. */
  public sealed interface Opened {
    /** A fresh media URL to fetch. */
    record Fresh(URI url) implements Opened {}

    /** No usable URL (no ref, or an old one): look the media up again. */
    record Stale() implements Opened {}

    /** The ref was made for another number or media, or was altered. */
    record Foreign() implements Opened {}
  }

  public Opened open(String ref, String phoneNumberId, String mediaId) {
    if (ref == null || ref.isEmpty()) {
      return new Opened.Stale();
    }
    String plain;
    try {
      plain = cipher.open(B64D.decode(ref), binding(phoneNumberId, mediaId));
    } catch (IllegalArgumentException | TokenCipher.SecretUnreadableException e) {
      return new Opened.Foreign();
    }
    int nl = plain.indexOf('\n');
    if (nl < 0) {
      return new Opened.Foreign();
    }
    Optional<URI> url = parse(plain.substring(nl + 1));
    Instant issued;
    try {
      issued = Instant.ofEpochSecond(Long.parseLong(plain.substring(0, nl)));
    } catch (NumberFormatException e) {
      return new Opened.Foreign();
    }
    if (url.isEmpty() || !clock.instant().isBefore(issued.plus(FRESH_FOR))) {
      return new Opened.Stale();
    }
    return new Opened.Fresh(url.get());
  }

  static Optional<URI> parse(String url) {
    try {
      URI uri = new URI(url);
      return uri.isAbsolute() ? Optional.of(uri) : Optional.empty();
    } catch (java.net.URISyntaxException e) {
      return Optional.empty();
    }
  }

  private static String binding(String phoneNumberId, String mediaId) {
    return "media:" + phoneNumberId + ":" + mediaId;
  }
}

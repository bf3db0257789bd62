package dev.metalayer.graph;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.json.Json;
import java.io.IOException;
import java.net.URI;
import java.util.Optional;

/**
 * A media download the core accepted (a key of the number the layer URL was made for): the media URL
 * to fetch, or the lookup that yields a fresh one. An adapter runs it from {@link #start}. Holds the Meta token; {@link #toString()} never
 * shows it. Holds one of its key's {@link MediaConcurrency} slots until {@link #close()}d (idempotent).
 */
public final class MediaDownload implements AutoCloseable {
  /** How many redirects a download follows, each to an allowed media host. */
  static final int MAX_REDIRECTS = 3;

  private final String mediaId;
  private final Optional<URI> freshUrl;
  private final URI lookupUri;
  private final String metaToken;
  private final MediaHosts hosts;
  private final TokenScrubber scrubber;
  private final MediaConcurrency.Slot slot;
  private final String phoneNumberId;
  private final GraphSteps steps;

  MediaDownload(
      String mediaId, Optional<URI> freshUrl, URI lookupUri, String metaToken, MediaHosts hosts, TokenScrubber scrubber,
      MediaConcurrency.Slot slot, String phoneNumberId, GraphSteps steps) {
    this.mediaId = mediaId;
    this.freshUrl = freshUrl;
    this.lookupUri = lookupUri;
    this.metaToken = metaToken;
    this.hosts = hosts;
    this.scrubber = scrubber;
    this.slot = slot;
    this.phoneNumberId = phoneNumberId;
    this.steps = steps;
  }

  /**
   * The first step of this download ({@link GraphStep}): the fetch of a fresh media URL, or a lookup
   * for one first. The adapter executes it and the steps that follow.
   */
  public GraphStep start() {
    return steps.start(this);
  }

  /** The number of this download (its phone number ID, the Meta object id): for log lines. */
  public String phoneNumberId() {
    return phoneNumberId;
  }

  /** Gives the key's download slot back: call when the download ended, however it ended. Idempotent. */
  @Override
  public void close() {
    slot.close();
  }

  /** Meta's media URL from a fresh {@code ref}; empty when the media must be looked up again. */
  Optional<URI> freshUrl() {
    return freshUrl;
  }

  /** {@code GET {graph}/{media-id}?phone_number_id=…[&appsecret_proof=…]}: yields a fresh media URL. */
  URI lookupUri() {
    return lookupUri;
  }

  /** The media URL in a lookup answer, if it is a media object ({@link MediaObjects}) with a valid one. */
  Optional<URI> urlFromLookup(byte[] answer) {
    try {
      JsonNode root = Json.mapper().readTree(answer);
      return MediaObjects.isMedia(root) ? MediaLinks.parse(root.get("url").asText()) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** Whether the layer may fetch {@code uri} (or follow a redirect to it) with the token. */
  boolean allowed(URI uri) {
    return hosts.allows(uri);
  }

  String upstreamAuthorization() {
    return "Bearer " + metaToken;
  }

  TokenScrubber scrubber() {
    return scrubber;
  }

  @Override
  public String toString() {
    return "MediaDownload[" + mediaId + "]";
  }
}

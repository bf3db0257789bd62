package dev.metalayer.graph;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Optional;

/**
 * Rewrites a JSON answer from Graph so that the client stays on the layer and never sees the token:
 *
 * <ol>
 *   <li>a media lookup answer ({@code GET /{media-id}}) gets its {@code url} replaced by a layer media
 *       URL ({@link MediaLinks}); a lookup that answers anything but a media object or a Graph error
 *       is refused ({@link MediaObjects});
 *   <li>{@code paging.next} and {@code paging.previous} become layer URLs: same path and query on the
 *       layer's Graph base, upstream {@code access_token} and {@code appsecret_proof} dropped, and the
 *       client's own key added as {@code access_token}, so that a plain GET without headers works (as
 *       Chatwoot does);
 *   <li>a list of the WABA's phone numbers ({@code GET /{waba}/phone_numbers}) keeps in {@code data} only
 *       the key's own number ({@link Surface}): another number's ID, name and quality never reach it,
 *       nor a {@code summary} or {@code paging} that would tell how many there are;
 *   <li>finally the whole answer is scrubbed of the Meta token as a client reads it, escapes decoded
 *       ({@link TokenScrubber#redactJson}).
 * </ol>
 *
 * <p>URLs that carry a key are built only from the configured public URL, never from the request (its
 * {@code Host} header is the client's to choose). Without a public URL the layer's URLs are
 * path-absolute references ({@code /api/layer/meta/…}), which a client resolves against the layer URL
 * it called, and a paging URL carries no key: the client sends its own credential with it.
 *
 * An answer that needs no rewrite keeps its exact bytes (scrubbed); a rewritten one is re-serialised
 * with its field order kept. A JSON value that is not an object is only scrubbed; a body that is not
 * JSON at all is reported (the adapter answers 502: Graph clients cannot read it). Thread-safe.
 *
 * @see RewrittenAnswer
 */
final class AnswerRewriter {
  /** Reads one whole JSON value: bytes after it make the body no JSON, as {@link #wellFormed} says. */
  private static final ObjectMapper TREE =
      JsonMapper.builder()
          .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .build();

  private final String layerGraphBase;
  private final String upstreamBasePath;
  private final Optional<String> pagingKey;
  private final String phoneNumberId;
  private final Optional<String> mediaId;
  private final boolean onlyOwnNumber;
  private final MediaLinks links;
  private final TokenScrubber scrubber;

  /**
   * @param layerGraphBase the layer's public base URL plus Graph prefix, without a trailing slash; the
   *     Graph prefix alone when no public URL is configured
   * @param upstreamBasePath the path of the configured Graph URL ({@code ""} for graph.facebook.com)
   * @param pagingKey the credential the client presented, to put into paging URLs; empty when no public
   *     URL is configured (the URLs then carry no key)
   * @param mediaId the media ID when the request was a media lookup
   */
  AnswerRewriter(
      String layerGraphBase,
      String upstreamBasePath,
      Optional<String> pagingKey,
      String phoneNumberId,
      Optional<String> mediaId,
      MediaLinks links,
      TokenScrubber scrubber) {
    this(layerGraphBase, upstreamBasePath, pagingKey, phoneNumberId, mediaId, false, links, scrubber);
  }

  /**
   * @param onlyOwnNumber whether the answer lists the WABA's phone numbers: its {@code data} keeps only
   *     the element whose {@code id} is {@code phoneNumberId}
   */
  AnswerRewriter(
      String layerGraphBase,
      String upstreamBasePath,
      Optional<String> pagingKey,
      String phoneNumberId,
      Optional<String> mediaId,
      boolean onlyOwnNumber,
      MediaLinks links,
      TokenScrubber scrubber) {
    this.onlyOwnNumber = onlyOwnNumber;
    this.layerGraphBase = Objects.requireNonNull(layerGraphBase);
    this.upstreamBasePath = Objects.requireNonNull(upstreamBasePath);
    this.pagingKey = Objects.requireNonNull(pagingKey);
    this.phoneNumberId = Objects.requireNonNull(phoneNumberId);
    this.mediaId = Objects.requireNonNull(mediaId);
    this.links = Objects.requireNonNull(links);
    this.scrubber = Objects.requireNonNull(scrubber);
  }

  /**
   * @param status the upstream status: a media lookup's answer must be a media object, or a Graph error
   *     envelope with an error status
   * @return the answer to send to the client, never containing the token
   */
  public RewrittenAnswer rewrite(int status, byte[] body) {
    if (mediaId.isEmpty() && !onlyOwnNumber && indexOf(body, PAGING) < 0) {
      // Nothing can need rewriting (a send, a call action): check it is JSON without building a tree.
      return wellFormed(body) ? new RewrittenAnswer.Send(scrubber.redactJson(body)) : new RewrittenAnswer.NotJson();
    }
    JsonNode root;
    try {
      root = TREE.readTree(body);
    } catch (IOException e) {
      return new RewrittenAnswer.NotJson();
    }
    if (root == null || root.isMissingNode()) {
      return new RewrittenAnswer.NotJson();
    }
    if (mediaId.isPresent() && !MediaObjects.isError(status, root) && !MediaObjects.isMedia(root)) {
      return new RewrittenAnswer.Refuse(MediaObjects.notMedia());
    }
    if (!(root instanceof ObjectNode object)) {
      return new RewrittenAnswer.Send(scrubber.redactJson(body));
    }
    boolean changed = false;
    if (onlyOwnNumber && object.get("data") instanceof com.fasterxml.jackson.databind.node.ArrayNode data) {
      for (int i = data.size() - 1; i >= 0; i--) {
        JsonNode id = data.get(i).path("id");
        if (!(id.isTextual() || id.isNumber()) || !Surface.canonical(id.asText()).equals(Surface.canonical(phoneNumberId))) {
          data.remove(i);
          changed = true;
        }
      }
      changed |= object.remove("summary") != null; // a total count would tell how many numbers share the WABA
      // so would walking the pages: the key's own number is at most one element, it needs no paging
      changed |= object.remove("paging") != null;
    }
    if (mediaId.isPresent() && object.path("url").isTextual()) {
      object.put("url", links.link(layerGraphBase, phoneNumberId, mediaId.get(), object.get("url").asText()));
      changed = true;
    }
    if (object.get("paging") instanceof ObjectNode paging) {
      for (String field : new String[] {"next", "previous"}) {
        JsonNode url = paging.get(field);
        if (url != null && url.isTextual()) {
          Optional<String> rewritten = pagingUrl(url.asText());
          if (rewritten.isPresent()) {
            paging.put(field, rewritten.get());
            changed = true;
          }
        }
      }
    }
    if (!changed) {
      return new RewrittenAnswer.Send(scrubber.redactJson(body));
    }
    try {
      return new RewrittenAnswer.Send(scrubber.redact(TREE.writeValueAsBytes(object)));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a parsed JSON tree could not be written back", e);
    }
  }

  private static final byte[] PAGING = "\"paging\"".getBytes(StandardCharsets.UTF_8);

  /** Whether {@code body} is one complete JSON value, read with the streaming parser (no tree). */
  private static boolean wellFormed(byte[] body) {
    try (JsonParser p = TREE.getFactory().createParser(body)) {
      if (p.nextToken() == null) {
        return false;
      }
      p.skipChildren();
      return p.nextToken() == null;
    } catch (IOException e) {
      return false;
    }
  }

  private static int indexOf(byte[] data, byte[] needle) {
    outer:
    for (int i = 0; i <= data.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (data[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  /** A paging URL on the layer, or empty when {@code url} is not an absolute http(s) URL. */
  Optional<String> pagingUrl(String url) {
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      return Optional.empty();
    }
    if (!uri.isAbsolute() || uri.getRawPath() == null || !uri.getScheme().toLowerCase(java.util.Locale.ROOT).startsWith("http")) {
      return Optional.empty();
    }
    String path = uri.getRawPath();
    if (!upstreamBasePath.isEmpty() && path.startsWith(upstreamBasePath + "/")) {
      path = path.substring(upstreamBasePath.length());
    }
    String query = Credentials.withoutCredentials(uri.getRawQuery() == null ? "" : uri.getRawQuery());
    if (pagingKey.isPresent()) {
      String key = Credentials.ACCESS_TOKEN + "=" + URLEncoder.encode(pagingKey.get(), StandardCharsets.UTF_8);
      query = query.isEmpty() ? key : query + "&" + key;
    }
    return Optional.of(layerGraphBase + path + (query.isEmpty() ? "" : "?" + query));
  }
}

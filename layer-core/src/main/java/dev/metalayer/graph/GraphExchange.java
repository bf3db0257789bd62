package dev.metalayer.graph;

import dev.metalayer.keys.Grant;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * A Graph request the core accepted: where it goes upstream, with which credential, and how its answer
 * must be rewritten. An adapter runs it from {@link #start}, executing the {@link GraphStep}s the core
 * gives. Holds the Meta token; {@link #toString()} never shows it. Immutable, but for the media slot an
 * upload holds until {@link #close()}.
 */
public final class GraphExchange implements AutoCloseable {
  private final String method;
  private final URI upstreamUri;
  private final Optional<byte[]> form;
  private final String metaToken;
  private final Surface.Target target;
  private final AnswerRewriter rewriter;
  private final TokenScrubber scrubber;
  private final boolean callingSettingsWrite;
  private final Optional<Supplier<MultipartParts>> multipartParts;
  private final Optional<MediaConcurrency.Slot> slot;
  private final String phoneNumberId;
  private final String route;
  private final GraphSteps steps;
  private final Optional<Guarded> guarded;

  /** A request the {@link CallGuard} sees: the grant it came with and its edge ({@code calls} or {@code messages}). */
  /** @param query the client's query without credentials, which Graph reads with the body */
  record Guarded(Grant grant, String edge, String query) {}

  GraphExchange(
      String method,
      URI upstreamUri,
      Optional<byte[]> form,
      String metaToken,
      Surface.Target target,
      AnswerRewriter rewriter,
      TokenScrubber scrubber,
      boolean callingSettingsWrite,
      Optional<Supplier<MultipartParts>> multipartParts,
      Optional<MediaConcurrency.Slot> slot,
      String phoneNumberId,
      String route,
      GraphSteps steps,
      Optional<Guarded> guarded) {
    this.route = route;
    this.method = method;
    this.upstreamUri = upstreamUri;
    this.form = form;
    this.metaToken = metaToken;
    this.target = target;
    this.rewriter = rewriter;
    this.scrubber = scrubber;
    this.callingSettingsWrite = callingSettingsWrite;
    this.multipartParts = multipartParts;
    this.slot = slot;
    this.phoneNumberId = phoneNumberId;
    this.steps = steps;
    this.guarded = guarded;
  }

  /** Present for a {@code POST} to the number's {@code calls} or {@code messages}: what the {@link CallGuard} is told. */
  Optional<Guarded> guarded() {
    return guarded;
  }

  /**
   * The first step of this exchange ({@link GraphStep}): its request upstream, a read before it, or the
   * reply. The adapter executes it and the steps that follow.
   *
   * @param clientHeaders the client's request headers, names as received (the core picks what passes)
   */
  public GraphStep start(Map<String, List<String>> clientHeaders) {
    return steps.start(this, clientHeaders);
  }

  /** The number this exchange is for (its phone number ID, the Meta object id): for log lines. */
  public String phoneNumberId() {
    return phoneNumberId;
  }

  /**
   * The row of the Graph surface this exchange uses, as a path template naming no object, e.g.
   * {@code /{version}/{phone-number-id}/messages}: for log lines. Made of the table's own words, never
   * of the client's bytes.
   */
  public String route() {
    return route;
  }

  /**
   * Gives back the key's media slot a multipart upload holds (nothing for other exchanges). Call it
   * when the exchange ends, however it ends; idempotent.
   */
  @Override
  public void close() {
    slot.ifPresent(MediaConcurrency.Slot::close);
  }

  public String method() {
    return method;
  }

  /** The upstream URL: Graph base, the client's path, its query without credentials, plus the layer's parameters. */
  public URI upstreamUri() {
    return upstreamUri;
  }

  /**
   * The body to send instead of the client's stream: a form (its credential removed) or the buffered
   * body the surface checked ({@link ClientRequest#body()}); empty when the client's body streams
   * upstream as it is (a multipart upload, checked by {@link #multipartParts()}) or there is none.
   */
  Optional<byte[]> form() {
    return form;
  }

  /** The value of the upstream {@code Authorization} header: {@code Bearer <meta token>}. */
  String upstreamAuthorization() {
    return "Bearer " + metaToken;
  }

  /** Rewrites a whole JSON answer of {@code status} (media URL, paging, token scrub), or says what to send instead. */
  RewrittenAnswer rewriteJson(int status, byte[] body) {
    return rewriter.rewrite(status, body);
  }

  /**
   * Whether a client's request header goes upstream with this exchange: {@link Headers#toMeta}, and
   * for a media ID only {@link Headers#toMetaOnMedia} (no override such as
   * {@code X-HTTP-Method-Override}, nothing else of the client's).
   */
  boolean passesHeader(String name) {
    return target == Surface.Target.MEDIA ? Headers.toMetaOnMedia(name) : Headers.toMeta(name);
  }

  /**
   * Whether the client gets only the answer's status and headers, as for a {@code GET} without its
   * body: a {@code HEAD}. Nothing is rewritten (there is no body) and no {@code Content-Length} of
   * upstream's passes (a rewritten body's length may differ).
   */
  boolean headersOnly() {
    return method.equals("HEAD");
  }

  /** Whether the client's body goes upstream: never for a media ID (see {@link MediaObjects}). */
  boolean bodyAllowed() {
    return target != Surface.Target.MEDIA;
  }

  /**
   * Whether this is a {@code DELETE} of a media ID: the layer first looks the object up with
   * {@link #upstreamUri()} and {@code GET}, and deletes only when Graph answers a media object
   * ({@link MediaObjects}).
   */
  boolean mediaDeletion() {
    return target == Surface.Target.MEDIA && method.equals("DELETE");
  }

  /**
   * Whether an upstream answer that is not JSON may stream to the client (scrubbed): not for a media
   * object, which Graph always answers in JSON; such an answer gets a 502.
   */
  boolean mayStreamNonJson(int status) {
    return status < 400 && target != Surface.Target.MEDIA;
  }

  /**
   * Whether this is a write to the number's {@code /settings} whose {@code calling} object the layer
   * merges into the current settings first (see {@link CallingSettings}): read the settings with
   * {@link #upstreamUri()} and {@code GET}, merge, then write the merged body.
   */
  boolean callingSettingsWrite() {
    return callingSettingsWrite;
  }

  /**
   * For a multipart upload: a fresh checker of its part names, which the adapter feeds every chunk of
   * the body before sending it on, and whose refusal must fail the upstream body (so that Graph gets an
   * incomplete request and runs nothing). Empty for any other request.
   */
  Optional<Supplier<MultipartParts>> multipartParts() {
    return multipartParts;
  }

  /** Scrubs the token out of any answer. */
  TokenScrubber scrubber() {
    return scrubber;
  }

  @Override
  public String toString() {
    return "GraphExchange[" + method + " " + upstreamUri.getRawPath() + ", target=" + target + "]";
  }
}

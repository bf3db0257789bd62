package dev.metalayer.graph;

import dev.metalayer.GraphForwarder;
import dev.metalayer.TokenResolver;
import dev.metalayer.crypto.Secrets;
import dev.metalayer.keys.Grant;
import dev.metalayer.keys.Resolution;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Graph proxy's decisions, independent of any HTTP server: credential → grant → scope → upstream
 * request, and answer → rewritten answer. Obtained from {@link dev.metalayer.MetaLayer#graphProxy()}.
 *
 * <p>An adapter either calls {@link #prepare} / {@link #prepareMedia} and moves the bytes itself (the
 * Jetty adapter streams), or hands whole requests to {@link #handle}, which runs everything through
 * the configured {@link GraphForwarder} (buffered; for embedders such as a plain JDK
 * {@code HttpServer}). Errors the layer makes are Graph-shaped and never echo a key or a token.
 * Thread-safe.
 */
public final class GraphProxy {
  private static final Logger log = LoggerFactory.getLogger(GraphProxy.class);
  private static final Pattern MEDIA_DOWNLOAD = Pattern.compile("/*media/([0-9]{1,32})/download/?");

  private final GraphSettings settings;
  private final TokenResolver resolver;
  private final Scope scope;
  private final MediaLinks links;
  private final GraphForwarder forwarder;
  private final String upstreamBase;
  private final String upstreamBasePath;

  public GraphProxy(GraphSettings settings, TokenResolver resolver, Scope scope, MediaLinks links, GraphForwarder forwarder) {
    this.settings = Objects.requireNonNull(settings, "settings");
    this.resolver = Objects.requireNonNull(resolver, "resolver");
    this.scope = Objects.requireNonNull(scope, "scope");
    this.links = Objects.requireNonNull(links, "links");
    this.forwarder = Objects.requireNonNull(forwarder, "forwarder");
    this.upstreamBase = stripSlash(settings.graphUrl().toString());
    String path = settings.graphUrl().getRawPath();
    this.upstreamBasePath = path == null ? "" : stripSlash(path);
  }

  public GraphSettings settings() {
    return settings;
  }

  /** The media ID when {@code path} (after the prefix) is the layer's media download route. */
  public Optional<String> mediaDownloadId(String path) {
    Matcher m = MEDIA_DOWNLOAD.matcher(path);
    return m.matches() ? Optional.of(m.group(1)) : Optional.empty();
  }

  /** The largest form body read, once the key is known (Graph forms are small). */
  public static final int MAX_FORM_BYTES = 1024 * 1024;
  /**
   * The largest form body read before the key is known: a form whose credential can only be inside it
   * (none in the {@code Authorization} header or the query). Large enough for any message a form
   * carries; small enough that nobody without a key makes the layer read and scan much.
   */
  public static final int MAX_KEYLESS_FORM_BYTES = 64 * 1024;

  /**
   * Decides, before any body is read, how much of an {@code application/x-www-form-urlencoded} body
   * the adapter may read: refused at once when the {@code Authorization} header or the query carries a
   * malformed, conflicting or invalid credential; {@link #MAX_FORM_BYTES} (or the body limit, if lower)
   * when it carries a valid key; {@link #MAX_KEYLESS_FORM_BYTES} when it carries none, so that the
   * credential can only be in the form. {@link #prepare} checks everything again with the body.
   *
   * @param request the request as known before its body is read ({@code form} is ignored)
   * @return the refusal to answer, or the number of form bytes to read at most
   */
  public Outcome<Integer> formReadLimit(ClientRequest request) {
    Outcome<Credentials> extracted = Credentials.extract(request.authorization().orElse(null), request.rawQuery(), null);
    if (extracted instanceof Outcome.Refused<Credentials> r) {
      return Outcome.refused(r.error());
    }
    Credentials credentials = ((Outcome.Ok<Credentials>) extracted).value();
    if (credentials.credential().isEmpty()) {
      return Outcome.ok((int) Math.min(MAX_KEYLESS_FORM_BYTES, settings.maxBodyBytes()));
    }
    Outcome<Grant> granted = grant(credentials);
    if (granted instanceof Outcome.Refused<Grant> r) {
      return Outcome.refused(r.error());
    }
    return Outcome.ok((int) Math.min(MAX_FORM_BYTES, settings.maxBodyBytes()));
  }

  /** Checks a Graph request and prepares its upstream form. */
  public Outcome<GraphExchange> prepare(ClientRequest request) {
    Outcome<GraphPath> parsed = GraphPath.parse(request.path());
    if (parsed instanceof Outcome.Refused<GraphPath> r) {
      return Outcome.refused(r.error());
    }
    GraphPath path = ((Outcome.Ok<GraphPath>) parsed).value();
    Outcome<Credentials> extracted =
        Credentials.extract(request.authorization().orElse(null), request.rawQuery(), request.form().orElse(null));
    if (extracted instanceof Outcome.Refused<Credentials> r) {
      return Outcome.refused(r.error());
    }
    Credentials credentials = ((Outcome.Ok<Credentials>) extracted).value();
    Outcome<Grant> granted = grant(credentials);
    if (granted instanceof Outcome.Refused<Grant> r) {
      return Outcome.refused(r.error());
    }
    Grant grant = ((Outcome.Ok<Grant>) granted).value();
    Outcome<Scope.Target> allowed = scope.check(grant, request.method(), path);
    if (allowed instanceof Outcome.Refused<Scope.Target> r) {
      log.debug("Key {} refused on a foreign object", grant.keyId());
      return Outcome.refused(r.error());
    }
    Scope.Target target = ((Outcome.Ok<Scope.Target>) allowed).value();
    boolean media = target == Scope.Target.MEDIA;
    // A media request carries nothing of the client's but its method: no parameter (not "fields", which
    // would hide what the object is, nor an override such as "method") and no body. Graph gets the whole
    // object, whose answer shows whether the ID was media (MediaObjects), and checks phone_number_id.
    String query = media ? "phone_number_id=" + grant.number().phoneNumberId() : credentials.upstreamQuery();
    query = withProof(query, grant);
    Optional<URI> uri = uri(upstreamBase + path.upstreamPath() + (query.isEmpty() ? "" : "?" + query));
    if (uri.isEmpty()) {
      return Outcome.refused(GraphError.invalidParameter("The request URI is invalid."));
    }
    TokenScrubber scrubber = perToken(grant).scrubber();
    AnswerRewriter rewriter =
        new AnswerRewriter(
            layerGraphBase(request),
            upstreamBasePath,
            credentials.credential().orElseThrow(),
            grant.number().phoneNumberId(),
            media && request.method().equals("GET") ? Optional.of(path.object()) : Optional.empty(),
            links,
            scrubber);
    return Outcome.ok(
        new GraphExchange(request.method(), uri.get(), media ? Optional.empty() : credentials.upstreamForm(), grant.metaToken(),
            target, rewriter, scrubber,
            settings.mergeCallingSettings()
                && request.method().equals("POST")
                && target == Scope.Target.PHONE_NUMBER
                && path.edges().equals(List.of("settings"))));
  }

  /** Checks a download of a layer media URL ({@code /media/{id}/download?ref=…}) and prepares it. */
  public Outcome<MediaDownload> prepareMedia(ClientRequest request, String mediaId) {
    if (!request.method().equals("GET") && !request.method().equals("HEAD")) {
      return Outcome.refused(GraphError.methodNotAllowed("Media downloads take GET."));
    }
    String ref = null;
    for (String pair : request.rawQuery().split("&")) {
      if (pair.startsWith("ref=")) {
        ref = Credentials.decode(pair.substring(4));
      }
    }
    Outcome<Credentials> extracted = Credentials.extract(request.authorization().orElse(null), request.rawQuery(), null);
    if (extracted instanceof Outcome.Refused<Credentials> r) {
      return Outcome.refused(r.error());
    }
    Outcome<Grant> granted = grant(((Outcome.Ok<Credentials>) extracted).value());
    if (granted instanceof Outcome.Refused<Grant> r) {
      return Outcome.refused(r.error());
    }
    Grant grant = ((Outcome.Ok<Grant>) granted).value();
    if (!scope.mayUseMedia(grant, mediaId)) {
      return Outcome.refused(GraphError.outOfScope("(#200) This key may not download this media."));
    }
    MediaLinks.Opened opened = links.open(ref, grant.number().phoneNumberId(), mediaId);
    if (opened instanceof MediaLinks.Opened.Foreign) {
      log.debug("Key {} presented a media link of another number or media", grant.keyId());
      return Outcome.refused(GraphError.outOfScope("(#200) This media link belongs to another number."));
    }
    Optional<URI> fresh = opened instanceof MediaLinks.Opened.Fresh f ? Optional.of(f.url()) : Optional.empty();
    String query = withProof("phone_number_id=" + grant.number().phoneNumberId(), grant);
    URI lookup = URI.create(upstreamBase + "/" + mediaId + "?" + query);
    return Outcome.ok(
        new MediaDownload(mediaId, fresh, lookup, grant.metaToken(), settings.mediaHosts(), perToken(grant).scrubber()));
  }

  /**
   * Runs one whole request through the {@link GraphForwarder}: Graph requests and media downloads.
   * Blocks for at most the upstream (or media) timeout.
   *
   * @param headers the client's request headers (filtered here with {@link Headers#toMeta})
   * @param body the client's body, empty for none
   * @return the answer to send to the client, never carrying the Meta token
   */
  public GraphAnswer handle(ClientRequest request, Map<String, List<String>> headers, byte[] body) {
    if (body.length > settings.maxBodyBytes()) {
      return GraphAnswer.of(GraphError.tooLarge("The request body is too large."));
    }
    Optional<String> mediaId = mediaDownloadId(request.path());
    if (mediaId.isPresent()) {
      Outcome<MediaDownload> media = prepareMedia(request, mediaId.get());
      if (media instanceof Outcome.Refused<MediaDownload> r) {
        return GraphAnswer.of(r.error());
      }
      return download(((Outcome.Ok<MediaDownload>) media).value());
    }
    Outcome<GraphExchange> prepared = prepare(request);
    if (prepared instanceof Outcome.Refused<GraphExchange> r) {
      return GraphAnswer.of(r.error());
    }
    GraphExchange exchange = ((Outcome.Ok<GraphExchange>) prepared).value();
    Map<String, List<String>> upstreamHeaders = new LinkedHashMap<>();
    headers.forEach((name, values) -> {
      if (Headers.toMeta(name)) {
        upstreamHeaders.put(name, values);
      }
    });
    upstreamHeaders.put("Authorization", List.of(exchange.upstreamAuthorization()));
    byte[] upstreamBody = exchange.bodyAllowed() ? exchange.form().orElse(body) : null;
    if (exchange.mediaDeletion()) {
      FirstRead lookup = readFirst(exchange);
      if (lookup.instead() != null) {
        return lookup.instead();
      }
      Optional<GraphError> refusal = exchange.refusalAfterLookup(lookup.body());
      if (refusal.isPresent()) {
        return GraphAnswer.of(refusal.get());
      }
    }
    if (exchange.callingSettingsWrite() && CallingSettings.isCallingUpdate(upstreamBody)) {
      FirstRead read = readFirst(exchange);
      if (read.instead() != null) {
        return read.instead(); // never a blind write
      }
      Optional<byte[]> merged = CallingSettings.merge(upstreamBody, read.body());
      if (merged.isEmpty()) {
        return GraphAnswer.of(GraphError.badGateway("The current calling settings could not be read."));
      }
      upstreamBody = merged.get();
      upstreamHeaders.keySet().removeIf(name -> name.equalsIgnoreCase("content-length"));
    }
    GraphForwarder.Forwarded forwarded =
        forwarder.forward(
            new GraphRequest(exchange.method(), exchange.upstreamUri(), upstreamHeaders, upstreamBody, settings.upstreamTimeout()));
    if (forwarded instanceof GraphForwarder.Forwarded.Failed f) {
      return GraphAnswer.of(f.error());
    }
    return answerToClient(exchange, ((GraphForwarder.Forwarded.Answered) forwarded).answer());
  }

  /** What a read before a write gave: the body of a 200, or the answer to send the client instead. */
  private record FirstRead(byte[] body, GraphAnswer instead) {}

  /**
   * {@code GET}s the exchange's own upstream URI (a settings read before a merge, a media lookup before
   * a deletion). A failure or an answer other than 200 becomes the client's answer.
   */
  private FirstRead readFirst(GraphExchange exchange) {
    GraphForwarder.Forwarded read =
        forwarder.forward(new GraphRequest("GET", exchange.upstreamUri(),
            Map.of("Authorization", List.of(exchange.upstreamAuthorization())), null, settings.upstreamTimeout()));
    if (read instanceof GraphForwarder.Forwarded.Failed f) {
      return new FirstRead(null, GraphAnswer.of(f.error()));
    }
    GraphAnswer answer = ((GraphForwarder.Forwarded.Answered) read).answer();
    return answer.status() == 200 ? new FirstRead(answer.body(), null) : new FirstRead(null, answerToClient(exchange, answer));
  }

  /** An upstream answer made fit for the client: JSON rewritten, anything else scrubbed, garbage a 502. */
  private GraphAnswer answerToClient(GraphExchange exchange, GraphAnswer answer) {
    if (Headers.isJson(answer.header("content-type"))) {
      if (answer.body().length > settings.maxJsonAnswerBytes()) {
        return GraphAnswer.of(GraphError.badGateway("The Graph API answer is too large to rewrite."));
      }
      RewrittenAnswer rewritten = exchange.rewriteJson(answer.status(), answer.body());
      if (rewritten instanceof RewrittenAnswer.Send send) {
        return toClient(answer, send.body(), exchange.scrubber());
      }
      return GraphAnswer.of(rewritten.instead(answer.status()));
    }
    if (!exchange.mayStreamNonJson(answer.status())) {
      return GraphAnswer.of(invalidAnswer(answer.status()));
    }
    return toClient(answer, exchange.scrubber().redact(answer.body()), exchange.scrubber());
  }

  /**
   * The 502 for an answer a Graph client cannot read: a JSON-typed body that is not JSON, or an error
   * status with a body that is not JSON.
   */
  public static GraphError invalidAnswer(int upstreamStatus) {
    return GraphError.badGateway("The Graph API gave an invalid answer (HTTP " + upstreamStatus + ").");
  }

  private GraphAnswer download(MediaDownload media) {
    URI url;
    if (media.freshUrl().isPresent()) {
      url = media.freshUrl().get();
    } else {
      GraphForwarder.Forwarded looked =
          forwarder.forward(new GraphRequest("GET", media.lookupUri(), authorization(media), null, settings.upstreamTimeout()));
      if (looked instanceof GraphForwarder.Forwarded.Failed f) {
        return GraphAnswer.of(f.error());
      }
      GraphAnswer lookup = ((GraphForwarder.Forwarded.Answered) looked).answer();
      Optional<URI> found = lookup.status() == 200 ? media.urlFromLookup(lookup.body()) : Optional.empty();
      if (found.isEmpty()) {
        return lookup.status() >= 400
            ? toClient(lookup, media.scrubber().redact(lookup.body()), media.scrubber())
            : GraphAnswer.of(GraphError.badGateway("The Graph API gave no URL for this media."));
      }
      url = found.get();
    }
    for (int hop = 0; hop <= MediaDownload.MAX_REDIRECTS; hop++) {
      if (!media.allowed(url)) {
        return GraphAnswer.of(GraphError.badGateway("The media is hosted outside the allowed media hosts."));
      }
      GraphForwarder.Forwarded got =
          forwarder.forward(new GraphRequest("GET", url, authorization(media), null, settings.mediaTimeout()));
      if (got instanceof GraphForwarder.Forwarded.Failed f) {
        return GraphAnswer.of(f.error());
      }
      GraphAnswer answer = ((GraphForwarder.Forwarded.Answered) got).answer();
      String location = answer.header("location");
      if (answer.status() / 100 == 3 && location != null) {
        Optional<URI> next = resolve(url, location);
        if (next.isEmpty()) {
          return GraphAnswer.of(GraphError.badGateway("The media host gave an invalid redirect."));
        }
        url = next.get();
        continue;
      }
      return toClient(answer, media.scrubber().redact(answer.body()), media.scrubber());
    }
    return GraphAnswer.of(GraphError.badGateway("The media host redirected too many times."));
  }

  private static Map<String, List<String>> authorization(MediaDownload media) {
    return Map.of("Authorization", List.of(media.upstreamAuthorization()));
  }

  /** Resolves a redirect target against the URL that gave it. */
  public static Optional<URI> resolve(URI base, String location) {
    try {
      return Optional.of(base.resolve(new URI(location.trim())));
    } catch (URISyntaxException | IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  /** The upstream answer's status and passing headers (scrubbed of the token), with {@code body}. */
  private static GraphAnswer toClient(GraphAnswer upstream, byte[] body, TokenScrubber scrubber) {
    Map<String, List<String>> h = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    upstream.headers().forEach((name, values) -> {
      if (Headers.toClient(name) && !name.startsWith(":")) {
        h.put(name.toLowerCase(java.util.Locale.ROOT), values.stream().map(scrubber::redact).toList());
      }
    });
    return new GraphAnswer(upstream.status(), h, body);
  }

  private Outcome<Grant> grant(Credentials credentials) {
    if (credentials.credential().isEmpty()) {
      return Outcome.refused(GraphError.invalidToken("An access token is required to request this resource."));
    }
    Resolution resolution = resolver.resolve(credentials.credential().get());
    if (resolution instanceof Resolution.Granted g) {
      return Outcome.ok(g.grant());
    }
    log.debug("Credential refused: {}", ((Resolution.Refused) resolution).reason());
    return Outcome.refused(GraphError.invalidToken("Invalid OAuth access token."));
  }

  private String layerGraphBase(ClientRequest request) {
    String base = settings.publicUrl().map(URI::toString).orElse(request.requestBase());
    return stripSlash(base) + settings.prefix();
  }

  private String withProof(String query, Grant grant) {
    Optional<String> proof = perToken(grant).proof();
    return proof.isEmpty() ? query : withParameter(query, Credentials.APPSECRET_PROOF, proof.get());
  }

  /** What the layer derives from one Meta token, computed once: its scrubber and its appsecret_proof. */
  private record PerToken(TokenScrubber scrubber, Optional<String> proof) {}

  private static final int MAX_CACHED_TOKENS = 10_000;
  private final Map<String, PerToken> perToken = new java.util.concurrent.ConcurrentHashMap<>();

  private PerToken perToken(Grant grant) {
    String token = grant.metaToken();
    PerToken cached = perToken.get(token);
    if (cached == null) {
      if (perToken.size() >= MAX_CACHED_TOKENS) {
        perToken.clear();
      }
      cached = new PerToken(
          new TokenScrubber(token), settings.appSecret().map(secret -> Secrets.hmacSha256Hex(secret, token)));
      perToken.put(token, cached);
    }
    return cached;
  }

  private static String withParameter(String query, String name, String value) {
    return (query.isEmpty() ? "" : query + "&") + name + "=" + value;
  }

  private static Optional<URI> uri(String s) {
    try {
      return Optional.of(new URI(s));
    } catch (URISyntaxException e) {
      return Optional.empty();
    }
  }

  private static String stripSlash(String s) {
    String r = s;
    while (r.endsWith("/")) {
      r = r.substring(0, r.length() - 1);
    }
    return r;
  }
}

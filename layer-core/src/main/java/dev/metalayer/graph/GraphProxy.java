package dev.metalayer.graph;

import dev.metalayer.graph.GraphForwarder.GraphRequest;

import dev.metalayer.graph.GraphForwarder.UpstreamFailure;

import dev.metalayer.crypto.Secrets;
import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.keys.Grant;
import dev.metalayer.keys.KeyService;
import dev.metalayer.keys.Resolution;
import dev.metalayer.keys.TokenResolver;
import dev.metalayer.log.RequestIds;
import dev.metalayer.log.WarnLimiter;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Graph proxy's decisions, independent of any HTTP server: credential → grant → scope → upstream
 * request, and answer → rewritten answer. Obtained from {@link dev.metalayer.MetaLayer#graphProxy()}.
 *
 * <p>Every decision is made here and in the {@link GraphStep}s an accepted request yields. An adapter
 * either calls {@link #prepare} / {@link #prepareMedia} and executes the steps of
 * {@link GraphExchange#start} / {@link MediaDownload#start} itself, moving the bytes (the Jetty adapter
 * streams), or hands whole requests to {@link #handle}, which executes them through the configured
 * {@link GraphForwarder} (buffered; for embedders such as a plain JDK {@code HttpServer}). Errors the
 * layer makes are Graph-shaped and never echo a key or a token. Thread-safe.
 */
public final class GraphProxy {
  private static final Logger log = LoggerFactory.getLogger(GraphProxy.class);
  private static final Pattern MEDIA_DOWNLOAD = Pattern.compile("/*media/([0-9]{1,32})/download/?");

  private final GraphSettings settings;
  private final TokenResolver resolver;
  private final Surface surface;
  private final MediaLinks links;
  private final GraphForwarder forwarder;
  private final String upstreamBase;
  private final String upstreamBasePath;
  private final MediaConcurrency mediaConcurrency;
  private final MediaHosts mediaHosts;
  private final UpstreamWarnings warnings;
  private final GraphSteps steps;
  /** The operator events of Graph writes (a write turning SIP on), at most one line per key and minute. */
  private final WarnLimiter operatorEvents;
  /** Each key's token bucket: a request past its key's rate limit is a 429 before the surface or Meta sees it. */
  private final KeyRateLimits rateLimits;

  /**
   * The Graph proxy of a layer: its one public factory (used by {@link dev.metalayer.MetaLayer}).
   *
   * @param settings the proxy's configuration
   * @param resolver turns a client's credential into a grant
   * @param registry which Graph IDs belong to registered numbers and shared WABAs (for the {@link Surface})
   * @param widening the {@link Surface.Group}s granted per phone number ID beyond the default surface
   * @param linkCipher seals the layer's media URLs ({@code ref}) under the master key
   * @param clock the time of media links and of the rate limit of WARN lines
   * @param forwarder sends {@link #handle}'s upstream requests
   */
  public static GraphProxy create(GraphSettings settings, TokenResolver resolver, Surface.Registry registry,
      Map<String, Set<Surface.Group>> widening, TokenCipher linkCipher, Clock clock, GraphForwarder forwarder) {
    return create(settings, resolver, registry, widening, linkCipher, clock, forwarder, CallGuard.NONE);
  }

  /**
   * The Graph proxy of a layer that knows calls: as {@link #create(GraphSettings, TokenResolver,
   * Surface.Registry, Map, TokenCipher, Clock, GraphForwarder)}, with the {@link CallGuard} that sees
   * every {@code POST} to a number's {@code calls} and {@code messages} before it goes upstream, and
   * its answer.
   */
  public static GraphProxy create(GraphSettings settings, TokenResolver resolver, Surface.Registry registry,
      Map<String, Set<Surface.Group>> widening, TokenCipher linkCipher, Clock clock, GraphForwarder forwarder,
      CallGuard guard) {
    return new GraphProxy(settings, resolver, new Surface(registry, widening), new MediaLinks(linkCipher, clock), forwarder,
        clock, guard);
  }

  GraphProxy(GraphSettings settings, TokenResolver resolver, Surface surface, MediaLinks links, GraphForwarder forwarder,
      Clock clock, CallGuard guard) {
    this.settings = Objects.requireNonNull(settings, "settings");
    this.resolver = Objects.requireNonNull(resolver, "resolver");
    this.surface = Objects.requireNonNull(surface, "surface");
    this.links = Objects.requireNonNull(links, "links");
    this.forwarder = Objects.requireNonNull(forwarder, "forwarder");
    this.upstreamBase = stripSlash(settings.graphUrl().toString());
    String path = settings.graphUrl().getRawPath();
    this.upstreamBasePath = path == null ? "" : stripSlash(path);
    this.mediaConcurrency = new MediaConcurrency(settings.mediaDownloadsPerKey());
    this.mediaHosts = new MediaHosts(settings.mediaHosts());
    this.warnings = new UpstreamWarnings(clock);
    this.steps = new GraphSteps(settings, warnings, Objects.requireNonNull(guard, "guard"));
    this.operatorEvents = new WarnLimiter(clock);
    this.rateLimits = new KeyRateLimits(settings.keyRateLimit(), clock);
  }

  public GraphSettings settings() {
    return settings;
  }

  /** The keys' token buckets (for tests of their memory bound). */
  KeyRateLimits rateLimits() {
    return rateLimits;
  }

  /** The media ID when {@code path} (after the prefix) is the layer's media download route. */
  public Optional<String> mediaDownloadId(String path) {
    Matcher m = MEDIA_DOWNLOAD.matcher(path);
    return m.matches() ? Optional.of(m.group(1)) : Optional.empty();
  }

  /**
   * The route class of {@code path} (after the prefix), the {@code route} label of the layer's metrics:
   * {@code media_download} for the layer's media route, else the Graph edge the surface's table names
   * ({@code messages}, {@code media}…), {@code node}, {@code other} or {@code invalid}. Never an ID.
   */
  public String routeClass(String path) {
    return mediaDownloadId(path).isPresent() ? "media_download" : Surface.routeClass(path);
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
   * Decides, before any body is read, how much of a body the adapter may read whole (a form, or another
   * non-multipart body whose parameters the {@link Surface} checks): refused at once when the
   * {@code Authorization} header or the query carries a malformed, conflicting or invalid credential;
   * {@link #MAX_FORM_BYTES} (or the body limit, if lower) when it carries a valid key. When it carries
   * none, only a form may hold the credential: a form is read up to {@link #MAX_KEYLESS_FORM_BYTES}, and
   * any other body not at all (0: {@link #prepare} then answers 401 without it). {@link #prepare} checks
   * everything again with the body.
   *
   * @param form whether the body is {@code application/x-www-form-urlencoded}
   * @return the refusal to answer, or the number of body bytes to read at most
   */
  public Outcome<Integer> bodyReadLimit(Optional<String> authorization, String rawQuery, boolean form) {
    Outcome<Optional<Grant>> early = grantWithoutBody(authorization, rawQuery);
    if (early instanceof Outcome.Refused<Optional<Grant>> r) {
      return Outcome.refused(r.error());
    }
    if (((Outcome.Ok<Optional<Grant>>) early).value().isPresent()) {
      return Outcome.ok((int) Math.min(MAX_FORM_BYTES, settings.maxBodyBytes()));
    }
    return Outcome.ok(form ? (int) Math.min(MAX_KEYLESS_FORM_BYTES, settings.maxBodyBytes()) : 0);
  }

  /**
   * Checks a Graph request and prepares its upstream form. Once its key is known, the request takes one
   * from the key's rate limit ({@link KeyRateLimits}): past it, a 429 with {@code Retry-After} whose
   * {@link Outcome.Refused#reason()} is {@link Outcome#RATE_LIMITED}, before any other rule. A multipart upload (whose body streams)
   * holds one of its key's {@link MediaConcurrency} slots, shared with media downloads: one over the
   * cap is refused with a 429; the adapter must {@link GraphExchange#close()} an exchange when it ends.
   */
  public Outcome<GraphExchange> prepare(ClientRequest request) {
    Outcome<GraphPath> parsed = GraphPath.parse(request.path());
    if (parsed instanceof Outcome.Refused<GraphPath> r) {
      return Outcome.refused(r.error());
    }
    GraphPath path = ((Outcome.Ok<GraphPath>) parsed).value();
    if (request.rawQuery().indexOf('\uFFFD') >= 0) {
      // a raw byte that was no UTF-8, already replaced by the server: it cannot reach Meta as sent
      return Outcome.refused(GraphError.invalidParameter("The query holds raw bytes that are not UTF-8; percent-encode them."));
    }
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
    Optional<GraphError> limited = rateLimits.take(grant);
    if (limited.isPresent()) {
      return Outcome.refused(limited.get(), Outcome.RATE_LIMITED);
    }
    Parameters parameters = credentials.parameters();
    // an encoded body is not read here: the surface refuses it for its Content-Encoding (rule content-encoding)
    boolean encoded = request.headerNames().stream().anyMatch(h -> h.equalsIgnoreCase("content-encoding"));
    if (request.body().isPresent() && !encoded) {
      Outcome<Parameters> inBody = BodyParameters.of(request.body().get(), request.contentType().orElse(null));
      if (inBody instanceof Outcome.Refused<Parameters> r) {
        return Outcome.refused(r.error());
      }
      parameters = parameters.and(((Outcome.Ok<Parameters>) inBody).value());
    }
    Outcome<Surface.Allowed> allowed =
        surface.check(grant, new Surface.Request(request.method(), path, parameters, request.multipart(), request.headerNames()));
    if (allowed instanceof Outcome.Refused<Surface.Allowed> r) {
      log.debug("Key {} refused by the Graph surface", grant.keyId());
      return Outcome.refused(r.error());
    }
    Surface.Allowed row = ((Outcome.Ok<Surface.Allowed>) allowed).value();
    Surface.Target target = row.target();
    Optional<String> multipartType = Optional.empty();
    if (request.multipart()) {
      Outcome<MultipartParts> parts = MultipartParts.forContentType(request.contentType().orElse(""), row.rule().parts());
      if (parts instanceof Outcome.Refused<MultipartParts> r) {
        return Outcome.refused(r.error());
      }
      multipartType = request.contentType();
    }
    boolean media = target == Surface.Target.MEDIA;
    // A media request carries nothing of the client's but its method: no parameter (not "fields", which
    // would hide what the object is, nor an override such as "method") and no body. Graph gets the whole
    // object, whose answer shows whether the ID was media (MediaObjects), and checks phone_number_id.
    String query = media ? "phone_number_id=" + grant.number().phoneNumberId() : credentials.upstreamQuery();
    query = withProof(query, grant);
    Optional<URI> uri = uri(upstreamBase + path.upstreamPath() + (query.isEmpty() ? "" : "?" + escapeQuery(query)));
    if (uri.isEmpty()) {
      return Outcome.refused(GraphError.invalidParameter("The request URI is invalid."));
    }
    TokenScrubber scrubber = perToken(grant).scrubber();
    AnswerRewriter rewriter =
        new AnswerRewriter(
            layerGraphBase(),
            upstreamBasePath,
            settings.publicUrl().isPresent() ? credentials.credential() : Optional.empty(),
            grant.number().phoneNumberId(),
            media && request.method().equals("GET") ? Optional.of(path.object()) : Optional.empty(),
            row.rule().listsNumbers(),
            links,
            scrubber);
    Optional<byte[]> upstreamBody = media ? Optional.empty() : credentials.upstreamForm().or(request::body);
    // a multipart upload streams: it holds one of the key's media slots, like a download, until it ends
    MediaConcurrency.Slot slot = null;
    if (request.multipart() && !media) {
      slot = mediaConcurrency.tryAcquire(grant.keyId());
      if (slot == null) {
        log.debug("Key {} has {} media transfers in flight: refused an upload", grant.keyId(), mediaConcurrency.perKey());
        return Outcome.refused(MediaConcurrency.busy());
      }
    }
    if (row.rule().target() == Surface.Target.PHONE_NUMBER && row.rule().method().equals("POST")
        && row.rule().edge().equals("settings") && CallingSettings.turnsSipOn(request.rawQuery(), request.form().or(request::body))) {
      // an operator event: one client's write changes every client's calling (Meta: error 131055 afterwards);
      // at most one line per key and minute, so that a client repeating the write cannot flood the log
      operatorEvents.permit("sip-on", grant.keyId()).ifPresent(suppressed -> log.warn(
          "Key {} of phone number ID {} sends a settings write that turns SIP on: once Meta applies it, Graph calling"
              + " and call webhooks stop for every client of this number{}", grant.keyId(), grant.number().phoneNumberId(),
          WarnLimiter.suppressed(suppressed)));
    }
    return Outcome.ok(
        new GraphExchange(request.method(), uri.get(), upstreamBody, grant.metaToken(),
            target, rewriter, scrubber,
            settings.mergeCallingSettings()
                && request.method().equals("POST")
                && target == Surface.Target.PHONE_NUMBER
                && path.edges().equals(List.of("settings")),
            multipartType.map(type -> () -> ((Outcome.Ok<MultipartParts>) MultipartParts.forContentType(type, row.rule().parts())).value()),
            Optional.ofNullable(slot),
            grant.number().phoneNumberId(),
            route(row.rule()),
            steps,
            guarded(request.method(), target, path, grant, credentials.upstreamQuery())));
  }

  /** A surface row as a path template: {@code /{version}/{phone-number-id}/messages}, {@code /{version}/{media-id}}. */
  private static String route(Surface.Rule rule) {
    String object = switch (rule.target()) {
      case PHONE_NUMBER -> "{phone-number-id}";
      case WABA -> "{waba-id}";
      case MEDIA -> "{media-id}";
    };
    return "/{version}/" + object + (rule.edge().isEmpty() ? "" : "/" + rule.edge());
  }

    /** The edges whose {@code POST}s the {@link CallGuard} sees. */
  private static final Set<String> GUARDED_EDGES = Set.of("calls", "messages");

  private static Optional<GraphExchange.Guarded> guarded(String method, Surface.Target target, GraphPath path, Grant grant,
      String query) {
    if (method.equals("POST") && target == Surface.Target.PHONE_NUMBER && path.edges().size() == 1
        && GUARDED_EDGES.contains(path.edges().get(0))) {
      return Optional.of(new GraphExchange.Guarded(grant, path.edges().get(0), query));
    }
    return Optional.empty();
  }

  /**
   * Checks the credential of the {@code Authorization} header and the query, before any body is read:
   * a refusal (401 for an unknown or malformed key, 400 for conflicting ones), or the grant, or empty
   * when neither carries a credential (a form body may). For an adapter that must not read a body for
   * a client it cannot name; {@link #prepare} checks everything again.
   */
  Outcome<Optional<Grant>> grantWithoutBody(Optional<String> authorization, String rawQuery) {
    Outcome<Optional<String>> found = Credentials.withoutBody(authorization.orElse(null), rawQuery);
    if (found instanceof Outcome.Refused<Optional<String>> r) {
      return Outcome.refused(r.error());
    }
    Optional<String> credential = ((Outcome.Ok<Optional<String>>) found).value();
    if (credential.isEmpty()) {
      return Outcome.ok(Optional.empty());
    }
    Outcome<Grant> granted = grant(credential);
    if (granted instanceof Outcome.Refused<Grant> r) {
      return Outcome.refused(r.error());
    }
    return Outcome.ok(Optional.of(((Outcome.Ok<Grant>) granted).value()));
  }

  /**
   * Checks a download of a layer media URL ({@code /media/{id}/download?ref=…}) and prepares it. An
   * accepted download holds one of its key's {@link MediaConcurrency} slots: the adapter must
   * {@link MediaDownload#close()} it when the download ends, however it ends.
   */
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
    Optional<GraphError> limited = rateLimits.take(grant);
    if (limited.isPresent()) {
      return Outcome.refused(limited.get(), Outcome.RATE_LIMITED);
    }
    Optional<GraphError> refused = surface.mediaDownload(grant, mediaId);
    if (refused.isPresent()) {
      return Outcome.refused(refused.get());
    }
    MediaLinks.Opened opened = links.open(ref, grant.number().phoneNumberId(), mediaId);
    if (opened instanceof MediaLinks.Opened.Foreign) {
      log.debug("Key {} presented a media link of another number or media", grant.keyId());
      return Outcome.refused(GraphError.outOfScope("(#200) This media link belongs to another number."));
    }
    Optional<URI> fresh = opened instanceof MediaLinks.Opened.Fresh f ? Optional.of(f.url()) : Optional.empty();
    String query = withProof("phone_number_id=" + grant.number().phoneNumberId(), grant);
    URI lookup = URI.create(upstreamBase + "/" + mediaId + "?" + query);
    MediaConcurrency.Slot slot = mediaConcurrency.tryAcquire(grant.keyId());
    if (slot == null) {
      log.debug("Key {} has {} media downloads in flight: refused one more", grant.keyId(), mediaConcurrency.perKey());
      return Outcome.refused(MediaConcurrency.busy());
    }
    return Outcome.ok(
        new MediaDownload(mediaId, fresh, lookup, grant.metaToken(), mediaHosts, perToken(grant).scrubber(), slot,
            grant.number().phoneNumberId(), steps));
  }

  /**
   * Runs one whole request, Graph request or media download, executing the core's {@link GraphStep}s
   * through the {@link GraphForwarder} (buffered). Blocks for at most the upstream (or media) timeout of
   * each step.
   *
   * @param headers the client's request headers (the core picks those that go upstream; every upstream
   *     request carries the {@link RequestIds} trace of its {@code X-Request-Id} and {@code traceparent})
   * @param body the client's body, empty for none
   * @return the answer to send to the client, never carrying the Meta token
   */
  public GraphAnswer handle(ClientRequest request, Map<String, List<String>> headers, byte[] body) {
    RequestIds.Trace trace = RequestIds.incoming(first(headers, RequestIds.HEADER), first(headers, RequestIds.TRACEPARENT),
        java.util.concurrent.ThreadLocalRandom.current());
    if (body.length > settings.maxBodyBytes()) {
      return GraphAnswer.of(GraphError.bodyTooLarge());
    }
    Optional<String> mediaId = mediaDownloadId(request.path());
    if (mediaId.isPresent()) {
      Outcome<MediaDownload> media = prepareMedia(request, mediaId.get());
      if (media instanceof Outcome.Refused<MediaDownload> r) {
        return GraphAnswer.of(r.error());
      }
      try (MediaDownload download = ((Outcome.Ok<MediaDownload>) media).value()) {
        return run(download.start(), body, trace);
      }
    }
    Outcome<GraphExchange> prepared = prepare(completed(request, headers, body));
    if (prepared instanceof Outcome.Refused<GraphExchange> r) {
      return GraphAnswer.of(r.error());
    }
    try (GraphExchange exchange = ((Outcome.Ok<GraphExchange>) prepared).value()) {
      return run(exchange.start(headers), body, trace);
    }
  }

  /** Executes steps with the forwarder until one is the client's answer: the JDK path's byte moving. */
  private GraphAnswer run(GraphStep first, byte[] clientBody, RequestIds.Trace trace) {
    GraphStep step = first;
    while (step instanceof GraphStep.Send send) {
      GraphRequest request = send.request().traced(trace);
      if (send.clientBody().isPresent()) {
        Optional<GraphError> refusal = send.clientBody().get().get().feed(clientBody);
        if (refusal.isPresent()) {
          return GraphAnswer.of(refusal.get());
        }
        request = new GraphRequest(request.method(), request.uri(), request.headers(), clientBody, request.timeout());
      }
      GraphForwarder.Forwarded forwarded = forwarder.forward(request);
      if (forwarded instanceof GraphForwarder.Forwarded.Failed f) {
        return send.failed(f.reason());
      }
      GraphAnswer answer = ((GraphForwarder.Forwarded.Answered) forwarded).answer();
      GraphStep.Head head = send.head(answer.status(), answer.headers());
      if (head instanceof GraphStep.Head.Buffer buffer) {
        step = answer.body().length > buffer.maxBytes()
            ? new GraphStep.Reply(send.failed(UpstreamFailure.ANSWER_TOO_LARGE))
            : buffer.then(answer.body());
      } else if (head instanceof GraphStep.Head.Stream stream) {
        return stream.whole(answer.body());
      } else {
        step = ((GraphStep.Head.Then) head).next();
      }
    }
    return ((GraphStep.Reply) step).answer();
  }

  /** The first value of a header, in any case of its name, or null. */
  private static String first(Map<String, List<String>> headers, String name) {
    return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty())
        .map(e -> e.getValue().get(0)).findFirst().orElse(null);
  }

  /**
   * {@code request} completed from the whole request, so that {@link #prepare} checks what goes
   * upstream: the content type (the request's, else the headers'), the name of every header field that
   * goes with it, and the body when it is neither a form nor multipart (the request's, else
   * {@code body}).
   */
  private static ClientRequest completed(ClientRequest request, Map<String, List<String>> headers, byte[] body) {
    Optional<String> contentType = request.contentType().or(() -> headers.entrySet().stream()
        .filter(e -> e.getKey().equalsIgnoreCase("content-type") && !e.getValue().isEmpty())
        .map(e -> e.getValue().get(0))
        .findFirst());
    List<String> names = new java.util.ArrayList<>(request.headerNames());
    java.util.Set<String> given = new java.util.HashSet<>();
    request.headerNames().forEach(n -> given.add(n.toLowerCase(java.util.Locale.ROOT)));
    headers.forEach((name, values) -> {
      if (!given.contains(name.toLowerCase(java.util.Locale.ROOT))) {
        values.forEach(v -> names.add(name)); // one name per field
      }
    });
    ClientRequest typed = new ClientRequest(request.method(), request.path(), request.rawQuery(), request.authorization(),
        request.form(), request.requestBase(), contentType, Optional.empty(), names);
    Optional<byte[]> buffered = request.body().isPresent() || request.form().isPresent() || typed.multipart() || body.length == 0
        ? request.body()
        : Optional.of(body);
    return new ClientRequest(request.method(), request.path(), request.rawQuery(), request.authorization(),
        request.form(), request.requestBase(), contentType, buffered, names);
  }

  private Outcome<Grant> grant(Credentials credentials) {
    return grant(credentials.credential());
  }

  private Outcome<Grant> grant(Optional<String> credential) {
    if (credential.isEmpty()) {
      return Outcome.refused(GraphError.invalidToken("An access token is required to request this resource."));
    }
    Resolution resolution;
    try {
      resolution = resolver.resolve(credential.get());
    } catch (KeyService.StoreUnavailableException e) {
      // the key service said so once (one WARN per outage); the client retries
      return Outcome.refused(GraphError.unavailable("The layer cannot check this access token right now; retry later."));
    }
    if (resolution instanceof Resolution.Granted g) {
      if (!KeyService.isPlainMetaToken(g.grant().metaToken())) {
        // sent as it is, such a token would reach Meta changed (a '…' becomes a space): refuse instead
        GraphError error = GraphError.of(500, 1, GraphError.LAYER,
            "The Meta token registered for this number is not plain visible ASCII; register the number's token again.");
        warnings.warn(g.grant().number().phoneNumberId(), "its registered Meta token is not plain visible ASCII", error, null);
        return Outcome.refused(error);
      }
      return Outcome.ok(g.grant());
    }
    log.debug("Credential refused: {}", ((Resolution.Refused) resolution).reason());
    return Outcome.refused(GraphError.invalidToken("Invalid OAuth access token."));
  }

  /**
   * The base of the layer's own URLs in answers: the public URL and the prefix, or the prefix alone
   * (a path-absolute reference) when no public URL is configured. Never the request's {@code Host}.
   */
  private String layerGraphBase() {
    return settings.publicUrl().map(u -> stripSlash(u.toString())).orElse("") + settings.prefix();
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

  private static final String QUERY_CHARS =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?";

  /**
   * A query as the client sent it, with every character a URI query may not hold percent-encoded as
   * its UTF-8 bytes: Graph's field-expansion characters ({@code { } | ^}), spaces, non-ASCII and a
   * {@code %} that starts no escape. Escapes already there and every other character are kept, so
   * that Meta receives the client's bytes exactly (the scope and surface rules then see the query, not
   * a URI error).
   */
  static String escapeQuery(String query) {
    StringBuilder b = null;
    for (int i = 0; i < query.length(); i++) {
      char c = query.charAt(i);
      boolean keep = c < 128 && (QUERY_CHARS.indexOf(c) >= 0 || c == '%' && isEscape(query, i));
      if (keep) {
        if (b != null) {
          b.append(c);
        }
        continue;
      }
      if (b == null) {
        b = new StringBuilder(query.length() + 16).append(query, 0, i);
      }
      int end = Character.isHighSurrogate(c) && i + 1 < query.length() && Character.isLowSurrogate(query.charAt(i + 1)) ? i + 2 : i + 1;
      for (byte x : query.substring(i, end).getBytes(StandardCharsets.UTF_8)) {
        b.append('%').append(HEX[(x >> 4) & 0xF]).append(HEX[x & 0xF]);
      }
      i = end - 1;
    }
    return b == null ? query : b.toString();
  }

  private static final char[] HEX = "0123456789ABCDEF".toCharArray();

  private static boolean isEscape(String s, int at) {
    return at + 2 < s.length() && Character.digit(s.charAt(at + 1), 16) >= 0 && Character.digit(s.charAt(at + 2), 16) >= 0;
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

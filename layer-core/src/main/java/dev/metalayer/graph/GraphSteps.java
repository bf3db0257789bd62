package dev.metalayer.graph;

import dev.metalayer.graph.GraphForwarder.GraphRequest;

import dev.metalayer.graph.GraphForwarder.UpstreamFailure;

import dev.metalayer.json.Json;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Graph proxy's rule sequence, written once: which requests go upstream for an accepted exchange or
 * media download, in which order, and what the client gets from each answer or failure. Every function
 * here is pure but for the WARN lines of {@link UpstreamWarnings}; the {@link GraphStep}s they return
 * are executed by the JDK path ({@link GraphProxy#handle}) and by the Jetty adapter alike.
 *
 * <ul>
 *   <li>A partial {@code calling} write ({@link CallingSettings}) reads the current settings first and
 *       writes the merge, never blind.
 *   <li>A {@code DELETE} of a media ID looks the object up first and deletes only a media object
 *       ({@link MediaObjects}).
 *   <li>A read that does not answer 200 is the client's answer when it is JSON (rewritten), else a 502.
 *   <li>A media download looks the media up when its link is stale, then fetches from allowed hosts
 *       only ({@link MediaHosts}), following at most {@link MediaDownload#MAX_REDIRECTS} redirects.
 *       A failed lookup whose body is not JSON is a 502: its bytes, which could carry anything, never
 *       reach the client.
 *   <li>A JSON answer is buffered and rewritten; another answer streams scrubbed when the exchange
 *       allows it, else it is a 502; a body still encoded is a 502; a {@code HEAD} gets status and
 *       headers only.
 *   <li>A {@code POST} to the number's {@code calls} or {@code messages} asks the {@link CallGuard} first:
 *       its answer, if any, is the client's and nothing goes upstream; else the guard is told the
 *       answer the client gets (the rewritten JSON, or the layer's error for a failure).
 *   <li>Headers named in a {@code Connection} header are dropped both ways, with the rest of
 *       {@link Headers}; a client's {@code Content-Type} stays, whatever its {@code Connection} names
 *       (its body was checked as that type).
 * </ul>
 */
final class GraphSteps {
  private static final Logger log = LoggerFactory.getLogger(GraphSteps.class);
  /** The largest media lookup answer read (a small JSON object). */
  static final int MAX_LOOKUP_BYTES = 1024 * 1024;

  private final GraphSettings settings;
  private final UpstreamWarnings warnings;
  private final CallGuard guard;

  GraphSteps(GraphSettings settings, UpstreamWarnings warnings, CallGuard guard) {
    this.settings = settings;
    this.warnings = warnings;
    this.guard = guard;
  }

  // ---- Graph exchanges

  /** The first step of an accepted exchange, given the client's request headers. */
  GraphStep start(GraphExchange x, Map<String, List<String>> clientHeaders) {
    Map<String, List<String>> headers = toMeta(x, clientHeaders);
    if (x.callingSettingsWrite() && x.form().isPresent() && CallingSettings.isCallingUpdate(x.form().get())) {
      byte[] partial = x.form().get();
      return readFirst(x, current -> CallingSettings.merge(partial, current)
          .<GraphStep>map(merged -> {
            log.debug("Merged a partial calling settings write into the current settings");
            return send(x, withJsonType(headers), merged, false);
          })
          .orElseGet(() -> GraphStep.Reply.of(GraphError.badGateway("The current calling settings could not be read."))));
    }
    if (x.mediaDeletion()) {
      return readFirst(x, object -> {
        if (MediaObjects.isMedia(object)) {
          return send(x, headers, null, false);
        }
        log.debug("Refused to delete {}: the lookup did not answer a media object", x);
        return GraphStep.Reply.of(MediaObjects.notMedia());
      });
    }
    if (!x.bodyAllowed()) {
      return send(x, headers, null, false);
    }
    if (x.guarded().isPresent()) {
      GraphExchange.Guarded g = x.guarded().get();
      Outcome<byte[]> read = CallRequests.withQuery(g.query(), x.form().orElse(NO_BODY));
      if (read instanceof Outcome.Refused<byte[]> refused) {
        return GraphStep.Reply.of(refused.error());
      }
      byte[] body = ((Outcome.Ok<byte[]>) read).value();
      Optional<GraphAnswer> instead = guard.before(g.grant(), g.edge(), body);
      if (instead.isPresent()) {
        return new GraphStep.Reply(instead.get());
      }
      GraphStep.Send send = send(x, headers, x.form().orElse(null), false);
      return new GraphStep.Send(send.request(), send.upstream(), Optional.empty(),
          (status, answerHeaders) -> told(g, body, send.head(status, answerHeaders), status),
          failure -> told(g, body, send.failed(failure)), true);
    }
    boolean streams = x.form().isEmpty() && x.multipartParts().isPresent();
    return send(x, headers, x.form().orElse(null), streams);
  }

  private static final byte[] NO_BODY = new byte[0];

  /**
   * {@code head}, with the {@link CallGuard} told of the answer the client gets: the reply it ends in
   * (a JSON answer rewritten, or the layer's error), or the status alone of an answer that streams.
   */
  private GraphStep.Head told(GraphExchange.Guarded g, byte[] body, GraphStep.Head head, int status) {
    if (head instanceof GraphStep.Head.Buffer buffer) {
      return new GraphStep.Head.Buffer(buffer.maxBytes(), answer -> told(g, body, buffer.then(answer)));
    }
    if (head instanceof GraphStep.Head.Then then) {
      return new GraphStep.Head.Then(told(g, body, then.next()));
    }
    guard.after(g.grant(), g.edge(), body, status, NO_BODY);
    return head;
  }

  private GraphStep told(GraphExchange.Guarded g, byte[] body, GraphStep step) {
    if (step instanceof GraphStep.Reply reply) {
      told(g, body, reply.answer());
    }
    return step; // a guarded exchange sends once: its answer is a reply or a stream
  }

  private GraphAnswer told(GraphExchange.Guarded g, byte[] body, GraphAnswer answer) {
    guard.after(g.grant(), g.edge(), body, answer.status(), answer.body());
    return answer;
  }

  private GraphStep.Send send(GraphExchange x, Map<String, List<String>> headers, byte[] body, boolean clientBody) {
    return new GraphStep.Send(
        new GraphRequest(x.method(), x.upstreamUri(), headers, body, settings.upstreamTimeout()),
        GraphStep.Upstream.GRAPH,
        clientBody ? x.multipartParts() : Optional.empty(),
        (status, answerHeaders) -> answer(x, status, answerHeaders),
        failure -> failed(x.phoneNumberId(), failure));
  }

  /** What the client gets from the answer to the exchange's own request. */
  private GraphStep.Head answer(GraphExchange x, int status, Map<String, List<String>> headers) {
    TokenScrubber scrubber = x.scrubber();
    if (x.headersOnly()) {
      return new GraphStep.Head.Stream(status, toClient(headers, scrubber), OptionalLong.empty(), scrubber);
    }
    if (!Headers.decoded(header(headers, "content-encoding"))) {
      return then(GraphStep.Reply.of(Headers.undecodedAnswer()));
    }
    if (Headers.isJson(header(headers, "content-type"))) {
      return new GraphStep.Head.Buffer(settings.maxJsonAnswerBytes(), body -> rewritten(x, status, headers, body));
    }
    if (x.mayStreamNonJson(status)) {
      return new GraphStep.Head.Stream(status, toClient(headers, scrubber), length(headers), scrubber);
    }
    return then(invalid(x.phoneNumberId(), status, headers));
  }

  private GraphStep rewritten(GraphExchange x, int status, Map<String, List<String>> headers, byte[] body) {
    RewrittenAnswer rewritten = x.rewriteJson(status, body);
    if (rewritten instanceof RewrittenAnswer.Send send) {
      return new GraphStep.Reply(new GraphAnswer(status, toClient(headers, x.scrubber()), send.body()));
    }
    if (rewritten instanceof RewrittenAnswer.NotJson) {
      return invalid(x.phoneNumberId(), status, headers);
    }
    return GraphStep.Reply.of(rewritten.instead(status)); // none of the upstream answer's headers or bytes go out
  }

  /**
   * {@code GET}s the exchange's own upstream URI first (with the Meta token, none of the client's
   * headers) and goes on with {@code then} of a 200's body. Any other answer is the client's: JSON
   * rewritten like any Graph answer, anything else a 502; nothing is written.
   */
  private GraphStep.Send readFirst(GraphExchange x, Function<byte[], GraphStep> then) {
    GraphRequest get = new GraphRequest("GET", x.upstreamUri(), authorization(x.upstreamAuthorization()), null,
        settings.upstreamTimeout());
    return new GraphStep.Send(get, GraphStep.Upstream.GRAPH, Optional.empty(), (status, headers) -> {
      if (!Headers.decoded(header(headers, "content-encoding"))) {
        return then(GraphStep.Reply.of(Headers.undecodedAnswer()));
      }
      if (status == 200) {
        return new GraphStep.Head.Buffer(settings.maxJsonAnswerBytes(), then);
      }
      if (Headers.isJson(header(headers, "content-type"))) {
        return new GraphStep.Head.Buffer(settings.maxJsonAnswerBytes(), body -> rewritten(x, status, headers, body));
      }
      return then(invalid(x.phoneNumberId(), status, headers));
    }, failure -> failed(x.phoneNumberId(), failure));
  }

  // ---- media downloads

  /** The first step of an accepted media download: the fresh URL's fetch, or a lookup first. */
  GraphStep start(MediaDownload m) {
    if (m.freshUrl().isPresent()) {
      return fetch(m, m.freshUrl().get(), 0);
    }
    GraphRequest lookup = new GraphRequest("GET", m.lookupUri(), authorization(m.upstreamAuthorization()), null,
        settings.upstreamTimeout());
    return new GraphStep.Send(lookup, GraphStep.Upstream.GRAPH, Optional.empty(), (status, headers) -> {
      if (!Headers.decoded(header(headers, "content-encoding"))) {
        return then(GraphStep.Reply.of(Headers.undecodedAnswer()));
      }
      if (status == 200) {
        return new GraphStep.Head.Buffer(MAX_LOOKUP_BYTES, body -> m.urlFromLookup(body)
            .<GraphStep>map(url -> fetch(m, url, 0))
            .orElseGet(() -> GraphStep.Reply.of(noMediaUrl())));
      }
      if (status >= 400 && Headers.isJson(header(headers, "content-type"))) {
        // Graph's error, for the client to read: only if it is JSON
        return new GraphStep.Head.Buffer(MAX_LOOKUP_BYTES, body -> isJson(body)
            ? new GraphStep.Reply(new GraphAnswer(status, toClient(headers, m.scrubber()), m.scrubber().redactJson(body)))
            : invalid(m.phoneNumberId(), status, headers));
      }
      if (status >= 400) {
        return then(invalid(m.phoneNumberId(), status, headers));
      }
      return then(GraphStep.Reply.of(noMediaUrl()));
    }, failure -> failed(m.phoneNumberId(), failure));
  }

  /** Fetches {@code url} (redirect {@code hop}), from an allowed media host only; streams the bytes scrubbed. */
  private GraphStep fetch(MediaDownload m, URI url, int hop) {
    if (hop > MediaDownload.MAX_REDIRECTS) {
      return GraphStep.Reply.of(GraphError.badGateway("The media host redirected too many times."));
    }
    if (!m.allowed(url)) {
      log.debug("Refused to fetch {} from a host outside the media hosts", m);
      return GraphStep.Reply.of(GraphError.badGateway("The media is hosted outside the allowed media hosts."));
    }
    // identity: media bytes pass as they are, with their length. None of the client's headers go.
    Map<String, List<String>> headers = new LinkedHashMap<>(authorization(m.upstreamAuthorization()));
    headers.put("Accept-Encoding", List.of("identity"));
    GraphRequest get = new GraphRequest("GET", url, headers, null, settings.mediaTimeout());
    return new GraphStep.Send(get, GraphStep.Upstream.MEDIA_HOST, Optional.empty(), (status, answerHeaders) -> {
      String location = header(answerHeaders, "location");
      if (status / 100 == 3 && location != null) {
        return then(resolve(url, location)
            .map(next -> fetch(m, next, hop + 1))
            .orElseGet(() -> GraphStep.Reply.of(GraphError.badGateway("The media host gave an invalid redirect."))));
      }
      if (!Headers.decoded(header(answerHeaders, "content-encoding"))) {
        return then(GraphStep.Reply.of(Headers.undecodedAnswer()));
      }
      return new GraphStep.Head.Stream(status, toClient(answerHeaders, m.scrubber()), length(answerHeaders), m.scrubber());
    }, failure -> failed(m.phoneNumberId(), failure));
  }

  // ---- answers and failures

  private static GraphError noMediaUrl() {
    return GraphError.badGateway("The Graph API gave no URL for this media.");
  }

  /** The client's answer to a failed exchange; Meta out of reach is told to the operator. */
  private GraphAnswer failed(String phoneNumberId, UpstreamFailure failure) {
    GraphError error = failure.error();
    if (failure.metaUnreachable()) {
      warnings.warn(phoneNumberId, failure == UpstreamFailure.TIMEOUT ? "Meta did not answer in time" : "Meta could not be reached",
          error, null);
    }
    return GraphAnswer.of(error);
  }

  /** The 502 for an answer a Graph client cannot read (not JSON where JSON is due); told to the operator. */
  private GraphStep.Reply invalid(String phoneNumberId, int status, Map<String, List<String>> headers) {
    GraphError error = invalidAnswer(status);
    warnings.warn(phoneNumberId, "Meta gave an answer that is not JSON (HTTP " + status + ")", error,
        header(headers, "x-fb-trace-id"));
    return GraphStep.Reply.of(error);
  }

  /**
   * The 502 for an answer a Graph client cannot read: a JSON-typed body that is not JSON, or an error
   * status with a body that is not JSON.
   */
  static GraphError invalidAnswer(int upstreamStatus) {
    return GraphError.badGateway("The Graph API gave an invalid answer (HTTP " + upstreamStatus + ").");
  }

  private static GraphStep.Head then(GraphStep next) {
    return new GraphStep.Head.Then(next);
  }

  /**
   * The client's request headers that go upstream with {@code x} ({@link GraphExchange#passesHeader},
   * minus any the {@code Connection} header names but {@code Content-Type}), plus the Meta token.
   */
  private static Map<String, List<String>> toMeta(GraphExchange x, Map<String, List<String>> client) {
    Set<String> listed = connectionListed(client);
    // the body was checked as the type it declares (a JSON object by its top-level names only): a client
    // naming Content-Type in Connection must not have Meta read it as another type (a form, say)
    listed.remove("content-type");
    Map<String, List<String>> out = new LinkedHashMap<>();
    client.forEach((name, values) -> {
      if (x.passesHeader(name) && !listed.contains(name.toLowerCase(Locale.ROOT))) {
        out.computeIfAbsent(name, n -> new ArrayList<>()).addAll(values);
      }
    });
    out.put("Authorization", List.of(x.upstreamAuthorization()));
    return out;
  }

  /**
   * An upstream answer's headers that pass to the client ({@link Headers#toClient}, minus any its
   * {@code Connection} header names and any whose name holds the token), values scrubbed of the token.
   * Names keep their case.
   */
  static Map<String, List<String>> toClient(Map<String, List<String>> upstream, TokenScrubber scrubber) {
    Set<String> listed = connectionListed(upstream);
    Map<String, List<String>> out = new LinkedHashMap<>();
    upstream.forEach((name, values) -> {
      if (name != null && !name.startsWith(":") && Headers.toClient(name) && !listed.contains(name.toLowerCase(Locale.ROOT))
          && !scrubber.foundIn(name)) {
        out.computeIfAbsent(name, n -> new ArrayList<>()).addAll(values.stream().map(scrubber::redact).toList());
      }
    });
    return out;
  }

  /** The names a {@code Connection} header lists (hop-by-hop for this message), lower case. */
  static Set<String> connectionListed(Map<String, List<String>> headers) {
    Set<String> names = new HashSet<>();
    headers.forEach((name, values) -> {
      if (name != null && name.equalsIgnoreCase("connection")) {
        for (String value : values) {
          for (String listed : value.split(",")) {
            names.add(listed.trim().toLowerCase(Locale.ROOT));
          }
        }
      }
    });
    return names;
  }

  private static Map<String, List<String>> withJsonType(Map<String, List<String>> headers) {
    if (header(headers, "content-type") != null) {
      return headers;
    }
    Map<String, List<String>> out = new LinkedHashMap<>(headers);
    out.put("Content-Type", List.of("application/json"));
    return out;
  }

  private static Map<String, List<String>> authorization(String value) {
    return Map.of("Authorization", List.of(value));
  }

  /** The body's exact length when upstream announced it and sends it as it is (no content coding). */
  private static OptionalLong length(Map<String, List<String>> headers) {
    String length = header(headers, "content-length");
    if (length == null || header(headers, "content-encoding") != null) {
      return OptionalLong.empty();
    }
    try {
      long n = Long.parseLong(length.trim());
      return n >= 0 ? OptionalLong.of(n) : OptionalLong.empty();
    } catch (NumberFormatException e) {
      return OptionalLong.empty();
    }
  }

  /** The first value of a header, case-insensitively, or null. */
  static String header(Map<String, List<String>> headers, String name) {
    for (Map.Entry<String, List<String>> e : headers.entrySet()) {
      if (e.getKey() != null && e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty()) {
        return e.getValue().get(0);
      }
    }
    return null;
  }

  /** Resolves a redirect target against the URL that gave it. */
  static Optional<URI> resolve(URI base, String location) {
    try {
      return Optional.of(base.resolve(new URI(location.trim())));
    } catch (URISyntaxException | IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  private static boolean isJson(byte[] body) {
    try {
      return body.length > 0 && !Json.mapper().readTree(body).isMissingNode();
    } catch (IOException e) {
      return false;
    }
  }
}

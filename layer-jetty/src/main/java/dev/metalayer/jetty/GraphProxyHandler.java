package dev.metalayer.jetty;

import dev.metalayer.graph.CallingSettings;
import dev.metalayer.graph.ClientRequest;
import dev.metalayer.graph.GraphError;
import dev.metalayer.graph.GraphExchange;
import dev.metalayer.graph.GraphProxy;
import dev.metalayer.graph.GraphSettings;
import dev.metalayer.graph.Headers;
import dev.metalayer.graph.MediaDownload;
import dev.metalayer.graph.Outcome;
import dev.metalayer.graph.RewrittenAnswer;
import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.eclipse.jetty.client.BufferingResponseListener;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Graph API under the Graph prefix, and the layer's media downloads under
 * {@code {prefix}/media/{media-id}/download}: translates HTTP to {@link GraphProxy} decisions and moves
 * the bytes with Jetty's {@link HttpClient}.
 *
 * <p>A multipart body streams upstream with the client's demand ({@link LimitedRequestContent}), its
 * part names checked as it goes ({@link GraphExchange#multipartParts()}); any other body is read whole
 * (bounded), because a form may carry the credential and because the Graph surface checks the
 * parameters Graph would read from a form or a JSON body. JSON answers are buffered (up to
 * {@link GraphSettings#maxJsonAnswerBytes()}) and rewritten; other answers stream back through the token
 * scrubber; error answers that are not JSON become a Graph-shaped 502. Upstream requests carry the
 * client's headers that {@link GraphExchange#passesHeader pass} (no hop-by-hop or credential headers;
 * to a media ID, almost none), plus the Meta token; nothing is added ({@code Via}, {@code Forwarded}).
 * Media bytes come through a client of their own, and so do streamed (multipart) uploads, so that
 * neither slow readers nor stalled uploads hold Graph's connections; an upload holds one of its key's
 * media slots ({@link GraphProxy#prepare}) until it ends. Every exchange has the total timeout of
 * {@link GraphSettings#upstreamTimeout()} (media: {@link GraphSettings#mediaTimeout()}) and the idle
 * timeout {@link GraphSettings#idleTimeout()}; nothing is retried. Headers and bodies are never logged.
 *
 * <p>A body read whole is read by the {@link BodyReader} (no thread waits for it; a shared budget and a
 * read deadline), and only after a credential in the {@code Authorization} header or the query has
 * been checked; a form that must carry its own credential is read only up to
 * {@link GraphProxy#bodyReadLimit its smaller limit}.
 */
final class GraphProxyHandler implements Request.Handler {
  private static final Logger log = LoggerFactory.getLogger(GraphProxyHandler.class);
  private static final int MAX_FORM_BYTES = GraphProxy.MAX_FORM_BYTES;

  private final GraphProxy proxy;
  private final GraphSettings settings;
  private final HttpClient client;
  private final HttpClient mediaClient;
  private final BodyReader bodies;

  /**
   * @param client the client of Graph
   * @param mediaClient the client of the media hosts and of streamed uploads, with its own connections
   *     and threads, so that downloads held by slow readers and uploads stalled by their senders never
   *     queue another tenant's Graph call
   * @param bodies the reader of bodies held whole (forms, and the bodies the surface checks)
   */
  GraphProxyHandler(GraphProxy proxy, HttpClient client, HttpClient mediaClient, BodyReader bodies) {
    this.proxy = proxy;
    this.settings = proxy.settings();
    this.client = client;
    this.mediaClient = mediaClient;
    this.bodies = bodies;
  }

  @Override
  public boolean handle(Request clientToProxyRequest, Response proxyToClientResponse, Callback callback) throws Exception {
    HttpURI uri = clientToProxyRequest.getHttpURI();
    String path = uri.getPath().substring(settings.prefix().length());
    String method = clientToProxyRequest.getMethod().toUpperCase(Locale.ROOT);
    Optional<String> authorization = Optional.ofNullable(clientToProxyRequest.getHeaders().get(HttpHeader.AUTHORIZATION));
    String query = uri.getQuery() == null ? "" : uri.getQuery();
    String base = requestBase(clientToProxyRequest);

    Optional<String> mediaId = proxy.mediaDownloadId(path);
    if (mediaId.isPresent()) {
      ClientRequest request = new ClientRequest(method, path, query, authorization, Optional.empty(), base);
      Outcome<MediaDownload> prepared = proxy.prepareMedia(request, mediaId.get());
      if (prepared instanceof Outcome.Refused<MediaDownload> r) {
        HttpIo.writeError(proxyToClientResponse, callback, r.error());
      } else {
        MediaDownload media = ((Outcome.Ok<MediaDownload>) prepared).value();
        // the key's download slot is given back when the client's answer ends, however it ends
        try {
          download(media, proxyToClientResponse, Callback.from(callback, media::close));
        } catch (RuntimeException | Error e) {
          media.close(); // the router's guard answers with the client's own callback
          throw e;
        }
      }
      return true;
    }

    if (clientToProxyRequest.getLength() > settings.maxBodyBytes()) {
      bodies.refuse(clientToProxyRequest, settings.maxBodyBytes(), GraphError.tooLarge("The request body is too large."),
          proxyToClientResponse, callback);
      return true;
    }
    String contentType = clientToProxyRequest.getHeaders().get(HttpHeader.CONTENT_TYPE);
    List<String> headerNames = clientToProxyRequest.getHeaders().stream().map(HttpField::getName).toList();
    boolean form = ClientRequest.isForm(contentType);
    if (!form && (isMultipart(contentType) || !hasContent(clientToProxyRequest))) {
      proceed(clientToProxyRequest, new ClientRequest(method, path, query, authorization, Optional.empty(), base,
          Optional.ofNullable(contentType), Optional.empty(), headerNames), contentType, proxyToClientResponse, callback);
      return true;
    }
    // A form may carry the credential, and Graph reads parameters from a JSON body too: such a body is
    // read whole, for the surface to check, but only after the header and query credential checks out.
    Outcome<Integer> limit = proxy.bodyReadLimit(authorization, query, form);
    if (limit instanceof Outcome.Refused<Integer> r) {
      HttpIo.writeError(proxyToClientResponse, callback, r.error());
      return true;
    }
    int maxBody = ((Outcome.Ok<Integer>) limit).value();
    if (maxBody == 0) { // no credential, and the body cannot carry one: prepare() answers 401 unread
      proceed(clientToProxyRequest, new ClientRequest(method, path, query, authorization, Optional.empty(), base,
          Optional.ofNullable(contentType), Optional.empty(), headerNames), contentType, proxyToClientResponse, callback);
      return true;
    }
    GraphError tooLarge = maxBody < Math.min(MAX_FORM_BYTES, settings.maxBodyBytes())
        ? GraphError.tooLarge("A form that carries its own access token may be at most " + maxBody / 1024
            + " KB: send the key in the Authorization header.")
        : GraphError.tooLarge("The request body is too large.");
    bodies.read(clientToProxyRequest, maxBody, tooLarge, proxyToClientResponse, callback, read ->
        proceed(clientToProxyRequest, new ClientRequest(method, path, query, authorization,
            form ? Optional.of(read) : Optional.empty(), base, Optional.ofNullable(contentType),
            form ? Optional.empty() : Optional.of(read), headerNames), contentType, proxyToClientResponse, callback));
    return true;
  }

  /** Checks a Graph request whose body, if read whole, is in it, and sends it upstream. */
  private void proceed(
      Request clientToProxyRequest, ClientRequest request, String contentType, Response proxyToClientResponse, Callback answered) {
    Outcome<GraphExchange> prepared = proxy.prepare(request);
    if (prepared instanceof Outcome.Refused<GraphExchange> r) {
      HttpIo.writeError(proxyToClientResponse, answered, r.error());
      return;
    }
    GraphExchange exchange = ((Outcome.Ok<GraphExchange>) prepared).value();
    // an upload's media slot is given back when the client's answer ends, however it ends
    Callback callback = Callback.from(answered, exchange::close);
    try {
      forward(clientToProxyRequest, request, exchange, contentType, proxyToClientResponse, callback);
    } catch (RuntimeException | Error e) {
      exchange.close(); // the guard answers with the client's own callback
      throw e;
    }
  }

  private void forward(Request clientToProxyRequest, ClientRequest request, GraphExchange exchange, String contentType,
      Response proxyToClientResponse, Callback callback) {
    if (exchange.callingSettingsWrite() && request.form().isEmpty()) {
      byte[] written = exchange.form().orElse(new byte[0]);
      if (CallingSettings.isCallingUpdate(written)) {
        mergeThenWrite(clientToProxyRequest, exchange, contentType, written, proxyToClientResponse, callback);
      } else {
        send(clientToProxyRequest, exchange, new BytesRequestContent(contentType, written), proxyToClientResponse, callback);
      }
      return;
    }
    if (exchange.mediaDeletion()) {
      lookupThenDelete(clientToProxyRequest, exchange, proxyToClientResponse, callback);
      return;
    }
    org.eclipse.jetty.client.Request.Content content = null;
    if (exchange.form().isPresent()) {
      content = new BytesRequestContent(contentType, exchange.form().get());
    } else if (exchange.bodyAllowed() && hasContent(clientToProxyRequest)) {
      content = new LimitedRequestContent(clientToProxyRequest, settings.maxBodyBytes(),
          exchange.multipartParts().map(java.util.function.Supplier::get).orElse(null));
      // a streamed body arrives at the client's pace: through the media client, never holding Graph's connections
      send(mediaClient, clientToProxyRequest, exchange, content, proxyToClientResponse, callback);
      return;
    }
    send(clientToProxyRequest, exchange, content, proxyToClientResponse, callback);
  }

  private static boolean isMultipart(String contentType) {
    return contentType != null && contentType.trim().toLowerCase(Locale.ROOT).startsWith("multipart/");
  }

  /** Sends the exchange upstream with {@code content} (null for none) through the Graph client and answers the client. */
  private void send(
      Request clientToProxyRequest,
      GraphExchange exchange,
      org.eclipse.jetty.client.Request.Content content,
      Response proxyToClientResponse,
      Callback callback) {
    send(client, clientToProxyRequest, exchange, content, proxyToClientResponse, callback);
  }

  private void send(
      HttpClient through,
      Request clientToProxyRequest,
      GraphExchange exchange,
      org.eclipse.jetty.client.Request.Content content,
      Response proxyToClientResponse,
      Callback callback) {
    org.eclipse.jetty.client.Request proxyToServerRequest =
        through
            .newRequest(exchange.upstreamUri())
            .method(exchange.method())
            .timeout(settings.upstreamTimeout().toMillis(), TimeUnit.MILLISECONDS)
            .idleTimeout(settings.idleTimeout().toMillis(), TimeUnit.MILLISECONDS);
    copyRequestHeaders(clientToProxyRequest, proxyToServerRequest, exchange);
    if (content != null) {
      proxyToServerRequest.body(content);
    }
    proxyToServerRequest.send(
        new UpstreamListener(graphPlan(exchange), exchange.scrubber(), settings.maxJsonAnswerBytes(), proxyToClientResponse,
            callback, exchange.toString()));
  }

  private static UpstreamListener.Plan graphPlan(GraphExchange exchange) {
    return UpstreamListener.plan(
        answer -> {
          if (exchange.headersOnly()) {
            return UpstreamListener.Mode.HEADERS;
          }
          if (Headers.isJson(answer.getHeaders().get(HttpHeader.CONTENT_TYPE))) {
            return UpstreamListener.Mode.REWRITE;
          }
          return exchange.mayStreamNonJson(answer.getStatus()) ? UpstreamListener.Mode.STREAM : UpstreamListener.Mode.INVALID;
        },
        exchange::rewriteJson);
  }

  /**
   * A partial {@code calling} write: reads the current settings with the number's token, merges the
   * client's object into them and writes the whole. When the read does not answer 200, the client gets
   * that answer (rewritten like any other) and nothing is written.
   */
  private void mergeThenWrite(
      Request clientToProxyRequest,
      GraphExchange exchange,
      String contentType,
      byte[] partial,
      Response proxyToClientResponse,
      Callback callback) {
    readFirst(exchange, proxyToClientResponse, callback, current -> {
      Optional<byte[]> merged = CallingSettings.merge(partial, current);
      if (merged.isEmpty()) {
        HttpIo.writeError(proxyToClientResponse, callback, GraphError.badGateway("The current calling settings could not be read."));
        return;
      }
      log.debug("Merged a partial calling settings write into the current settings");
      send(clientToProxyRequest, exchange, new BytesRequestContent(
          contentType == null ? "application/json" : contentType, merged.get()), proxyToClientResponse, callback);
    });
  }

  /**
   * A {@code DELETE} of a media ID: looks the object up first and deletes only a media object
   * ({@link GraphExchange#refusalAfterLookup}); a lookup that does not answer 200 is the client's answer.
   */
  private void lookupThenDelete(Request clientToProxyRequest, GraphExchange exchange, Response proxyToClientResponse, Callback callback) {
    readFirst(exchange, proxyToClientResponse, callback, object -> {
      Optional<GraphError> refusal = exchange.refusalAfterLookup(object);
      if (refusal.isPresent()) {
        log.debug("Refused to delete {}: the lookup did not answer a media object", exchange);
        HttpIo.writeError(proxyToClientResponse, callback, refusal.get());
        return;
      }
      send(clientToProxyRequest, exchange, null, proxyToClientResponse, callback);
    });
  }

  /**
   * {@code GET}s the exchange's own upstream URI first and hands a {@code 200}'s body to {@code then},
   * which must complete the client's callback. A failure, or an answer other than 200, is the client's
   * answer (rewritten and scrubbed like any Graph answer; not JSON: a 502), and {@code then} is not run.
   */
  private void readFirst(GraphExchange exchange, Response proxyToClientResponse, Callback callback, Consumer<byte[]> then) {
    upstreamGet(exchange.upstreamUri(), exchange.upstreamAuthorization())
        .send(
            new BufferingResponseListener(settings.maxJsonAnswerBytes()) {
              @Override
              public void onComplete(Result result) {
                if (result.isFailed()) {
                  HttpIo.writeError(proxyToClientResponse, callback, UpstreamListener.errorFor(result.getFailure()));
                  return;
                }
                int status = result.getResponse().getStatus();
                if (status == 200) {
                  then.accept(getContent());
                  return;
                }
                boolean readable = Headers.isJson(getMediaType()) && Headers.decoded(result.getResponse().getHeaders().get(HttpHeader.CONTENT_ENCODING));
                RewrittenAnswer answer = readable ? exchange.rewriteJson(status, getContent()) : new RewrittenAnswer.NotJson();
                if (answer instanceof RewrittenAnswer.Send send) {
                  HttpIo.writeJson(proxyToClientResponse, callback, status, send.body());
                } else {
                  HttpIo.writeError(proxyToClientResponse, callback, answer.instead(status));
                }
              }
            });
  }

  /** A bounded {@code GET} upstream with the Meta token: a settings read or a media lookup. */
  private org.eclipse.jetty.client.Request upstreamGet(URI uri, String authorization) {
    return client
        .newRequest(uri)
        .method("GET")
        .headers(h -> h.put(HttpHeader.AUTHORIZATION, authorization))
        .timeout(settings.upstreamTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .idleTimeout(settings.idleTimeout().toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Fetches a fresh media URL first when the link's own one is stale, then the bytes. */
  private void download(MediaDownload media, Response proxyToClientResponse, Callback callback) {
    if (media.freshUrl().isPresent()) {
      fetch(media, media.freshUrl().get(), 0, proxyToClientResponse, callback);
      return;
    }
    upstreamGet(media.lookupUri(), media.upstreamAuthorization())
        .send(
            new BufferingResponseListener(MAX_FORM_BYTES) {
              @Override
              public void onComplete(Result result) {
                if (result.isFailed()) {
                  HttpIo.writeError(proxyToClientResponse, callback, UpstreamListener.errorFor(result.getFailure()));
                  return;
                }
                int status = result.getResponse().getStatus();
                if (!Headers.decoded(result.getResponse().getHeaders().get(HttpHeader.CONTENT_ENCODING))) {
                  HttpIo.writeError(proxyToClientResponse, callback, Headers.undecodedAnswer());
                  return;
                }
                Optional<URI> url = status == 200 ? media.urlFromLookup(getContent()) : Optional.empty();
                if (url.isPresent()) {
                  fetch(media, url.get(), 0, proxyToClientResponse, callback);
                } else if (status >= 400 && Headers.isJson(getMediaType())) {
                  byte[] body = media.scrubber().redactJson(getContent());
                  HttpIo.writeJson(proxyToClientResponse, callback, status, body);
                } else {
                  HttpIo.writeError(proxyToClientResponse, callback, GraphError.badGateway("The Graph API gave no URL for this media."));
                }
              }
            });
  }

  private void fetch(MediaDownload media, URI url, int hop, Response proxyToClientResponse, Callback callback) {
    if (hop > MediaDownload.MAX_REDIRECTS) {
      HttpIo.writeError(proxyToClientResponse, callback, GraphError.badGateway("The media host redirected too many times."));
      return;
    }
    if (!media.allowed(url)) {
      log.debug("Refused to fetch {} from a host outside the media hosts", media);
      HttpIo.writeError(
          proxyToClientResponse, callback, GraphError.badGateway("The media is hosted outside the allowed media hosts."));
      return;
    }
    UpstreamListener.Plan plan =
        new UpstreamListener.Plan() {
          @Override
          public UpstreamListener.Mode mode(org.eclipse.jetty.client.Response answer) {
            boolean redirect = answer.getStatus() / 100 == 3 && answer.getHeaders().contains(HttpHeader.LOCATION);
            return redirect ? UpstreamListener.Mode.REDIRECT : UpstreamListener.Mode.STREAM;
          }

          @Override
          public RewrittenAnswer rewrite(int status, byte[] body) {
            throw new IllegalStateException("media answers are streamed");
          }

          @Override
          public void redirect(String location) {
            Optional<URI> next = GraphProxy.resolve(url, location);
            if (next.isEmpty()) {
              HttpIo.writeError(proxyToClientResponse, callback, GraphError.badGateway("The media host gave an invalid redirect."));
            } else {
              fetch(media, next.get(), hop + 1, proxyToClientResponse, callback);
            }
          }
        };
    // identity: media bytes pass as they are, with their length. None of the client's headers go.
    mediaClient
        .newRequest(url)
        .method("GET")
        .headers(h -> h.put(HttpHeader.AUTHORIZATION, media.upstreamAuthorization()).put(HttpHeader.ACCEPT_ENCODING, "identity"))
        .timeout(settings.mediaTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .idleTimeout(settings.idleTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .send(new UpstreamListener(plan, media.scrubber(), 0, proxyToClientResponse, callback, media.toString()));
  }

  private static void copyRequestHeaders(
      Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest, GraphExchange exchange) {
    Set<String> connectionListed = HttpIo.connectionListed(clientToProxyRequest.getHeaders());
    proxyToServerRequest.headers(
        headers -> {
          for (HttpField field : clientToProxyRequest.getHeaders()) {
            if (exchange.passesHeader(field.getName()) && !connectionListed.contains(field.getLowerCaseName())) {
              headers.add(field);
            }
          }
          headers.put(HttpHeader.AUTHORIZATION, exchange.upstreamAuthorization());
        });
  }

  private static boolean hasContent(Request request) {
    if (request.getLength() > 0) {
      return true;
    }
    return request.getLength() < 0 && request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING);
  }

  /** {@code scheme://host[:port]} as the client addressed the layer. */
  private static String requestBase(Request request) {
    String scheme = request.getHttpURI().getScheme() == null ? (request.isSecure() ? "https" : "http") : request.getHttpURI().getScheme();
    String host = Request.getServerName(request);
    int port = Request.getServerPort(request);
    boolean defaultPort = port <= 0 || (scheme.equals("http") && port == 80) || (scheme.equals("https") && port == 443);
    if (host.indexOf(':') >= 0 && !host.startsWith("[")) {
      host = "[" + host + "]";
    }
    return scheme + "://" + host + (defaultPort ? "" : ":" + port);
  }
}

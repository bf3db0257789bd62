package dev.metalayer.jetty;

import dev.metalayer.graph.ClientRequest;
import dev.metalayer.graph.GraphAnswer;
import dev.metalayer.graph.GraphError;
import dev.metalayer.graph.GraphExchange;
import dev.metalayer.graph.GraphProxy;
import dev.metalayer.graph.GraphForwarder.GraphRequest;
import dev.metalayer.graph.GraphSettings;
import dev.metalayer.graph.GraphStep;
import dev.metalayer.graph.MediaDownload;
import dev.metalayer.graph.Outcome;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.HttpClient;
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
 * {@code {prefix}/media/{media-id}/download}: translates HTTP to {@link GraphProxy} calls and executes
 * the {@link GraphStep}s the core gives ({@link GraphExchange#start}, {@link MediaDownload#start}),
 * moving the bytes with Jetty's {@link HttpClient}. Every decision (what goes upstream, in which order,
 * which headers pass, what the client gets from an answer or a failure) is the core's.
 *
 * <p>A multipart body streams upstream with the client's demand ({@link LimitedRequestContent}), its
 * part names checked as it goes by the core's checker ({@link GraphStep.Send#clientBody()}); any other
 * body is read whole (bounded), because a form may carry the credential and because the Graph surface
 * checks the parameters Graph would read from a form or a JSON body. Answers move as the core's
 * {@link GraphStep.Head} says ({@link UpstreamListener}). Media bytes come through a client of their
 * own, and so do streamed (multipart) uploads, so that neither slow readers nor stalled uploads hold
 * Graph's connections; an upload holds one of its key's media slots ({@link GraphProxy#prepare}) until
 * it ends. Every exchange has the total timeout of its {@link GraphRequest#timeout()} and the idle
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
  /** The route of the layer's media downloads in the access line. */
  static final String MEDIA_ROUTE = "/media/{media-id}/download";

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

  /**
   * Serves one Graph request and writes its access line ({@link AccessLog.Line}) when its answer ends,
   * a failure of this handler's included.
   */
  @Override
  public boolean handle(Request clientToProxyRequest, Response proxyToClientResponse, Callback answered) throws Exception {
    String method = clientToProxyRequest.getMethod().toUpperCase(Locale.ROOT);
    AccessLog.Line line = new AccessLog.Line(AccessLog.trace(clientToProxyRequest).requestId(), method);
    clientToProxyRequest.setAttribute(AccessLog.Line.class.getName(), line);
    Callback callback = line.writtenBy(answered, proxyToClientResponse);
    try {
      return serve(clientToProxyRequest, proxyToClientResponse, callback, method);
    } catch (Throwable t) {
      Routes.answerFailure(getClass().getSimpleName(), proxyToClientResponse, callback, t);
      return true;
    }
  }

  /** The access line of a request this handler serves. */
  private static AccessLog.Line line(Request clientToProxyRequest) {
    return (AccessLog.Line) clientToProxyRequest.getAttribute(AccessLog.Line.class.getName());
  }

  private boolean serve(Request clientToProxyRequest, Response proxyToClientResponse, Callback callback, String method) {
    HttpURI uri = clientToProxyRequest.getHttpURI();
    String path = uri.getPath().substring(settings.prefix().length());
    Optional<String> authorization = Optional.ofNullable(clientToProxyRequest.getHeaders().get(HttpHeader.AUTHORIZATION));
    String query = uri.getQuery() == null ? "" : uri.getQuery();
    String base = requestBase(clientToProxyRequest);

    Optional<String> mediaId = proxy.mediaDownloadId(path);
    if (mediaId.isPresent()) {
      line(clientToProxyRequest).route(MEDIA_ROUTE);
      ClientRequest request = new ClientRequest(method, path, query, authorization, Optional.empty(), base);
      Outcome<MediaDownload> prepared = proxy.prepareMedia(request, mediaId.get());
      if (prepared instanceof Outcome.Refused<MediaDownload> r) {
        HttpIo.writeError(proxyToClientResponse, callback, r.error());
      } else {
        MediaDownload media = ((Outcome.Ok<MediaDownload>) prepared).value();
        line(clientToProxyRequest).accepted(media.phoneNumberId(), MEDIA_ROUTE);
        // the key's download slot is given back when the client's answer ends, however it ends
        try {
          run(media.start(), clientToProxyRequest, proxyToClientResponse, Callback.from(callback, media::close));
        } catch (RuntimeException | Error e) {
          media.close(); // the router's guard answers with the client's own callback
          throw e;
        }
      }
      return true;
    }

    if (clientToProxyRequest.getLength() > settings.maxBodyBytes()) {
      bodies.refuse(clientToProxyRequest, settings.maxBodyBytes(), GraphError.bodyTooLarge(),
          proxyToClientResponse, callback);
      return true;
    }
    String contentType = clientToProxyRequest.getHeaders().get(HttpHeader.CONTENT_TYPE);
    List<String> headerNames = clientToProxyRequest.getHeaders().stream().map(HttpField::getName).toList();
    boolean form = ClientRequest.isForm(contentType);
    if (!form && (isMultipart(contentType) || !HttpIo.hasContent(clientToProxyRequest))) {
      proceed(clientToProxyRequest, new ClientRequest(method, path, query, authorization, Optional.empty(), base,
          Optional.ofNullable(contentType), Optional.empty(), headerNames), proxyToClientResponse, callback);
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
          Optional.ofNullable(contentType), Optional.empty(), headerNames), proxyToClientResponse, callback);
      return true;
    }
    GraphError tooLarge = maxBody < Math.min(MAX_FORM_BYTES, settings.maxBodyBytes())
        ? GraphError.tooLarge("A form that carries its own access token may be at most " + maxBody / 1024
            + " KB: send the key in the Authorization header.")
        : GraphError.bodyTooLarge();
    bodies.read(clientToProxyRequest, maxBody, tooLarge, proxyToClientResponse, callback, read ->
        proceed(clientToProxyRequest, new ClientRequest(method, path, query, authorization,
            form ? Optional.of(read) : Optional.empty(), base, Optional.ofNullable(contentType),
            form ? Optional.empty() : Optional.of(read), headerNames), proxyToClientResponse, callback));
    return true;
  }

  /** Checks a Graph request whose body, if read whole, is in it, and sends it upstream. */
  private void proceed(
      Request clientToProxyRequest, ClientRequest request, Response proxyToClientResponse, Callback answered) {
    Outcome<GraphExchange> prepared = proxy.prepare(request);
    if (prepared instanceof Outcome.Refused<GraphExchange> r) {
      HttpIo.writeError(proxyToClientResponse, answered, r.error());
      return;
    }
    GraphExchange exchange = ((Outcome.Ok<GraphExchange>) prepared).value();
    line(clientToProxyRequest).accepted(exchange.phoneNumberId(), exchange.route());
    // an upload's media slot is given back when the client's answer ends, however it ends
    Callback callback = Callback.from(answered, exchange::close);
    try {
      run(exchange.start(UpstreamListener.headersOf(clientToProxyRequest.getHeaders())), clientToProxyRequest,
          proxyToClientResponse, callback);
    } catch (RuntimeException | Error e) {
      exchange.close(); // the guard answers with the client's own callback
      throw e;
    }
  }

  /**
   * Executes one step of the core and those that follow: sends a {@link GraphStep.Send} with the Graph
   * client (the media client for a media host or a body that streams from the client) and moves its
   * answer with an {@link UpstreamListener}; writes a {@link GraphStep.Reply}. Completes
   * {@code callback} exactly once.
   */
  private void run(GraphStep step, Request clientToProxyRequest, Response proxyToClientResponse, Callback callback) {
    if (step instanceof GraphStep.Reply reply) {
      reply(reply.answer(), proxyToClientResponse, callback);
      return;
    }
    GraphStep.Send send = (GraphStep.Send) step;
    GraphRequest request = send.request();
    boolean streams = send.clientBody().isPresent() && HttpIo.hasContent(clientToProxyRequest);
    // a streamed body arrives at the client's pace, media at the reader's: never on Graph's connections
    HttpClient through = streams || send.upstream() == GraphStep.Upstream.MEDIA_HOST ? mediaClient : client;
    org.eclipse.jetty.client.Request proxyToServerRequest =
        through
            .newRequest(request.uri())
            .method(request.method())
            .timeout(request.timeout().toMillis(), TimeUnit.MILLISECONDS)
            .idleTimeout(settings.idleTimeout().toMillis(), TimeUnit.MILLISECONDS)
            .headers(headers -> {
              request.headers().forEach((name, values) -> values.forEach(value -> headers.add(name, value)));
              AccessLog.trace(clientToProxyRequest).headers().forEach(headers::put); // the layer's ids, never the client's
            });
    AccessLog.Line line = line(clientToProxyRequest);
    line.sent();
    proxyToServerRequest.onResponseHeaders(serverToProxyResponse -> line.metaAnswered(serverToProxyResponse.getStatus()));
    if (streams) {
      proxyToServerRequest.body(
          new LimitedRequestContent(clientToProxyRequest, settings.maxBodyBytes(), send.clientBody().get().get()));
    } else if (request.body().length > 0 || request.method().equals("POST")) {
      proxyToServerRequest.body(
          new BytesRequestContent(proxyToServerRequest.getHeaders().get(HttpHeader.CONTENT_TYPE), request.body()));
    }
    ProxyMetering.watch(clientToProxyRequest, proxyToServerRequest);
    proxyToServerRequest.send(
        new UpstreamListener(send, proxyToClientResponse, callback, next -> run(next, clientToProxyRequest, proxyToClientResponse, callback),
            clientToProxyRequest.getComponents().getThreadPool()));
  }

  /** Writes the core's whole answer: its status, headers and body, with the body's length. */
  static void reply(GraphAnswer answer, Response proxyToClientResponse, Callback callback) {
    log.debug("Answering {}", answer);
    proxyToClientResponse.setStatus(answer.status());
    answer.headers().forEach((name, values) -> values.forEach(value -> proxyToClientResponse.getHeaders().add(name, value)));
    proxyToClientResponse.getHeaders().put(HttpHeader.CONTENT_LENGTH, answer.body().length);
    proxyToClientResponse.write(true, ByteBuffer.wrap(answer.body()), callback);
  }

  private static boolean isMultipart(String contentType) {
    return contentType != null && contentType.trim().toLowerCase(Locale.ROOT).startsWith("multipart/");
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

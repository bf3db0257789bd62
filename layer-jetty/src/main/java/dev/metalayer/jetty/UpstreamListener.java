package dev.metalayer.jetty;

import dev.metalayer.graph.GraphError;
import dev.metalayer.graph.RewrittenAnswer;
import dev.metalayer.graph.Headers;
import dev.metalayer.graph.TokenScrubber;
import java.io.ByteArrayOutputStream;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves one upstream answer to the client ({@code serverToProxyResponse} → {@code proxyToClientResponse}).
 *
 * <p>At the headers the {@link Plan} picks a mode: {@link Mode#REWRITE} buffers the body (up to a
 * bound, else 502) and hands it to a rewrite function at the end; {@link Mode#STREAM} writes each chunk
 * as it comes through a length-preserving {@link TokenScrubber.Stream}, asking upstream for more only
 * once the client write completed (so memory stays flat whatever the size); {@link Mode#INVALID}
 * discards the body and answers a Graph-shaped 502, as does an answer whose body is still encoded
 * ({@link Headers#decoded}); {@link Mode#HEADERS} passes status and headers only (a {@code HEAD});
 * {@link Mode#REDIRECT} discards the body and hands
 * the {@code Location} to the plan. Failures before anything reached the client become Graph-shaped
 * errors (timeout 504, request body too large 413, anything else 502). Completes {@code callback}
 * exactly once, unless a redirect hands the exchange on.
 */
final class UpstreamListener implements org.eclipse.jetty.client.Response.Listener {
  private static final Logger log = LoggerFactory.getLogger(UpstreamListener.class);

  enum Mode {
    REWRITE,
    STREAM,
    /** Status and headers only, no {@code Content-Length} of upstream's: the answer to a {@code HEAD}. */
    HEADERS,
    INVALID,
    REDIRECT
  }

  /** What to do with an answer; supplied by the handler for each exchange. */
  interface Plan {
    Mode mode(org.eclipse.jetty.client.Response serverToProxyResponse);

    /** The upstream status and whole buffered body → what the client gets ({@link RewrittenAnswer.NotJson}: a 502). */
    RewrittenAnswer rewrite(int status, byte[] body);

    /** Takes over after a redirect answer was read; must complete the client callback itself. */
    void redirect(String location);
  }

  /** The answer was larger than the layer buffers for a rewrite. */
  static final class AnswerTooLargeException extends Exception {
    private static final long serialVersionUID = 1L;

    AnswerTooLargeException(int limit) {
      super("answer exceeds " + limit + " bytes");
    }
  }

  private final Plan plan;
  private final TokenScrubber headerScrubber;
  private final TokenScrubber.Stream scrubber;
  private final int maxBuffered;
  private final Response proxyToClientResponse;
  private final Callback proxyToClientCallback;
  private final String description;
  private Mode mode;
  private int upstreamStatus;
  private String location;
  private ByteArrayOutputStream buffer;
  private GraphError invalid;

  UpstreamListener(
      Plan plan,
      TokenScrubber scrubber,
      int maxBuffered,
      Response proxyToClientResponse,
      Callback proxyToClientCallback,
      String description) {
    this.plan = plan;
    this.headerScrubber = scrubber;
    this.scrubber = scrubber.stream();
    this.maxBuffered = maxBuffered;
    this.proxyToClientResponse = proxyToClientResponse;
    this.proxyToClientCallback = proxyToClientCallback;
    this.description = description;
  }

  @Override
  public void onHeaders(org.eclipse.jetty.client.Response serverToProxyResponse) {
    upstreamStatus = serverToProxyResponse.getStatus();
    mode = plan.mode(serverToProxyResponse);
    if ((mode == Mode.REWRITE || mode == Mode.STREAM)
        && !Headers.decoded(serverToProxyResponse.getHeaders().get(HttpHeader.CONTENT_ENCODING))) {
      // a body the client did not decode cannot be scrubbed: none of it goes out
      invalid = Headers.undecodedAnswer();
      mode = Mode.INVALID;
    }
    log.debug("Upstream answered {} for {}: {}", upstreamStatus, description, mode);
    if (mode == Mode.REDIRECT) {
      location = serverToProxyResponse.getHeaders().get(HttpHeader.LOCATION);
      return;
    }
    if (mode == Mode.INVALID) {
      return;
    }
    proxyToClientResponse.setStatus(upstreamStatus);
    Set<String> connectionListed = HttpIo.connectionListed(serverToProxyResponse.getHeaders());
    for (HttpField field : serverToProxyResponse.getHeaders()) {
      if (Headers.toClient(field.getName()) && !connectionListed.contains(field.getLowerCaseName())
          && !headerScrubber.foundIn(field.getName())) {
        String value = field.getValue();
        String safe = value == null ? null : headerScrubber.redact(value);
        proxyToClientResponse.getHeaders().add(safe == value ? field : new HttpField(field.getName(), safe));
      }
    }
    if (mode == Mode.STREAM) {
      long length = serverToProxyResponse.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH);
      if (length >= 0 && !serverToProxyResponse.getHeaders().contains(HttpHeader.CONTENT_ENCODING)) {
        proxyToClientResponse.getHeaders().put(HttpHeader.CONTENT_LENGTH, length);
      }
    } else if (mode == Mode.REWRITE) {
      buffer = new ByteArrayOutputStream();
    }
  }

  @Override
  public void onContent(org.eclipse.jetty.client.Response serverToProxyResponse, Content.Chunk chunk, Runnable demander) {
    ByteBuffer content = chunk.getByteBuffer();
    int length = content.remaining();
    if (mode != Mode.STREAM) {
      if (mode == Mode.REWRITE) {
        if (buffer.size() + length > maxBuffered) {
          serverToProxyResponse.abort(new AnswerTooLargeException(maxBuffered));
          return;
        }
        byte[] bytes = new byte[length];
        content.get(bytes);
        buffer.write(bytes, 0, length);
      }
      demander.run();
      return;
    }
    byte[] bytes = new byte[length];
    content.get(bytes);
    byte[] safe = scrubber.feed(bytes, 0, length);
    proxyToClientResponse.write(
        false,
        ByteBuffer.wrap(safe),
        new Callback() {
          @Override
          public void succeeded() {
            demander.run();
          }

          @Override
          public void failed(Throwable x) {
            serverToProxyResponse.abort(x);
          }

          @Override
          public InvocationType getInvocationType() {
            return InvocationType.NON_BLOCKING;
          }
        });
  }

  @Override
  public void onComplete(Result result) {
    if (result.isFailed()) {
      Throwable failure = result.getFailure();
      if (proxyToClientResponse.isCommitted()) {
        log.debug("Upstream failed after the answer began for {} ({})", description, failure.getClass().getSimpleName());
        proxyToClientCallback.failed(failure);
        return;
      }
      GraphError error = errorFor(failure);
      log.debug("Upstream failed for {}: {} (fbtrace_id {})", description, failure.getClass().getSimpleName(), error.fbtraceId());
      proxyToClientResponse.reset();
      HttpIo.writeError(proxyToClientResponse, proxyToClientCallback, error);
      return;
    }
    switch (mode) {
      case REDIRECT -> plan.redirect(location);
      case INVALID ->
          HttpIo.writeError(proxyToClientResponse, proxyToClientCallback,
              invalid != null ? invalid : dev.metalayer.graph.GraphProxy.invalidAnswer(upstreamStatus));
      case REWRITE -> {
        RewrittenAnswer answer = plan.rewrite(upstreamStatus, buffer.toByteArray());
        if (answer instanceof RewrittenAnswer.Send send) {
          proxyToClientResponse.getHeaders().put(HttpHeader.CONTENT_LENGTH, send.body().length);
          proxyToClientResponse.write(true, ByteBuffer.wrap(send.body()), proxyToClientCallback);
        } else {
          // none of the upstream answer's headers or bytes go out
          proxyToClientResponse.reset();
          HttpIo.writeError(proxyToClientResponse, proxyToClientCallback, answer.instead(upstreamStatus));
        }
      }
      case HEADERS -> proxyToClientResponse.write(true, ByteBuffer.allocate(0), proxyToClientCallback);
      default -> proxyToClientResponse.write(true, ByteBuffer.wrap(scrubber.finish()), proxyToClientCallback);
    }
  }

  /**
   * Maps an upstream failure to the layer's error: timeout 504, body too large 413, a client body that
   * could not be read (malformed chunks, cut short) 400, a body refused
   * by the surface its refusal, answer too large or anything else 502.
   */
  static GraphError errorFor(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof HttpIo.BodyTooLargeException) {
        return GraphError.tooLarge("The request body is too large.");
      }
      if (t instanceof HttpIo.BodyRefusedException refused) {
        return refused.error();
      }
      if (t instanceof LimitedRequestContent.UnreadableBodyException) {
        return LimitedRequestContent.UnreadableBodyException.ERROR;
      }
      if (t instanceof AnswerTooLargeException) {
        return GraphError.badGateway("The Graph API answer is too large to rewrite.");
      }
      if (t instanceof TimeoutException || t instanceof SocketTimeoutException) {
        return GraphError.gatewayTimeout("The Graph API did not answer in time.");
      }
    }
    return GraphError.badGateway("The Graph API could not be reached or gave an invalid answer.");
  }

  /** Tolerates a function-style plan in tests and simple cases. */
  static Plan plan(Function<org.eclipse.jetty.client.Response, Mode> mode, BiFunction<Integer, byte[], RewrittenAnswer> rewrite) {
    return new Plan() {
      @Override
      public Mode mode(org.eclipse.jetty.client.Response r) {
        return mode.apply(r);
      }

      @Override
      public RewrittenAnswer rewrite(int status, byte[] body) {
        return rewrite.apply(status, body);
      }

      @Override
      public void redirect(String location) {
        throw new IllegalStateException("this exchange does not follow redirects");
      }
    };
  }
}

package dev.metalayer.jetty;

import dev.metalayer.graph.GraphAnswer;
import dev.metalayer.graph.GraphError;
import dev.metalayer.graph.GraphStep;
import dev.metalayer.graph.TokenScrubber;
import dev.metalayer.graph.GraphForwarder.UpstreamFailure;
import java.io.ByteArrayOutputStream;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves the answer to one {@link GraphStep.Send} ({@code serverToProxyResponse} → {@code proxyToClientResponse})
 * as the core's {@link GraphStep.Head} says; it decides nothing itself.
 *
 * <p>At the headers the core picks: {@link GraphStep.Head.Stream} writes its status and headers, then
 * each chunk as it comes through a length-preserving {@link TokenScrubber.Stream}, asking upstream for
 * more only once the client write completed (so memory stays flat whatever the size);
 * {@link GraphStep.Head.Buffer} reads the body whole (more than its bound aborts the exchange) and hands
 * it to the core at the end; {@link GraphStep.Head.Then} discards the body. The step that follows a
 * buffered or discarded body goes to {@code next}, which must complete the client callback. A failure
 * before anything reached the client is reported to {@link GraphStep.Send#failed} (an upstream failure)
 * or answered with the client body's own error; after, the client's answer is cut. Completes
 * {@code callback} exactly once, unless it hands the exchange on to {@code next}.
 *
 * <p>The end of an answer whose follow-up may block on the layer's store
 * ({@link GraphStep.Send#answerMayBlock}: a call action the core records) is handled on
 * {@code mayBlock} (the server's pool), never on the upstream client's thread that read it.
 */
final class UpstreamListener implements org.eclipse.jetty.client.Response.Listener {
  private static final Logger log = LoggerFactory.getLogger(UpstreamListener.class);

  /** A body read whole was larger than the core's bound. */
  static final class AnswerTooLargeException extends Exception {
    private static final long serialVersionUID = 1L;

    AnswerTooLargeException(int limit) {
      super("answer exceeds " + limit + " bytes");
    }
  }

  private final GraphStep.Send send;
  private final Response proxyToClientResponse;
  private final Callback proxyToClientCallback;
  private final Consumer<GraphStep> next;
  private final Executor mayBlock;
  private GraphStep.Head head;
  private TokenScrubber.Stream scrubber;
  private ByteArrayOutputStream buffer;

  /** @param mayBlock where the end of an answer that {@link GraphStep.Send#answerMayBlock may block} is handled */
  UpstreamListener(GraphStep.Send send, Response proxyToClientResponse, Callback proxyToClientCallback, Consumer<GraphStep> next,
      Executor mayBlock) {
    this.mayBlock = mayBlock;
    this.send = send;
    this.proxyToClientResponse = proxyToClientResponse;
    this.proxyToClientCallback = proxyToClientCallback;
    this.next = next;
  }

  @Override
  public void onHeaders(org.eclipse.jetty.client.Response serverToProxyResponse) {
    head = send.head(serverToProxyResponse.getStatus(), headersOf(serverToProxyResponse.getHeaders()));
    log.debug("Upstream answered {} for {}: {}", serverToProxyResponse.getStatus(), send, head.getClass().getSimpleName());
    if (head instanceof GraphStep.Head.Stream stream) {
      proxyToClientResponse.setStatus(stream.status());
      stream.headers().forEach((name, values) -> values.forEach(value -> proxyToClientResponse.getHeaders().add(name, value)));
      stream.length().ifPresent(length -> proxyToClientResponse.getHeaders().put(HttpHeader.CONTENT_LENGTH, length));
      scrubber = stream.scrubber();
    } else if (head instanceof GraphStep.Head.Buffer) {
      buffer = new ByteArrayOutputStream();
    }
  }

  @Override
  public void onContent(org.eclipse.jetty.client.Response serverToProxyResponse, Content.Chunk chunk, Runnable demander) {
    ByteBuffer content = chunk.getByteBuffer();
    int length = content.remaining();
    if (scrubber == null) {
      if (head instanceof GraphStep.Head.Buffer b) {
        if (buffer.size() + length > b.maxBytes()) {
          serverToProxyResponse.abort(new AnswerTooLargeException(b.maxBytes()));
          return;
        }
        byte[] bytes = new byte[length];
        content.get(bytes);
        buffer.write(bytes, 0, length);
      }
      demander.run(); // a discarded body is read and dropped
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
    if (send.answerMayBlock()) {
      mayBlock.execute(() -> complete(result));
    } else {
      complete(result);
    }
  }

  private void complete(Result result) {
    if (result.isFailed()) {
      Throwable failure = result.getFailure();
      if (proxyToClientResponse.isCommitted()) {
        log.debug("Upstream failed after the answer began for {} ({})", send, failure.getClass().getSimpleName());
        proxyToClientCallback.failed(failure);
        return;
      }
      GraphAnswer answer = answerFor(failure);
      log.debug("Upstream failed for {}: {}, answered {}", send, failure.getClass().getSimpleName(), answer.status());
      proxyToClientResponse.reset();
      GraphProxyHandler.reply(answer, proxyToClientResponse, proxyToClientCallback);
      return;
    }
    if (head instanceof GraphStep.Head.Stream) {
      proxyToClientResponse.write(true, ByteBuffer.wrap(scrubber.finish()), proxyToClientCallback);
    } else if (head instanceof GraphStep.Head.Buffer b) {
      next.accept(b.then(buffer.toByteArray()));
    } else {
      next.accept(((GraphStep.Head.Then) head).next());
    }
  }

  /**
   * The client's answer to a failed exchange: the client body's own error when reading it failed (too
   * large, unreadable, refused by the surface as it streamed), else the core's answer to the upstream
   * failure (timeout, an answer over its bound, anything else unreachable).
   */
  private GraphAnswer answerFor(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof HttpIo.BodyTooLargeException) {
        return GraphAnswer.of(GraphError.bodyTooLarge());
      }
      if (t instanceof HttpIo.BodyRefusedException refused) {
        return GraphAnswer.of(refused.error());
      }
      if (t instanceof LimitedRequestContent.UnreadableBodyException) {
        return GraphAnswer.of(LimitedRequestContent.UnreadableBodyException.ERROR);
      }
      if (t instanceof AnswerTooLargeException) {
        return send.failed(UpstreamFailure.ANSWER_TOO_LARGE);
      }
      if (t instanceof TimeoutException || t instanceof SocketTimeoutException) {
        return send.failed(UpstreamFailure.TIMEOUT);
      }
    }
    return send.failed(UpstreamFailure.UNREACHABLE);
  }

  /** Jetty's fields as the core reads headers: names as received, values in order. */
  static Map<String, List<String>> headersOf(HttpFields fields) {
    Map<String, List<String>> map = new LinkedHashMap<>();
    for (HttpField field : fields) {
      map.computeIfAbsent(field.getName(), n -> new ArrayList<>()).add(field.getValue() == null ? "" : field.getValue());
    }
    return map;
  }
}

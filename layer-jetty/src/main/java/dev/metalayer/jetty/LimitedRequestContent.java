package dev.metalayer.jetty;

import dev.metalayer.graph.GraphError;
import dev.metalayer.graph.MultipartParts;
import java.util.Optional;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;

/**
 * The client's request body as the upstream request's body, streamed with the client's demand, and cut
 * with {@link HttpIo.BodyTooLargeException} as soon as more than {@code maxBytes} have been read
 * (whether or not a length was declared). A body that cannot be read fails the upstream request with
 * {@link UnreadableBodyException} (answered 400). Not reproducible: a request is never retried.
 */
final class LimitedRequestContent implements Request.Content {
  private final org.eclipse.jetty.server.Request clientToProxyRequest;
  private final long maxBytes;
  private final MultipartParts parts;
  private long read;

  LimitedRequestContent(org.eclipse.jetty.server.Request clientToProxyRequest, long maxBytes) {
    this(clientToProxyRequest, maxBytes, null);
  }

  /**
   * @param parts checks each chunk's multipart part names before it goes on, or null; a refusal fails
   *     the body with {@link HttpIo.BodyRefusedException}, so the upstream request stays incomplete
   */
  LimitedRequestContent(org.eclipse.jetty.server.Request clientToProxyRequest, long maxBytes, MultipartParts parts) {
    this.clientToProxyRequest = clientToProxyRequest;
    this.maxBytes = maxBytes;
    this.parts = parts;
  }

  @Override
  public long getLength() {
    return clientToProxyRequest.getLength();
  }

  @Override
  public String getContentType() {
    return clientToProxyRequest.getHeaders().get(HttpHeader.CONTENT_TYPE);
  }

  /**
   * The client's body could not be read (malformed chunked encoding, a connection cut mid-body): the
   * client's fault, a 400, not the upstream's.
   */
  static final class UnreadableBodyException extends java.io.IOException {
    private static final long serialVersionUID = 1L;
    static final dev.metalayer.graph.GraphError ERROR =
        dev.metalayer.graph.GraphError.invalidParameter("The request body could not be read (malformed or cut short).");

    UnreadableBodyException(Throwable cause) {
      super("the client's request body could not be read", cause);
    }
  }

  @Override
  public Content.Chunk read() {
    Content.Chunk chunk = clientToProxyRequest.read();
    if (chunk == null) {
      return null;
    }
    if (Content.Chunk.isFailure(chunk)) {
      Throwable failure = chunk.getFailure();
      return failure instanceof HttpIo.BodyTooLargeException
          ? chunk
          : Content.Chunk.from(new UnreadableBodyException(failure), chunk.isLast());
    }
    read += chunk.remaining();
    if (read > maxBytes) {
      chunk.release();
      HttpIo.BodyTooLargeException tooLarge = new HttpIo.BodyTooLargeException(maxBytes);
      clientToProxyRequest.fail(tooLarge);
      return Content.Chunk.from(tooLarge, true);
    }
    if (parts != null) {
      Optional<GraphError> refusal = parts.feed(chunk.getByteBuffer());
      if (refusal.isPresent()) {
        chunk.release();
        HttpIo.BodyRefusedException refused = new HttpIo.BodyRefusedException(refusal.get());
        clientToProxyRequest.fail(refused);
        return Content.Chunk.from(refused, true);
      }
    }
    return chunk;
  }

  @Override
  public void demand(Runnable demandCallback) {
    clientToProxyRequest.demand(demandCallback);
  }

  @Override
  public void fail(Throwable failure) {
    clientToProxyRequest.fail(failure);
  }

  @Override
  public boolean rewind() {
    return false;
  }
}

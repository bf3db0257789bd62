package dev.metalayer.jetty;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.graph.GraphError;
import dev.metalayer.json.Json;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The few HTTP chores every handler of the layer shares: JSON answers, Graph-shaped errors and bounded
 * body reads. Each {@code write…} method completes the callback exactly once.
 */
public final class HttpIo {
  private static final Logger log = LoggerFactory.getLogger(HttpIo.class);
  public static final String JSON = "application/json; charset=UTF-8";
  private static final String BEARER = "Bearer ";

  private HttpIo() {}

  /** Writes {@code body} as the whole JSON answer with {@code status}. */
  public static void writeJson(Response response, Callback callback, int status, byte[] body) {
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, JSON);
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
    response.write(true, ByteBuffer.wrap(body), callback);
  }

  /** Serialises {@code value} with the layer's mapper (snake_case) and writes it. */
  public static void writeJson(Response response, Callback callback, int status, Object value) {
    writeJson(response, callback, status, Json.bytes(value));
  }

  /** Writes a Graph-shaped error, with {@code WWW-Authenticate} on a 401 and {@code Retry-After} on a 429. */
  public static void writeError(Response response, Callback callback, GraphError error) {
    log.debug("Answering {} code {} ({}), fbtrace_id {}", error.status(), error.code(), error.message(), error.fbtraceId());
    String challenge = error.wwwAuthenticate();
    if (challenge != null) {
      response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, challenge);
    }
    if (error.retryAfter() != null) {
      response.getHeaders().put(HttpHeader.RETRY_AFTER, error.retryAfter());
    }
    writeJson(response, callback, error.status(), error.toJson());
  }

  /** The request body is larger than the handler accepts. */
  /** A request body the Graph surface refused as it streamed (a multipart part name); carries the refusal. */
  public static final class BodyRefusedException extends IOException {
    private static final long serialVersionUID = 1L;
    private final transient dev.metalayer.graph.GraphError error;

    BodyRefusedException(dev.metalayer.graph.GraphError error) {
      super("request body refused by the Graph surface");
      this.error = error;
    }

    dev.metalayer.graph.GraphError error() {
      return error;
    }
  }

  public static final class BodyTooLargeException extends IOException {
    private static final long serialVersionUID = 1L;

    BodyTooLargeException(long limit) {
      super("request body exceeds " + limit + " bytes");
    }
  }

  /**
   * How much of a refused body the layer reads and throws away before its 413. A client still sending
   * when the layer answers and closes gets a reset connection, and with it often no answer at all; a
   * body that ends within this margin is read to its end, so the client reads the 413 on a live
   * connection. A larger one is not worth reading: the layer answers and the connection closes.
   */
  static final long DRAIN_BYTES = 1024L * 1024;

  /**
   * Reads the whole request body, blocking, refusing more than {@code maxBytes}: a declared
   * {@code Content-Length} over the limit is refused without being kept. Before refusing, the rest of
   * the body is read and discarded when it ends within {@link #DRAIN_BYTES} of the limit.
   */
  public static byte[] readBody(Request request, int maxBytes) throws IOException {
    if (request.getLength() > maxBytes) {
      drainRefused(request, maxBytes);
      throw new BodyTooLargeException(maxBytes);
    }
    try (InputStream in = Content.Source.asInputStream(request)) {
      byte[] body = in.readNBytes(maxBytes + 1);
      if (body.length > maxBytes) {
        discard(in, DRAIN_BYTES);
        throw new BodyTooLargeException(maxBytes);
      }
      return body;
    }
  }

  /**
   * Reads and discards a body refused for being over {@code maxBytes}, when it ends within
   * {@link #DRAIN_BYTES} of that limit (an unknown length: up to that much). Blocking; a failed read
   * ends the drain, and the connection then closes after the answer.
   */
  public static void drainRefused(Request request, long maxBytes) {
    long declared = request.getLength();
    if (declared > maxBytes + DRAIN_BYTES) {
      return;
    }
    try (InputStream in = Content.Source.asInputStream(request)) {
      discard(in, declared >= 0 ? declared : DRAIN_BYTES);
    } catch (IOException e) {
      log.debug("A refused body could not be drained: {}", e.getClass().getSimpleName());
    }
  }

  private static void discard(InputStream in, long atMost) throws IOException {
    byte[] buffer = new byte[16 * 1024];
    long total = 0;
    int n;
    while (total <= atMost && (n = in.read(buffer)) >= 0) {
      total += n;
    }
  }

  /** The first value of a query parameter, decoded; empty when absent. */
  public static Optional<String> queryParameter(Request request, String name) {
    Fields fields = Request.extractQueryParameters(request);
    Fields.Field f = fields.get(name);
    return f == null ? Optional.empty() : Optional.ofNullable(f.getValue());
  }

  /** The credential of an {@code Authorization: Bearer …} header (scheme in any case), trimmed; empty without one. */
  public static Optional<String> bearer(Request request) {
    String authorization = header(request, HttpHeader.AUTHORIZATION);
    return authorization != null && authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())
        ? Optional.of(authorization.substring(BEARER.length()).trim())
        : Optional.empty();
  }

  /**
   * Reads a body that must be a JSON object, up to {@code maxBytes}. When it is not one, answers the
   * Graph-shaped 400 itself (completing the callback) and returns empty.
   *
   * @throws BodyTooLargeException over {@code maxBytes}: the caller answers 413
   */
  public static Optional<JsonNode> readJsonObject(
      Request request, int maxBytes, Response response, Callback callback) throws IOException {
    byte[] bytes = readBody(request, maxBytes);
    try {
      JsonNode node = Json.mapper().readTree(bytes);
      if (node != null && node.isObject()) {
        return Optional.of(node);
      }
    } catch (JsonProcessingException e) {
      // answered below
    }
    writeError(response, callback, GraphError.invalidParameter("The body must be a JSON object."));
    return Optional.empty();
  }

  /** The header names a {@code Connection} header lists (hop-by-hop for this message), lower case. */
  public static Set<String> connectionListed(HttpFields headers) {
    Set<String> names = new HashSet<>();
    for (String value : headers.getValuesList(HttpHeader.CONNECTION)) {
      for (String name : value.split(",")) {
        names.add(name.trim().toLowerCase(Locale.ROOT));
      }
    }
    return names;
  }

  /** A header's value, or null. */
  public static String header(Request request, HttpHeader header) {
    HttpField f = request.getHeaders().getField(header);
    return f == null ? null : f.getValue();
  }
}

package dev.metalayer.jetty;

import dev.metalayer.graph.GraphError;
import dev.metalayer.json.Json;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The few HTTP chores every handler of the layer shares: JSON answers and Graph-shaped errors (bodies
 * are read by the {@link BodyReader}). Each {@code write…} method completes the callback exactly once.
 */
public final class HttpIo {
  private static final Logger log = LoggerFactory.getLogger(HttpIo.class);
  public static final String JSON = "application/json; charset=UTF-8";
  private static final String BEARER = "Bearer ";

  private HttpIo() {}

  /** The non-empty segments of a path. */
  static java.util.List<String> segments(String path) {
    java.util.List<String> out = new java.util.ArrayList<>();
    for (String p : path.split("/")) {
      if (!p.isEmpty()) {
        out.add(p);
      }
    }
    return out;
  }

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

  /**
   * Writes a Graph-shaped error, with {@code WWW-Authenticate} on a 401 and {@code Retry-After} on a 429.
   * An error answered to an HTTP/1 request whose body has not all arrived says {@code Connection: close}:
   * the layer mostly refuses before reading a body, and Jetty then closes the connection rather than wait
   * for a body nobody asked for; a client that was not told would send its next request on a connection
   * that answers nothing. What has arrived is discarded, as Jetty would at the end of the exchange, so a
   * body read or drained to its end keeps the connection usable.
   */
  public static void writeError(Response response, Callback callback, GraphError error) {
    log.debug("Answering {} code {} ({}), fbtrace_id {}", error.status(), error.code(), error.message(), error.fbtraceId());
    Request request = response.getRequest();
    if (request != null && request.getConnectionMetaData().getHttpVersion().getVersion() < 20
        && hasContent(request) && !consumedToItsEnd(request)) {
      response.getHeaders().put(HttpHeader.CONNECTION, "close");
    }
    String challenge = error.wwwAuthenticate();
    if (challenge != null) {
      response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, challenge);
    }
    if (error.retryAfter() != null) {
      response.getHeaders().put(HttpHeader.RETRY_AFTER, error.retryAfter());
    }
    writeJson(response, callback, error.status(), error.toJson());
  }

  /** Whether the request carries a body: a declared length above 0, or a chunked one. */
  static boolean hasContent(Request request) {
    if (request.getLength() > 0) {
      return true;
    }
    return request.getLength() < 0 && request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING);
  }

  private static boolean consumedToItsEnd(Request request) {
    try {
      return request.consumeAvailable();
    } catch (RuntimeException e) { // a read still pending elsewhere: the body is not done with
      return false;
    }
  }

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

  /** A streamed request body is larger than the handler accepts. */
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

package dev.metalayer.graph;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.SecureRandom;
import java.util.Objects;

/**
 * An error the layer itself answers, in Graph's shape:
 * {@code {"error":{"message","type","code","fbtrace_id"}}} with an HTTP status.
 *
 * <p>Messages are fixed texts chosen by the layer; callers must never put a credential, a token or a
 * raw client value into {@code message}. The {@code fbtraceId} is random per error, so an operator can
 * find the matching log line.
 */
public record GraphError(int status, String message, String type, int code, String fbtraceId, int retryAfterSeconds) {
  private static final JsonFactory JSON = new JsonFactory();
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final char[] TRACE_ALPHABET =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".toCharArray();

  public static final String OAUTH = "OAuthException";
  public static final String LAYER = "MetaLayerException";

  public GraphError {
    Objects.requireNonNull(message, "message");
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(fbtraceId, "fbtraceId");
    if (message.isBlank()) {
      throw new IllegalArgumentException("a Graph error message must not be blank (Chatwoot needs it)");
    }
    if (retryAfterSeconds < 0) {
      throw new IllegalArgumentException("retryAfterSeconds must not be negative");
    }
  }

  /** An error whose 429, if it is one, carries the layer's usual {@code Retry-After} ({@link #RETRY_AFTER_SECONDS}). */
  public GraphError(int status, String message, String type, int code, String fbtraceId) {
    this(status, message, type, code, fbtraceId, 0);
  }

  /** This error with {@code Retry-After: seconds} (at least 1) instead of {@link #RETRY_AFTER_SECONDS}. */
  public GraphError withRetryAfter(long seconds) {
    return new GraphError(status, message, type, code, fbtraceId, (int) Math.max(1, Math.min(Integer.MAX_VALUE, seconds)));
  }

  /**
   * Meta's code for an application that reached its request limit ({@code (#4) Application request limit
   * reached}): what the layer answers, with 429, for a key past its rate limit.
   */
  public static final int APPLICATION_REQUEST_LIMIT = 4;

  /**
   * The layer's code (not one of Meta's) for a call action refused because another key of the number
   * answers the call ({@code docs/calls.md}, "One answering surface"): with HTTP 409.
   */
  public static final int ANSWERED_ELSEWHERE = 409001;

  /** 409, code {@link #ANSWERED_ELSEWHERE}: another key of the number pre-accepted or accepted the call first. */
  public static GraphError answeredElsewhere() {
    return of(409, ANSWERED_ELSEWHERE, LAYER, "(#" + ANSWERED_ELSEWHERE + ") Another surface of this number answers this call:"
        + " only it may pre-accept, accept or reject it; any surface may terminate it.");
  }

  public static GraphError of(int status, int code, String type, String message) {
    return new GraphError(status, message, type, code, newTraceId());
  }

  /** 401, code 190: no credential, an unknown one, or a revoked one. */
  public static GraphError invalidToken(String message) {
    return of(401, 190, OAUTH, message);
  }

  /** 403, code 200: the key is valid but the object belongs to no number it may reach. */
  public static GraphError outOfScope(String message) {
    return of(403, 200, OAUTH, message);
  }

  /** 400, code 100: a parameter or the request itself is invalid. */
  public static GraphError invalidParameter(String message) {
    return of(400, 100, OAUTH, message);
  }

  public static GraphError notFound(String message) {
    return of(404, 803, LAYER, message);
  }

  public static GraphError methodNotAllowed(String message) {
    return of(405, 100, LAYER, message);
  }

  public static GraphError tooLarge(String message) {
    return of(413, 100, LAYER, message);
  }

  /** 413: a request body larger than the layer reads or forwards. */
  /** A body that had to be one JSON object and is not. */
  public static GraphError notJsonObject() {
    return invalidParameter("The body must be a JSON object.");
  }

  public static GraphError bodyTooLarge() {
    return tooLarge("The request body is too large.");
  }

  public static GraphError badGateway(String message) {
    return of(502, 2, LAYER, message);
  }

  public static GraphError gatewayTimeout(String message) {
    return of(504, 2, LAYER, message);
  }

  public static GraphError unavailable(String message) {
    return of(503, 2, LAYER, message);
  }

  public static GraphError internal() {
    return of(500, 1, LAYER, "An unexpected error has occurred. Please retry your request later.");
  }

  /** The {@code WWW-Authenticate} value Graph sends with a 401, or null for other statuses. */
  public String wwwAuthenticate() {
    if (status != 401) {
      return null;
    }
    return "OAuth \"Facebook Platform\" \"invalid_token\" \"" + message.replace('"', '\'') + "\"";
  }

  /** Seconds a client waits before retrying after a 429 of the layer's own. */
  public static final int RETRY_AFTER_SECONDS = 2;

  /**
   * The {@code Retry-After} value the layer sends with its own 429 ({@link #retryAfterSeconds} when set,
   * else {@link #RETRY_AFTER_SECONDS}), or null for other statuses.
   */
  public String retryAfter() {
    return status == 429 ? Integer.toString(retryAfterSeconds > 0 ? retryAfterSeconds : RETRY_AFTER_SECONDS) : null;
  }

  /** The JSON body, UTF-8. */
  public byte[] toJson() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(160);
    try (JsonGenerator g = JSON.createGenerator(out)) {
      g.writeStartObject();
      g.writeObjectFieldStart("error");
      g.writeStringField("message", message);
      g.writeStringField("type", type);
      g.writeNumberField("code", code);
      g.writeStringField("fbtrace_id", fbtraceId);
      g.writeEndObject();
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** A random trace id in the style of Graph's (base64url-ish, 23 characters). */
  public static String newTraceId() {
    char[] id = new char[23];
    for (int i = 0; i < id.length; i++) {
      id[i] = TRACE_ALPHABET[RANDOM.nextInt(TRACE_ALPHABET.length)];
    }
    return new String(id);
  }
}

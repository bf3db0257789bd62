package dev.metalayer.relay;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;

import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Sends one delivery request: the HTTP extension point of the relay. The core ships a JDK
 * {@code java.net.http} implementation ({@link #jdk(EgressGuard)}); the standalone layer uses a Jetty
 * client whose resolver applies the {@link EgressGuard} at connect time.
 *
 * <p>Contract: {@link #send} blocks until an answer, a failure or {@code request.timeout()} (a total
 * deadline for the exchange); it never follows redirects (a 3xx is an answer like any other); it
 * never throws for network failures, which are {@link Result.Failed}; it must refuse to connect to an
 * address the guard does not permit. Implementations are thread-safe.
 */
public interface DeliveryTransport {

  /** The most of an answer body a transport keeps, in characters. */
  int EXCERPT_CHARS = 1024;

  Result send(Request request);

  /**
   * The start of an answer body as text: reads at most {@code 4 × EXCERPT_CHARS} bytes (the longest
   * UTF-8 form of that many characters) and keeps at most {@link #EXCERPT_CHARS} characters.
   */
  static String excerpt(InputStream body) throws IOException {
    String text = new String(body.readNBytes(EXCERPT_CHARS * 4), StandardCharsets.UTF_8);
    return text.substring(0, Math.min(text.length(), EXCERPT_CHARS));
  }

  /** @param headers sent as given, in order; the transport adds only {@code Content-Length} and {@code Host} */
  record Request(URI url, Map<String, String> headers, byte[] body, Duration timeout) {
    public Request {
      Objects.requireNonNull(url, "url");
      headers = Collections.unmodifiableMap(new LinkedHashMap<>(headers));
      Objects.requireNonNull(body, "body");
      Objects.requireNonNull(timeout, "timeout");
    }
  }

  /** What came of one request. */
  sealed interface Result {

    /**
     * @param retryAfter the {@code Retry-After} header as sent, if any
     * @param excerpt the start of the answer body as text, at most 1024 characters
     */
    record Answered(int status, Optional<String> retryAfter, String excerpt) implements Result {}

    /** @param timedOut whether the deadline passed; @param error a short description, never a secret */
    record Failed(String error, boolean timedOut) implements Result {}
  }

  /**
   * A transport on the JDK's {@link java.net.http.HttpClient} (HTTP/1.1, no redirects). The guard is
   * applied to the resolved addresses just before each request; the JDK client resolves the name again
   * when it connects, so a DNS answer that changes in between is not caught: prefer the Jetty transport
   * of the standalone layer where that matters.
   */
  static DeliveryTransport jdk(EgressGuard guard) {
    return new JdkDeliveryTransport(guard);
  }
}

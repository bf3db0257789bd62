package dev.metalayer.relay;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** {@link DeliveryTransport#jdk}: resolve, check with the guard, then send. Thread-safe. */
final class JdkDeliveryTransport implements DeliveryTransport {
  private final EgressGuard guard;
  private final HttpClient client;

  JdkDeliveryTransport(EgressGuard guard) {
    this.guard = guard;
    this.client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NEVER)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
  }

  @Override
  public Result send(Request request) {
    try {
      List<InetAddress> permitted = guard.resolvePermitted(EgressGuard.hostOf(request.url()));
      if (permitted.isEmpty()) {
        return new Result.Failed("target address not allowed by the egress guard", false);
      }
    } catch (UnknownHostException e) {
      return new Result.Failed("unknown host", false);
    }
    HttpRequest.Builder b =
        HttpRequest.newBuilder(request.url())
            .timeout(request.timeout())
            .POST(HttpRequest.BodyPublishers.ofByteArray(request.body()));
    for (Map.Entry<String, String> h : request.headers().entrySet()) {
      b.header(h.getKey(), h.getValue());
    }
    try {
      HttpResponse<InputStream> response = client.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
      String excerpt;
      try (InputStream in = response.body()) {
        excerpt = DeliveryTransport.excerpt(in);
      }
      return new Result.Answered(
          response.statusCode(), response.headers().firstValue("retry-after"), excerpt);
    } catch (HttpTimeoutException e) {
      return new Result.Failed("timed out after " + request.timeout().toMillis() + " ms", true);
    } catch (ConnectException e) {
      return new Result.Failed("connection refused", false);
    } catch (IOException e) {
      return new Result.Failed("I/O failure: " + e.getClass().getSimpleName(), false);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result.Failed("interrupted", false);
    }
  }
}

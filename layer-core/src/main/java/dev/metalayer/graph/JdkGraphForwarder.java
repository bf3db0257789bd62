package dev.metalayer.graph;

import dev.metalayer.graph.GraphForwarder.GraphRequest;

import dev.metalayer.graph.GraphForwarder.UpstreamFailure;

import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@link GraphForwarder#jdk(Duration)}: buffered, one attempt, no redirects. Thread-safe. */
final class JdkGraphForwarder implements GraphForwarder {
  private static final Logger log = LoggerFactory.getLogger(JdkGraphForwarder.class);

  private final HttpClient client;

  JdkGraphForwarder(Duration connectTimeout) {
    Objects.requireNonNull(connectTimeout, "connectTimeout");
    this.client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NEVER)
            .connectTimeout(connectTimeout)
            .build();
  }

  @Override
  public Forwarded forward(GraphRequest request) {
    HttpRequest.BodyPublisher body =
        request.body().length == 0
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofByteArray(request.body());
    try {
      // built inside the try: a header the JDK client refuses (a restricted name, a line break in a value)
      // is an unsendable request, a value like any other failure, not an exception out of forward
      HttpRequest.Builder b = HttpRequest.newBuilder(request.uri()).timeout(request.timeout()).method(request.method(), body);
      for (Map.Entry<String, List<String>> h : request.headers().entrySet()) {
        for (String v : h.getValue()) {
          b.header(h.getKey(), v);
        }
      }
      HttpResponse<byte[]> r = client.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
      return new Forwarded.Answered(new GraphAnswer(r.statusCode(), r.headers().map(), r.body()));
    } catch (HttpTimeoutException e) {
      log.debug("Upstream timed out: {}", request);
      return new Forwarded.Failed(UpstreamFailure.TIMEOUT);
    } catch (IOException e) {
      log.debug("Upstream failed: {} ({})", request, e.getClass().getSimpleName());
      return new Forwarded.Failed(UpstreamFailure.UNREACHABLE);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Forwarded.Failed(UpstreamFailure.STOPPING);
    } catch (IllegalArgumentException e) {
      return new Forwarded.Failed(UpstreamFailure.UNSENDABLE);
    }
  }
}

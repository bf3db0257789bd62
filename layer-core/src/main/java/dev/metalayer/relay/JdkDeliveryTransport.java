package dev.metalayer.relay;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@link DeliveryTransport#jdk}: resolve, check with the guard, then send. The request's timeout is a
 * deadline for the whole exchange, the resolution and the answer's body included: the JDK client's own
 * request timeout stops at the answer's headers, and a subscriber that trickles its body would
 * otherwise hold the attempt past its lease (and the delivery would be claimed and sent again).
 * Thread-safe.
 */
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
    long deadline = System.nanoTime() + request.timeout().toNanos();
    try {
      List<InetAddress> permitted = guard.resolvePermitted(EgressGuard.hostOf(request.url()));
      if (permitted.isEmpty()) {
        return new Result.Failed("target address not allowed by the egress guard", false);
      }
    } catch (UnknownHostException e) {
      return new Result.Failed("unknown host", false);
    }
    long left = deadline - System.nanoTime();
    if (left <= 0) {
      return timedOut(request);
    }
    HttpRequest.Builder b =
        HttpRequest.newBuilder(request.url())
            .timeout(Duration.ofNanos(left))
            .POST(HttpRequest.BodyPublishers.ofByteArray(request.body()));
    for (Map.Entry<String, String> h : request.headers().entrySet()) {
      b.header(h.getKey(), h.getValue());
    }
    CompletableFuture<HttpResponse<String>> exchange = client.sendAsync(b.build(), info -> new Excerpt());
    try {
      HttpResponse<String> response = exchange.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      return new Result.Answered(response.statusCode(), response.headers().firstValue("retry-after"), response.body());
    } catch (TimeoutException e) {
      exchange.cancel(true);
      return timedOut(request);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof HttpTimeoutException) {
        return timedOut(request);
      }
      if (cause instanceof ConnectException) {
        return new Result.Failed("connection refused", false);
      }
      return new Result.Failed("I/O failure: " + (cause == null ? "unknown" : cause.getClass().getSimpleName()), false);
    } catch (InterruptedException e) {
      exchange.cancel(true);
      Thread.currentThread().interrupt();
      return new Result.Failed("interrupted", false);
    }
  }

  private static Result timedOut(Request request) {
    return new Result.Failed("timed out after " + request.timeout().toMillis() + " ms", true);
  }

  /**
   * Keeps the start of the answer body ({@link DeliveryTransport#excerpt}) and stops reading once it
   * has enough, so a large answer costs neither memory nor time.
   */
  private static final class Excerpt implements HttpResponse.BodySubscriber<String> {
    private static final int LIMIT = EXCERPT_CHARS * 4;
    private final CompletableFuture<String> text = new CompletableFuture<>();
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private Flow.Subscription subscription;

    @Override
    public CompletionStage<String> getBody() {
      return text;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      subscription = s;
      s.request(1);
    }

    @Override
    public void onNext(List<ByteBuffer> buffers) {
      for (ByteBuffer buffer : buffers) {
        int n = Math.min(buffer.remaining(), LIMIT - bytes.size());
        byte[] chunk = new byte[n];
        buffer.get(chunk);
        bytes.write(chunk, 0, n);
      }
      if (bytes.size() >= LIMIT) {
        subscription.cancel();
        finish();
      } else {
        subscription.request(1);
      }
    }

    @Override
    public void onError(Throwable failure) {
      text.completeExceptionally(failure);
    }

    @Override
    public void onComplete() {
      finish();
    }

    private void finish() {
      try {
        text.complete(DeliveryTransport.excerpt(new ByteArrayInputStream(bytes.toByteArray())));
      } catch (IOException e) {
        throw new UncheckedIOException(e); // a byte array does not fail
      }
    }
  }
}

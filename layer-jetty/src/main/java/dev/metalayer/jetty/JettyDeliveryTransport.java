package dev.metalayer.jetty;

import dev.metalayer.relay.DeliveryTransport;
import dev.metalayer.relay.EgressGuard;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.util.Promise;
import org.eclipse.jetty.util.SocketAddressResolver;

/**
 * The standalone layer's {@link DeliveryTransport}: a Jetty {@link HttpClient} whose
 * {@link SocketAddressResolver} hands the connector only addresses the {@link EgressGuard} permits,
 * so the check holds at connect time, after DNS (no rebinding gap). Redirects are not followed, no
 * cookies are kept, no {@code User-Agent} of Jetty's is added. The client is a bean of the server:
 * it starts and stops with it. Each request has the total timeout its lane asks for; at most 1024
 * characters of an answer are read.
 */
final class JettyDeliveryTransport implements DeliveryTransport {
  private final HttpClient client;

  JettyDeliveryTransport(EgressGuard guard) {
    client = new HttpClient();
    client.setFollowRedirects(false);
    client.setUserAgentField(null);
    client.setHttpCookieStore(new HttpCookieStore.Empty());
    client.setConnectTimeout(5_000);
    client.setIdleTimeout(30_000);
    client.setMaxConnectionsPerDestination(16);
    client.setSocketAddressResolver(new GuardedResolver(guard));
  }

  HttpClient client() {
    return client;
  }

  @Override
  public Result send(DeliveryTransport.Request request) {
    org.eclipse.jetty.client.Request out =
        client
            .newRequest(request.url())
            .method(HttpMethod.POST)
            .timeout(request.timeout().toMillis(), TimeUnit.MILLISECONDS)
            .body(new BytesRequestContent(request.body()));
    out.headers(h -> {
      h.remove(HttpHeader.ACCEPT_ENCODING);
      for (Map.Entry<String, String> e : request.headers().entrySet()) {
        h.put(e.getKey(), e.getValue());
      }
    });
    InputStreamResponseListener listener = new InputStreamResponseListener();
    out.send(listener);
    try {
      Response response = listener.get(request.timeout().toMillis() + 1_000, TimeUnit.MILLISECONDS);
      String excerpt;
      try (InputStream in = listener.getInputStream()) {
        excerpt = DeliveryTransport.excerpt(in);
      } catch (IOException e) {
        excerpt = "";
      }
      return new Result.Answered(
          response.getStatus(), java.util.Optional.ofNullable(response.getHeaders().get(HttpHeader.RETRY_AFTER)), excerpt);
    } catch (TimeoutException e) {
      out.abort(e);
      return new Result.Failed("timed out after " + request.timeout().toMillis() + " ms", true);
    } catch (ExecutionException e) {
      return failure(e.getCause(), request);
    } catch (InterruptedException e) {
      out.abort(e);
      Thread.currentThread().interrupt();
      return new Result.Failed("interrupted", false);
    }
  }

  private static Result failure(Throwable cause, DeliveryTransport.Request request) {
    for (Throwable t = cause; t != null; t = t.getCause()) {
      if (t instanceof TimeoutException) {
        return new Result.Failed("timed out after " + request.timeout().toMillis() + " ms", true);
      }
      if (t instanceof TargetRefusedException) {
        return new Result.Failed(t.getMessage(), false);
      }
      if (t instanceof UnknownHostException) {
        return new Result.Failed("unknown host", false);
      }
      if (t instanceof ConnectException) {
        return new Result.Failed("connection refused", false);
      }
    }
    return new Result.Failed("I/O failure: " + (cause == null ? "unknown" : cause.getClass().getSimpleName()), false);
  }

  /** No permitted address for the target host. */
  static final class TargetRefusedException extends UnknownHostException {
    private static final long serialVersionUID = 1L;

    TargetRefusedException() {
      super("target address not allowed by the egress guard");
    }
  }

  /** Resolves like the JDK, then keeps only the addresses the guard permits. */
  static final class GuardedResolver implements SocketAddressResolver {
    private final EgressGuard guard;

    GuardedResolver(EgressGuard guard) {
      this.guard = guard;
    }

    @Override
    public void resolve(String host, int port, Map<String, Object> context, Promise<List<InetSocketAddress>> promise) {
      try {
        List<InetSocketAddress> permitted = new ArrayList<>();
        for (InetAddress a : guard.resolvePermitted(host)) {
          permitted.add(new InetSocketAddress(a, port));
        }
        if (permitted.isEmpty()) {
          promise.failed(new TargetRefusedException());
        } else {
          promise.succeeded(permitted);
        }
      } catch (UnknownHostException e) {
        promise.failed(e);
      } catch (RuntimeException e) {
        promise.failed(e);
      }
    }
  }
}

package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LayerServer#close()} in order: the port closes at once (a new connection is refused) while a
 * Graph request in flight on a slow upstream still runs to its answer; the close returns after it.
 */
class GracefulCloseTest {

  @Test
  void closeRefusesNewConnectionsAndLetsTheRequestInFlightFinish(@TempDir Path dir) throws Exception {
    CountDownLatch reached = new CountDownLatch(1);
    CountDownLatch answer = new CountDownLatch(1);
    try (InlineServer graph = InlineServer.start(exchange -> {
      exchange.getRequestBody().readAllBytes();
      reached.countDown();
      try {
        answer.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      byte[] body = "{\"messages\":[{\"id\":\"wamid.LATE\"}]}".getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    })) {
      Layer layer = Layer.start(dir, graph.base(), Map.of(Option.SHUTDOWN_GRACE, "20s"));
      int port = layer.server.port();
      CompletableFuture<HttpResponse<String>> inFlight = layer.http.sendAsync(HttpRequest.newBuilder(
              layer.server.localUri().resolve("/api/layer/meta/v13.0/" + Layer.PNID + "/messages"))
          .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + layer.key)
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString("{\"messaging_product\":\"whatsapp\",\"to\":\"15551234567\"}"))
          .build(), HttpResponse.BodyHandlers.ofString());
      assertThat(reached.await(30, TimeUnit.SECONDS)).isTrue();

      CompletableFuture<Void> closing = CompletableFuture.runAsync(() -> {
        try {
          layer.close();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      boolean refused = false;
      while (!refused && System.nanoTime() < deadline) {
        try (Socket s = new Socket()) {
          s.connect(new InetSocketAddress("127.0.0.1", port), 1_000);
          Thread.sleep(20); // a poll interval: still accepting
        } catch (ConnectException e) {
          refused = true;
        }
      }
      assertThat(refused).as("the port is closed once the stop began").isTrue();
      assertThat(closing).as("the close waits for the request in flight").isNotDone();

      answer.countDown();
      HttpResponse<String> answered = inFlight.get(30, TimeUnit.SECONDS);
      assertThat(answered.statusCode()).isEqualTo(200);
      assertThat(answered.body()).contains("wamid.LATE");
      closing.get(30, TimeUnit.SECONDS);
    }
  }
}

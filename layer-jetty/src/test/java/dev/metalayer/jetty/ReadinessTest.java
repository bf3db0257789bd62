package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.json.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.Test;

/**
 * {@code /readyz} on a real Jetty server: ready while the store answers and every worker runs; a 503
 * with a Graph-shaped error naming each problem otherwise, while {@code /healthz} stays 200.
 */
class ReadinessTest {
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @Test
  void aStoppedWorkerOrAnUnreachableStoreMakesReadyz503NamingWhatFailed() throws Exception {
    AtomicBoolean storeAnswers = new AtomicBoolean(true);
    AtomicReference<List<String>> dead = new AtomicReference<>(List.of());
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    HealthHandler health = new HealthHandler(storeAnswers::get, dead::get, new BodyReader(1024, Duration.ofSeconds(1)));
    server.setHandler(new Routes().add("/healthz", health).add("/readyz", health));
    server.start();
    try {
      health.watch(server.getScheduler());
      URI base = URI.create("http://127.0.0.1:" + connector.getLocalPort());

      HttpResponse<String> ready = get(base.resolve("/readyz"));
      assertThat(ready.statusCode()).isEqualTo(200);
      assertThat(Json.mapper().readTree(ready.body()).get("status").asText()).isEqualTo("ready");

      dead.set(List.of("relay-default-scheduler"));
      storeAnswers.set(false);
      HttpResponse<String> notReady = get(base.resolve("/readyz"));
      assertThat(notReady.statusCode()).isEqualTo(503);
      JsonNode body = Json.mapper().readTree(notReady.body());
      assertThat(body.at("/error/code").asInt()).isEqualTo(2);
      assertThat(body.at("/error/fbtrace_id").asText()).isNotBlank();
      assertThat(body.at("/error/message").asText()).contains("store unreachable").contains("relay-default-scheduler");
      assertThat(body.get("problems")).extracting(JsonNode::asText)
          .containsExactly("store unreachable", "worker stopped: relay-default-scheduler");
      assertThat(get(base.resolve("/healthz")).statusCode()).isEqualTo(200);
    } finally {
      server.stop();
    }
  }

  HttpResponse<String> get(URI uri) throws Exception {
    return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
  }
}

package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.metalayer.graph.GraphForwarder.Forwarded;
import dev.metalayer.graph.GraphForwarder.GraphRequest;
import dev.metalayer.graph.GraphForwarder.UpstreamFailure;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The embedder's default forwarder against a JDK {@link HttpServer} playing Meta: each way an upstream
 * request fails is the failure the steps turn into 504, 502 or 503, never an exception.
 */
class JdkGraphForwarderTest {
  final CountDownLatch release = new CountDownLatch(1);
  HttpServer meta;
  URI base;
  final GraphForwarder forwarder = GraphForwarder.jdk(Duration.ofSeconds(5));

  @BeforeEach
  void start() throws IOException {
    meta = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    meta.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
    meta.createContext("/", x -> {
      byte[] body = x.getRequestBody().readAllBytes();
      if (x.getRequestURI().getPath().equals("/slow")) {
        try {
          release.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      byte[] answer = (x.getRequestMethod() + " " + body.length).getBytes(StandardCharsets.UTF_8);
      x.sendResponseHeaders(200, answer.length);
      x.getResponseBody().write(answer);
      x.close();
    });
    meta.start();
    base = URI.create("http://127.0.0.1:" + meta.getAddress().getPort());
  }

  @AfterEach
  void stop() {
    release.countDown();
    meta.stop(0);
  }

  @Test
  void anAnswerComesBackWhole() {
    Forwarded f = forwarder.forward(new GraphRequest("POST", base.resolve("/x"), Map.of(), "abc".getBytes(StandardCharsets.UTF_8),
        Duration.ofSeconds(5)));
    assertThat(f).isInstanceOfSatisfying(Forwarded.Answered.class, a -> assertThat(a.answer().text()).isEqualTo("POST 3"));
    Forwarded empty = forwarder.forward(new GraphRequest("DELETE", base.resolve("/x"), Map.of(), null, Duration.ofSeconds(5)));
    assertThat(empty).isInstanceOfSatisfying(Forwarded.Answered.class, a -> assertThat(a.answer().text()).isEqualTo("DELETE 0"));
  }

  /** The request's own timeout bounds the whole exchange (a short one: the stand-in holds the answer until the test ends). */
  @Test
  void anAnswerLaterThanTheTimeoutIsATimeout() {
    Forwarded f = forwarder.forward(new GraphRequest("GET", base.resolve("/slow"), Map.of(), null, Duration.ofMillis(200)));
    assertThat(f).isEqualTo(new Forwarded.Failed(UpstreamFailure.TIMEOUT));
  }

  @Test
  void anUnreachableHostIsUnreachableAndARequestTheClientCannotBuildIsUnsendable() {
    meta.stop(0);
    assertThat(forwarder.forward(new GraphRequest("GET", base.resolve("/x"), Map.of(), null, Duration.ofSeconds(5))))
        .isEqualTo(new Forwarded.Failed(UpstreamFailure.UNREACHABLE));
    // headers the JDK client refuses to set (an embedder's, passed on): a failure, not an exception out of forward
    assertThat(forwarder.forward(new GraphRequest("GET", base.resolve("/x"), Map.of("Host", List.of("evil.example")), null,
        Duration.ofSeconds(5)))).isEqualTo(new Forwarded.Failed(UpstreamFailure.UNSENDABLE));
    assertThat(forwarder.forward(new GraphRequest("GET", base.resolve("/x"), Map.of("X-Tenant", List.of("t\r\nX-Injected: 1")), null,
        Duration.ofSeconds(5)))).isEqualTo(new Forwarded.Failed(UpstreamFailure.UNSENDABLE));
  }

  @Test
  void anInterruptedCallerGetsStoppingAndKeepsItsInterrupt() {
    Thread.currentThread().interrupt();
    try {
      assertThat(forwarder.forward(new GraphRequest("GET", base.resolve("/slow"), Map.of(), null, Duration.ofSeconds(5))))
          .isEqualTo(new Forwarded.Failed(UpstreamFailure.STOPPING));
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
    } finally {
      Thread.interrupted();
    }
  }
}

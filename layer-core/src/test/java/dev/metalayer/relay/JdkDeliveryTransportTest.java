package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The JDK transport against raw-socket subscribers: the request timeout bounds the whole exchange,
 * the answer body included, and only the start of a large answer is read.
 */
class JdkDeliveryTransportTest {
  private final ExecutorService servers = Executors.newCachedThreadPool();
  private final DeliveryTransport transport = DeliveryTransport.jdk(EgressGuard.of(true, List.of()));

  @AfterEach
  void stop() throws InterruptedException {
    servers.shutdownNow();
    servers.awaitTermination(10, TimeUnit.SECONDS);
  }

  /** A one-connection subscriber that reads the request head and body, then answers with {@code answer}. */
  private URI subscriber(Consumer<OutputStream> answer) throws Exception {
    ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    servers.execute(() -> {
      try (server; Socket s = server.accept()) {
        BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
        int length = 0;
        for (String line; (line = in.readLine()) != null && !line.isEmpty(); ) {
          if (line.toLowerCase().startsWith("content-length:")) {
            length = Integer.parseInt(line.substring(15).trim());
          }
        }
        for (int i = 0; i < length; i++) {
          in.read();
        }
        answer.accept(s.getOutputStream());
      } catch (Exception e) {
        // the transport gave up and closed: expected in the trickle case
      }
    });
    return URI.create("http://127.0.0.1:" + server.getLocalPort() + "/hook");
  }

  /**
   * An answer written in {@code pieces}, {@code pause} apart, each flushed; it stops when the transport
   * closes the connection (a test that times out does).
   */
  private static Consumer<OutputStream> inPieces(Duration pause, List<String> pieces) {
    return out -> {
      try {
        for (int i = 0; i < pieces.size(); i++) {
          if (i > 0) {
            Thread.sleep(pause.toMillis());
          }
          out.write(pieces.get(i).getBytes(StandardCharsets.ISO_8859_1));
          out.flush();
        }
      } catch (Exception e) {
        // closed by the transport; a test that needed the rest fails on its answer
      }
    };
  }

  private DeliveryTransport.Result send(URI url, Duration timeout) {
    return transport.send(new DeliveryTransport.Request(url, Map.of("Content-Type", "application/json"), "{}".getBytes(StandardCharsets.UTF_8), timeout));
  }

  @Test
  void aSubscriberThatTricklesItsBodyTimesOutAtTheDeadline() throws Exception {
    List<String> pieces = new java.util.ArrayList<>(List.of("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"));
    pieces.addAll(java.util.Collections.nCopies(100, "x")); // one byte every 300 ms: 30 s in all
    URI url = subscriber(inPieces(Duration.ofMillis(300), pieces));
    long started = System.nanoTime();
    DeliveryTransport.Result result = send(url, Duration.ofSeconds(1));
    long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);

    assertThat(result).isEqualTo(new DeliveryTransport.Result.Failed("timed out after 1000 ms", true));
    assertThat(tookMs).as("bounded by the deadline, not by the subscriber's 30 s").isLessThan(10_000);
  }

  @Test
  void anAnswerIsReadUpToItsExcerpt() throws Exception {
    URI url = subscriber(out -> {
      try {
        byte[] big = "y".repeat(1_000_000).getBytes(StandardCharsets.US_ASCII);
        out.write(("HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: " + big.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        out.write(big);
        out.flush();
      } catch (Exception e) {
        // the transport stopped reading after the excerpt
      }
    });
    DeliveryTransport.Result result = send(url, Duration.ofSeconds(10));

    assertThat(result).isInstanceOf(DeliveryTransport.Result.Answered.class);
    DeliveryTransport.Result.Answered answered = (DeliveryTransport.Result.Answered) result;
    assertThat(answered.status()).isEqualTo(503);
    assertThat(answered.retryAfter()).contains("7");
    assertThat(answered.excerpt()).hasSize(DeliveryTransport.EXCERPT_CHARS).containsOnlyOnce("y".repeat(1024));
  }

  @Test
  void aRefusedConnectionIsAFailure() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    DeliveryTransport.Result result = send(URI.create("http://127.0.0.1:" + port + "/hook"), Duration.ofSeconds(5));
    assertThat(result).isEqualTo(new DeliveryTransport.Result.Failed("connection refused", false));
  }

  @Test
  void anAddressTheGuardRefusesIsNeverContacted() throws Exception {
    DeliveryTransport guarded = DeliveryTransport.jdk(EgressGuard.of(false, List.of()));

    DeliveryTransport.Result result = guarded.send(new DeliveryTransport.Request(closedPort(), Map.of(),
        "{}".getBytes(StandardCharsets.UTF_8), Duration.ofSeconds(5)));

    // not "connection refused": no connection was tried
    assertThat(result).isEqualTo(new DeliveryTransport.Result.Failed("target address not allowed by the egress guard", false));
  }

  private static URI closedPort() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    return URI.create("http://127.0.0.1:" + port + "/hook");
  }

  @Test
  void aSubscriberThatHangsUpWithoutAnAnswerIsAnIoFailure() throws Exception {
    URI url = subscriber(out -> { });

    DeliveryTransport.Result result = send(url, Duration.ofSeconds(10));

    assertThat(result).isInstanceOf(DeliveryTransport.Result.Failed.class);
    assertThat(((DeliveryTransport.Result.Failed) result).error()).as("names the failure's class")
        .matches("I/O failure: [A-Za-z]+Exception");
    assertThat(((DeliveryTransport.Result.Failed) result).timedOut()).isFalse();
  }

  @Test
  void aShortAnswerIsReadWholeWithItsHeadersSent() throws Exception {
    java.util.concurrent.atomic.AtomicReference<String> head = new java.util.concurrent.atomic.AtomicReference<>("");
    ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    servers.execute(() -> {
      try (server; Socket s = server.accept()) {
        BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
        StringBuilder lines = new StringBuilder();
        for (String line; (line = in.readLine()) != null && !line.isEmpty(); ) {
          lines.append(line.toLowerCase()).append('\n');
        }
        head.set(lines.toString());
        s.getOutputStream().write("HTTP/1.1 202 Accepted\r\nContent-Length: 5\r\n\r\nthank".getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
      } catch (Exception e) {
        // the test fails on the answer
      }
    });
    URI url = URI.create("http://127.0.0.1:" + server.getLocalPort() + "/hook");

    DeliveryTransport.Result result = transport.send(new DeliveryTransport.Request(url,
        Map.of("webhook-id", "msg_1"), new byte[0], Duration.ofSeconds(10)));

    assertThat(result).isEqualTo(new DeliveryTransport.Result.Answered(202, java.util.Optional.empty(), "thank"));
    assertThat(head.get()).startsWith("post /hook http/1.1").contains("webhook-id: msg_1");
  }

  @Test
  void anInterruptedSenderGivesUpAndKeepsItsInterrupt() throws Exception {
    // a listening socket that nobody answers: the exchange waits
    try (ServerSocket silent = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      URI url = URI.create("http://127.0.0.1:" + silent.getLocalPort() + "/hook");
      Thread.currentThread().interrupt();
      DeliveryTransport.Result result;
      try {
        result = send(url, Duration.ofSeconds(10));
      } finally {
        assertThat(Thread.interrupted()).as("the interrupt is kept").isTrue();
      }
      assertThat(result).isEqualTo(new DeliveryTransport.Result.Failed("interrupted", false));
    }
  }

  @Test
  void aZeroTimeoutTimesOutWithoutSending() throws Exception {
    // not "connection refused": no connection was tried
    assertThat(send(closedPort(), Duration.ZERO)).isEqualTo(new DeliveryTransport.Result.Failed("timed out after 0 ms", true));
  }

  @Test
  void aHostThatDoesNotResolveIsAnUnknownHost() {
    // .invalid never resolves (RFC 6761)
    assertThat(send(URI.create("http://subscriber.invalid/hook"), Duration.ofSeconds(5)))
        .isEqualTo(new DeliveryTransport.Result.Failed("unknown host", false));
  }

  @Test
  void aBodyThatArrivesInPiecesIsReadWhole() throws Exception {
    URI url = subscriber(inPieces(Duration.ofMillis(300), List.of("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfirst", "-last")));

    assertThat(send(url, Duration.ofSeconds(10)))
        .isEqualTo(new DeliveryTransport.Result.Answered(200, java.util.Optional.empty(), "first-last"));
  }

  @Test
  void anAnswerWhoseBodyNeverEndsIsAnsweredOnceItsExcerptHasArrived() throws Exception {
    java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
    URI url = subscriber(out -> {
      try {
        out.write("HTTP/1.1 500 Oops\r\nContent-Length: 1000000\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        out.write("z".repeat(5000).getBytes(StandardCharsets.US_ASCII));
        out.flush();
        done.await(30, TimeUnit.SECONDS); // the rest never comes
      } catch (Exception e) {
        // closed by the transport
      }
    });
    long started = System.nanoTime();
    DeliveryTransport.Result result;
    try {
      result = send(url, Duration.ofSeconds(20));
    } finally {
      done.countDown();
    }

    assertThat(result).isEqualTo(new DeliveryTransport.Result.Answered(500, java.util.Optional.empty(), "z".repeat(1024)));
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).as("not waiting for the rest").isLessThan(15_000);
  }

  @Test
  void aZeroTimeoutNeverConnects() throws Exception {
    try (ServerSocket listening = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
      URI url = URI.create("http://127.0.0.1:" + listening.getLocalPort() + "/hook");

      assertThat(send(url, Duration.ZERO)).isEqualTo(new DeliveryTransport.Result.Failed("timed out after 0 ms", true));

      listening.setSoTimeout(1000);
      assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> listening.accept().close()))
          .as("no connection was tried").isInstanceOf(java.net.SocketTimeoutException.class);
    }
  }

  @Test
  void aConnectionThatIsNeverAcceptedTimesOutAfterTheConnectTimeout() throws Exception {
    // a backlog of 1 filled by two connections: the kernel drops the next handshakes, so the connect hangs
    try (ServerSocket full = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        Socket first = new Socket(InetAddress.getLoopbackAddress(), full.getLocalPort());
        Socket second = new Socket(InetAddress.getLoopbackAddress(), full.getLocalPort())) {
      URI url = URI.create("http://127.0.0.1:" + full.getLocalPort() + "/hook");

      assertThat(send(url, Duration.ofSeconds(20)))
          .isEqualTo(new DeliveryTransport.Result.Failed("timed out after 20000 ms", true));
    }
  }
}

package dev.metalayer.testing;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;

/**
 * A real webhook subscriber for tests: a JDK {@link HttpServer} on 127.0.0.1 and a free port that
 * records every request (headers lower-cased, body bytes) and answers as told (200 by default).
 * Thread-safe.
 */
public final class RecordingSubscriber implements AutoCloseable {

  /** One request as received. */
  public record Received(String path, Map<String, String> headers, byte[] body) {
    public String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }

    public String text() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  /** How to answer. */
  public record Answer(int status, Map<String, String> headers, String body) {
    public static Answer of(int status) {
      return new Answer(status, Map.of(), "");
    }
  }

  private final HttpServer server;
  private final ExecutorService executor;
  private final List<Received> received = new ArrayList<>();
  private volatile Function<Received, Answer> responder = r -> new Answer(200, Map.of(), "ok");

  private RecordingSubscriber(HttpServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  public static RecordingSubscriber start() {
    try {
      HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
      ExecutorService executor = Executors.newFixedThreadPool(16);
      RecordingSubscriber s = new RecordingSubscriber(server, executor);
      server.createContext("/", exchange -> {
        byte[] body;
        try (InputStream in = exchange.getRequestBody()) {
          body = in.readAllBytes();
        }
        Map<String, String> headers = new TreeMap<>();
        exchange.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(Locale.ROOT), String.join(",", v)));
        Received r = new Received(exchange.getRequestURI().getPath(), Map.copyOf(headers), body);
        Answer a;
        try {
          a = s.responder.apply(r);
        } finally {
          s.record(r);
        }
        a.headers().forEach((k, v) -> exchange.getResponseHeaders().add(k, v));
        byte[] out = a.body().getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(a.status(), out.length == 0 ? -1 : out.length);
        if (out.length > 0) {
          try (OutputStream o = exchange.getResponseBody()) {
            o.write(out);
          }
        }
        exchange.close();
      });
      server.setExecutor(executor);
      server.start();
      return s;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private synchronized void record(Received r) {
    received.add(r);
    notifyAll();
  }

  /** Where to point a subscription: {@code http://127.0.0.1:<port><path>}. */
  public String url(String path) {
    return "http://127.0.0.1:" + server.getAddress().getPort() + path;
  }

  public URI uri() {
    return URI.create(url("/hook"));
  }

  public void answer(Function<Received, Answer> responder) {
    this.responder = responder;
  }

  public synchronized List<Received> received() {
    return List.copyOf(received);
  }

  public synchronized int count() {
    return received.size();
  }

  /**
   * Waits until at least {@code n} requests arrived or the timeout passes (then fails).
   *
   * @return everything received so far
   */
  public synchronized List<Received> await(int n, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (received.size() < n) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new AssertionError("expected " + n + " requests within " + timeout + ", got " + received.size());
      }
      wait(Math.max(1, left / 1_000_000));
    }
    return List.copyOf(received);
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}

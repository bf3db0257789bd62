package dev.metalayer.jetty;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A JDK {@link HttpServer} on a loopback port of its own, one thread per exchange (so that exchanges a
 * test leaves hanging never queue the others): Meta, or a media host, in tests. {@link #close()} stops
 * it at once.
 */
final class InlineServer implements AutoCloseable {
  private final HttpServer server;
  private final ExecutorService threads;

  private InlineServer(HttpServer server, ExecutorService threads) {
    this.server = server;
    this.threads = threads;
  }

  /** Starts a server that answers every path with {@code handler}. */
  static InlineServer start(HttpHandler handler) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 200);
    ExecutorService threads = Executors.newCachedThreadPool();
    server.setExecutor(threads);
    server.createContext("/", handler);
    server.start();
    return new InlineServer(server, threads);
  }

  /** {@code http://127.0.0.1:<port>}. */
  String base() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
    threads.shutdownNow();
  }
}

package dev.metalayer.jetty;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * A real webhook subscriber (a JDK HTTP server on loopback, one thread per exchange) that records every
 * request with the layer process that sent it ({@link SocketOwners}), and answers as its {@link
 * Responder} says: a status, after as long as the responder takes. A request read after its sender died
 * is told by the earlier requests of its connection, or not at all ({@link SocketOwners#UNKNOWN}).
 * Thread-safe.
 */
final class InstanceSubscriber implements AutoCloseable {
  /**
   * One request as received: its path, {@code webhook-id}, body, sender's pid, arrival ({@link
   * System#nanoTime()}, and the wall clock in epoch milliseconds) and answer.
   */
  record Delivery(String path, String webhookId, String body, long owner, long atNanos, long atMillis, int status) {
    boolean ok() {
      return status >= 200 && status < 300;
    }
  }

  /** Decides the answer to one request ({@code status} not yet known: 0); may sleep to be slow. */
  interface Responder {
    int answer(Delivery request) throws InterruptedException;
  }

  private final InlineServer server;
  private final int port;
  private final Set<Long> owners = ConcurrentHashMap.newKeySet();
  private final List<Delivery> received = new ArrayList<>();
  private final Map<Long, AtomicInteger> inFlight = new ConcurrentHashMap<>();
  private final Map<Long, AtomicInteger> arrived = new ConcurrentHashMap<>();
  /** The sender last told on each connection (by its port): kept connections outlive their sender's death. */
  private final Map<Integer, Long> senders = new ConcurrentHashMap<>();
  private volatile Responder responder = r -> 200;

  private InstanceSubscriber() throws IOException {
    this.server = InlineServer.start(this::handle);
    this.port = Integer.parseInt(server.base().substring(server.base().lastIndexOf(':') + 1));
  }

  static InstanceSubscriber start() throws IOException {
    return new InstanceSubscriber();
  }

  /** Tells the sender apart among these layer processes. */
  InstanceSubscriber watch(LayerJar.Running... layers) {
    for (LayerJar.Running l : layers) {
      owners.add(l.pid());
    }
    return this;
  }

  void answer(Responder responder) {
    this.responder = responder;
  }

  /** {@code http://127.0.0.1:<port><path>}. */
  String url(String path) {
    return server.base() + path;
  }

  private void handle(HttpExchange exchange) throws IOException {
    long at = System.nanoTime();
    long atMillis = System.currentTimeMillis();
    int remotePort = exchange.getRemoteAddress().getPort();
    long owner = SocketOwners.owner(remotePort, port, owners);
    if (owner == SocketOwners.UNKNOWN) {
      // the sender's end is gone already (a process killed right after it sent): the connection's last sender
      owner = senders.getOrDefault(remotePort, SocketOwners.UNKNOWN);
    } else {
      senders.put(remotePort, owner);
    }
    byte[] body;
    try (InputStream in = exchange.getRequestBody()) {
      body = in.readAllBytes();
    }
    Delivery request = new Delivery(exchange.getRequestURI().getPath(), exchange.getRequestHeaders().getFirst("webhook-id"),
        new String(body, StandardCharsets.UTF_8), owner, at, atMillis, 0);
    arrived.computeIfAbsent(owner, o -> new AtomicInteger()).incrementAndGet();
    AtomicInteger busy = inFlight.computeIfAbsent(owner, o -> new AtomicInteger());
    busy.incrementAndGet();
    int status = 500;
    try {
      status = responder.answer(request);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      record(new Delivery(request.path(), request.webhookId(), request.body(), owner, at, atMillis, status));
      busy.decrementAndGet();
    }
    try {
      exchange.sendResponseHeaders(status, -1);
    } finally {
      exchange.close();
    }
  }

  private synchronized void record(Delivery d) {
    received.add(d);
  }

  /** Every request so far, in the order their answers were decided. */
  synchronized List<Delivery> received() {
    return List.copyOf(received);
  }

  /** The requests so far that match. */
  List<Delivery> received(Predicate<Delivery> which) {
    return received().stream().filter(which).toList();
  }

  /** Requests from {@code pid} being answered right now. */
  int inFlight(long pid) {
    AtomicInteger n = inFlight.get(pid);
    return n == null ? 0 : n.get();
  }

  /** Requests from {@code pid} so far, answered or not. */
  int arrived(long pid) {
    AtomicInteger n = arrived.get(pid);
    return n == null ? 0 : n.get();
  }

  /** Successful deliveries per (path, webhook-id): 1 each when every delivery was made exactly once. */
  Map<String, Long> successes() {
    return received(Delivery::ok).stream().collect(Collectors.groupingBy(d -> d.path() + " " + d.webhookId(),
        Collectors.counting()));
  }

  /** Successful deliveries per sending pid ({@link SocketOwners#UNKNOWN}: not told). */
  Map<Long, Long> perOwner() {
    Map<Long, Long> counts = new HashMap<>();
    for (Delivery d : received(Delivery::ok)) {
      counts.merge(d.owner(), 1L, Long::sum);
    }
    return counts;
  }

  @Override
  public void close() {
    server.close();
  }
}

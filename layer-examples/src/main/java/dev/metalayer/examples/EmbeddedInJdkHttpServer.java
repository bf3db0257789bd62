package dev.metalayer.examples;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.metalayer.MetaLayer;
import dev.metalayer.keys.TokenResolver;
import dev.metalayer.crypto.Secrets;
import dev.metalayer.graph.ClientRequest;
import dev.metalayer.graph.GraphAnswer;
import dev.metalayer.graph.GraphError;
import dev.metalayer.keys.Grant;
import dev.metalayer.keys.Resolution;
import dev.metalayer.keys.WhatsAppNumber;
import dev.metalayer.examples.chatwoot.FakeChatwoot;
import dev.metalayer.examples.chatwoot.OneNumberGraph;
import dev.metalayer.examples.chatwoot.MetaWebhooks;
import dev.metalayer.relay.EgressGuard;
import dev.metalayer.relay.CallWebhookRelay.IngestResult;
import dev.metalayer.relay.WebhookSubscriptions.Spec;
import dev.metalayer.store.Stores;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;

/**
 * Meta Layer's core inside a host that is not Jetty: a plain JDK {@link HttpServer} serves the Graph
 * API under {@code /api/layer/meta} and Meta's webhooks on {@code /webhooks/meta}, and the host keeps
 * its own API keys ({@link HostKeys}, a custom {@link TokenResolver}). The adapter only moves bytes;
 * every rule (scope, token swap, rewriting, signature check, splitting, delivery) is the core's.
 */
public final class EmbeddedInJdkHttpServer implements AutoCloseable {
  static final String PREFIX = "/api/layer/meta";

  private final MetaLayer layer;
  private final HttpServer server;

  /**
   * The host's own keys: it stores a SHA-256 of each, and knows which number (and Meta token, from its
   * own vault) a key stands for. Thread-safe.
   */
  public static final class HostKeys implements TokenResolver {
    private record Account(String id, WhatsAppNumber number, String metaToken) {}

    private final Map<String, Account> byKeyHash = new ConcurrentHashMap<>();

    public void add(String accountId, String key, WhatsAppNumber number, String metaToken) {
      byKeyHash.put(Secrets.sha256Hex(key), new Account(accountId, number, metaToken));
    }

    /** Whether {@code id} is an object of any number of the host (the Graph surface needs it). */
    public boolean isHostObject(String id) {
      return byKeyHash.values().stream().anyMatch(a -> a.number().owns(id) || a.number().businessId().equals(id));
    }

    @Override
    public Resolution resolve(String credential) {
      Account a = byKeyHash.get(Secrets.sha256Hex(credential)); // a hash lookup: no timing oracle on the key
      return a == null
          ? new Resolution.Refused(Resolution.Reason.UNKNOWN)
          : new Resolution.Granted(new Grant(a.id(), a.number(), a.metaToken()));
    }
  }

  public EmbeddedInJdkHttpServer(MetaLayer layer, int port) throws IOException {
    this.layer = layer;
    this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
    server.setExecutor(Executors.newFixedThreadPool(16));
    server.createContext(PREFIX + "/", this::graph);
    server.createContext("/webhooks/meta", this::webhook);
  }

  public EmbeddedInJdkHttpServer start() {
    layer.relay().start();
    server.start();
    return this;
  }

  public int port() {
    return server.getAddress().getPort();
  }

  private void graph(HttpExchange x) throws IOException {
    byte[] body = read(x);
    String contentType = Optional.ofNullable(x.getRequestHeaders().getFirst("Content-Type")).orElse("");
    ClientRequest request = new ClientRequest(
        x.getRequestMethod(),
        x.getRequestURI().getRawPath().substring(PREFIX.length()),
        Optional.ofNullable(x.getRequestURI().getRawQuery()).orElse(""),
        Optional.ofNullable(x.getRequestHeaders().getFirst("Authorization")),
        contentType.startsWith("application/x-www-form-urlencoded") ? Optional.of(body) : Optional.empty(),
        "http://" + x.getRequestHeaders().getFirst("Host"));
    Map<String, List<String>> headers = Map.copyOf(x.getRequestHeaders());
    GraphAnswer answer = layer.graphProxy().handle(request, headers, body);
    answer.headers().forEach((name, values) -> values.forEach(v -> x.getResponseHeaders().add(name, v)));
    send(x, answer.status(), answer.body());
  }

  private void webhook(HttpExchange x) throws IOException {
    IngestResult result = layer.relay().ingest(read(x), x.getRequestHeaders().getFirst("X-Hub-Signature-256"));
    if (result instanceof IngestResult.Refused refused) {
      GraphError e = refused.error();
      x.getResponseHeaders().add("Content-Type", "application/json");
      send(x, e.status(), e.toJson());
    } else {
      send(x, 200, new byte[0]);
    }
  }

  private static byte[] read(HttpExchange x) throws IOException {
    try (InputStream in = x.getRequestBody()) {
      return in.readNBytes(4 * 1024 * 1024);
    }
  }

  private static void send(HttpExchange x, int status, byte[] body) throws IOException {
    x.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    if (body.length > 0) {
      x.getResponseBody().write(body);
    }
    x.close();
  }

  @Override
  public void close() {
    server.stop(0);
    layer.relay().close();
  }

  /** Builds a layer whose keys are the host's, in memory: what a host wires at its own start. */
  public static MetaLayer layer(HostKeys keys, URI graphUrl, String appSecret) {
    byte[] masterKey = new byte[32];
    new SecureRandom().nextBytes(masterKey);
    return MetaLayer.builder()
        .keyStore(Stores.inMemoryKeys()) // numbers the relay routes to
        .relayStore(Stores.inMemoryRelay())
        .masterKey(masterKey)
        .tokenResolver(keys)
        .registeredObjects(keys::isHostObject)
        .graphUrl(graphUrl)
        .appSecret(appSecret)
        .egressGuard(EgressGuard.of(true, List.of())) // the demo subscriber is on loopback
        .build();
  }

  /** Runs the host on a fake Graph and shows one proxied send and one relayed call webhook. */
  public static void main(String[] args) throws Exception {
    String token = "EAAG-host-vault-token";
    WhatsAppNumber number = new WhatsAppNumber("+15550783881", "106540352242922", "102290129340398", "555", Instant.now());
    try (var meta = new OneNumberGraph(number.phoneNumberId(), number.wabaId(), token).start();
        var subscriber = new FakeChatwoot(number.phone(), number.phoneNumberId(),
            number.wabaId(), "subscriber-secret").start()) {
      HostKeys keys = new HostKeys();
      keys.add("acct-42", "host-key-of-account-42", number, token);
      MetaLayer layer = layer(keys, meta.baseUri(), "meta-app-secret");
      layer.keys().addNumber(number.phone(), number.phoneNumberId(), number.wabaId(), number.businessId(), token);
      try (EmbeddedInJdkHttpServer host = new EmbeddedInJdkHttpServer(layer, 0).start()) {
        String base = "http://127.0.0.1:" + host.port();
        subscriber.configure(URI.create(base + PREFIX), "host-key-of-account-42");
        var sent = subscriber.sendText("15551234567", "Hello from a JDK HttpServer");
        System.out.println("send through the embedded layer -> " + sent.status() + " " + sent.raw());
        layer.relay().subscriptions().create(number.phoneNumberId(), new Spec(
            "subscriber", subscriber.webhookUrl().toString(), List.of("calls"), "subscriber-secret", null, null));
        var webhooks = new MetaWebhooks(URI.create(base + "/webhooks/meta"),
            "meta-app-secret", number.wabaId(), number.digits(), number.phoneNumberId());
        int status = webhooks.post(webhooks.envelope(webhooks.inboundConnect("wacid.EMBED1", "15551234567", "Jane", "v=0\r\n",
            Instant.now().getEpochSecond())));
        var got = subscriber.nextWebhook(Duration.ofSeconds(10)).orElseThrow();
        System.out.println("Meta's webhook -> " + status + "; delivered to the subscriber: field=" + got.field()
            + " signature valid=" + got.signatureValid());
      }
    }
  }
}

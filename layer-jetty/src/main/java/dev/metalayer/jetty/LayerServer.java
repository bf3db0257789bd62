package dev.metalayer.jetty;

import dev.metalayer.MetaLayer;
import dev.metalayer.crypto.MasterKey;
import dev.metalayer.graph.GraphSettings;
import dev.metalayer.keys.FailedAttempts;
import dev.metalayer.relay.EgressGuard;
import dev.metalayer.store.JdbcKeyStore;
import dev.metalayer.store.JdbcRelayStore;
import java.net.URI;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.ProtocolHandlers;
import org.eclipse.jetty.client.ProxyAuthenticationProtocolHandler;
import org.eclipse.jetty.client.RedirectProtocolHandler;
import org.eclipse.jetty.client.UpgradeProtocolHandler;
import org.eclipse.jetty.client.WWWAuthenticationProtocolHandler;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.component.LifeCycle;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The standalone layer: the embedded store, a {@link MetaLayer} and a Jetty server with the layer's
 * routes, assembled from {@link Settings}. {@link Main} runs one; tests start one on port 0.
 *
 * <p>Routes: {@code /healthz}, {@code /readyz}, {@code /admin/v1/…} (when an admin token is set), the
 * Graph API under the Graph prefix, {@code /webhooks/meta} and {@code /v1/webhooks}.
 */
public final class LayerServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LayerServer.class);

  /** The shortest admin token accepted at start: a guessable token guards every key and Meta token. */
  static final int MIN_ADMIN_TOKEN_CHARS = 32;

  /** Failed admin tokens allowed per source address and window, then 429 until the window ends. */
  static final int ADMIN_FAILURES = 10;

  static final Duration ADMIN_FAILURE_WINDOW = Duration.ofMinutes(1);

  private final Settings settings;
  private final H2Store store;
  private final MetaLayer layer;
  private final Server server;
  private final ServerConnector connector;

  private LayerServer(Settings settings, H2Store store, MetaLayer layer, Server server, ServerConnector connector) {
    this.settings = settings;
    this.store = store;
    this.layer = layer;
    this.server = server;
    this.connector = connector;
  }

  /** Opens the store, builds the layer and starts serving. The caller must {@link #close()} it. */
  public static LayerServer start(Settings settings) throws Exception {
    Objects.requireNonNull(settings, "settings");
    LogSecrecy.install();
    Optional<String> adminToken = adminToken(settings);
    Path dataDir = Path.of(settings.string(Option.DATA_DIR));
    SecureRandom random = new SecureRandom();
    H2Store store = H2Store.open(dataDir);
    try {
      byte[] masterKey = MasterKey.load(settings.get(Option.MASTER_KEY), dataDir, random);
      EgressGuard guard =
          EgressGuard.of(settings.bool(Option.ALLOW_PRIVATE_TARGETS), settings.list(Option.ALLOWED_TARGET_CIDRS));
      JettyDeliveryTransport transport = new JettyDeliveryTransport(guard);
      QueuedThreadPool threads = new QueuedThreadPool(200, 8);
      threads.setName("layer");
      Server server = new Server(threads);
      HttpConfiguration http = new HttpConfiguration();
      http.setSendServerVersion(false);
      http.setSendXPoweredBy(false);
      // A Graph client whose base URL ends in "/" sends "//v13.0/…": allow empty segments. Encoded
      // separators and other ambiguities stay refused (and GraphPath refuses them again).
      http.setUriCompliance(UriCompliance.DEFAULT.with("LAYER", UriCompliance.Violation.AMBIGUOUS_EMPTY_SEGMENT));
      ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(http));
      connector.setHost(settings.string(Option.HOST));
      connector.setPort(settings.integer(Option.PORT));
      server.addConnector(connector);
      // with LAYER_GRAPH_URL=demo the layer is its own Graph (DemoGraph, on its port): bind first
      String graphUrl = settings.string(Option.GRAPH_URL);
      List<String> mediaHosts = settings.list(Option.MEDIA_HOSTS);
      boolean demo = DemoGraph.asked(graphUrl);
      if (demo) {
        connector.open();
        graphUrl = DemoGraph.loopbackBase(settings.string(Option.HOST), connector.getLocalPort());
        mediaHosts = List.of("http://" + URI.create(graphUrl).getHost());
      }
      MetaLayer.Builder builder =
          MetaLayer.builder()
              .keyStore(new JdbcKeyStore(store.database()))
              .masterKey(masterKey)
              .random(random)
              .graphUrl(URI.create(graphUrl))
              .graphPrefix(settings.string(Option.GRAPH_PREFIX))
              .mediaHosts(mediaHosts)
              .upstreamConnectTimeout(settings.duration(Option.UPSTREAM_CONNECT_TIMEOUT))
              .upstreamIdleTimeout(settings.duration(Option.UPSTREAM_IDLE_TIMEOUT))
              .upstreamTimeout(settings.duration(Option.UPSTREAM_TIMEOUT))
              .mediaTimeout(settings.duration(Option.MEDIA_TIMEOUT))
              .maxBodyBytes(settings.longValue(Option.MAX_BODY_BYTES))
              .maxJsonAnswerBytes(settings.integer(Option.MAX_JSON_ANSWER_BYTES))
              .mergeCallingSettings(settings.bool(Option.MERGE_CALLING_SETTINGS))
              .surfaceWidening(settings.surfaceWidening(Option.SURFACE_WIDENING))
              .mediaDownloadsPerKey(settings.integer(Option.MEDIA_DOWNLOADS_PER_KEY))
              .relayStore(new JdbcRelayStore(store.database()))
              .deliveryTransport(transport)
              .egressGuard(guard)
              .appSecrets(settings.list(Option.APP_SECRET))
              .allowUnsignedWebhooks(settings.bool(Option.ALLOW_UNSIGNED_WEBHOOKS))
              .callTtl(settings.duration(Option.CALL_TTL))
              .retention(settings.duration(Option.RETENTION, MetaLayer.MIN_RETENTION,
                  "Meta redelivers webhooks for up to 7 days, and a redelivery is recognised by the rows kept"))
              .concurrencyPerSubscription(settings.integer(Option.DELIVERY_CONCURRENCY))
              .concurrencyPerNumber(settings.integer(Option.DELIVERY_CONCURRENCY_PER_NUMBER))
              .maxSubscriptionsPerNumber(settings.integer(Option.MAX_SUBSCRIPTIONS_PER_NUMBER))
              // the embedded H2 file has one deliverer: resume a crash's in-flight deliveries at once
              .soleDeliverer(true);
      settings.get(Option.PUBLIC_URL).ifPresent(u -> builder.publicUrl(URI.create(u)));
      MetaLayer layer = builder.build();

      BodyReader bodies = new BodyReader(settings.longValue(Option.BODY_BUFFER_BYTES), settings.duration(Option.BODY_READ_TIMEOUT));
      Routes routes = new Routes();
      HealthHandler health = new HealthHandler(store.database()::ping, layer.relay()::deadWorkers, bodies);
      routes.add("/healthz", health).add("/readyz", health);
      routes.add("/admin/v1", new AdminHandler(layer, adminToken, store::size,
          new FailedAttempts(ADMIN_FAILURES, ADMIN_FAILURE_WINDOW, Clock.systemUTC()), bodies));
      HttpClient upstream = upstreamClient(layer.graphProxy().settings(), "layer-upstream");
      server.addBean(upstream);
      HttpClient media = upstreamClient(layer.graphProxy().settings(), "layer-media");
      server.addBean(media);
      routes.add(layer.graphProxy().settings().prefix(), new GraphProxyHandler(layer.graphProxy(), upstream, media, bodies));
      routes.add(WebhookIngestHandler.PATH, new WebhookIngestHandler(layer.relay(), settings.get(Option.VERIFY_TOKEN), bodies));
      routes.add(SubscriptionsHandler.PREFIX, new SubscriptionsHandler(layer, bodies));
      if (demo) {
        DemoGraph standIn = new DemoGraph(graphUrl, layer.keys()::findNumber, layer.keys()::numbersOfWaba, Clock.systemUTC());
        routes.add(DemoGraph.PATH, standIn).add(DemoGraph.SUBSCRIBER_PATH, standIn.subscriber());
        log.warn("Graph stand-in in use: nothing reaches Meta (Graph calls go to {}, a demo subscriber listens on {})",
            graphUrl, graphUrl.replace(DemoGraph.PATH, DemoGraph.SUBSCRIBER_PATH));
      }
      // the delivery client starts and stops with the server
      server.addBean(transport.client());

      server.setHandler(routes);
      server.setErrorHandler(new GraphErrorPages());
      server.setStopAtShutdown(false);
      server.start();
      health.watch(server.getScheduler());
      try {
        layer.relay().start();
      } catch (RuntimeException e) {
        server.stop();
        throw e;
      }
      store.startCompaction();
      LayerServer running = new LayerServer(settings, store, layer, server, connector);
      log.info("Meta Layer listening on {}:{}", settings.string(Option.HOST), running.port());
      return running;
    } catch (Exception | Error e) {
      store.close();
      throw e;
    }
  }

  /** @throws IllegalArgumentException for an admin token shorter than {@value #MIN_ADMIN_TOKEN_CHARS} characters */
  private static Optional<String> adminToken(Settings settings) {
    Optional<String> token = settings.get(Option.ADMIN_TOKEN).map(String::strip);
    if (token.isPresent() && token.get().length() < MIN_ADMIN_TOKEN_CHARS) {
      throw new IllegalArgumentException(Option.ADMIN_TOKEN.env() + " must be at least " + MIN_ADMIN_TOKEN_CHARS
          + " characters, got " + token.get().length() + ": generate one with 'openssl rand -base64 32', or unset it"
          + " to turn the admin API off");
    }
    return token;
  }

  private static final long POOLED_CONNECTION_IDLE_MS = 10_000;

  /**
   * A client of Graph, or of the media hosts (each has its own, with its own connections and threads,
   * so that downloads held open by slow readers never queue a Graph call): pooled keep-alive
   * connections, no redirects (the handler decides), no cookies, no authentication handling, no
   * {@code User-Agent} of its own, connect and idle timeouts from the settings (each exchange sets its
   * total timeout). Interim answers ({@code 100}, {@code 102}, {@code 103}) are read and skipped.
   */
  private static HttpClient upstreamClient(GraphSettings graph, String name) {
    QueuedThreadPool threads = new QueuedThreadPool(64, 2);
    threads.setName(name);
    HttpClient client = new HttpClient();
    client.setExecutor(threads);
    client.setFollowRedirects(false);
    client.setUserAgentField(null);
    client.setHttpCookieStore(new HttpCookieStore.Empty());
    client.setConnectTimeout(graph.connectTimeout().toMillis());
    // The client-wide idle timeout is how long a pooled connection may rest unused; each exchange sets
    // its own (the configured upstream idle timeout). Resting connections are dropped well before the
    // keep-alive timeouts servers commonly use, so that a POST is never written onto a connection the
    // server is closing at that moment: such a POST fails, and a POST is never retried.
    client.setIdleTimeout(Math.min(graph.idleTimeout().toMillis(), POOLED_CONNECTION_IDLE_MS));
    // A 401 from Meta (which Chatwoot counts for reauthorisation) must pass through as it is, not be
    // taken for an HTTP authentication challenge; redirects are the handler's to follow or not;
    // upgrades are never asked for. HttpClient installs its default handlers when it starts: remove
    // those once it has, and keep the ones for interim answers (100, 102, 103): without them an
    // interim answer would be taken for the final one and the exchange would never end.
    client.addEventListener(
        new LifeCycle.Listener() {
          @Override
          public void lifeCycleStarted(LifeCycle event) {
            ProtocolHandlers handlers = client.getProtocolHandlers();
            for (String handler : List.of(WWWAuthenticationProtocolHandler.NAME, ProxyAuthenticationProtocolHandler.NAME,
                RedirectProtocolHandler.NAME, new UpgradeProtocolHandler().getName())) {
              handlers.remove(handler);
            }
          }
        });
    return client;
  }

  /** The port actually bound (useful with port 0). */
  public int port() {
    return connector.getLocalPort();
  }

  /** {@code http://127.0.0.1:<port>}: where a local client reaches this server. */
  public URI localUri() {
    return URI.create("http://127.0.0.1:" + port());
  }

  public MetaLayer layer() {
    return layer;
  }

  public Settings settings() {
    return settings;
  }

  /** The embedded store this server opened (for tests in this package). */
  H2Store store() {
    return store;
  }

  /**
   * Stops the relay's workers (in-flight attempts finish, with the HTTP client still up), stops
   * serving, then closes the store. Idempotent.
   */
  @Override
  public void close() throws Exception {
    try {
      layer.relay().close();
      server.stop();
    } finally {
      store.close();
    }
  }
}

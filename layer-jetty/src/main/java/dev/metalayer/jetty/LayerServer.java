package dev.metalayer.jetty;

import dev.metalayer.MetaLayer;
import dev.metalayer.keys.KeyStore;
import dev.metalayer.keys.KeyService.WrongMasterKeyException;
import dev.metalayer.graph.GraphError;
import dev.metalayer.graph.GraphSettings;
import dev.metalayer.keys.FailedAttempts;
import dev.metalayer.keys.OperatorSessions;
import dev.metalayer.relay.EgressGuard;
import dev.metalayer.store.Stores;
import java.io.IOException;
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
 * <p>Routes: {@code /healthz}, {@code /readyz}, {@code /admin/v1/…} (a 403 naming LAYER_ADMIN_TOKEN
 * when no admin token is set), the Graph API under the Graph prefix, {@code /webhooks/meta} and
 * {@code /v1/webhooks}, {@code /v1/calls}, the operator's console under {@code /console}. The options are declared in {@link Option}; those of the core reach the builder
 * through {@link Settings#applyTo}.
 */
public final class LayerServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LayerServer.class);

  /** The shortest admin token accepted at start: a guessable token guards every key and Meta token. */
  static final int MIN_ADMIN_TOKEN_CHARS = 32;

  /** Failed admin tokens allowed per source address and window, then 429 until the window ends. */
  static final int ADMIN_FAILURES = 10;

  static final Duration ADMIN_FAILURE_WINDOW = Duration.ofMinutes(1);

  private final Settings settings;
  private final DataDir dataDir;
  private final LayerStore store;
  private final MetaLayer layer;
  private final Server server;
  private final ServerConnector connector;

  private LayerServer(Settings settings, DataDir dataDir, LayerStore store, MetaLayer layer, Server server,
      ServerConnector connector) {
    this.settings = settings;
    this.dataDir = dataDir;
    this.store = store;
    this.layer = layer;
    this.server = server;
    this.connector = connector;
  }

  /**
   * Locks the data directory, opens the store, builds the layer and starts serving. The caller must
   * {@link #close()} it.
   *
   * @throws ConfigError for a mistake in the settings or the environment (a value refused, the port in
   *     use, the data directory unusable or held by another layer): one line for the operator
   */
  public static LayerServer start(Settings settings) throws Exception {
    Objects.requireNonNull(settings, "settings");
    LogSecrecy.install();
    // every value checked before anything is opened: a refused one is told alone
    MetaLayer.Builder builder = settings.applyTo(MetaLayer.builder());
    EgressGuard guard = settings.check(Option.ALLOWED_TARGET_CIDRS,
        () -> EgressGuard.of(settings.bool(Option.ALLOW_PRIVATE_TARGETS), settings.list(Option.ALLOWED_TARGET_CIDRS)));
    DataDir dataDir = DataDir.lock(settings, "stop the other layer first, or give this one its own "
        + settings.writtenAs(Option.DATA_DIR));
    Server server = server();
    ServerConnector connector = connector(server, settings);
    LayerStore store;
    try {
      // the port first: a port in use is told before anything else is opened or logged
      try {
        connector.open();
      } catch (IOException e) {
        throw bindFailure(settings, e);
      }
      store = LayerStore.open(settings, dataDir.path(), "stop the other layer first, or give this one its own "
          + settings.writtenAs(Option.DATA_DIR));
    } catch (RuntimeException | Error e) {
      try {
        connector.close();
      } finally {
        dataDir.close();
      }
      throw e;
    }
    try {
      JettyDeliveryTransport transport = new JettyDeliveryTransport(guard);
      // with LAYER_GRAPH_URL=demo the layer is its own Graph (DemoGraph, on the port bound above)
      Optional<String> demoGraph = DemoGraph.asked(settings.string(Option.GRAPH_URL))
          ? Optional.of(DemoGraph.loopbackBase(settings.string(Option.HOST), connector.getLocalPort()))
          : Optional.empty();
      MetaLayer layer = layer(settings, builder, dataDir, store, guard, transport, demoGraph);
      HealthHandler health = routes(settings, server, store, layer, demoGraph);
      // the delivery client starts and stops with the server
      server.addBean(transport.client());

      server.start();
      health.watch(server.getScheduler());
      try {
        layer.start();
      } catch (RuntimeException e) {
        server.stop();
        throw e;
      }
      store.startMaintenance();
      LayerServer running = new LayerServer(settings, dataDir, store, layer, server, connector);
      log.info("Meta Layer listening on {}:{}", settings.string(Option.HOST), running.port());
      running.logEndpoints();
      return running;
    } catch (Exception | Error e) {
      try {
        server.stop();
      } catch (Exception stopping) {
        e.addSuppressed(stopping);
      } finally {
        try {
          connector.close();
          store.close();
        } finally {
          dataDir.close();
        }
      }
      throw e;
    }
  }

  /** The server: its threads, and HTTP without version headers. */
  private static Server server() {
    QueuedThreadPool threads = new QueuedThreadPool(200, 8);
    threads.setName("layer");
    Server server = new Server(threads);
    server.setErrorHandler(new GraphErrorPages());
    server.setStopAtShutdown(false);
    return server;
  }

  /** The listener on LAYER_HOST:LAYER_PORT, not yet bound. */
  private static ServerConnector connector(Server server, Settings settings) {
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
    return connector;
  }

  /**
   * The layer on the embedded store: the declared options (already on {@code builder}), the master
   * key, and the stand-in's URL when {@code demoGraph} is given.
   */
  private static MetaLayer layer(Settings settings, MetaLayer.Builder builder, DataDir dataDir, LayerStore store,
      EgressGuard guard, JettyDeliveryTransport transport, Optional<String> demoGraph) {
    SecureRandom random = new SecureRandom();
    demoGraph.ifPresent(url -> builder.graphUrl(URI.create(url)).mediaHosts(List.of("http://" + URI.create(url).getHost())));
    KeyStore keyStore = Stores.keys(store.database());
    builder
        .keyStore(keyStore)
        .masterKey(settings.masterKey(dataDir.path(), store.where(), random, MasterKey.sealed(keyStore)))
        .random(random)
        .relayStore(Stores.relay(store.database()))
        .deliveryTransport(transport)
        .egressGuard(guard)
        // the embedded H2 file has one deliverer, which resumes a crash's in-flight deliveries at once;
        // instances on PostgreSQL share the work, and take over another's only when its lease expires
        .soleDeliverer(store.soleDeliverer());
    try {
      return builder.build();
    } catch (WrongMasterKeyException e) {
      throw settings.wrongMasterKey(dataDir.path(), store.where(), e);
    }
  }

  /** Every path the layer serves, on {@code server}. @return the health handler, watched once started */
  private static HealthHandler routes(Settings settings, Server server, LayerStore store, MetaLayer layer,
      Optional<String> demoGraph) {
    Optional<String> adminToken = settings.value(Option.ADMIN_TOKEN);
    BodyReader bodies = new BodyReader(settings.longValue(Option.BODY_BUFFER_BYTES), settings.duration(Option.BODY_READ_TIMEOUT));
    Routes routes = new Routes();
    HealthHandler health = new HealthHandler(store.database()::ping, layer.relay()::deadWorkers, bodies);
    routes.add("/healthz", health).add("/readyz", health);
    AdminHandler admin = new AdminHandler(layer, adminToken, store::size,
        new FailedAttempts(ADMIN_FAILURES, ADMIN_FAILURE_WINDOW, Clock.systemUTC()), bodies);
    routes.add(ADMIN_PREFIX, adminToken.isPresent()
        ? admin
        : Routes.answering(() -> GraphError.of(403, 10, GraphError.LAYER, ADMIN_DISABLED)));
    // the operator's console: the admin API behind a browser session (only with an admin token)
    routes.add(ConsoleHandler.PREFIX, adminToken.isPresent()
        ? new ConsoleHandler(admin, new OperatorSessions(Clock.systemUTC(), new SecureRandom()), bodies)
        : Routes.answering(() -> GraphError.of(403, 10, GraphError.LAYER, ADMIN_DISABLED)));
    HttpClient upstream = upstreamClient(layer.graphProxy().settings(), "layer-upstream");
    server.addBean(upstream);
    HttpClient media = upstreamClient(layer.graphProxy().settings(), "layer-media");
    server.addBean(media);
    routes.add(layer.graphProxy().settings().prefix(), new GraphProxyHandler(layer.graphProxy(), upstream, media, bodies));
    routes.add(WebhookIngestHandler.PATH, new WebhookIngestHandler(layer.relay(), settings.get(Option.VERIFY_TOKEN), bodies));
    routes.add(SubscriptionsHandler.PREFIX, new SubscriptionsHandler(layer, bodies, admin));
    routes.add(CallsHandler.PREFIX, new CallsHandler(layer, admin));
    demoGraph.ifPresent(url -> {
      DemoGraph standIn = new DemoGraph(url, layer.keys()::findNumber, layer.keys()::numbersOfWaba, Clock.systemUTC());
      routes.add(DemoGraph.PATH, standIn).add(DemoGraph.SUBSCRIBER_PATH, standIn.subscriber());
      log.warn("Graph stand-in in use: nothing reaches Meta (Graph calls go to {}, a demo subscriber listens on {})",
          url, url.replace(DemoGraph.PATH, DemoGraph.SUBSCRIBER_PATH));
    });
    server.setHandler(routes);
    return health;
  }

  /** The answer of {@code /admin/v1/…} when no admin token is set. */
  static final String ADMIN_DISABLED = "The admin API is disabled: set LAYER_ADMIN_TOKEN (at least "
      + MIN_ADMIN_TOKEN_CHARS + " characters) and restart the layer to enable it.";

  static final String ADMIN_PREFIX = "/admin/v1";

  /** A listening failure at start: the port taken, or an address not of this host. */
  private static ConfigError bindFailure(Settings settings, IOException e) {
    String where = settings.string(Option.HOST) + ":" + settings.integer(Option.PORT);
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof java.nio.channels.UnresolvedAddressException) {
        return settings.error(Option.HOST, "cannot listen on " + where + " ('" + settings.string(Option.HOST)
                + "' is not an address and does not resolve)",
            "give " + settings.writtenAs(Option.HOST) + " an address of this host, e.g. 127.0.0.1 or 0.0.0.0", e);
      }
      if (c instanceof java.net.BindException bind) {
        String reason = String.valueOf(bind.getMessage());
        if (reason.contains("in use")) {
          return settings.error(Option.PORT, "port " + settings.integer(Option.PORT) + " on "
              + settings.string(Option.HOST) + " is already in use",
              "stop the process that listens there, or choose another " + settings.writtenAs(Option.PORT), e);
        }
        return settings.error(Option.HOST, "cannot listen on " + where + " (" + reason + ")",
            "give " + settings.writtenAs(Option.HOST) + " an address of this host, e.g. 127.0.0.1 or 0.0.0.0", e);
      }
    }
    return settings.error(Option.PORT, "cannot listen on " + where + " (" + e.getMessage() + ")",
        "check " + settings.writtenAs(Option.HOST) + " and " + settings.writtenAs(Option.PORT), e);
  }

  /** One INFO line each: where the admin API, the Graph API and the webhook endpoint are, and whether each is on. */
  private void logEndpoints() {
    String base = settings.get(Option.PUBLIC_URL).map(u -> u.endsWith("/") ? u.substring(0, u.length() - 1) : u)
        .orElse("http://" + settings.string(Option.HOST) + ":" + port());
    if (settings.get(Option.ADMIN_TOKEN).isPresent()) {
      log.info("Admin API at {}{}: enabled (bearer LAYER_ADMIN_TOKEN)", base, ADMIN_PREFIX);
    } else {
      log.info("Admin API at {}{}: disabled (answers 403); set LAYER_ADMIN_TOKEN to enable it", base, ADMIN_PREFIX);
    }
    log.info("Graph API at {}{}: enabled, forwarding to {}{}", base, layer.graphProxy().settings().prefix(),
        settings.string(Option.GRAPH_URL), settings.get(Option.PUBLIC_URL).isPresent() ? ""
            : "; media and paging URLs in answers are relative until LAYER_PUBLIC_URL is set");
    int secrets = settings.list(Option.APP_SECRET).size();
    boolean unsigned = settings.bool(Option.ALLOW_UNSIGNED_WEBHOOKS);
    String handshake = settings.get(Option.VERIFY_TOKEN).isPresent()
        ? "Meta's handshake answered"
        : "Meta's handshake refused until META_VERIFY_TOKEN is set";
    if (secrets > 0) {
      log.info("Meta webhooks at {}{}: enabled, signatures checked with {} app secret(s){}; {}", base,
          WebhookIngestHandler.PATH, secrets, unsigned ? ", unsigned ones accepted" : "", handshake);
    } else if (unsigned) {
      log.info("Meta webhooks at {}{}: enabled WITHOUT signature checks (LAYER_ALLOW_UNSIGNED_WEBHOOKS); {}", base,
          WebhookIngestHandler.PATH, handshake);
    } else {
      log.info("Meta webhooks at {}{}: disabled (every webhook refused); set META_APP_SECRET to enable them; {}", base,
          WebhookIngestHandler.PATH, handshake);
    }
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
  LayerStore store() {
    return store;
  }

  /**
   * Stops the layer's background work (the relay's workers: in-flight attempts finish, with the HTTP
   * client still up; the key service writes its last-use times), stops serving, then closes the store.
   * Idempotent.
   */
  @Override
  public void close() throws Exception {
    try {
      layer.close();
      server.stop();
    } finally {
      try {
        store.close();
      } finally {
        dataDir.close();
      }
    }
  }
}

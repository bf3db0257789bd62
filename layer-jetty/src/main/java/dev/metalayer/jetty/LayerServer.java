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
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.component.LifeCycle;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The standalone layer: the embedded store, a {@link MetaLayer} and a Jetty server with the layer's
 * routes, assembled from {@link Settings}. {@link Main} runs one; tests start one on port 0.
 *
 * <p>Routes: {@code /healthz}, {@code /readyz}, {@code /openapi.json}, {@code /admin/v1/…} (a 403 naming LAYER_ADMIN_TOKEN
 * when no admin token is set), the Graph API under the Graph prefix, {@code /webhooks/meta} and
 * {@code /v1/webhooks}, {@code /v1/calls}, {@code /console} (the operator's console), {@code /metrics} (or on {@code LAYER_METRICS_PORT}, {@link MetricsEndpoint}). The options are declared in {@link Option}; those of the core reach the builder
 * through {@link Settings#applyTo}.
 */
public final class LayerServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LayerServer.class);

  /** The shortest admin token accepted at start: a guessable token guards every key and Meta token. */
  static final int MIN_ADMIN_TOKEN_CHARS = 32;

  /** The shortest metrics token accepted at start. */
  static final int MIN_METRICS_TOKEN_CHARS = 16;

  /** Failed admin tokens allowed per source address and window, then 429 until the window ends. */
  static final int ADMIN_FAILURES = 10;

  static final Duration ADMIN_FAILURE_WINDOW = Duration.ofMinutes(1);

  private final Settings settings;
  private final DataDir dataDir;
  private final LayerStore store;
  private final MetaLayer layer;
  private final Server server;
  private final Listeners listeners;
  private final GracefulHandler requests;
  private final JettyDeliveryTransport transport;
  private final MetricsEndpoint metrics;
  private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

  private LayerServer(Settings settings, DataDir dataDir, LayerStore store, MetaLayer layer, Server server,
      Listeners listeners, GracefulHandler requests, JettyDeliveryTransport transport, MetricsEndpoint metrics) {
    this.metrics = metrics;
    this.settings = settings;
    this.dataDir = dataDir;
    this.store = store;
    this.layer = layer;
    this.server = server;
    this.listeners = listeners;
    this.requests = requests;
    this.transport = transport;
  }

  /**
   * The server's listeners, not yet bound: plain HTTP on LAYER_PORT (unless LAYER_PLAIN_HTTP is false) and
   * HTTPS on LAYER_TLS_PORT (when set), both built by {@link #listener} on one {@link #httpConfiguration}.
   */
  private record Listeners(Optional<ServerConnector> plain, Optional<ServerConnector> tls, Optional<TlsListener> certificate) {
    List<ServerConnector> all() {
      List<ServerConnector> all = new java.util.ArrayList<>();
      plain.ifPresent(all::add);
      tls.ifPresent(all::add);
      return all;
    }

    /** Binds each; a port in use or an address not of this host is one line naming its option. */
    void open(Settings settings) {
      if (plain.isPresent()) {
        open(settings, plain.get(), Option.PORT);
      }
      if (tls.isPresent()) {
        open(settings, tls.get(), Option.TLS_PORT);
      }
    }

    private static void open(Settings settings, ServerConnector connector, Option port) {
      try {
        connector.open();
      } catch (IOException e) {
        throw bindFailure(settings, port, e);
      }
    }

    void close() {
      for (ServerConnector c : all()) {
        c.close();
      }
      certificate.ifPresent(TlsListener::close);
    }
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
    Listeners listeners;
    MetricsEndpoint metrics;
    LayerStore store;
    try {
      listeners = listeners(server, settings);
      metrics = MetricsEndpoint.of(settings, server);
    } catch (RuntimeException | Error e) {
      dataDir.close();
      throw e;
    }
    metrics.prometheus().ifPresent(builder::meterRegistry);
    try {
      // the ports first: a port in use is told before anything else is opened or logged
      listeners.open(settings);
      metrics.open();
      store = LayerStore.open(settings, dataDir.path(), "stop the other layer first, or give this one its own "
          + settings.writtenAs(Option.DATA_DIR));
    } catch (RuntimeException | Error e) {
      try {
        listeners.close();
        metrics.close();
      } finally {
        dataDir.close();
      }
      throw e;
    }
    JettyDeliveryTransport transport = new JettyDeliveryTransport(guard);
    try {
      // with LAYER_GRAPH_URL=demo the layer is its own Graph (DemoGraph, on the plain port bound above)
      Optional<String> demoGraph = DemoGraph.asked(settings.string(Option.GRAPH_URL))
          ? Optional.of(DemoGraph.loopbackBase(settings.string(Option.HOST), listeners.plain().orElseThrow(() ->
              settings.error(Option.GRAPH_URL, "the Graph stand-in (demo) needs the plain HTTP listener, which is off",
                  "leave " + settings.writtenAs(Option.PLAIN_HTTP) + " true for a demo", null)).getLocalPort()))
          : Optional.empty();
      MetaLayer layer = layer(settings, builder, dataDir, store, guard, transport, demoGraph);
      GracefulHandler requests = routes(settings, server, store, layer, demoGraph, metrics);
      // the delivery client outlives the server at a stop: the relay's last attempts use it (see close())
      transport.client().start();

      server.start();
      try {
        layer.start();
      } catch (RuntimeException e) {
        server.stop();
        throw e;
      }
      store.startMaintenance();
      listeners.certificate().ifPresent(TlsListener::start);
      LayerServer running = new LayerServer(settings, dataDir, store, layer, server, listeners, requests, transport,
          metrics);
      log.info("Meta Layer listening on {}", running.listening());
      running.logEndpoints();
      return running;
    } catch (Exception | Error e) {
      try {
        server.stop();
        transport.client().stop();
      } catch (Exception stopping) {
        e.addSuppressed(stopping);
      } finally {
        try {
          listeners.close();
          metrics.close();
          store.close();
        } finally {
          dataDir.close();
        }
      }
      throw e;
    }
  }

  /**
   * Where the layer listens, for the start line: {@code 127.0.0.1:8080 (HTTP), 127.0.0.1:8443 (HTTPS: HTTP/2,
   * HTTP/1.1), 127.0.0.1:9090 (/metrics)}; the metrics port is the only way to learn the one port 0 picked.
   */
  private String listening() {
    List<String> where = new java.util.ArrayList<>();
    String host = settings.string(Option.HOST);
    listeners.plain().ifPresent(c -> where.add(host + ":" + c.getLocalPort() + " (HTTP)"));
    listeners.tls().ifPresent(c -> where.add(host + ":" + c.getLocalPort() + " (HTTPS: HTTP/2, HTTP/1.1)"));
    metrics.port().ifPresent(p -> where.add(host + ":" + p + " (/metrics)"));
    return String.join(", ", where);
  }

  /** The server: its threads, and HTTP without version headers. */
  private static Server server() {
    QueuedThreadPool threads = new QueuedThreadPool(200, 8);
    threads.setName("layer");
    Server server = new Server(threads);
    server.setErrorHandler(new GraphErrorPages());
    server.setStopAtShutdown(false);
    // the graceful part of a stop is close()'s own (drain): Server.stop() then closes what is left at once
    server.setStopTimeout(0);
    return server;
  }

  /**
   * The listeners the settings ask for, not yet bound: plain HTTP on LAYER_PORT, HTTPS on LAYER_TLS_PORT.
   * Both are made by {@link #listener} on {@link #httpConfiguration}: a limit set there holds on both.
   *
   * @throws ConfigError for a TLS setting refused, or a certificate that does not load
   */
  private static Listeners listeners(Server server, Settings settings) {
    Optional<TlsListener> certificate = TlsListener.configure(settings);
    HttpConfiguration http = httpConfiguration();
    Optional<ServerConnector> plain = settings.bool(Option.PLAIN_HTTP)
        ? Optional.of(listener(server, settings, settings.integer(Option.PORT), new HttpConnectionFactory(http)))
        : Optional.empty();
    Optional<ServerConnector> tls = certificate.map(c -> listener(server, settings, settings.integer(Option.TLS_PORT),
        c.factories(http)));
    return new Listeners(plain, tls, certificate);
  }

  /** The HTTP settings of every listener (the HTTPS one takes a copy): no version headers, the URI rules. */
  private static HttpConfiguration httpConfiguration() {
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setSendXPoweredBy(false);
    // A Graph client whose base URL ends in "/" sends "//v13.0/…": allow empty segments. Encoded
    // separators and other ambiguities stay refused (and GraphPath refuses them again).
    http.setUriCompliance(UriCompliance.DEFAULT.with("LAYER", UriCompliance.Violation.AMBIGUOUS_EMPTY_SEGMENT));
    return http;
  }

  /** A listener on LAYER_HOST:{@code port} speaking {@code protocols}, not yet bound: what every listener shares. */
  private static ServerConnector listener(Server server, Settings settings, int port,
      org.eclipse.jetty.server.ConnectionFactory... protocols) {
    ServerConnector connector = new ServerConnector(server, protocols);
    connector.setHost(settings.string(Option.HOST));
    connector.setPort(port);
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
    // the stand-in answers none of the doctor's reads: no background doctor warning about it every 45 minutes
    demoGraph.ifPresent(url -> builder.graphUrl(URI.create(url)).mediaHosts(List.of("http://" + URI.create(url).getHost()))
        .doctorInterval(java.time.Duration.ZERO));
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

  /**
   * Every path the layer serves, on {@code server} ({@code /metrics} added by {@code metrics}), behind the
   * handler that counts the requests in flight for a graceful stop. @return that handler
   */
  private static GracefulHandler routes(Settings settings, Server server, LayerStore store, MetaLayer layer,
      Optional<String> demoGraph, MetricsEndpoint metrics) {
    Optional<String> adminToken = settings.value(Option.ADMIN_TOKEN);
    BodyReader bodies = new BodyReader(settings.longValue(Option.BODY_BUFFER_BYTES), settings.duration(Option.BODY_READ_TIMEOUT));
    Routes routes = new Routes();
    HealthHandler health = new HealthHandler(store.database()::ping, layer.relay()::deadWorkers, bodies);
    routes.add("/healthz", health).add("/readyz", health);
    routes.add(OPENAPI_PATH, apiDocument());
    AdminHandler admin = new AdminHandler(layer, adminToken, store::size,
        new FailedAttempts(ADMIN_FAILURES, ADMIN_FAILURE_WINDOW, Clock.systemUTC()), bodies);
    routes.add(ADMIN_PREFIX, adminToken.isPresent()
        ? admin
        : Routes.answering(() -> GraphError.of(403, 10, GraphError.LAYER, ADMIN_DISABLED)));
    // the operator's console: the admin API behind a browser session (only with an admin token)
    routes.add(ConsoleHandler.PREFIX, adminToken.isPresent()
        ? new ConsoleHandler(admin, new OperatorSessions(Clock.systemUTC(), new SecureRandom()), bodies,
            layer.graphProxy().settings().publicUrl())
        : Routes.answering(() -> GraphError.of(403, 10, GraphError.LAYER, ADMIN_DISABLED)));
    HttpClient upstream = upstreamClient(layer.graphProxy().settings(), "layer-upstream");
    server.addBean(upstream);
    HttpClient media = upstreamClient(layer.graphProxy().settings(), "layer-media");
    server.addBean(media);
    routes.add(layer.graphProxy().settings().prefix(), new ProxyMetering(
        new GraphProxyHandler(layer.graphProxy(), upstream, media, bodies), layer.graphProxy(), layer.metrics()));
    routes.add(WebhookIngestHandler.PATH, new WebhookIngestHandler(layer.relay(), settings.get(Option.VERIFY_TOKEN), bodies));
    routes.add(SubscriptionsHandler.PREFIX, new SubscriptionsHandler(layer, bodies, admin));
    routes.add(CallsHandler.PREFIX, new CallsHandler(layer, admin));
    demoGraph.ifPresent(url -> {
      DemoGraph standIn = new DemoGraph(url, layer.keys()::findNumber, layer.keys()::numbersOfWaba, Clock.systemUTC());
      routes.add(DemoGraph.PATH, standIn).add(DemoGraph.SUBSCRIBER_PATH, standIn.subscriber());
      log.warn("Graph stand-in in use: nothing reaches Meta (Graph calls go to {}, a demo subscriber listens on {})",
          url, url.replace(DemoGraph.PATH, DemoGraph.SUBSCRIBER_PATH));
    });
    GracefulHandler requests = new Draining(metrics.serve(routes, server, store, layer.metrics()));
    server.setHandler(requests);
    // readiness watches the server's scheduler once it runs
    server.addEventListener(new LifeCycle.Listener() {
      @Override
      public void lifeCycleStarted(LifeCycle event) {
        health.watch(server.getScheduler());
      }
    });
    return requests;
  }

  /**
   * Counts the requests in flight; once the stop began, one more (on a connection still open) is
   * answered a Graph-shaped 503 and its connection closed: Meta and Graph clients retry it.
   */
  private static final class Draining extends GracefulHandler {
    Draining(org.eclipse.jetty.server.Handler handler) {
      super(handler);
    }

    @Override
    protected void handleShutdownRejection(org.eclipse.jetty.server.Request request,
        org.eclipse.jetty.server.Response response, org.eclipse.jetty.util.Callback callback) {
      response.getHeaders().put(org.eclipse.jetty.http.HttpHeader.CONNECTION, "close");
      response.getHeaders().put(org.eclipse.jetty.http.HttpHeader.RETRY_AFTER, "1");
      HttpIo.writeError(response, callback, GraphError.unavailable("The layer is stopping; retry the request."));
    }
  }

  /** Where the layer serves the document of its own APIs ({@code docs/openapi.json}, copied into the jar by the build). */
  static final String OPENAPI_PATH = "/openapi.json";

  /** {@value #OPENAPI_PATH}: the OpenAPI document of {@code /admin/v1}, {@code /v1/webhooks} and {@code /v1/calls}. */
  private static org.eclipse.jetty.server.Request.Handler apiDocument() {
    byte[] document;
    try (java.io.InputStream in = LayerServer.class.getResourceAsStream("openapi.json")) {
      document = in == null ? null : in.readAllBytes();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return (request, response, callback) -> {
      if (!request.getHttpURI().getPath().equals(OPENAPI_PATH) || document == null) {
        HttpIo.writeError(response, callback, GraphError.notFound("Unknown path."));
      } else if (!request.getMethod().equals("GET") && !request.getMethod().equals("HEAD")) {
        HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET."));
      } else {
        HttpIo.writeJson(response, callback, 200, document);
      }
      return true;
    };
  }

  /** The answer of {@code /admin/v1/…} when no admin token is set. */
  static final String ADMIN_DISABLED = "The admin API is disabled: set LAYER_ADMIN_TOKEN (at least "
      + MIN_ADMIN_TOKEN_CHARS + " characters) and restart the layer to enable it.";

  static final String ADMIN_PREFIX = "/admin/v1";

  /** A listening failure at start: the port ({@code port}: LAYER_PORT or LAYER_TLS_PORT) taken, or an address not of this host. */
  private static ConfigError bindFailure(Settings settings, Option port, IOException e) {
    String where = settings.string(Option.HOST) + ":" + settings.integer(port);
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof java.nio.channels.UnresolvedAddressException) {
        return settings.error(Option.HOST, "cannot listen on " + where + " ('" + settings.string(Option.HOST)
                + "' is not an address and does not resolve)",
            "give " + settings.writtenAs(Option.HOST) + " an address of this host, e.g. 127.0.0.1 or 0.0.0.0", e);
      }
      if (c instanceof java.net.BindException bind) {
        String reason = String.valueOf(bind.getMessage());
        if (reason.contains("in use")) {
          return settings.error(port, "port " + settings.integer(port) + " on "
              + settings.string(Option.HOST) + " is already in use",
              "stop the process that listens there, or choose another " + settings.writtenAs(port), e);
        }
        return settings.error(Option.HOST, "cannot listen on " + where + " (" + reason + ")",
            "give " + settings.writtenAs(Option.HOST) + " an address of this host, e.g. 127.0.0.1 or 0.0.0.0", e);
      }
    }
    return settings.error(port, "cannot listen on " + where + " (" + e.getMessage() + ")",
        "check " + settings.writtenAs(Option.HOST) + " and " + settings.writtenAs(port), e);
  }

  /** One INFO line each: where the admin API, the Graph API and the webhook endpoint are, and whether each is on. */
  private void logEndpoints() {
    String base = settings.get(Option.PUBLIC_URL).map(u -> u.endsWith("/") ? u.substring(0, u.length() - 1) : u)
        .orElse((listeners.plain().isPresent() ? "http://" : "https://") + settings.string(Option.HOST) + ":" + port());
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
    if (settings.bool(Option.METRICS)) {
      String where = metrics.port().map(p -> "http://" + settings.string(Option.HOST) + ":" + p).orElse(base)
          + MetricsHandler.PATH;
      boolean token = settings.get(Option.METRICS_TOKEN).isPresent();
      if (metricsOpenBeyondThisMachine(token, settings.string(Option.HOST))) {
        log.warn("Metrics at {}: open to whoever reaches {}; set LAYER_METRICS_TOKEN, or serve them on"
            + " LAYER_HOST 127.0.0.1 behind a proxy", where, settings.string(Option.HOST));
      } else {
        log.info("Metrics at {}: enabled ({})", where, token ? "bearer LAYER_METRICS_TOKEN" : "open to this machine");
      }
    }
  }

  /**
   * Whether {@code /metrics} (on by default) answers anyone who reaches the layer's address: no
   * {@code LAYER_METRICS_TOKEN}, and {@code LAYER_HOST} (which the metrics port binds too) not a loopback
   * address. The default (0.0.0.0, no token) is: traffic volumes, queue depths and the JVM for anyone.
   */
  static boolean metricsOpenBeyondThisMachine(boolean token, String host) {
    if (token) {
      return false;
    }
    try {
      return !java.net.InetAddress.getByName(host).isLoopbackAddress();
    } catch (java.io.IOException e) {
      return true;
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

  /** The port {@code /metrics} is served on when {@code LAYER_METRICS_PORT} is set (useful with port 0). */
  public Optional<Integer> metricsPort() {
    return metrics.port();
  }

  /** The port actually bound (useful with port 0): plain HTTP's, or HTTPS's when plain HTTP is off. */
  public int port() {
    return listeners.plain().or(listeners::tls).orElseThrow().getLocalPort();
  }

  /** The HTTPS port actually bound; empty when LAYER_TLS_PORT is unset. */
  public java.util.OptionalInt tlsPort() {
    return listeners.tls().map(c -> java.util.OptionalInt.of(c.getLocalPort())).orElse(java.util.OptionalInt.empty());
  }

  /** {@code http://127.0.0.1:<port>} ({@code https} when plain HTTP is off): where a local client reaches this server. */
  public URI localUri() {
    return URI.create((listeners.plain().isPresent() ? "http" : "https") + "://127.0.0.1:" + port());
  }

  /** The HTTPS listener's certificate source (for tests in this package); empty without one. */
  Optional<TlsListener> certificate() {
    return listeners.certificate();
  }

  public MetaLayer layer() {
    return layer;
  }

  public Settings settings() {
    return settings;
  }

  /** The embedded store this server opened (for tests in this package). */
  /** The path prefixes the server routes ({@link Routes}), for tests. */
  List<String> routePrefixes() {
    return server.getDescendant(Routes.class).prefixes();
  }

  LayerStore store() {
    return store;
  }

  /**
   * Stops gracefully, within LAYER_SHUTDOWN_GRACE from the call: stops accepting connections on every
   * listener, lets the requests in flight finish (until the grace ends; later ones on an open connection
   * get a 503), stops serving, then stops the layer's background work (the relay stops claiming, its
   * attempts in flight finish until the grace ends, with the delivery client still up, and those still
   * running are released; the key service writes its last-use times), and closes the store. One INFO line
   * for the requests, one for the attempts. Idempotent.
   */
  @Override
  public void close() throws Exception {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    long deadline = System.nanoTime() + settings.duration(Option.SHUTDOWN_GRACE).toNanos();
    try {
      try {
        drain(deadline);
      } finally {
        try {
          layer.close(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
        } finally {
          transport.client().stop();
          listeners.certificate().ifPresent(TlsListener::close);
        }
      }
    } finally {
      try {
        metrics.close();
        store.close();
      } finally {
        dataDir.close();
      }
    }
  }

  /**
   * Stops accepting, waits (until {@code deadline}, in {@link System#nanoTime()}) for the requests in
   * flight, then stops the server: its connections close, its upstream clients stop.
   */
  private void drain(long deadline) throws Exception {
    long inFlight = requests.getCurrentRequestCount();
    // each listener stops accepting at once (its listening socket closes), its idle connections soon after
    for (ServerConnector c : listeners.all()) {
      c.shutdown();
    }
    java.util.concurrent.CompletableFuture<Void> drained = requests.shutdown();
    long left = 0;
    try {
      drained.get(Math.max(0, deadline - System.nanoTime()), java.util.concurrent.TimeUnit.NANOSECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      left = requests.getCurrentRequestCount();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      left = requests.getCurrentRequestCount();
    }
    if (left > 0) {
      log.warn("Stopped accepting connections; {} of {} request(s) in flight did not finish within {} ({}) and are"
          + " cut off", left, Math.max(left, inFlight), settings.get(Option.SHUTDOWN_GRACE).orElse(""),
          settings.writtenAs(Option.SHUTDOWN_GRACE));
    } else {
      log.info("Stopped accepting connections; {} request(s) in flight finished", inFlight);
    }
    server.stop();
  }
}

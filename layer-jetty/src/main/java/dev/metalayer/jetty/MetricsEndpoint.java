package dev.metalayer.jetty;

import dev.metalayer.graph.GraphError;
import dev.metalayer.metrics.LayerMetrics;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.util.Optional;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The standalone layer's metrics, as {@code LAYER_METRICS}, {@code LAYER_METRICS_TOKEN} and
 * {@code LAYER_METRICS_PORT} say: a Prometheus registry the layer counts into, the JVM's and Jetty's basic
 * meters and the store pool's, and {@code /metrics} ({@link MetricsHandler}) on the main port or on a port
 * of its own, which then serves nothing else (and the main port no {@code /metrics}). Off, nothing is
 * counted and {@code /metrics} is an unknown path. Closed with the server.
 */
final class MetricsEndpoint implements AutoCloseable {
  private final Settings settings;
  private final Optional<PrometheusMeterRegistry> prometheus;
  private final Optional<ServerConnector> connector;
  private JvmGcMetrics gc;

  private MetricsEndpoint(Settings settings, Optional<PrometheusMeterRegistry> prometheus, Optional<ServerConnector> connector) {
    this.settings = settings;
    this.prometheus = prometheus;
    this.connector = connector;
  }

  /** As the settings say; the metrics port's connector, if any, is added to {@code server}, not yet bound. */
  static MetricsEndpoint of(Settings settings, Server server) {
    if (!settings.bool(Option.METRICS)) {
      return new MetricsEndpoint(settings, Optional.empty(), Optional.empty());
    }
    Optional<ServerConnector> connector = settings.<Integer>value(Option.METRICS_PORT).map(port -> {
      HttpConfiguration http = new HttpConfiguration();
      http.setSendServerVersion(false);
      http.setSendXPoweredBy(false);
      ServerConnector c = new ServerConnector(server, new HttpConnectionFactory(http));
      c.setHost(settings.string(Option.HOST));
      c.setPort(port);
      c.setName("metrics");
      server.addConnector(c);
      return c;
    });
    return new MetricsEndpoint(settings, Optional.of(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT)), connector);
  }

  /** The registry the layer counts into, when metrics are on. */
  Optional<PrometheusMeterRegistry> prometheus() {
    return prometheus;
  }

  /** Binds the metrics port, if any. @throws ConfigError when it cannot: one line naming the option */
  void open() {
    if (connector.isEmpty()) {
      return;
    }
    try {
      connector.get().open();
    } catch (IOException e) {
      throw settings.error(Option.METRICS_PORT, "cannot listen on " + settings.string(Option.HOST) + ":"
              + settings.integer(Option.METRICS_PORT) + " for /metrics (" + e.getMessage() + ")",
          "stop the process that listens there, or choose another " + settings.writtenAs(Option.METRICS_PORT), e);
    }
  }

  /** The metrics port actually bound, when there is one. */
  Optional<Integer> port() {
    return connector.map(ServerConnector::getLocalPort);
  }

  /**
   * Registers the JVM's, Jetty's and the store pool's meters, and returns the server's handler: {@code routes}
   * with {@code /metrics} added, or, with a metrics port, a handler that serves only {@code /metrics} there
   * and {@code routes} on the other connectors.
   */
  Handler serve(Routes routes, Server server, LayerStore store, LayerMetrics metrics) {
    if (prometheus.isEmpty()) {
      return routes;
    }
    MeterRegistry registry = metrics.registry();
    new JvmMemoryMetrics().bindTo(registry);
    gc = new JvmGcMetrics();
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    if (server.getThreadPool() instanceof QueuedThreadPool threads) {
      threadGauge(registry, threads, "busy", QueuedThreadPool::getBusyThreads);
      threadGauge(registry, threads, "idle", QueuedThreadPool::getIdleThreads);
      threadGauge(registry, threads, "max", QueuedThreadPool::getMaxThreads);
      Gauge.builder("metalayer.http.queued.jobs", threads, QueuedThreadPool::getQueueSize)
          .description("Jobs waiting for a thread of the HTTP server").register(registry);
    }
    for (Connector c : server.getConnectors()) {
      if (c instanceof ServerConnector sc && connector.map(m -> m != sc).orElse(true)) {
        Gauge.builder("metalayer.http.connections", sc, s -> s.getConnectedEndPoints().size())
            .description("Open client connections of the HTTP server").register(registry);
        break; // the main port's
      }
    }
    store.meter(metrics);
    MetricsHandler handler = new MetricsHandler(prometheus.get(), settings.value(Option.METRICS_TOKEN));
    if (connector.isEmpty()) {
      routes.add(MetricsHandler.PATH, handler);
      return routes;
    }
    ServerConnector own = connector.get();
    return new Handler.Wrapper(routes) {
      @Override
      public boolean handle(Request request, Response response, Callback callback) throws Exception {
        if (request.getConnectionMetaData().getConnector() != own) {
          return super.handle(request, response, callback);
        }
        if (MetricsHandler.PATH.equals(request.getHttpURI().getPath())) {
          try {
            return handler.handle(request, response, callback);
          } catch (RuntimeException e) {
            Routes.answerFailure("MetricsHandler", response, callback, e);
            return true;
          }
        }
        HttpIo.writeError(response, callback, GraphError.notFound("Unknown path: this port serves /metrics only."));
        return true;
      }
    };
  }

  private static void threadGauge(MeterRegistry registry, QueuedThreadPool threads, String state,
      java.util.function.ToDoubleFunction<QueuedThreadPool> value) {
    Gauge.builder("metalayer.http.threads", threads, value)
        .description("Threads of the HTTP server by state (busy, idle, max)").tag("state", state).register(registry);
  }

  /** Stops the GC listener and closes the registry (and the metrics port, if the server did not). Idempotent. */
  @Override
  public void close() {
    if (gc != null) {
      gc.close();
    }
    connector.ifPresent(ServerConnector::close);
    prometheus.ifPresent(PrometheusMeterRegistry::close);
  }
}

package dev.metalayer.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * The layer's meters, each named {@code metalayer.*} (Prometheus: {@code metalayer_*}), and the rules of
 * their labels. Adapters and the core's packages report facts (a request ended with this status, Meta
 * answered after so long, a delivery was retried); this class decides what is counted under which label.
 *
 * <p>Labels carry bounded values only: a route class from the Graph surface's own table, an HTTP method
 * among four, a status class, a lane, an outcome, a reason derived from the layer's own refusal (its HTTP
 * status, or the relay's refusal reason). Never a key, a token, a URL, an object or phone number ID.
 * docs/operations.md lists every meter.
 *
 * <p>Thread-safe. Counting costs a map lookup and an atomic add; meters are created on first use.
 */
public final class LayerMetrics {
  /** The label value of a request that was not refused. */
  public static final String NONE = "none";

  /** Buckets of Meta's answer time, in the histogram {@code metalayer_upstream_latency_seconds}. */
  private static final Duration[] UPSTREAM_BUCKETS = durations(5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000,
      10_000, 30_000);
  /** Buckets of the ingest-to-delivery time: a ring is late after seconds, a message after minutes. */
  private static final Duration[] DELIVERY_BUCKETS = durations(10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000,
      10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000);
  private static final Set<String> METHODS = Set.of("GET", "POST", "DELETE", "PUT");
  /** The layer's refusals by HTTP status; any other status is named {@code status_NNN}. */
  private static final Map<Integer, String> REASONS = Map.ofEntries(
      Map.entry(400, "invalid_request"),
      Map.entry(401, "unauthorized"),
      Map.entry(403, "out_of_scope"),
      Map.entry(404, "not_found"),
      Map.entry(405, "method_not_allowed"),
      Map.entry(409, "conflict"),
      Map.entry(413, "too_large"),
      Map.entry(415, "unsupported_encoding"),
      Map.entry(429, "rate_limited"),
      Map.entry(500, "internal_error"),
      Map.entry(502, "upstream_failed"),
      Map.entry(503, "unavailable"),
      Map.entry(504, "upstream_timeout"));

  private final MeterRegistry registry;
  private final Map<ProxyKey, Counter> proxyRequests = new ConcurrentHashMap<>();
  private final Map<UpstreamKey, Timer> upstream = new ConcurrentHashMap<>();
  private final Map<String, Counter> upstreamFailures = new ConcurrentHashMap<>();
  private final Map<String, Counter> webhooksRefused = new ConcurrentHashMap<>();
  private final Map<String, Counter> deliveries = new ConcurrentHashMap<>();
  private final Map<String, Timer> deliveryLatency = new ConcurrentHashMap<>();
  private final Counter webhooksIngested;

  private record ProxyKey(String route, String method, int status, String outcome, String reason) {}

  private record UpstreamKey(String route, int statusClass) {}

  private LayerMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.webhooksIngested = Counter.builder("metalayer.webhooks.ingested")
        .description("Webhooks from Meta stored and acknowledged").register(registry);
  }

  /** The layer's meters in {@code registry}. */
  public static LayerMetrics of(MeterRegistry registry) {
    return new LayerMetrics(Objects.requireNonNull(registry, "registry"));
  }

  /** Meters that count into nothing (an empty Micrometer composite): the default of an embedded layer. */
  public static LayerMetrics none() {
    return new LayerMetrics(new CompositeMeterRegistry());
  }

  /** The registry the meters are in; a host may add its own meters (JVM, HTTP server) to it. */
  public MeterRegistry registry() {
    return registry;
  }

  // ---- Graph proxy

  /**
   * One client request of the Graph proxy, when its answer ended.
   *
   * @param route the request's route class ({@code GraphProxy#routeClass}): bounded, never an ID
   * @param method the client's method (any other than GET, POST, DELETE, PUT is counted as {@code OTHER})
   * @param status the status the client got
   * @param metaAnswered whether Meta's answer (any status, maybe rewritten) is what the client got the
   *     status of; false when the layer answered itself (a refusal, a failure of the exchange)
   */
  public void proxyRequest(String route, String method, int status, boolean metaAnswered) {
    String outcome;
    String reason;
    if (metaAnswered) {
      outcome = "forwarded";
      reason = NONE;
    } else if (status < 400) {
      outcome = "answered"; // by the layer itself, e.g. a call action it keeps
      reason = NONE;
    } else {
      outcome = status >= 500 ? "failed" : "refused";
      reason = reason(status);
    }
    String m = METHODS.contains(method) ? method : "OTHER";
    proxyRequests.computeIfAbsent(new ProxyKey(route, m, status / 100, outcome, reason), k ->
        Counter.builder("metalayer.proxy.requests")
            .description("Requests of the Graph proxy by route class, method, status class and outcome")
            .tag("route", k.route()).tag("method", k.method()).tag("status_class", k.status() + "xx")
            .tag("outcome", k.outcome()).tag("reason", k.reason())
            .register(registry)).increment();
  }

  /**
   * The reason label of an answer the layer gave itself with {@code status}: derived from the status of
   * its Graph-shaped error, so that a new refusal of the core is counted without a change here.
   */
  public static String reason(int status) {
    String known = REASONS.get(status);
    return known != null ? known : "status_" + (status >= 100 && status <= 599 ? status : 0);
  }

  /** Meta answered a request of the route class {@code route} with {@code status} after {@code nanos} (to its headers). */
  public void upstreamAnswered(String route, int status, long nanos) {
    upstream.computeIfAbsent(new UpstreamKey(route, status / 100), k ->
        Timer.builder("metalayer.upstream.latency")
            .description("Time until Meta's answer headers, by route class and Meta's status class")
            .tag("route", k.route()).tag("status_class", k.statusClass() + "xx")
            .serviceLevelObjectives(UPSTREAM_BUCKETS)
            .register(registry)).record(nanos, TimeUnit.NANOSECONDS);
  }

  /** A request of the route class {@code route} got no answer from Meta (timeout, connection refused or cut). */
  public void upstreamFailed(String route) {
    upstreamFailures.computeIfAbsent(route, r ->
        Counter.builder("metalayer.upstream.failures")
            .description("Requests to Meta that got no answer (timeout, unreachable), by route class")
            .tag("route", r).register(registry)).increment();
  }

  // ---- webhook relay

  /** A webhook from Meta was stored and acknowledged. */
  public void webhookIngested() {
    webhooksIngested.increment();
  }

  /** A webhook from Meta was refused; {@code reason} is the relay's own refusal reason ({@code IngestResult.Reason}). */
  public void webhookRefused(Enum<?> reason) {
    webhooksRefused.computeIfAbsent(label(reason), r ->
        Counter.builder("metalayer.webhooks.refused")
            .description("Webhooks from Meta refused, by reason").tag("reason", r).register(registry)).increment();
  }

  /**
   * One attempt of a delivery ended, or a delivery ended without one.
   *
   * @param lane the delivery's lane
   * @param outcome {@code delivered}, {@code retried}, {@code expired}, {@code dead}, {@code superseded}
   */
  public void delivery(Enum<?> lane, String outcome) {
    String l = label(lane);
    deliveries.computeIfAbsent(l + ' ' + outcome, k ->
        Counter.builder("metalayer.deliveries")
            .description("Delivery attempts and endings by lane and outcome")
            .tag("lane", l).tag("outcome", outcome).register(registry)).increment();
  }

  /** A delivery of {@code lane} reached its subscriber {@code latency} after its webhook was ingested. */
  public void delivered(Enum<?> lane, Duration latency) {
    deliveryLatency.computeIfAbsent(label(lane), l ->
        Timer.builder("metalayer.delivery.latency")
            .description("Time from a webhook's ingest to its delivery's success, by lane")
            .tag("lane", l).serviceLevelObjectives(DELIVERY_BUCKETS)
            .register(registry)).record(latency.isNegative() ? Duration.ZERO : latency);
    delivery(lane, "delivered"); // after the latency: a scrape that sees this count sees the latency too
  }

  /** How many deliveries wait, and since when the oldest waits. */
  public record Backlog(long waiting, java.util.Optional<Instant> oldest) {
    public static final Backlog EMPTY = new Backlog(0, java.util.Optional.empty());
  }

  /**
   * Gauges of one lane's backlog: {@code metalayer_delivery_queue_depth} and
   * {@code metalayer_delivery_oldest_pending_seconds}. {@code read} is called at most once per
   * {@code cacheFor} (on {@code clock}), however often the registry is scraped; a failing read keeps the
   * last values.
   */
  public void backlog(Enum<?> lane, Supplier<Backlog> read, Clock clock, Duration cacheFor) {
    CachedBacklog cached = new CachedBacklog(read, clock, cacheFor);
    String l = label(lane);
    Gauge.builder("metalayer.delivery.queue.depth", cached, c -> c.get().waiting())
        .description("Deliveries pending or in flight, by lane (read from the store, cached briefly)")
        .tag("lane", l).strongReference(true).register(registry);
    Gauge.builder("metalayer.delivery.oldest.pending", cached,
            c -> c.get().oldest().map(o -> Math.max(0, Duration.between(o, clock.instant()).toMillis() / 1000.0)).orElse(0.0))
        .description("Age of the oldest delivery pending or in flight, by lane; 0 when none")
        .baseUnit("seconds").tag("lane", l).strongReference(true).register(registry);
  }

  /** A value read at most once per period; thread-safe. */
  private static final class CachedBacklog {
    private final Supplier<Backlog> read;
    private final Clock clock;
    private final Duration cacheFor;
    private Backlog value = Backlog.EMPTY;
    private Instant readAt;

    CachedBacklog(Supplier<Backlog> read, Clock clock, Duration cacheFor) {
      this.read = read;
      this.clock = clock;
      this.cacheFor = cacheFor;
    }

    synchronized Backlog get() {
      Instant now = clock.instant();
      if (readAt == null || !now.isBefore(readAt.plus(cacheFor))) {
        readAt = now;
        try {
          value = read.get();
        } catch (RuntimeException storeFailed) {
          // the store does not answer: the last values stay, and the next read is after the period
        }
      }
      return value;
    }
  }

  // ---- keys and store

  /** The grant cache's lookups, as counted by {@code counts} ({@code hits} and {@code misses}). */
  public <T> void grantCache(T counts, ToDoubleFunction<T> hits, ToDoubleFunction<T> misses) {
    FunctionCounter.builder("metalayer.grant.cache.lookups", counts, hits)
        .description("Key resolutions answered from the grant cache (hit) or the store (miss)")
        .tag("result", "hit").register(registry);
    FunctionCounter.builder("metalayer.grant.cache.lookups", counts, misses)
        .description("Key resolutions answered from the grant cache (hit) or the store (miss)")
        .tag("result", "miss").register(registry);
  }

  /**
   * {@code metalayer_doctor_failing_checks}: how many checks of the background doctor have failed
   * {@code threshold} runs in a row or more (each has had its WARN line), as {@code failing} reads them
   * from {@code doctor}. No label: the log line names the number and the check.
   */
  public <T> void doctorFailing(T doctor, ToDoubleFunction<T> failing) {
    Gauge.builder("metalayer.doctor.failing.checks", doctor, failing)
        .description("Checks of the background Meta doctor failing several runs in a row (each warned once in the log)")
        .register(registry);
  }

  /**
   * A gauge of the store's connection pool: {@code metalayer_store_connections{state}}, where
   * {@code state} is {@code active}, {@code idle}, {@code pending} (callers waiting) or {@code max}.
   */
  public <T> void storeConnections(String state, T pool, ToDoubleFunction<T> value) {
    Gauge.builder("metalayer.store.connections", pool, value)
        .description("Connections of the store's pool by state (active, idle, pending callers, max)")
        .tag("state", state).register(registry);
  }

  private static String label(Enum<?> value) {
    return value.name().toLowerCase(Locale.ROOT);
  }

  private static Duration[] durations(long... millis) {
    Duration[] out = new Duration[millis.length];
    for (int i = 0; i < millis.length; i++) {
      out[i] = Duration.ofMillis(millis[i]);
    }
    return out;
  }
}

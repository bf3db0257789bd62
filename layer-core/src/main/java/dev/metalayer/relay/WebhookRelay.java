package dev.metalayer.relay;

import dev.metalayer.relay.CallWebhookRelay.UnknownNumbers;

import dev.metalayer.relay.CallWebhookRelay.IngestResult;

import dev.metalayer.graph.GraphError;
import dev.metalayer.log.WarnLimiter;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The layer's {@link CallWebhookRelay}, as its package description reads: a webhook is verified
 * ({@link Ingest}: size, signature, shape), its changes routed into queued deliveries ({@link Router}),
 * and the deliveries attempted by the {@link DeliveryEngine}. Built by
 * {@link CallWebhookRelay#builder}. Thread-safe.
 */
final class WebhookRelay implements CallWebhookRelay {
  private static final Logger log = LoggerFactory.getLogger(WebhookRelay.class);

  private final RelayStore store;
  private final Clock clock;
  private final boolean soleDeliverer;
  private final Ingest ingest;
  private final DeliveryEngine engine;
  private final Router router;
  private final WebhookSubscriptions subscriptions;
  private final UnknownNumbers unknownNumbers;
  private final WarnLimiter warnings;
  private final dev.metalayer.metrics.LayerMetrics metrics;

  /** How long the backlog gauges' store read is reused: a scrape every second costs one query per lane and period. */
  static final Duration BACKLOG_CACHE = Duration.ofSeconds(5);

  WebhookRelay(CallWebhookRelay.Builder b, DeliveryTransport transport) {
    this.store = b.store;
    this.clock = b.clock;
    this.soleDeliverer = b.soleDeliverer;
    // one warning per kind and subject and minute: refused signatures, unknown numbers, expired calls
    WarnLimiter warnings = new WarnLimiter(clock);
    this.warnings = warnings;
    this.unknownNumbers = new UnknownNumbers(clock);
    this.ingest = new Ingest(b.appSecrets, b.allowUnsignedWebhooks, b.keys, warnings);
    DeliveryPolicy policy = new DeliveryPolicy(b.callTtl, b.terminateHold, b.random::nextDouble);
    this.metrics = b.metrics;
    Attempter attempter = new Attempter(store, b.cipher, transport, policy, clock, warnings, b.metrics);
    for (Lane lane : Lane.values()) {
      b.metrics.backlog(lane, () -> store.backlog(lane), clock, BACKLOG_CACHE);
    }
    // this relay's instance among those sharing the store: it owns the call deliveries of its ingest
    String instanceId = dev.metalayer.crypto.Secrets.newId("ins", b.random, 12);
    this.engine = new DeliveryEngine(store, instanceId, attempter, policy, clock, b.callsThreads, b.defaultThreads,
        b.concurrencyPerSubscription, b.concurrencyPerNumber, b.retention, b.timing);
    this.router = new Router(store, b.keys, policy, engine, clock, b.random, warnings, unknownNumbers, instanceId);
    this.subscriptions = new WebhookSubscriptions(router, engine, store, b.keys, b.cipher, b.egressGuard, clock,
        b.maxSubscriptionsPerNumber);
  }

  @Override
  public IngestResult ingest(byte[] body, String signatureHeader) {
    return ingest(body, signatureHeader, java.util.Optional.empty());
  }

  @Override
  public IngestResult ingest(byte[] body, String signatureHeader, java.util.Optional<String> requestId) {
    IngestResult result = verifyAndRoute(body, signatureHeader, requestId);
    if (result instanceof IngestResult.Refused refused) {
      metrics.webhookRefused(refused.reason());
    } else {
      metrics.webhookIngested();
    }
    return result;
  }

  private IngestResult verifyAndRoute(byte[] body, String signatureHeader, java.util.Optional<String> requestId) {
    boolean probe = false;
    try {
      Ingest.Verified verified = ingest.verify(body, signatureHeader);
      if (verified instanceof Ingest.Failed failed) {
        return failed.refusal();
      }
      Instant failed = storeFailedAt;
      if (failed != null) {
        // the store failed lately: one webhook at a time asks it again, at most once per STORE_PROBE;
        // the others are answered at once rather than each holding a request thread for the pool's
        // connection timeout, the whole outage long
        if (clock.instant().isBefore(failed.plus(STORE_PROBE)) || !probing.compareAndSet(false, true)) {
          return storeUnavailable();
        }
        probe = true;
      }
      IngestResult result = router.route(body, ((Ingest.Passed) verified).changes(), requestId);
      storeFailedAt = null;
      return result;
    } catch (StoreException e) {
      storeFailedAt = clock.instant();
      // not durable, so not acknowledged: Meta retries a 503, and finds the layer again once the store answers
      warnings.permit("webhook-store", "unavailable").ifPresent(suppressed ->
          log.warn("Webhook answered 503 (Meta sends it again): the store failed ({}{}){}", e.getMessage(),
              e.getCause() == null ? "" : ": " + e.getCause().getClass().getSimpleName(), WarnLimiter.suppressed(suppressed)));
      return storeUnavailable();
    } finally {
      if (probe) {
        probing.set(false);
      }
    }
  }

  /** While the store fails, how often a webhook asks it again (the others are answered 503 at once). */
  static final Duration STORE_PROBE = Duration.ofSeconds(1);

  /** When the store last failed an ingest; null once one succeeded. */
  private volatile Instant storeFailedAt;
  /** Set while one webhook asks a failed store again. */
  private final java.util.concurrent.atomic.AtomicBoolean probing = new java.util.concurrent.atomic.AtomicBoolean();

  private static IngestResult storeUnavailable() {
    return new IngestResult.Refused(IngestResult.Reason.STORE_UNAVAILABLE,
        GraphError.unavailable("The layer cannot store webhooks right now; retry later."));
  }

  @Override
  public Optional<IngestResult.Refused> refusalBeforeBody(String signatureHeader) {
    Optional<IngestResult.Refused> refused = ingest.refusalBeforeBody(signatureHeader);
    refused.ifPresent(r -> metrics.webhookRefused(r.reason()));
    return refused;
  }

  @Override
  public UnknownNumbers unknownNumbers() {
    return unknownNumbers;
  }

  @Override
  public WebhookSubscriptions subscriptions() {
    return subscriptions;
  }

  @Override
  public void start() {
    if (engine.running()) {
      return;
    }
    ingest.startWarning().ifPresent(log::warn);
    if (soleDeliverer) {
      int released = store.releaseLeases(clock.instant());
      if (released > 0) {
        log.info("Resumed {} deliveries that were in flight when the layer last stopped", released);
      }
    }
    engine.start();
    router.start();
  }

  @Override
  public List<String> deadWorkers() {
    if (!router.dead()) {
      return engine.deadWorkers();
    }
    List<String> dead = new ArrayList<>(engine.deadWorkers());
    dead.add("relay-routing");
    return List.copyOf(dead);
  }

  @Override
  public int runDueNow() {
    router.routeStored();
    return engine.runDueNow();
  }

  /** Routes every stored envelope not routed yet, on the calling thread. @return the envelopes routed */
  int routeStored() {
    return router.routeStored();
  }

  /** This relay's instance id in the store (see {@link RelayStore}). */
  String instanceId() {
    return engine.instanceId();
  }

  /** Wake-ups of {@code lane} heard from other instances since the start. */
  long remoteWakes(Lane lane) {
    return engine.remoteWakes(lane);
  }

  @Override
  public RelayStore.Purged purge() {
    return engine.purge();
  }

  @Override
  public void close() {
    close(DeliveryEngine.CLOSE_GRACE);
  }

  @Override
  public void close(Duration grace) {
    router.stop();
    engine.close(grace);
  }
}

package dev.metalayer.relay;

import dev.metalayer.crypto.Secrets;
import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.graph.GraphError;
import dev.metalayer.keys.KeyService;
import dev.metalayer.keys.WhatsAppNumber;
import dev.metalayer.log.WarnLimiter;
import dev.metalayer.relay.RelayStore.NewDelivery;
import dev.metalayer.relay.RelayStore.StoredSubscription;
import java.security.SecureRandom;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The layer's {@link CallWebhookRelay}: verification, splitting, routing and the queueing of
 * deliveries happen here, on the caller's thread, for an envelope that causes at most
 * {@link #INLINE_ROUTING} deliveries; a larger one is stored at once (with its call deliveries) and
 * routed in the background, so that Meta gets its answer within its timeout whatever the envelope's
 * size. Attempts run in the {@link DeliveryEngine}. Built by {@link dev.metalayer.MetaLayer}.
 * Thread-safe.
 *
 * <p>Routing: a change goes to the numbers {@link NumberRouting} names (the number of
 * {@code value.metadata.phone_number_id}; for a WABA-level change, the number it names, or every number
 * of the WABA {@code entry[].id} when it names none), then to each <i>active</i> subscription of that
 * number that {@linkplain Subscription#wants wants} its field. Calls changes are routed first.
 *
 * <p>Fan-out bound: one envelope queues at most {@link #MAX_FANOUT_PER_NUMBER} deliveries for one
 * number. What is over it is not queued (calls first, then in envelope order, so the bound never
 * drops a ring before a message); the envelope is still accepted and kept, one warning names the
 * envelope, the number and the count, and {@link IngestResult.Accepted#overFanOut()} counts it. Meta
 * retries a refused webhook for days, so refusing the envelope would lose the part under the bound too.
 */
public final class WebhookRelay implements CallWebhookRelay {
  /** The longest {@code field} a change may have to be routed; the store's column holds 100 characters. */
  static final int MAX_FIELD = 100;

  private static final Logger log = LoggerFactory.getLogger(WebhookRelay.class);
  /** Meta's own payload limit. */
  public static final int MAX_BODY_BYTES = 3 * 1024 * 1024;
  static final String WABA_OBJECT = "whatsapp_business_account";
  /**
   * Deliveries one envelope may queue for one number: 4,000 changes times the default subscription cap
   * (25), four times Meta's largest batch (1,000 changes). A 3 MB envelope of minimal changes could
   * otherwise queue about 750,000.
   */
  public static final int MAX_FANOUT_PER_NUMBER = 100_000;
  /** Deliveries an envelope may cause and still be routed before the answer (about 0.1 s of inserts). */
  static final int INLINE_ROUTING = 1_000;
  /** Deliveries per transaction when an envelope is routed in the background. */
  static final int ROUTING_CHUNK = 1_000;
  /** Default cap on the subscriptions of one number. */
  public static final int DEFAULT_MAX_SUBSCRIPTIONS = 25;

  /**
   * The relay's collaborators and settings (see {@link dev.metalayer.MetaLayer.Builder} for defaults).
   *
   * @param perNumber attempts in flight per number and lane; 0 for half the lane's threads
   * @param maxSubscriptionsPerNumber subscriptions one number may have
   * @param soleDeliverer whether this process is the only one delivering from the store, so that
   *     leases left by a crash are released at {@link #start()} instead of waiting for them to expire
   */
  public record Config(
      RelayStore store,
      KeyService keys,
      TokenCipher cipher,
      DeliveryTransport transport,
      EgressGuard guard,
      Clock clock,
      SecureRandom random,
      List<String> appSecrets,
      boolean allowUnsigned,
      Duration callTtl,
      Duration retention,
      int callsThreads,
      int defaultThreads,
      int perSubscription,
      int perNumber,
      int maxSubscriptionsPerNumber,
      boolean soleDeliverer) {
    public Config {
      Objects.requireNonNull(store, "store");
      Objects.requireNonNull(keys, "keys");
      Objects.requireNonNull(cipher, "cipher");
      Objects.requireNonNull(transport, "transport");
      Objects.requireNonNull(guard, "guard");
      Objects.requireNonNull(clock, "clock");
      Objects.requireNonNull(random, "random");
      appSecrets = List.copyOf(appSecrets);
      Objects.requireNonNull(callTtl, "callTtl");
      Objects.requireNonNull(retention, "retention");
    }

    @Override
    public String toString() {
      return "WebhookRelay.Config[appSecrets=" + appSecrets.size() + " configured, allowUnsigned=" + allowUnsigned
          + ", callTtl=" + callTtl + ", retention=" + retention + "]";
    }
  }

  private final Config config;
  private final RelayStore store;
  private final DeliveryPolicy policy;
  private final DeliveryEngine engine;
  private final WebhookSubscriptions subscriptions;
  /** One warning per kind and subject and minute: refused signatures, unknown numbers, expired calls. */
  private final WarnLimiter warnings;
  private final UnknownNumbers unknownNumbers;

  public WebhookRelay(Config config) {
    this.config = Objects.requireNonNull(config, "config");
    this.store = config.store();
    this.policy = new DeliveryPolicy(config.callTtl(), config.random()::nextDouble);
    this.warnings = new WarnLimiter(config.clock());
    this.unknownNumbers = new UnknownNumbers(config.clock());
    Attempter attempter = new Attempter(store, config.cipher(), config.transport(), policy, config.clock(), warnings);
    this.engine = new DeliveryEngine(store, attempter, policy, config.clock(), config.callsThreads(),
        config.defaultThreads(), config.perSubscription(), config.perNumber(), config.retention());
    this.subscriptions = new WebhookSubscriptions(this, store, config.keys(), config.cipher(), config.guard(),
        config.clock(), config.random(), config.maxSubscriptionsPerNumber());
  }

  @Override
  public IngestResult ingest(byte[] body, String signatureHeader) {
    Objects.requireNonNull(body, "body");
    if (body.length > MAX_BODY_BYTES) {
      return refused(IngestResult.Reason.TOO_LARGE, GraphError.tooLarge("The webhook body is larger than 3 MB."));
    }
    Optional<IngestResult.Refused> early = refusalBeforeBody(signatureHeader);
    if (early.isPresent()) {
      return early.get();
    }
    if (signatureHeader != null && !signatureHeader.isBlank() && !config.appSecrets().isEmpty()
        && !Signatures.verifyMeta(signatureHeader, body, config.appSecrets())) {
      warnRefused(IngestResult.Reason.BAD_SIGNATURE, body);
      return refused(IngestResult.Reason.BAD_SIGNATURE, GraphError.invalidToken("Invalid X-Hub-Signature-256."));
    }
    EnvelopeSplitter.Split split = EnvelopeSplitter.split(body);
    if (split instanceof EnvelopeSplitter.Malformed m) {
      return refused(IngestResult.Reason.MALFORMED, GraphError.invalidParameter(m.reason()));
    }
    EnvelopeSplitter.Parsed parsed = (EnvelopeSplitter.Parsed) split;
    if (!WABA_OBJECT.equals(parsed.object())) {
      return refused(IngestResult.Reason.WRONG_OBJECT,
          GraphError.invalidParameter("The object must be whatsapp_business_account."));
    }
    Instant now = config.clock().instant();
    String envelopeId = newId("env");
    RelayStore.Envelope envelope = new RelayStore.Envelope(envelopeId, body, now);
    Routing routing = new Routing(envelope, parsed.changes(), now);
    int total = routing.count();
    if (total <= INLINE_ROUTING) {
      List<NewDelivery> deliveries = routing.deliveries(c -> true);
      List<String> inserted;
      try {
        inserted = store.ingest(envelope, deliveries);
      } catch (StoreException e) {
        if (!isUniqueViolation(e)) {
          throw e;
        }
        // the same change was ingested concurrently: once more, and the duplicates are skipped
        inserted = store.ingest(new RelayStore.Envelope(newId("env"), body, now), deliveries);
      }
      wakeFor(deliveries, inserted);
      routing.reportOverBound();
      routing.reportUnknownNumbers();
      return new IngestResult.Accepted(parsed.changes().size(), inserted.size(), deliveries.size() - inserted.size(),
          0, routing.overBound());
    }
    // Large: the envelope is stored (unrouted) with its calls, answered, and routed in the background.
    List<NewDelivery> calls = routing.deliveries(c -> Events.CALLS.equals(c.field()));
    List<String> inserted;
    try {
      inserted = store.ingestUnrouted(envelope, calls);
    } catch (StoreException e) {
      if (!isUniqueViolation(e)) {
        throw e;
      }
      // a ring of it was ingested concurrently: once more under a new id, and the duplicates are skipped
      envelope = new RelayStore.Envelope(newId("env"), body, now);
      inserted = store.ingestUnrouted(envelope, calls);
    }
    wakeFor(calls, inserted);
    wakeRouter();
    routing.reportOverBound();
    routing.reportUnknownNumbers();
    log.info("Envelope {} causes {} deliveries: acknowledged now, routed in the background", envelope.id(), total);
    return new IngestResult.Accepted(parsed.changes().size(), inserted.size(), calls.size() - inserted.size(),
        total - calls.size(), routing.overBound());
  }

  private void wakeFor(List<NewDelivery> deliveries, List<String> inserted) {
    if (inserted.isEmpty()) {
      return;
    }
    for (Lane lane : Lane.values()) {
      if (deliveries.stream().anyMatch(d -> d.lane() == lane && d.state() == DeliveryState.PENDING)) {
        engine.wake(lane);
      }
    }
  }

  /**
   * The routing of one envelope: which deliveries its changes cause, calls first, within the fan-out
   * bound. Deterministic for the same subscriptions, so that routing again after a crash finds the
   * same deliveries (and the store skips those already queued).
   */
  private final class Routing {
    final RelayStore.Envelope envelope;
    final List<Change> changes;
    final Instant now;
    final Map<String, List<StoredSubscription>> subscriptionsByNumber = new HashMap<>();
    final Map<String, Integer> overBoundByNumber = new java.util.TreeMap<>();
    /** The webhook id of each change (a digest of its bytes), computed once however many subscriptions. */
    final Map<Change, String> webhookIds = new java.util.IdentityHashMap<>();
    /** The numbers each change goes to, decided once per routing. */
    final Map<Change, List<WhatsAppNumber>> numbers = new java.util.IdentityHashMap<>();

    Routing(RelayStore.Envelope envelope, List<Change> changes, Instant now) {
      List<Change> ordered = new ArrayList<>(changes.size());
      changes.stream().filter(c -> Events.CALLS.equals(c.field())).forEach(ordered::add);
      changes.stream().filter(c -> !Events.CALLS.equals(c.field())).forEach(ordered::add);
      this.envelope = envelope;
      this.changes = ordered;
      this.now = now;
      Map<String, Integer> unrouted = new java.util.TreeMap<>();
      for (Change change : ordered) {
        NumberRouting.Route route = NumberRouting.route(change, config.keys());
        numbers.put(change, route.numbers());
        // a field's name is logged only when it is one Meta documents: the rest is outside text
        String field = Events.META_FIELDS.contains(change.field()) ? change.field() : "other";
        route.unrouted().ifPresent(why -> unrouted.merge(field + " change(s) that " + why, 1, Integer::sum));
        if (change.field().length() > MAX_FIELD) {
          // No event has such a name; storing it would fail the whole batch (and Meta would retry it).
          log.warn("A change with a field name of {} characters was not routed", change.field().length());
        } else if (Events.CALLS.equals(change.field())) {
          Optional<Instant> expiresAt = policy.expiry(Lane.CALLS, envelope.receivedAt(), change.eventTime());
          if (expiresAt.isPresent() && !now.isBefore(expiresAt.get())) {
            log.info("A {} change of {} arrived after its TTL (event time {}): recorded as expired, not delivered",
                change.field(), change.callIds(), change.eventTime().map(Instant::toString).orElse("none"));
          }
        }
      }
      unrouted.forEach((what, n) -> log.info("Envelope {}: {} {} were routed to no number", envelope.id(), n, what));
    }

    /** Every (change, subscription) pair within the bound, in routing order. */
    private void visit(java.util.function.BiConsumer<Change, Subscription> visitor) {
      Map<String, Integer> perNumber = new HashMap<>();
      overBoundByNumber.clear();
      for (Change change : changes) {
        if (change.field().length() > MAX_FIELD) {
          continue;
        }
        for (WhatsAppNumber number : numbers.get(change)) {
          List<StoredSubscription> subs =
              subscriptionsByNumber.computeIfAbsent(number.phoneNumberId(), store::subscriptionsOf);
          for (StoredSubscription stored : subs) {
            Subscription s = stored.subscription();
            if (!s.active() || !s.wants(change.field(), change.permissionReply())) {
              continue;
            }
            if (perNumber.merge(number.phoneNumberId(), 1, Integer::sum) > MAX_FANOUT_PER_NUMBER) {
              overBoundByNumber.merge(number.phoneNumberId(), 1, Integer::sum);
              continue;
            }
            visitor.accept(change, s);
          }
        }
      }
    }

    int count() {
      int[] n = {0};
      visit((c, s) -> n[0]++);
      return n[0];
    }

    int overBound() {
      return overBoundByNumber.values().stream().mapToInt(Integer::intValue).sum();
    }

    /**
     * Counts and warns about the changes for numbers the layer does not know (a phone number ID not
     * registered, or a WABA-level change of a WABA with no registered number): answered 200 and
     * routed nowhere. Called once per ingested envelope (not when it is routed again).
     */
    void reportUnknownNumbers() {
      for (Change change : changes) {
        if (!numbers.get(change).isEmpty()) {
          continue;
        }
        String pnid = change.phoneNumberId().orElse(null);
        if (pnid == null && (change.entryId().isEmpty() || !config.keys().numbersOfWaba(change.entryId()).isEmpty())) {
          continue; // WABA-level, with a known WABA: NumberRouting's own reasons, logged above
        }
        UnknownNumbers.Seen seen = unknownNumbers.record(pnid, change.entryId());
        String subject = seen.phoneNumberId().map(id -> "pnid " + id).orElse("waba " + seen.wabaId().orElse(""));
        String field = Events.META_FIELDS.contains(change.field()) ? change.field() : "other";
        warnings.permit("unknown-number", subject).ifPresent(suppressed -> log.warn(
            "Webhook for {}, which is not registered in the layer: a {} change answered 200 and dropped (envelope {},"
                + " {} such change(s) of it since start); register the number, or unsubscribe the app from it{}",
            seen.phoneNumberId().map(id -> "phone number ID " + id + seen.wabaId().map(w -> " (WABA " + w + ")").orElse(""))
                .orElse("WABA " + seen.wabaId().orElse("(none)")),
            field, envelope.id(), seen.count(), WarnLimiter.suppressed(suppressed)));
      }
    }

    void reportOverBound() {
      overBoundByNumber.forEach((number, n) -> log.warn("Fan-out bound: envelope {} would queue {} more deliveries"
          + " for phone number ID {} than the {} one envelope may queue for one number; they were not queued"
          + " (the envelope is kept)", envelope.id(), n, number, MAX_FANOUT_PER_NUMBER));
    }

    List<NewDelivery> deliveries(java.util.function.Predicate<Change> which) {
      List<NewDelivery> out = new ArrayList<>();
      visit((change, s) -> {
        if (which.test(change)) {
          out.add(delivery(change, s));
        }
      });
      return out;
    }

    /**
     * Routes everything in chunks of {@link #ROUTING_CHUNK}, each its own transaction, and marks the
     * envelope routed. When the relay is closing it stops after the current chunk, leaving the envelope
     * unrouted for the next start. @return whether it finished
     */
    boolean routeAll() {
      List<NewDelivery> chunk = new ArrayList<>();
      boolean[] stopped = {false};
      visit((change, s) -> {
        if (stopped[0]) {
          return;
        }
        chunk.add(delivery(change, s));
        if (chunk.size() >= ROUTING_CHUNK) {
          routeChunk(chunk, false);
          chunk.clear();
          stopped[0] = closing;
        }
      });
      if (stopped[0]) {
        return false;
      }
      routeChunk(chunk, true);
      return true;
    }

    private void routeChunk(List<NewDelivery> chunk, boolean last) {
      List<String> inserted;
      try {
        inserted = store.route(envelope.id(), chunk, last);
      } catch (StoreException e) {
        if (!isUniqueViolation(e)) {
          throw e;
        }
        inserted = store.route(envelope.id(), chunk, last);
      }
      wakeFor(chunk, inserted);
    }

    private NewDelivery delivery(Change change, Subscription s) {
      Lane lane = Events.CALLS.equals(change.field()) ? Lane.CALLS : Lane.DEFAULT;
      Optional<Instant> expiresAt = policy.expiry(lane, envelope.receivedAt(), change.eventTime());
      // a call event already past its TTL (Meta redelivered it late) is recorded, never sent
      boolean expired = expiresAt.isPresent() && !now.isBefore(expiresAt.get());
      byte[] bytes = s.chatwootTerminateReason() ? TerminateReasons.enrich(change) : change.envelope();
      return new NewDelivery(newId("dlv"), s.id(), envelope.id(), webhookIds.computeIfAbsent(change, WebhookIds::of),
          change.field(), lane,
          lane == Lane.CALLS ? change.orderingKey().orElse(null) : null, bytes, policy.maxAttempts(lane),
          expired ? DeliveryState.EXPIRED : DeliveryState.PENDING, expired ? null : now, expiresAt.orElse(null), now);
    }
  }

  /**
   * Routes, on the calling thread, every envelope stored unrouted (a large one, or one left by a
   * process that stopped before routing it). @return the envelopes routed
   */
  int routeStored() {
    int routed = 0;
    List<RelayStore.Envelope> batch;
    while (!closing && !(batch = store.unrouted(10)).isEmpty()) {
      for (RelayStore.Envelope e : batch) {
        EnvelopeSplitter.Split split = EnvelopeSplitter.split(e.body());
        if (split instanceof EnvelopeSplitter.Parsed parsed) {
          if (!new Routing(e, parsed.changes(), config.clock().instant()).routeAll()) {
            return routed;
          }
        } else {
          // it was parsed before it was stored; should it ever not parse, it must not block the others
          log.warn("Stored envelope {} no longer parses; it is kept and not routed", e.id());
          store.route(e.id(), List.of(), true);
        }
        routed++;
      }
    }
    return routed;
  }

  private static boolean isUniqueViolation(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException sql && "23505".equals(sql.getSQLState())) {
        return true;
      }
    }
    return false;
  }

  /** Each refusal is also logged at WARN here, once per request (rate limited, see {@link #warnRefused}). */
  @Override
  public Optional<IngestResult.Refused> refusalBeforeBody(String signatureHeader) {
    if (signatureHeader == null || signatureHeader.isBlank()) {
      if (config.allowUnsigned()) {
        return Optional.empty();
      }
      warnRefused(IngestResult.Reason.UNSIGNED, null);
      return Optional.of(new IngestResult.Refused(IngestResult.Reason.UNSIGNED, GraphError.invalidToken("Missing X-Hub-Signature-256.")));
    }
    if (config.appSecrets().isEmpty() && !config.allowUnsigned()) {
      warnRefused(null, null);
      return Optional.of(new IngestResult.Refused(IngestResult.Reason.BAD_SIGNATURE,
          GraphError.invalidToken("No app secret is configured: webhooks cannot be verified.")));
    }
    return Optional.empty();
  }

  /**
   * One warning per reason and minute for webhooks refused by their signature. The body of a refused
   * webhook is not trusted: only numbers it names that are registered are named (parsed only when the
   * line is written), never its text.
   *
   * @param reason null when no app secret is configured
   * @param body the refused body, or null when it was not read
   */
  private void warnRefused(IngestResult.Reason reason, byte[] body) {
    String kind = reason == null ? "no-app-secret" : reason.name();
    warnings.permit("webhook-refused", kind).ifPresent(suppressed -> {
      String why = reason == null
          ? "no Meta app secret is configured, so no webhook can be verified (configure the app's secret)"
          : reason == IngestResult.Reason.UNSIGNED
              ? "it has no X-Hub-Signature-256 (Meta signs every webhook: the sender is not Meta, or a proxy"
                  + " dropped the header)"
              : "its X-Hub-Signature-256 matches none of the " + config.appSecrets().size() + " configured app"
                  + " secret(s) (the secret is not the one of the app Meta signs with, or the body was changed on"
                  + " the way)";
      log.warn("Webhook refused with 401: {}{}{}", why, namedNumbers(body), WarnLimiter.suppressed(suppressed));
    });
  }

  /** {@code ""}, or {@code "; it names phone number ID(s) …"} for the registered numbers a body names. */
  private String namedNumbers(byte[] body) {
    EnvelopeSplitter.Split split;
    try {
      split = body == null ? null : EnvelopeSplitter.split(body);
    } catch (RuntimeException e) {
      return ""; // a body that cannot be read names nothing; the refusal stands
    }
    if (!(split instanceof EnvelopeSplitter.Parsed parsed)) {
      return "";
    }
    java.util.Set<String> named = new java.util.TreeSet<>();
    for (Change c : parsed.changes()) {
      c.phoneNumberId().flatMap(config.keys()::findNumber).ifPresent(n -> named.add(n.phoneNumberId()));
    }
    return named.isEmpty() ? "" : "; it names phone number ID(s) " + String.join(", ", named);
  }

  /** The numbers Meta sent webhooks for that the layer does not know, for the operator. */
  @Override
  public UnknownNumbers unknownNumbers() {
    return unknownNumbers;
  }

  private static IngestResult refused(IngestResult.Reason reason, GraphError error) {
    return new IngestResult.Refused(reason, error);
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
    if (config.allowUnsigned()) {
      log.warn("!!! LAYER_ALLOW_UNSIGNED_WEBHOOKS is on: webhooks without X-Hub-Signature-256 are ACCEPTED."
          + " Anyone who can reach /webhooks/meta can inject events. Use this for local trials only. !!!");
    } else if (config.appSecrets().isEmpty()) {
      log.warn("No Meta app secret is configured (META_APP_SECRET): every webhook from Meta will be refused.");
    }
    if (config.soleDeliverer()) {
      int released = store.releaseLeases(config.clock().instant());
      if (released > 0) {
        log.info("Resumed {} deliveries that were in flight when the layer last stopped", released);
      }
    }
    engine.start();
    startRouter();
  }

  @Override
  public List<String> deadWorkers() {
    java.util.concurrent.ScheduledFuture<?> sweep = routerSweep;
    if (sweep == null || !sweep.isDone()) {
      return engine.deadWorkers();
    }
    // a periodic sweep ends only when the router stops, or when a run ended in an Error (out of memory)
    List<String> dead = new java.util.ArrayList<>(engine.deadWorkers());
    dead.add("relay-routing");
    return List.copyOf(dead);
  }

  @Override
  public int runDueNow() {
    routeStored();
    return engine.runDueNow();
  }

  @Override
  public RelayStore.Purged purge() {
    return engine.purge();
  }

  @Override
  public void close() {
    stopRouter();
    engine.close();
  }

  // ---- the background router: one thread, woken by a large envelope, and every minute (a store
  // failure is retried then); at start it routes what a stopped process left unrouted

  private static final Duration ROUTER_SWEEP = Duration.ofMinutes(1);
  private java.util.concurrent.ScheduledExecutorService router;
  /** The router's periodic sweep while it runs; done before that only if a sweep ended in an Error. */
  private volatile java.util.concurrent.ScheduledFuture<?> routerSweep;
  /** Set while the router stops: routing ends after its current transaction (not interrupted mid-write). */
  private volatile boolean closing;
  private final java.util.concurrent.atomic.AtomicBoolean routeQueued = new java.util.concurrent.atomic.AtomicBoolean();

  private synchronized void startRouter() {
    if (router != null) {
      return;
    }
    router = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "relay-routing");
      t.setDaemon(true);
      return t;
    });
    routerSweep = router.scheduleWithFixedDelay(this::routeInBackground, 0, ROUTER_SWEEP.toMillis(),
        java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  private void wakeRouter() {
    java.util.concurrent.ScheduledExecutorService r = router;
    if (r == null || !routeQueued.compareAndSet(false, true)) {
      return;
    }
    try {
      r.execute(this::routeInBackground);
    } catch (java.util.concurrent.RejectedExecutionException stopping) {
      routeQueued.set(false);
    }
  }

  private void routeInBackground() {
    routeQueued.set(false);
    try {
      int n = routeStored();
      if (n > 0) {
        log.info("Routed {} stored envelope(s) in the background", n);
      }
    } catch (RuntimeException e) {
      // the next sweep tries again: the envelopes stay stored and unrouted
      log.warn("Routing stored envelopes failed ({}); retrying in {}", e.getClass().getSimpleName(), ROUTER_SWEEP);
    }
  }

  private synchronized void stopRouter() {
    if (router == null) {
      return;
    }
    closing = true;
    routerSweep = null;
    router.shutdown();
    DeliveryEngine.awaitStopped(router);
    router = null;
    closing = false;
  }

  void wake(Lane lane) {
    engine.wake(lane);
  }

  String newId(String kind) {
    return Secrets.newId(kind, config.random(), 12);
  }

  DeliveryPolicy policy() {
    return policy;
  }
}

package dev.metalayer.relay;

import dev.metalayer.relay.CallWebhookRelay.UnknownNumbers;

import dev.metalayer.relay.CallWebhookRelay.IngestResult;

import dev.metalayer.calls.CallStore;
import dev.metalayer.calls.Calls;
import dev.metalayer.crypto.Secrets;
import dev.metalayer.keys.KeyService;
import dev.metalayer.keys.WhatsAppNumber;
import dev.metalayer.log.RequestIds;
import dev.metalayer.log.WarnLimiter;
import dev.metalayer.relay.RelayStore.NewDelivery;
import dev.metalayer.relay.RelayStore.StoredSubscription;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The routing of verified changes into queued deliveries: a change goes to the numbers
 * {@link NumberRouting} names, then to each <i>active</i> subscription of such a number that
 * {@linkplain Subscription#wants wants} its field; calls changes are routed first. A subscription's
 * {@code test} event is routed the same way, to that one subscription ({@link #routeTest}).
 *
 * <p>An envelope that causes at most {@link #INLINE_ROUTING} deliveries is routed on the caller's
 * thread, before Meta's answer; a larger one is stored at once (with its call deliveries) and routed by
 * one background thread, in chunks of {@link #ROUTING_CHUNK}, so that Meta gets its answer within its
 * timeout whatever the envelope's size. Every stored envelope not routed yet (a large one, or one left
 * by a process that stopped first) is routed by that thread, at start and every minute.
 *
 * <p>Fan-out bound: one envelope queues at most {@link #MAX_FANOUT_PER_NUMBER} deliveries for one
 * number. What is over it is not queued (calls first, then in envelope order, so the bound never drops
 * a ring before a message); the envelope is still accepted and kept, one warning names the envelope,
 * the number and the count, and {@link IngestResult.Accepted#overFanOut()} counts it. Meta retries a
 * refused webhook for days, so refusing the envelope would lose the part under the bound too.
 *
 * <p>Call records: the changes of registered numbers that may concern a call are turned into call
 * events ({@link Calls#eventsOf}) and stored with the envelope, in its transaction; the call permission
 * replies are applied once it is stored ({@link Calls#permissionReply}). Thread-safe.
 */
final class Router {
  private static final Logger log = LoggerFactory.getLogger(Router.class);
  /** The longest {@code field} a change may have to be routed; the store's column holds 100 characters. */
  static final int MAX_FIELD = 100;
  /**
   * Deliveries one envelope may queue for one number: 4,000 changes times the default subscription cap
   * (25), four times Meta's largest batch (1,000 changes). A 3 MB envelope of minimal changes could
   * otherwise queue about 750,000.
   */
  static final int MAX_FANOUT_PER_NUMBER = CallWebhookRelay.MAX_FANOUT_PER_NUMBER;
  /** Deliveries an envelope may cause and still be routed before the answer (about 0.1 s of inserts). */
  static final int INLINE_ROUTING = 1_000;
  /** Deliveries per transaction when an envelope is routed in the background. */
  static final int ROUTING_CHUNK = 1_000;
  private static final Duration ROUTER_SWEEP = Duration.ofMinutes(1);

  private final RelayStore store;
  private final KeyService keys;
  private final DeliveryPolicy policy;
  private final DeliveryEngine engine;
  private final Clock clock;
  private final SecureRandom random;
  /** One warning per unknown number and minute. */
  private final WarnLimiter warnings;
  private final UnknownNumbers unknownNumbers;

  private ScheduledExecutorService router;
  /** The router's periodic sweep while it runs; done before that only if a sweep ended in an Error. */
  private volatile ScheduledFuture<?> routerSweep;
  /** Set while the router stops: routing ends after its current transaction (not interrupted mid-write). */
  private volatile boolean closing;
  private final AtomicBoolean routeQueued = new AtomicBoolean();

  /** The instance this router stores for: it owns the call deliveries it stores (see {@link RelayStore}). */
  private final String instanceId;
  /** The call records: the call events of each ingest are stored with it. */
  private final Calls calls;
  /** Call events one envelope may record: Meta batches at most 1,000 updates in one. */
  static final int MAX_CALL_EVENTS = 1_000;

  Router(RelayStore store, KeyService keys, DeliveryPolicy policy, DeliveryEngine engine, Clock clock,
      SecureRandom random, WarnLimiter warnings, UnknownNumbers unknownNumbers, String instanceId) {
    this.instanceId = instanceId;
    this.warnings = warnings;
    this.unknownNumbers = unknownNumbers;
    this.store = store;
    this.keys = keys;
    this.policy = policy;
    this.engine = engine;
    this.clock = clock;
    this.random = random;
    this.calls = new Calls(store.calls(), clock);
  }

  /** Who receives a change: pairs of a number and its subscription. */
  @FunctionalInterface
  private interface Targets {
    void visit(Change change, BiConsumer<String, Subscription> target);
  }

  /**
   * Stores the envelope of verified {@code changes} with its deliveries (or, when large, with its call
   * deliveries only, the rest routed in the background) and hands them to the engine.
   *
   * @param requestId the request id of the webhook POST, which its deliveries carry; one is made when empty
   */
  IngestResult.Accepted route(byte[] body, List<Change> changes, Optional<String> requestId) {
    Instant now = clock.instant();
    RelayStore.Envelope envelope = new RelayStore.Envelope(newId("env"), body, now,
        Optional.of(requestId.filter(RequestIds::valid).orElseGet(() -> RequestIds.generate(random))));
    Routing routing = new Routing(envelope, changes, now, null, this::newDeliveryId);
    IngestResult.Accepted accepted = accept(routing);
    routing.reportUnknownNumbers();
    routing.permissionReplies();
    recordWebhooks(routing, now);
    return accepted;
  }

  /** How often one instance writes a number's last webhook time (the doctor reads it in minutes, not seconds). */
  static final Duration WEBHOOK_SEEN_EVERY = Duration.ofMinutes(1);

  /** The last webhook time this instance wrote, per number. */
  private final java.util.concurrent.ConcurrentHashMap<String, Instant> webhookSeenWritten =
      new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * Records, for the Meta doctor, that a webhook arrived for the registered numbers the envelope's changes
   * were routed to: at most once per {@link #WEBHOOK_SEEN_EVERY} per number on this instance. A store
   * failure here is logged and never fails the ingest (the envelope is already stored).
   */
  private void recordWebhooks(Routing routing, Instant now) {
    java.util.Set<String> due = new java.util.TreeSet<>();
    routing.numbers.values().forEach(list -> list.forEach(n -> {
      Instant written = webhookSeenWritten.get(n.phoneNumberId());
      if (written == null || !now.isBefore(written.plus(WEBHOOK_SEEN_EVERY))) {
        due.add(n.phoneNumberId());
      }
    }));
    if (due.isEmpty()) {
      return;
    }
    try {
      store.webhooksReceived(due, now);
      due.forEach(id -> webhookSeenWritten.put(id, now));
      if (webhookSeenWritten.size() > 100_000) {
        webhookSeenWritten.clear();
      }
    } catch (RuntimeException e) {
      warnings.permit("webhook-seen", "store").ifPresent(suppressed -> log.warn(
          "Could not record when webhooks last arrived (the Meta doctor reads it): {}{}", e.toString(),
          WarnLimiter.suppressed(suppressed)));
    }
  }

  /**
   * Routes a {@code test} event made by the layer for one subscription: stored and delivered like any
   * change, to that subscription only (whatever its events), with the delivery id {@code deliveryId}.
   */
  void routeTest(byte[] body, Subscription subscription, String deliveryId) {
    if (!(Ingest.shape(body) instanceof Ingest.Passed passed)) {
      throw new IllegalStateException("the layer's test event does not parse");
    }
    Instant now = clock.instant();
    RelayStore.Envelope envelope = new RelayStore.Envelope(newId("env"), body, now, Optional.of(RequestIds.generate(random)));
    Targets only = (change, target) -> target.accept(subscription.phoneNumberId(), subscription);
    accept(new Routing(envelope, passed.changes(), now, only, () -> deliveryId));
  }

  private IngestResult.Accepted accept(Routing routing) {
    int changes = routing.changes.size();
    int total = routing.count();
    if (total <= INLINE_ROUTING) {
      Stored stored = storeOnce(routing, c -> true, store::ingest);
      routing.reportOverBound();
      return new IngestResult.Accepted(changes, stored.inserted().size(),
          stored.deliveries().size() - stored.inserted().size(), 0, routing.overBound());
    }
    // Large: the envelope is stored (unrouted) with its calls, answered, and routed in the background.
    Stored calls = storeOnce(routing, Change::callsLane, store::ingestUnrouted);
    wake();
    routing.reportOverBound();
    log.info("Envelope {} causes {} deliveries: acknowledged now, routed in the background", routing.envelope.id(),
        total);
    return new IngestResult.Accepted(changes, calls.inserted().size(),
        calls.deliveries().size() - calls.inserted().size(), total - calls.deliveries().size(), routing.overBound());
  }

  /** The deliveries an envelope was stored with, and the ids of those inserted (the rest were duplicates). */
  private record Stored(List<NewDelivery> deliveries, List<String> inserted) {}

  /**
   * Stores the routing's envelope with the deliveries of the changes {@code which} selects, and wakes
   * their lanes. When a change of it was ingested concurrently (a duplicate key), once more under a new
   * envelope id, and the duplicates are skipped.
   */
  private Stored storeOnce(Routing routing, Predicate<Change> which, Write write) {
    List<NewDelivery> deliveries = routing.deliveries(which);
    // the envelope's call events, in its transaction (computed once: they do not depend on its id)
    List<CallStore.Event> callEvents = routing.callEvents();
    List<String> inserted;
    try {
      inserted = write.apply(routing.envelope, deliveries, callEvents);
    } catch (StoreException e) {
      if (!e.duplicate()) {
        throw e;
      }
      RelayStore.Envelope first = routing.envelope;
      routing.envelope = new RelayStore.Envelope(newId("env"), first.body(), first.receivedAt(), first.requestId());
      deliveries = routing.deliveries(which);
      inserted = write.apply(routing.envelope, deliveries, callEvents);
    }
    wakeFor(deliveries, inserted);
    return new Stored(deliveries, inserted);
  }

  /** An ingest's write: the envelope, its deliveries and its call events in one transaction. */
  @FunctionalInterface
  private interface Write {
    List<String> apply(RelayStore.Envelope envelope, List<NewDelivery> deliveries, List<CallStore.Event> callEvents);
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
    RelayStore.Envelope envelope;
    final List<Change> changes;
    final Instant now;
    final Targets targets;
    final java.util.function.Supplier<String> deliveryIds;
    final Map<String, List<StoredSubscription>> subscriptionsByNumber = new HashMap<>();
    final Map<String, Integer> overBoundByNumber = new TreeMap<>();
    /** The webhook id of each change (a digest of its bytes), computed once however many subscriptions. */
    final Map<Change, String> webhookIds = new IdentityHashMap<>();
    /** The numbers each change goes to, decided once per routing. */
    final Map<Change, List<WhatsAppNumber>> numbers = new IdentityHashMap<>();
    /** See {@link #callEvents()} and {@link #callChanges()}: computed once. */
    private List<CallStore.Event> callEvents;
    private List<Change> callChanges;

    /** @param targets who receives each change; null: the subscriptions of the numbers it is routed to */
    Routing(RelayStore.Envelope envelope, List<Change> changes, Instant now, Targets targets,
        java.util.function.Supplier<String> deliveryIds) {
      List<Change> ordered = new ArrayList<>(changes.size());
      changes.stream().filter(Change::callsLane).forEach(ordered::add);
      changes.stream().filter(c -> !c.callsLane()).forEach(ordered::add);
      this.envelope = envelope;
      this.changes = ordered;
      this.now = now;
      this.deliveryIds = deliveryIds;
      this.targets = targets != null ? targets : this::subscribers;
      if (targets == null) {
        findNumbers();
      }
    }

    private void findNumbers() {
      Map<String, Integer> unrouted = new TreeMap<>();
      for (Change change : changes) {
        NumberRouting.Route route = NumberRouting.route(change, keys);
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
            // the call ids are text of the body: only their count is logged (the delivery log has them)
            log.info("A {} change of envelope {} ({} call id(s)) arrived after its TTL (event time {}): recorded as"
                + " expired, not delivered", change.field(), envelope.id(), change.callIds().size(),
                change.eventTime().map(Instant::toString).orElse("none"));
          }
        }
      }
      unrouted.forEach((what, n) -> log.info("Envelope {}: {} {} were routed to no number", envelope.id(), n, what));
    }

    /** The active subscriptions that want the change, of each number it is routed to. */
    private void subscribers(Change change, BiConsumer<String, Subscription> target) {
      for (WhatsAppNumber number : numbers.get(change)) {
        for (StoredSubscription stored :
            subscriptionsByNumber.computeIfAbsent(number.phoneNumberId(), store::subscriptionsOf)) {
          Subscription s = stored.subscription();
          if (s.active() && s.wants(change.field(), change.permissionReply())) {
            target.accept(number.phoneNumberId(), s);
          }
        }
      }
    }

    /** Every (change, subscription) pair within the bound, in routing order. */
    private void visit(BiConsumer<Change, Subscription> visitor) {
      Map<String, Integer> perNumber = new HashMap<>();
      overBoundByNumber.clear();
      for (Change change : changes) {
        if (change.field().length() > MAX_FIELD) {
          continue;
        }
        targets.visit(change, (number, s) -> {
          if (perNumber.merge(number, 1, Integer::sum) > MAX_FANOUT_PER_NUMBER) {
            overBoundByNumber.merge(number, 1, Integer::sum);
          } else {
            visitor.accept(change, s);
          }
        });
      }
    }

    int count() {
      int[] n = {0};
      visit((c, s) -> n[0]++);
      return n[0];
    }

    /**
     * The call events of the changes routed to registered numbers (see {@link Calls#eventsOf}), at most
     * {@link #MAX_CALL_EVENTS} per envelope; none for a test event. Only the changes that
     * {@linkplain Calls#mayConcernCalls may concern a call} are parsed.
     */
    List<CallStore.Event> callEvents() {
      if (callEvents != null) {
        return callEvents;
      }
      List<CallStore.Event> out = new ArrayList<>();
      for (Change change : callChanges()) {
        for (WhatsAppNumber number : numbers.getOrDefault(change, List.of())) {
          for (CallStore.Event e : calls.eventsOf(number.phoneNumberId(), change.envelope(), change.changeOffset(),
              change.changeLength(), envelope.receivedAt())) {
            if (out.size() >= MAX_CALL_EVENTS) {
              log.warn("Envelope {} holds more than {} call events: the rest are not recorded in call records (they"
                  + " are delivered)", envelope.id(), MAX_CALL_EVENTS);
              return callEvents = out;
            }
            out.add(e);
          }
        }
      }
      return callEvents = out;
    }

    /** The changes of registered numbers that may concern a call, found once. */
    private List<Change> callChanges() {
      if (callChanges == null) {
        callChanges = new ArrayList<>();
        for (Change c : changes) {
          if (!numbers.getOrDefault(c, List.of()).isEmpty()
              && Calls.mayConcernCalls(c.field(), !c.callIds().isEmpty(), c.envelope(), c.changeOffset(), c.changeLength())) {
            callChanges.add(c);
          }
        }
      }
      return callChanges;
    }

    /**
     * Acts on the call permission replies and the connected calls of the envelope, once it is stored
     * ({@link Calls#permissionReply}, {@link Calls#stored}).
     * A failure is logged: the envelope is stored and acknowledged whatever becomes of it.
     */
    void permissionReplies() {
      try {
        calls.stored(callEvents());
      } catch (RuntimeException e) {
        log.warn("Envelope {}: its connected calls were not applied to the remembered limits ({})", envelope.id(),
            e.toString());
      }
      for (Change c : callChanges()) {
        if (!Events.MESSAGES.equals(c.field())) {
          continue;
        }
        for (WhatsAppNumber number : numbers.getOrDefault(c, List.of())) {
          try {
            calls.permissionReplies(number.phoneNumberId(), c.envelope(), c.changeOffset(), c.changeLength(), now);
          } catch (RuntimeException e) {
            log.warn("Envelope {}: the call permission replies for phone number ID {} were not applied to the remembered"
                + " limits ({})", envelope.id(), number.phoneNumberId(), e.toString());
          }
        }
      }
    }

    int overBound() {
      return overBoundByNumber.values().stream().mapToInt(Integer::intValue).sum();
    }

    /**
     * Counts and warns about the changes for numbers the layer does not know (a phone number ID not
     * registered, or a WABA-level change of a WABA with no registered number): answered 200 and
     * routed nowhere. Called once per ingested envelope (not when it is routed again, nor for a test).
     */
    void reportUnknownNumbers() {
      for (Change change : changes) {
        if (!numbers.get(change).isEmpty()) {
          continue;
        }
        String pnid = change.phoneNumberId().orElse(null);
        if (pnid == null && (change.entryId().isEmpty() || !keys.numbersOfWaba(change.entryId()).isEmpty())) {
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

    List<NewDelivery> deliveries(Predicate<Change> which) {
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
     * envelope routed. When the router is closing it stops after the current chunk, leaving the envelope
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
        if (!e.duplicate()) {
          throw e;
        }
        inserted = store.route(envelope.id(), chunk, last);
      }
      wakeFor(chunk, inserted);
    }

    private NewDelivery delivery(Change change, Subscription s) {
      // the calls lane: calls changes and the messages field's call events (permission replies, voicemail)
      Lane lane = change.callsLane() ? Lane.CALLS : Lane.DEFAULT;
      Optional<Instant> expiresAt = policy.expiry(lane, change.field(), envelope.receivedAt(), change.eventTime());
      // a call event already past its TTL (Meta redelivered it late) is recorded, never sent
      boolean expired = expiresAt.isPresent() && !now.isBefore(expiresAt.get());
      byte[] bytes = s.chatwootTerminateReason() ? TerminateReasons.enrich(change) : change.envelope();
      return NewDelivery.builder()
          .ids(deliveryIds.get(), s.id(), envelope.id())
          .change(webhookIds.computeIfAbsent(change, WebhookIds::of), change.field(), lane, bytes)
          .orderingKey(lane == Lane.CALLS ? change.orderingKey() : Optional.empty())
          // what it is to its call, and a terminate's hold: the store orders a call's deliveries by them
          .callEvent(lane == Lane.CALLS ? change.callEvent() : Optional.empty())
          .holdUntil(lane == Lane.CALLS ? policy.holdUntil(change.callEvent(), envelope.receivedAt()) : Optional.empty())
          // a call is rung by the instance that received it (others take it over only if it dies)
          .owner(lane == Lane.CALLS ? Optional.of(instanceId) : Optional.empty())
          .maxAttempts(policy.maxAttempts(lane, change.field()))
          .expiresAt(expiresAt)
          .expired(expired)
          .createdAt(now)
          .build();
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
        if (Ingest.shape(e.body()) instanceof Ingest.Passed passed) {
          if (!new Routing(e, passed.changes(), clock.instant(), null, this::newDeliveryId).routeAll()) {
            return routed;
          }
        } else {
          // it was verified before it was stored; should it ever not parse, it must not block the others
          log.warn("Stored envelope {} no longer parses; it is kept and not routed", e.id());
          store.route(e.id(), List.of(), true);
        }
        routed++;
      }
    }
    return routed;
  }

  // ---- the background router: one thread, woken by a large envelope, and every minute (a store
  // failure is retried then); at start it routes what a stopped process left unrouted

  synchronized void start() {
    if (router != null) {
      return;
    }
    router = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "relay-routing");
      t.setDaemon(true);
      return t;
    });
    routerSweep = router.scheduleWithFixedDelay(this::routeInBackground, 0, ROUTER_SWEEP.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  /** Whether the background router has stopped while it should run (its sweep ended in an Error). */
  boolean dead() {
    ScheduledFuture<?> sweep = routerSweep;
    // a periodic sweep ends only when the router stops, or when a run ended in an Error (out of memory)
    return sweep != null && sweep.isDone();
  }

  private void wake() {
    ScheduledExecutorService r = router;
    if (r == null || !routeQueued.compareAndSet(false, true)) {
      return;
    }
    try {
      r.execute(this::routeInBackground);
    } catch (RejectedExecutionException stopping) {
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

  synchronized void stop() {
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

  private String newDeliveryId() {
    return newId("dlv");
  }

  String newId(String kind) {
    return Secrets.newId(kind, random, 12);
  }
}

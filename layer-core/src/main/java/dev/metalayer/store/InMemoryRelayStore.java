package dev.metalayer.store;

import dev.metalayer.calls.CallStore;
import dev.metalayer.relay.RelayStore;
import dev.metalayer.relay.Attempt;
import dev.metalayer.relay.Delivery;
import dev.metalayer.relay.DeliveryState;
import dev.metalayer.relay.Lane;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * A {@link RelayStore} in memory: for tests and embedders that accept losing pending deliveries when
 * the process ends. Every method holds one lock, which makes each of them atomic.
 */
final class InMemoryRelayStore implements RelayStore {
  private final Map<String, StoredSubscription> subscriptions = new LinkedHashMap<>();
  private final Map<String, Envelope> envelopes = new HashMap<>();
  /** Envelopes stored by {@link #ingestUnrouted} and not routed yet, in arrival order. */
  private final Set<String> unrouted = new java.util.LinkedHashSet<>();
  private final Map<String, Row> deliveries = new LinkedHashMap<>();
  /** When a webhook for each number was last received. */
  private final Map<String, Instant> lastWebhooks = new HashMap<>();
  /** Each instance's last heartbeat. */
  private final Map<String, Instant> instances = new HashMap<>();
  /** The bytes deliveries are sent with, once per envelope and content (as {@link JdbcRelayStore#bodyKey}). */
  private final Map<String, byte[]> bodies = new HashMap<>();
  private long seq;
  /** The call records, under this store's lock. */
  private final InMemoryCallStore calls = new InMemoryCallStore(this, this::callDeliveries);
  private static final byte[] NO_BYTES = new byte[0];

  /** A delivery row, mutable under the store's lock. */
  private static final class Row {
    /** The delivery as queued, without its bytes: they are in {@link #bodies}, under {@link #body}. */
    final NewDelivery d;
    final String body;
    final long seq;
    final String number;
    DeliveryState state;
    int attempts;
    int maxAttempts;
    Instant nextAttemptAt;
    Instant expiresAt;
    Instant leaseUntil;
    String claimToken;
    String owner;
    /** What it is to its call (null: nothing, or no ordering key), and its rank in the call order. */
    final CallEvent callEvent;
    final int rank;
    /** When the row last changed (its finish time, once final): what retention counts from. */
    Instant updatedAt;
    final List<Attempt> log = new ArrayList<>();

    Row(NewDelivery d, String body, long seq, String number) {
      this.d = NewDelivery.builder().ids(d.id(), d.subscriptionId(), d.envelopeId())
          .change(d.webhookId(), d.field(), d.lane(), NO_BYTES).maxAttempts(d.maxAttempts())
          .orderingKey(d.orderingKey()).expiresAt(d.expiresAt()).expired(d.state() == DeliveryState.EXPIRED)
          .createdAt(d.createdAt()).build();
      this.body = body;
      this.seq = seq;
      this.number = number;
      this.state = d.state();
      this.maxAttempts = d.maxAttempts();
      this.nextAttemptAt = d.nextAttemptAt().orElse(null);
      this.expiresAt = d.expiresAt().orElse(null);
      this.updatedAt = d.createdAt();
      this.owner = d.owner().orElse(null);
      this.callEvent = d.orderingKey().isPresent() ? d.callEvent().orElse(null) : null;
      this.rank = d.callRank();
    }

    boolean sameCall(Row o) {
      return o != this && d.orderingKey().isPresent() && o.d.subscriptionId().equals(d.subscriptionId())
          && o.d.orderingKey().equals(d.orderingKey());
    }

    /** A terminate that is, or was, being sent. */
    boolean terminateSent() {
      return callEvent == CallEvent.TERMINATE
          && (state == DeliveryState.DELIVERING || state == DeliveryState.DELIVERED || attempts > 0);
    }

    boolean open() {
      return state == DeliveryState.PENDING || state == DeliveryState.DELIVERING;
    }

    Delivery view() {
      return new Delivery(d.id(), d.subscriptionId(), d.webhookId(), d.field(), d.lane(), state,
          state.isFinal() ? Optional.empty() : Optional.ofNullable(nextAttemptAt), Optional.ofNullable(expiresAt),
          d.createdAt(), log);
    }
  }

  @Override
  public synchronized boolean insertSubscription(StoredSubscription subscription, int maxPerNumber) {
    String id = subscription.subscription().id();
    if (subscriptions.containsKey(id)) {
      throw new IllegalArgumentException("duplicate subscription id " + id);
    }
    String number = subscription.subscription().phoneNumberId();
    if (subscriptions.values().stream().filter(s -> s.subscription().phoneNumberId().equals(number)).count()
        >= maxPerNumber) {
      return false;
    }
    subscriptions.put(id, subscription);
    return true;
  }

  @Override
  public synchronized Optional<StoredSubscription> findSubscription(String id) {
    return Optional.ofNullable(subscriptions.get(id));
  }

  @Override
  public synchronized List<StoredSubscription> subscriptionsOf(String phoneNumberId) {
    return subscriptions.values().stream()
        .filter(s -> s.subscription().phoneNumberId().equals(phoneNumberId))
        .sorted(Comparator.comparing((StoredSubscription s) -> s.subscription().createdAt()).thenComparing(s -> s.subscription().id()))
        .toList();
  }

  @Override
  public synchronized boolean updateSubscription(StoredSubscription subscription) {
    StoredSubscription old = subscriptions.get(subscription.subscription().id());
    if (old == null) {
      return false;
    }
    var s = subscription.subscription();
    var kept = new dev.metalayer.relay.Subscription(s.id(), old.subscription().phoneNumberId(), s.name(), s.url(),
        s.events(), s.active(), s.chatwootTerminateReason(), subscription.sealedSecret() != null,
        old.subscription().createdAt(), s.updatedAt());
    subscriptions.put(s.id(), new StoredSubscription(kept, subscription.sealedSecret()));
    backlog(s.id(), s.active(), s.updatedAt());
    return true;
  }

  @Override
  public synchronized boolean setActive(String id, boolean active, Instant at) {
    StoredSubscription old = subscriptions.get(id);
    if (old == null) {
      return false;
    }
    var s = old.subscription();
    subscriptions.put(id, new StoredSubscription(new dev.metalayer.relay.Subscription(s.id(), s.phoneNumberId(), s.name(),
        s.url(), s.events(), active, s.chatwootTerminateReason(), s.hasSecret(), s.createdAt(), at), old.sealedSecret()));
    backlog(id, active, at);
    return true;
  }

  /** Pauses or resumes a subscription's backlog (resumed rows are due at {@code at}, in arrival order). */
  private void backlog(String subscriptionId, boolean active, Instant at) {
    DeliveryState from = active ? DeliveryState.PAUSED : DeliveryState.PENDING;
    for (Row r : deliveries.values()) {
      if (r.state == from && r.d.subscriptionId().equals(subscriptionId)) {
        r.state = active ? DeliveryState.PENDING : DeliveryState.PAUSED;
        r.nextAttemptAt = active ? at : null;
        r.updatedAt = at;
      }
    }
  }

  @Override
  public synchronized boolean park(Claimed claim, Instant at) {
    Row r = held(claim.id(), claim.claimToken());
    StoredSubscription sub = subscriptions.get(claim.subscriptionId());
    if (r == null || sub == null) {
      return false;
    }
    boolean active = sub.subscription().active();
    r.state = active ? DeliveryState.PENDING : DeliveryState.PAUSED;
    r.nextAttemptAt = active ? at : null;
    r.leaseUntil = null;
    r.claimToken = null;
    r.updatedAt = at;
    return !active;
  }

  @Override
  public synchronized boolean deleteSubscription(String id) {
    deliveries.values().removeIf(r -> r.d.subscriptionId().equals(id));
    removeUnusedBodies();
    return subscriptions.remove(id) != null;
  }

  @Override
  public synchronized int deleteSubscriptionsOf(String phoneNumberId) {
    Set<String> ids = new HashSet<>();
    for (StoredSubscription s : subscriptions.values()) {
      if (s.subscription().phoneNumberId().equals(phoneNumberId)) {
        ids.add(s.subscription().id());
      }
    }
    deliveries.values().removeIf(r -> ids.contains(r.d.subscriptionId()));
    removeUnusedBodies();
    subscriptions.keySet().removeAll(ids);
    return ids.size();
  }

  @Override
  public synchronized List<String> ingest(Envelope envelope, List<NewDelivery> list, List<CallStore.Event> callEvents) {
    envelopes.put(envelope.id(), envelope);
    List<String> inserted = insert(list);
    calls.write(callEvents);
    return inserted;
  }

  @Override
  public synchronized List<String> ingestUnrouted(Envelope envelope, List<NewDelivery> list,
      List<CallStore.Event> callEvents) {
    envelopes.put(envelope.id(), envelope);
    unrouted.add(envelope.id());
    List<String> inserted = insert(list);
    calls.write(callEvents);
    return inserted;
  }

  @Override
  public CallStore calls() {
    return calls;
  }

  /** The request id of a row's envelope, while the envelope is kept. */
  private Optional<String> requestIdOf(Row r) {
    Envelope e = r.d.envelopeId() == null ? null : envelopes.get(r.d.envelopeId());
    return e == null ? Optional.empty() : e.requestId();
  }

  /** The deliveries to the subscriptions of {@code phoneNumberId} with {@code orderingKey}, oldest first. */
  private List<CallStore.DeliveryEntry> callDeliveries(String phoneNumberId, String orderingKey) {
    List<CallStore.DeliveryEntry> out = new ArrayList<>();
    for (Row r : deliveries.values()) {
      if (r.number.equals(phoneNumberId) && r.d.orderingKey().equals(Optional.of(orderingKey))) {
        out.add(new CallStore.DeliveryEntry(r.d.id(), r.d.subscriptionId(), r.d.field(), r.state.wire(), r.attempts,
            r.d.createdAt(), r.log.isEmpty() ? Optional.empty() : Optional.of(r.log.get(r.log.size() - 1).at())));
      }
    }
    return out;
  }

  @Override
  public synchronized List<Envelope> unrouted(int limit) {
    return unrouted.stream().limit(Math.max(0, limit)).map(envelopes::get).toList();
  }

  @Override
  public synchronized List<String> route(String envelopeId, List<NewDelivery> list, boolean last) {
    List<String> inserted = insert(list);
    if (last) {
      unrouted.remove(envelopeId);
    }
    return inserted;
  }

  private List<String> insert(List<NewDelivery> list) {
    List<String> inserted = new ArrayList<>();
    Map<byte[], String> keys = new java.util.IdentityHashMap<>();
    for (NewDelivery d : list) {
      boolean duplicate =
          deliveries.values().stream()
              .anyMatch(r -> r.d.subscriptionId().equals(d.subscriptionId()) && r.d.webhookId().equals(d.webhookId()));
      if (!duplicate) {
        StoredSubscription sub = subscriptions.get(d.subscriptionId());
        String body = keys.computeIfAbsent(d.body(), b -> JdbcRelayStore.bodyKey(d.envelopeId(), b));
        bodies.putIfAbsent(body, d.body());
        Row row = new Row(d, body, ++seq, sub == null ? "" : sub.subscription().phoneNumberId());
        placeInCall(row, d);
        deliveries.put(d.id(), row);
        inserted.add(d.id());
      }
    }
    return inserted;
  }

  /** The call order at insert, as {@code JdbcRelayStore.CallOrder}: supersede, hold, release. */
  private void placeInCall(Row row, NewDelivery d) {
    if (row.callEvent == null || row.state != DeliveryState.PENDING) {
      return;
    }
    List<Row> call = deliveries.values().stream().filter(row::sameCall).toList();
    if (row.callEvent == CallEvent.CONNECT) {
      if (call.stream().anyMatch(Row::terminateSent)) {
        row.state = DeliveryState.SUPERSEDED;
        row.nextAttemptAt = null;
        return;
      }
      for (Row r : call) { // the connect ends its terminate's hold
        if (r.callEvent == CallEvent.TERMINATE && r.state == DeliveryState.PENDING && r.attempts == 0
            && r.nextAttemptAt.isAfter(d.createdAt())) {
          r.nextAttemptAt = d.createdAt();
          r.updatedAt = d.createdAt();
        }
      }
    } else if (call.isEmpty() && d.holdUntil().isPresent()) {
      row.nextAttemptAt = d.holdUntil().get();
    }
  }

  /** Removes the bodies no delivery refers to, unless their envelope is waiting to be routed. */
  private void removeUnusedBodies() {
    Set<String> used = new HashSet<>();
    for (Row r : deliveries.values()) {
      used.add(r.body);
    }
    bodies.keySet().removeIf(k -> !used.contains(k) && !unrouted.contains(k.substring(0, k.lastIndexOf(':'))));
  }

  /** How many bodies are stored, and their bytes: what a test measures of the storage of a fan-out. */
  synchronized long[] bodiesStored() {
    return new long[] {bodies.size(), bodies.values().stream().mapToLong(b -> b.length).sum()};
  }

  @Override
  public synchronized List<Claimed> claimDue(Lane lane, String instance, Instant now, Instant leaseUntil, int limit,
      int perNumber, Set<String> skip) {
    return FairShare.inRounds(limit, (n, superseded) -> claimRound(lane, instance, now, leaseUntil, n, perNumber, skip,
        superseded));
  }

  private List<Claimed> claimRound(Lane lane, String instance, Instant now, Instant leaseUntil, int limit,
      int perNumber, Set<String> skip, int[] superseded) {
    Map<String, Integer> load = new HashMap<>();
    Map<String, List<FairShare.Candidate>> candidates = new HashMap<>();
    deliveries.values().stream()
        .filter(r -> r.d.lane() == lane && !skip.contains(r.d.subscriptionId()) && claimable(r, now)
            && mayClaim(r, instance, now))
        // a crashed attempt's lease first, then by due time and arrival
        .sorted(Comparator.comparing((Row r) -> r.state == DeliveryState.PENDING)
            .thenComparing(r -> r.state == DeliveryState.PENDING ? r.nextAttemptAt : r.leaseUntil)
            .thenComparingLong(r -> r.seq))
        .forEach(r -> candidates.computeIfAbsent(r.number, k -> new ArrayList<>())
            .add(new FairShare.Candidate(r.d.id(), r.number,
                r.state == DeliveryState.PENDING ? r.nextAttemptAt : r.leaseUntil, r.seq)));
    for (Row r : deliveries.values()) {
      if (r.d.lane() == lane && r.state == DeliveryState.DELIVERING && r.leaseUntil.isAfter(now)) {
        load.merge(r.number, 1, Integer::sum);
      }
    }
    List<Claimed> out = new ArrayList<>();
    for (FairShare.Candidate candidate : FairShare.pick(candidates, load, perNumber, Math.max(0, limit))) {
      Row r = deliveries.get(candidate.id());
      if (r.callEvent == CallEvent.CONNECT && deliveries.values().stream().anyMatch(e -> r.sameCall(e) && e.terminateSent())) {
        r.state = DeliveryState.SUPERSEDED; // its call's terminate is, or was, being sent: never sent
        r.nextAttemptAt = null;
        r.leaseUntil = null;
        r.claimToken = null;
        r.updatedAt = now;
        superseded[0]++;
        continue;
      }
      r.state = DeliveryState.DELIVERING;
      r.leaseUntil = leaseUntil;
      r.claimToken = UUID.randomUUID().toString();
      if (r.owner != null) {
        r.owner = instance; // its owner's, or taken over from a dead owner: its retries stay here
      }
      r.updatedAt = now;
      out.add(new Claimed(r.d.id(), r.d.subscriptionId(), r.d.webhookId(), r.d.field(), r.d.lane(), bodies.get(r.body),
          r.attempts, r.maxAttempts, Optional.ofNullable(r.expiresAt), r.claimToken, requestIdOf(r), r.d.createdAt()));
    }
    return out;
  }

  /** Unowned, owned by {@code instance}, or owned by an instance not seen within the owner timeout. */
  private boolean mayClaim(Row r, String instance, Instant now) {
    if (r.owner == null || r.owner.equals(instance)) {
      return true;
    }
    Instant seen = instances.get(r.owner);
    return seen == null || !seen.isAfter(now.minus(OWNER_TIMEOUT));
  }

  private boolean claimable(Row r, Instant now) {
    boolean due =
        (r.state == DeliveryState.PENDING && !r.nextAttemptAt.isAfter(now))
            || (r.state == DeliveryState.DELIVERING && !r.leaseUntil.isAfter(now));
    if (!due || r.d.orderingKey().isEmpty()) {
      return due;
    }
    for (Row e : deliveries.values()) {
      if (e.open() && r.sameCall(e) && before(e, r)) {
        return false;
      }
    }
    return true;
  }

  /** Whether the open row {@code e} of {@code r}'s call comes before {@code r} (see {@link RelayStore}). */
  private static boolean before(Row e, Row r) {
    if (r.rank == 0 && e.terminateSent()) {
      return false; // that connect is superseded by the claim instead
    }
    boolean untouched = e.state == DeliveryState.PENDING && e.attempts == 0;
    return e.seq < r.seq ? !(e.rank > r.rank && untouched) : e.rank < r.rank && r.attempts == 0;
  }

  @Override
  public synchronized boolean renew(String deliveryId, String claimToken, Instant leaseUntil) {
    Row r = held(deliveryId, claimToken);
    if (r == null) {
      return false;
    }
    r.leaseUntil = leaseUntil;
    return true;
  }

  /** The row, if it is delivering under {@code claimToken}; else null. */
  private Row held(String deliveryId, String claimToken) {
    Row r = deliveries.get(deliveryId);
    return r != null && r.state == DeliveryState.DELIVERING && r.claimToken.equals(claimToken) ? r : null;
  }

  @Override
  public synchronized boolean finish(String deliveryId, String claimToken, AttemptRecord attempt, DeliveryState state,
      Instant nextAttemptAt, Instant at) {
    Row r = held(deliveryId, claimToken);
    if (r == null) {
      return false;
    }
    if (attempt != null) {
      r.attempts++;
      r.log.add(new Attempt(r.attempts, attempt.at(), Optional.ofNullable(attempt.status()), attempt.latencyMs(),
          Optional.ofNullable(JdbcRelayStore.truncate(attempt.error(), 500)),
          Optional.ofNullable(JdbcRelayStore.truncate(attempt.responseExcerpt(), 1024))));
    }
    r.state = state;
    r.nextAttemptAt = nextAttemptAt;
    r.leaseUntil = null;
    r.claimToken = null;
    r.updatedAt = at;
    return true;
  }

  @Override
  public synchronized Optional<Instant> nextWake(Lane lane) {
    return deliveries.values().stream()
        .filter(r -> r.d.lane() == lane && r.open())
        .map(r -> r.state == DeliveryState.PENDING ? r.nextAttemptAt : r.leaseUntil)
        .min(Comparator.naturalOrder());
  }

  @Override
  public synchronized dev.metalayer.metrics.LayerMetrics.Backlog backlog(Lane lane) {
    long waiting = 0;
    Instant oldest = null;
    for (Row r : deliveries.values()) {
      if (r.d.lane() == lane && (r.state == DeliveryState.PENDING || r.state == DeliveryState.DELIVERING)) {
        waiting++;
        oldest = oldest == null || r.d.createdAt().isBefore(oldest) ? r.d.createdAt() : oldest;
      }
    }
    return new dev.metalayer.metrics.LayerMetrics.Backlog(waiting, Optional.ofNullable(oldest));
  }

  @Override
  public synchronized int releaseLeases(Instant now) {
    int n = 0;
    for (Row r : deliveries.values()) {
      if (r.state == DeliveryState.DELIVERING) {
        r.state = DeliveryState.PENDING;
        r.leaseUntil = null;
        r.claimToken = null;
        r.nextAttemptAt = now;
        r.updatedAt = now;
        n++;
      }
      if (r.open()) {
        r.owner = null;
      }
    }
    return n;
  }

  @Override
  public synchronized void heartbeat(String instance, Instant at) {
    instances.put(instance, at);
  }

  @Override
  public synchronized void retire(String instance) {
    instances.remove(instance);
  }

  @Override
  public synchronized boolean replay(String deliveryId, Instant now) {
    Row r = deliveries.get(deliveryId);
    if (r == null || r.state == DeliveryState.DELIVERING || r.state == DeliveryState.PAUSED
        || r.state == DeliveryState.SUPERSEDED) {
      return false;
    }
    if (r.state != DeliveryState.PENDING) {
      r.expiresAt = null;
      r.maxAttempts = r.attempts + 1;
    }
    r.state = DeliveryState.PENDING;
    r.nextAttemptAt = now;
    r.leaseUntil = null;
    r.claimToken = null;
    r.updatedAt = now;
    return true;
  }

  @Override
  public synchronized Purged purge(Instant cutoff, int limit) {
    int removedDeliveries = 0;
    int removedAttempts = 0;
    for (Iterator<Row> it = deliveries.values().iterator(); it.hasNext() && removedDeliveries < limit; ) {
      Row r = it.next();
      if (r.state.isFinal() && r.updatedAt.isBefore(cutoff)) {
        removedAttempts += r.log.size();
        removedDeliveries++;
        it.remove();
      }
    }
    removeUnusedBodies();
    Set<String> referenced = new HashSet<>();
    for (Row r : deliveries.values()) {
      if (!r.state.isFinal()) {
        referenced.add(r.d.envelopeId());
      }
    }
    int removedEnvelopes = 0;
    for (Iterator<Envelope> it = envelopes.values().iterator(); it.hasNext() && removedEnvelopes < limit; ) {
      Envelope e = it.next();
      if (e.receivedAt().isBefore(cutoff) && !referenced.contains(e.id()) && !unrouted.contains(e.id())) {
        removedEnvelopes++;
        it.remove();
      }
    }
    return new Purged(removedDeliveries, removedAttempts, removedEnvelopes);
  }

  @Override
  public synchronized Optional<Delivery> findDelivery(String id) {
    return Optional.ofNullable(deliveries.get(id)).map(Row::view);
  }

  @Override
  public synchronized List<Delivery> deliveries(String subscriptionId, Optional<DeliveryState> state, int limit) {
    return deliveries.values().stream()
        .filter(r -> r.d.subscriptionId().equals(subscriptionId) && state.map(s -> s == r.state).orElse(true))
        .sorted(Comparator.comparing((Row r) -> r.d.createdAt()).thenComparingLong(r -> r.seq).reversed())
        .limit(limit)
        .map(Row::view)
        .toList();
  }

  @Override
  public synchronized Optional<Envelope> findEnvelope(String id) {
    return Optional.ofNullable(envelopes.get(id));
  }

  @Override
  public boolean ping() {
    return true;
  }

  @Override
  public synchronized void webhooksReceived(Collection<String> phoneNumberIds, Instant at) {
    for (String id : phoneNumberIds) {
      lastWebhooks.merge(id, at, (stored, given) -> given.isAfter(stored) ? given : stored);
    }
  }

  @Override
  public synchronized Optional<Instant> lastWebhook(String phoneNumberId) {
    return Optional.ofNullable(lastWebhooks.get(phoneNumberId));
  }

  @Override
  public synchronized List<DeliveredMinute> deliveredSince(Instant since) {
    Map<String, long[]> perMinute = new java.util.TreeMap<>();
    for (Row r : deliveries.values()) {
      if (r.state == DeliveryState.DELIVERED && !r.updatedAt.isBefore(since)) {
        long minute = java.time.Duration.between(since, r.updatedAt).toMinutes();
        long latency = java.time.Duration.between(r.d.createdAt(), r.updatedAt).toMillis();
        long[] m = perMinute.computeIfAbsent(r.d.lane().wire() + " " + minute, k -> new long[3]);
        m[0]++;
        m[1] += latency;
        m[2] = Math.max(m[2], latency);
      }
    }
    List<DeliveredMinute> out = new ArrayList<>();
    perMinute.forEach((k, m) -> out.add(new DeliveredMinute(Lane.fromWire(k.substring(0, k.indexOf(' '))),
        Long.parseLong(k.substring(k.indexOf(' ') + 1)), m[0], m[1], m[2])));
    return out;
  }

  @Override
  public synchronized long queueDepth(Lane lane, long cap) {
    return Math.min(cap, deliveries.values().stream().filter(r -> r.d.lane() == lane
        && (r.state == DeliveryState.PENDING || r.state == DeliveryState.DELIVERING)).count());
  }
}

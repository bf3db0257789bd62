package dev.metalayer.store;

import dev.metalayer.calls.CallStore;
import dev.metalayer.relay.RelayStore;
import dev.metalayer.relay.Attempt;
import dev.metalayer.relay.Delivery;
import dev.metalayer.relay.DeliveryState;
import dev.metalayer.relay.Lane;
import dev.metalayer.relay.StoreException;
import dev.metalayer.relay.Subscription;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link RelayStore} on a JDBC {@link Database} (H2 or PostgreSQL). Claims select candidates with
 * {@code FOR UPDATE SKIP LOCKED} (both H2 2.x and PostgreSQL have it) and then flip each row with a
 * conditional update, so a claim is exclusive even where row locks would not be. Thread-safe.
 *
 * <p>On PostgreSQL, several instances share the rows: the claims of one lane take turns (a
 * transaction-scoped advisory lock, see {@link #takeClaimTurn}), so that each reads the load the
 * previous one left and the cap per number holds across instances; and every commit that makes
 * something claimable (new deliveries, a replay, a subscription turned on or created) notifies the
 * other instances on a channel of the schema ({@link PgWakeups}).
 */
final class JdbcRelayStore implements RelayStore {
  private static final Logger log = LoggerFactory.getLogger(JdbcRelayStore.class);

  private static final String SUBSCRIPTION_COLUMNS =
      "SELECT id, phone_number_id, name, url, events, secret, active, chatwoot_terminate_reason, created_at,"
          + " updated_at";
  private static final String DELIVERY_COLUMNS =
      "SELECT id, subscription_id, webhook_id, field, lane, state, attempts, next_attempt_at, expires_at, created_at";
  /**
   * A candidate is not held back by an unfinished delivery of the same call to the same subscription
   * that comes before it (see {@link RelayStore}): an earlier one, unless it is of a higher rank and no
   * attempt has reached it; a later one of lower rank, while no attempt has reached the candidate. A
   * terminate being attempted, or attempted already, never holds back a connect (rank 0): the claim
   * supersedes that connect ({@link #SUPERSEDE}). Only call deliveries have an ordering key: the
   * {@code IS NULL} test spares every other row the subquery, which reads a call's few rows through
   * the (subscription, ordering key) index.
   */
  private static final String IN_ORDER =
      " AND (d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM layer_deliveries e WHERE e.subscription_id ="
          + " d.subscription_id AND e.ordering_key = d.ordering_key AND e.state IN ('pending', 'delivering')"
          + " AND ((e.seq < d.seq AND NOT (e.call_rank > d.call_rank AND e.state = 'pending' AND e.attempts = 0))"
          + " OR (e.seq > d.seq AND e.call_rank < d.call_rank AND d.attempts = 0))"
          + " AND NOT (d.call_rank = 0 AND e.call_event = 'terminate' AND (e.state = 'delivering' OR e.attempts > 0))))";

  /** A terminate of the same call and subscription as {@code x} that is, or was, being sent. */
  private static final String TERMINATE_SENT =
      "SELECT 1 FROM layer_deliveries e WHERE e.subscription_id = x.subscription_id AND e.ordering_key = x.ordering_key"
          + " AND e.call_event = 'terminate' AND (e.state IN ('delivering', 'delivered') OR e.attempts > 0)";

  /**
   * The claim's supersede of a candidate: a connect (rank 0) whose call's terminate is, or was, being
   * sent to the same subscription ends {@code superseded} instead of being claimed. Parameters: now
   * (updated_at), the id, now, now.
   */
  static final String SUPERSEDE =
      "UPDATE layer_deliveries x SET state = 'superseded', next_attempt_at = NULL, lease_until = NULL,"
          + " claim_token = NULL, updated_at = ? WHERE x.id = ? AND x.call_rank = 0 AND x.ordering_key IS NOT NULL"
          + " AND ((x.state = 'pending' AND x.next_attempt_at <= ?) OR (x.state = 'delivering' AND x.lease_until <= ?))"
          + " AND EXISTS (" + TERMINATE_SENT + ")";

  /**
   * A claim without its turn (PostgreSQL, see {@link #takeClaimTurn}) leaves alone a connect that has a
   * terminate of its call, in any state: whether it is superseded is decided by the next claim, within
   * its turn. Parameter: the id.
   */
  private static final String HAS_TERMINATE =
      "SELECT 1 FROM layer_deliveries x WHERE x.id = ? AND x.call_rank = 0 AND EXISTS (SELECT 1 FROM layer_deliveries e"
          + " WHERE e.subscription_id = x.subscription_id AND e.ordering_key = x.ordering_key"
          + " AND e.call_event = 'terminate')";

  private static final String FINISHED = "('delivered', 'expired', 'dead', 'superseded')";
  private static final String UNREFERENCED =
      "e.routed = TRUE AND NOT EXISTS (SELECT 1 FROM layer_deliveries d WHERE d.envelope_id = e.id AND d.state IN"
          + " ('pending', 'delivering', 'paused'))";
  /**
   * A body no delivery refers to any more, whose envelope is not waiting to be routed (routing an
   * envelope may still refer to a body of it again). Indexed: layer_deliveries_body.
   */
  private static final String UNUSED_BODY =
      "NOT EXISTS (SELECT 1 FROM layer_deliveries d WHERE d.body_id = b.id) AND NOT EXISTS (SELECT 1 FROM"
          + " layer_envelopes e WHERE e.id = b.envelope_id AND e.routed = FALSE)";
  /** The class of the PostgreSQL advisory locks that serialize the creators of one number's subscriptions. */
  static final int SUBSCRIPTION_LOCK = 0x6d6c7375;
  /** H2's file is open in one process: its creators of subscriptions are serialized in this JVM. */
  private static final Object H2_SUBSCRIPTION_LOCK = new Object();
  /** The PostgreSQL advisory lock of the transactions that delete deliveries and then their bodies. */
  static final long BODIES_LOCK = 0x6d6c626f64696573L;
  private static final Object H2_BODIES_LOCK = new Object();

  private static final String ENVELOPE_COLUMNS = "SELECT id, body, received_at, request_id";
  private static final String INSERT_DELIVERY =
      "INSERT INTO layer_deliveries (id, subscription_id, envelope_id, webhook_id, field, lane, ordering_key, body_id,"
          + " state, attempts, max_attempts, next_attempt_at, expires_at, lease_until, created_at, updated_at,"
          + " phone_number_id, owner, call_event, call_rank) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, NULL, ?, ?, ?,"
          + " ?, ?, ?)";
  /** Deliveries sent to the database in one batch. */
  private static final int INSERT_BATCH = 500;

  private final Database db;
  private final Sql sql;
  /** PostgreSQL: the schema's wake-up channel and the key of its claim turns; H2: null and 0. */
  private final String channel;
  private final int schemaKey;
  /** The call records beside the relay's rows: written in the ingest's transaction. */
  private final JdbcCallStore calls;

  /** The relay's rows in {@code db}, whose schema {@link Database#open} has brought up to date. */
  public JdbcRelayStore(Database db) {
    this.db = Objects.requireNonNull(db, "db");
    this.sql = new Sql(db);
    this.calls = new JdbcCallStore(db);
    if (db.dialect() == Database.Dialect.POSTGRESQL) {
      String schema = sql.first("SELECT current_schema()", rs -> Optional.ofNullable(rs.getString(1)))
          .flatMap(x -> x).orElse("public");
      this.channel = PgWakeups.channel(schema);
      this.schemaKey = schema.hashCode();
    } else {
      this.channel = null;
      this.schemaKey = 0;
    }
  }

  /**
   * PostgreSQL: tells the other instances, when this transaction commits, that {@code lane} has
   * something claimable (NOTIFY is transactional: nothing is heard of a rollback).
   */
  private void announce(Sql tx, Lane lane) {
    if (channel != null) {
      tx.execute("SELECT pg_notify(?, ?)", channel, lane.wire());
    }
  }

  /** {@link #announce} the lanes of the pending deliveries among {@code inserted}. */
  private void announce(Sql tx, List<NewDelivery> deliveries, List<String> inserted) {
    if (channel == null || inserted.isEmpty()) {
      return;
    }
    Set<String> ids = new java.util.HashSet<>(inserted);
    for (Lane lane : Lane.values()) {
      if (deliveries.stream().anyMatch(d -> d.lane() == lane && d.state() == DeliveryState.PENDING && ids.contains(d.id()))) {
        announce(tx, lane);
      }
    }
  }

  // ---- subscriptions

  @Override
  public boolean insertSubscription(StoredSubscription stored, int maxPerNumber) {
    if (db.dialect() == Database.Dialect.H2) {
      synchronized (H2_SUBSCRIPTION_LOCK) {
        return insertWithinCap(stored, maxPerNumber);
      }
    }
    return insertWithinCap(stored, maxPerNumber);
  }

  /**
   * The count and the insert in one transaction. On PostgreSQL it first takes the advisory lock of the
   * number (held until the commit), so that two instances creating a subscription of one number at once
   * count one after the other: READ COMMITTED alone would let both count the same rows.
   */
  private boolean insertWithinCap(StoredSubscription stored, int maxPerNumber) {
    Subscription s = stored.subscription();
    return sql.inTransaction(tx -> {
      if (db.dialect() == Database.Dialect.POSTGRESQL) {
        tx.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", SUBSCRIPTION_LOCK, s.phoneNumberId());
      }
      long count = tx.first("SELECT COUNT(*) FROM layer_subscriptions WHERE phone_number_id = ?", rs -> rs.getLong(1),
          s.phoneNumberId()).orElse(0L);
      if (count >= maxPerNumber) {
        return false;
      }
      tx.update("INSERT INTO layer_subscriptions (id, phone_number_id, name, url, events, secret, active,"
              + " chatwoot_terminate_reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          s.id(), s.phoneNumberId(), s.name(), s.url(), String.join(",", s.events()), Sql.bytes(stored.sealedSecret()),
          s.active(), s.chatwootTerminateReason(), s.createdAt(), s.updatedAt());
      announceAll(tx, s.active());
      return true;
    });
  }

  /** When {@code active}: {@link #announce} every lane (a subscription turned on or created). */
  private void announceAll(Sql tx, boolean active) {
    if (active) {
      for (Lane lane : Lane.values()) {
        announce(tx, lane);
      }
    }
  }

  @Override
  public Optional<StoredSubscription> findSubscription(String id) {
    return sql.first(SUBSCRIPTION_COLUMNS + " FROM layer_subscriptions WHERE id = ?", JdbcRelayStore::subscription, id);
  }

  @Override
  public List<StoredSubscription> subscriptionsOf(String phoneNumberId) {
    return sql.query(SUBSCRIPTION_COLUMNS + " FROM layer_subscriptions WHERE phone_number_id = ? ORDER BY created_at, id",
        JdbcRelayStore::subscription, phoneNumberId);
  }

  @Override
  public boolean updateSubscription(StoredSubscription stored) {
    Subscription s = stored.subscription();
    return sql.inTransaction(tx -> {
      boolean found = tx.update("UPDATE layer_subscriptions SET name = ?, url = ?, events = ?, secret = ?, active = ?,"
              + " chatwoot_terminate_reason = ?, updated_at = ? WHERE id = ?",
          s.name(), s.url(), String.join(",", s.events()), Sql.bytes(stored.sealedSecret()), s.active(),
          s.chatwootTerminateReason(), s.updatedAt(), s.id()) == 1;
      if (found) {
        backlog(tx, s.id(), s.active(), s.updatedAt());
      }
      announceAll(tx, found && s.active());
      return found;
    });
  }

  @Override
  public boolean setActive(String id, boolean active, Instant at) {
    return sql.inTransaction(tx -> {
      boolean found = tx.update("UPDATE layer_subscriptions SET active = ?, updated_at = ? WHERE id = ?", active, at, id) == 1;
      if (found) {
        backlog(tx, id, active, at);
      }
      announceAll(tx, found && active);
      return found;
    });
  }

  /**
   * Pauses ({@code active} false) or resumes the backlog of a subscription whose row this transaction
   * has just updated (and so holds locked, as {@link #park} reads it): a state change of its rows,
   * through the (subscription, state, seq) index. A paused row lies outside every claim's index range.
   * Resumed rows are due at {@code at}: claimed in their order of arrival.
   */
  private static void backlog(Sql tx, String subscriptionId, boolean active, Instant at) {
    if (active) {
      tx.update("UPDATE layer_deliveries SET state = 'pending', next_attempt_at = ?, updated_at = ?"
          + " WHERE subscription_id = ? AND state = 'paused'", at, at, subscriptionId);
    } else {
      tx.update("UPDATE layer_deliveries SET state = 'paused', next_attempt_at = NULL, updated_at = ?"
          + " WHERE subscription_id = ? AND state = 'pending'", at, subscriptionId);
    }
  }

  @Override
  public boolean deleteSubscription(String id) {
    return deleteSubscriptions("SELECT id FROM layer_subscriptions WHERE id = ?", id) == 1;
  }

  @Override
  public int deleteSubscriptionsOf(String phoneNumberId) {
    return deleteSubscriptions("SELECT id FROM layer_subscriptions WHERE phone_number_id = ?", phoneNumberId);
  }

  /**
   * Deletes the subscriptions {@code subscriptionIds} selects (one parameter), with their deliveries,
   * attempts and the bodies no other delivery uses, in one transaction. The subscriptions are locked
   * first (the order {@link #setActive} and {@link #park} lock in), then the deliveries: an attempt that
   * is finishing holds its delivery's row, so its attempt record is committed (and then deleted here)
   * before the deletes run, and one that finishes later finds its delivery gone. @return the
   * subscriptions deleted
   */
  private int deleteSubscriptions(String subscriptionIds, String parameter) {
    String deliveryIds = "SELECT id FROM layer_deliveries WHERE subscription_id IN (" + subscriptionIds + ")";
    return deletingBodies(tx -> {
      tx.execute(subscriptionIds + " FOR UPDATE", parameter);
      tx.execute(deliveryIds + " FOR UPDATE", parameter);
      List<String> bodies = tx.query("SELECT DISTINCT body_id FROM layer_deliveries WHERE subscription_id IN ("
          + subscriptionIds + ")", rs -> rs.getString(1), parameter);
      tx.update("DELETE FROM layer_attempts WHERE delivery_id IN (" + deliveryIds + ")", parameter);
      tx.update("DELETE FROM layer_deliveries WHERE subscription_id IN (" + subscriptionIds + ")", parameter);
      deleteUnusedBodies(tx, bodies);
      return tx.update("DELETE FROM layer_subscriptions WHERE id IN (" + subscriptionIds + ")", parameter);
    });
  }

  /**
   * Runs a transaction that deletes deliveries and then the bodies they leave unused, one at a time per
   * database. Two such transactions at once could each see the other's deliveries (not yet deleted) still
   * referring to a body they share, and both keep it: an orphan no later purge would find.
   */
  private <T> T deletingBodies(Sql.Work<T> work) {
    if (db.dialect() == Database.Dialect.H2) {
      synchronized (H2_BODIES_LOCK) {
        return sql.inTransaction(work);
      }
    }
    return sql.inTransaction(tx -> {
      tx.execute("SELECT pg_advisory_xact_lock(?)", BODIES_LOCK);
      return work.run(tx);
    });
  }

  /** Deletes those of {@code candidates} that no delivery refers to any more, in batches. @return how many */
  private static int deleteUnusedBodies(Sql tx, List<String> candidates) {
    int deleted = 0;
    for (int from = 0; from < candidates.size(); from += INSERT_BATCH) {
      List<String> batch = candidates.subList(from, Math.min(candidates.size(), from + INSERT_BATCH));
      deleted += tx.update("DELETE FROM layer_bodies b WHERE b.id IN (" + Sql.placeholders(batch.size()) + ") AND "
          + UNUSED_BODY, batch.toArray());
    }
    return deleted;
  }

  // ---- ingest

  @Override
  public List<String> ingest(Envelope envelope, List<NewDelivery> deliveries, List<CallStore.Event> callEvents) {
    return sql.inTransaction(tx -> {
      insertEnvelope(tx, envelope, true);
      List<String> inserted = insertDeliveries(tx, deliveries, envelope.id());
      announce(tx, deliveries, inserted);
      calls.write(tx, callEvents);
      return inserted;
    });
  }

  @Override
  public List<String> ingestUnrouted(Envelope envelope, List<NewDelivery> deliveries,
      List<CallStore.Event> callEvents) {
    return sql.inTransaction(tx -> {
      insertEnvelope(tx, envelope, false);
      List<String> inserted = insertDeliveries(tx, deliveries, envelope.id());
      announce(tx, deliveries, inserted);
      calls.write(tx, callEvents);
      return inserted;
    });
  }

  @Override
  public CallStore calls() {
    return calls;
  }

  @Override
  public List<Envelope> unrouted(int limit) {
    return sql.query(ENVELOPE_COLUMNS + " FROM layer_envelopes WHERE routed = FALSE ORDER BY routed, received_at LIMIT ?",
        JdbcRelayStore::envelope, Math.max(0, limit));
  }

  @Override
  public List<String> route(String envelopeId, List<NewDelivery> deliveries, boolean last) {
    return sql.inTransaction(tx -> {
      List<String> inserted = insertDeliveries(tx, deliveries, null);
      announce(tx, deliveries, inserted);
      if (last) {
        tx.update("UPDATE layer_envelopes SET routed = TRUE WHERE id = ?", envelopeId);
      }
      return inserted;
    });
  }

  private static void insertEnvelope(Sql tx, Envelope envelope, boolean routed) {
    tx.update("INSERT INTO layer_envelopes (id, body, received_at, routed, request_id) VALUES (?, ?, ?, ?, ?)",
        envelope.id(), envelope.body(), envelope.receivedAt(), routed, Sql.text(envelope.requestId().orElse(null)));
  }

  /**
   * Inserts the deliveries not queued yet for their subscription; each takes its subscription's number
   * and refers to its body, stored once per envelope and content ({@link #bodyKey}): the deliveries of
   * a change to N subscriptions share one body row. A body already stored (routing an envelope in
   * chunks, or again after a crash) is not stored again.
   *
   * @param newEnvelope the envelope this transaction has just inserted (null when routing a stored one):
   *     no body of it can be stored yet, so none is looked up
   */
  private List<String> insertDeliveries(Sql tx, List<NewDelivery> deliveries, String newEnvelope) {
    List<String> inserted = new ArrayList<>();
    if (deliveries.isEmpty()) {
      return inserted;
    }
    Map<String, String> numbers = new java.util.HashMap<>();
    // inserts are batched, so a change repeated within this list is caught here, not by the query
    Set<String> queued = new java.util.HashSet<>();
    // the bodies to store, by key; a change's bytes are one array for all its subscriptions: hashed once
    Map<String, NewDelivery> bodies = new LinkedHashMap<>();
    Map<byte[], String> keys = new java.util.IdentityHashMap<>();
    List<Object[]> rows = new ArrayList<>();
    CallOrder order = new CallOrder(tx);
    try (Sql.Prepared exists = tx.prepare("SELECT 1 FROM layer_deliveries WHERE subscription_id = ? AND webhook_id = ?");
        Sql.Prepared number = tx.prepare("SELECT phone_number_id FROM layer_subscriptions WHERE id = ?")) {
      for (NewDelivery d : deliveries) {
        if (!queued.add(d.subscriptionId() + "\n" + d.webhookId()) || exists.exists(d.subscriptionId(), d.webhookId())) {
          continue;
        }
        String numberId = numbers.computeIfAbsent(d.subscriptionId(),
            id -> number.first(rs -> rs.getString(1), id).orElse(""));
        String body = keys.computeIfAbsent(d.body(), b -> bodyKey(d.envelopeId(), b));
        bodies.putIfAbsent(body, d);
        Object[] row = {d.id(), d.subscriptionId(), d.envelopeId(), d.webhookId(), d.field(), d.lane().wire(),
            Sql.text(d.orderingKey().orElse(null)), body, d.state().wire(), d.maxAttempts(),
            Sql.millis(d.nextAttemptAt()), Sql.millis(d.expiresAt()), d.createdAt(), d.createdAt(), numberId,
            Sql.text(d.owner().orElse(null)), Sql.text(d.callEvent().map(CallEvent::wire).orElse(null)), d.callRank()};
        order.place(d, row);
        rows.add(row);
        inserted.add(d.id());
      }
    } finally {
      order.close();
    }
    insertBodies(tx, bodies, newEnvelope);
    try (Sql.Prepared insert = tx.prepare(INSERT_DELIVERY)) {
      for (Object[] row : rows) {
        insert.add(INSERT_BATCH, row);
      }
      insert.flush();
    }
    return inserted;
  }

  /**
   * The call order at insert (see {@link RelayStore}): a connect whose call's terminate is, or was, being
   * sent is stored {@code superseded}; a terminate that is the first delivery of its call to its
   * subscription waits until its {@link NewDelivery#holdUntil}; a connect ends the hold of its call's
   * terminate (stored before, or earlier in the same batch). Works on the rows of the batch before they
   * are inserted. Only deliveries with an ordering key and a call event take part.
   */
  private static final class CallOrder implements AutoCloseable {
    private static final int STATE = 8;
    private static final int NEXT = 10;
    private static final int EVENT = 16;
    private final Sql tx;
    private Sql.Prepared siblings;
    private Sql.Prepared release;
    /** The batch's call rows so far, by subscription and ordering key. */
    private final Map<String, List<Object[]>> batch = new java.util.HashMap<>();

    CallOrder(Sql tx) {
      this.tx = tx;
    }

    void place(NewDelivery d, Object[] row) {
      if (d.orderingKey().isEmpty() || d.callEvent().isEmpty()) {
        return;
      }
      String key = d.subscriptionId() + "\n" + d.orderingKey().get();
      if (siblings == null) {
        siblings = tx.prepare("SELECT call_event, state, attempts FROM layer_deliveries WHERE subscription_id = ?"
            + " AND ordering_key = ?");
        release = tx.prepare("UPDATE layer_deliveries SET next_attempt_at = ?, updated_at = ? WHERE subscription_id = ?"
            + " AND ordering_key = ? AND call_event = 'terminate' AND state = 'pending' AND attempts = 0"
            + " AND next_attempt_at > ?");
      }
      // stored siblings (call_event, state, attempts), then those of this batch
      List<Object[]> known = new ArrayList<>(siblings.query(
          rs -> new Object[] {rs.getString(1), rs.getString(2), rs.getInt(3)}, d.subscriptionId(), d.orderingKey().get()));
      // a stored terminate that no attempt has reached: the only rows a connect's release may change
      boolean storedTerminateWaits = known.stream()
          .anyMatch(k -> "terminate".equals(k[0]) && "pending".equals(k[1]) && (Integer) k[2] == 0);
      List<Object[]> earlier = batch.computeIfAbsent(key, k -> new ArrayList<>());
      for (Object[] r : earlier) {
        known.add(new Object[] {r[EVENT], r[STATE], 0});
      }
      earlier.add(row);
      if (d.state() != DeliveryState.PENDING) {
        return;
      }
      CallEvent event = d.callEvent().get();
      if (event == CallEvent.CONNECT) {
        boolean terminateSent = known.stream().anyMatch(k -> "terminate".equals(k[0])
            && ("delivering".equals(k[1]) || "delivered".equals(k[1]) || (Integer) k[2] > 0));
        if (terminateSent) {
          row[STATE] = DeliveryState.SUPERSEDED.wire();
          row[NEXT] = Sql.millis((Instant) null);
          return;
        }
        if (storedTerminateWaits) {
          release.update(d.createdAt(), d.createdAt(), d.subscriptionId(), d.orderingKey().get(), d.createdAt());
        }
        for (Object[] r : earlier) {
          if ("terminate".equals(r[EVENT]) && "pending".equals(r[STATE]) && r != row) {
            r[NEXT] = Sql.millis(d.createdAt());
          }
        }
      } else if (known.isEmpty() && d.holdUntil().isPresent()) {
        row[NEXT] = Sql.millis(d.holdUntil().get());
      }
    }

    @Override
    public void close() {
      if (siblings != null) {
        siblings.close();
        release.close();
      }
    }
  }

  /**
   * Stores each body unless stored already: on PostgreSQL with ON CONFLICT DO NOTHING (two instances may
   * route one envelope at once), on H2 (one process) after a look-up, unless its envelope is new.
   */
  private void insertBodies(Sql tx, Map<String, NewDelivery> bodies, String newEnvelope) {
    if (bodies.isEmpty()) {
      return;
    }
    boolean pg = db.dialect() == Database.Dialect.POSTGRESQL;
    try (Sql.Prepared exists = tx.prepare("SELECT 1 FROM layer_bodies WHERE id = ?");
        Sql.Prepared insert = tx.prepare("INSERT INTO layer_bodies (id, envelope_id, body) VALUES (?, ?, ?)"
            + (pg ? " ON CONFLICT (id) DO NOTHING" : ""))) {
      for (Map.Entry<String, NewDelivery> e : bodies.entrySet()) {
        boolean fresh = e.getValue().envelopeId().equals(newEnvelope);
        if (pg || fresh || !exists.exists(e.getKey())) {
          insert.add(INSERT_BATCH, e.getKey(), e.getValue().envelopeId(), e.getValue().body());
        }
      }
      insert.flush();
    }
  }

  /**
   * The key a body is stored under: {@code <envelope id>:<SHA-256 hex of the bytes>}. Identical bytes of
   * one envelope share a key; the same bytes of two envelopes do not, so that retention never removes a
   * body a later ingest relies on (bodies from before this key, moved by migration V9, are keyed by the
   * id of a delivery that carried them).
   */
  static String bodyKey(String envelopeId, byte[] body) {
    try {
      return envelopeId + ":"
          + java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(body));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every Java platform", e);
    }
  }

  // ---- the engine

  @Override
  public List<Claimed> claimDue(Lane lane, String instance, Instant now, Instant leaseUntil, int limit, int perNumber,
      Set<String> skip) {
    if (limit <= 0 || perNumber <= 0) {
      return List.of();
    }
    return FairShare.inRounds(limit, (n, superseded) -> claimRound(lane, instance, now, leaseUntil, n, perNumber, skip,
        superseded));
  }

  /** One claim transaction; counts the candidates it superseded into {@code superseded[0]}. */
  private List<Claimed> claimRound(Lane lane, String instance, Instant now, Instant leaseUntil, int limit,
      int perNumber, Set<String> skip, int[] superseded) {
    List<Object> head = List.of(lane.wire(), now, instance, now.minus(OWNER_TIMEOUT));
    return sql.inTransaction(tx -> {
      boolean turn = takeClaimTurn(tx, lane);
      Map<String, Integer> load = new java.util.HashMap<>();
      tx.query(LOAD, rs -> load.put(rs.getString(1), rs.getInt(2)), lane.wire(), now);
      Map<String, List<FairShare.Candidate>> candidates = new LinkedHashMap<>();
      // leases left by a crashed attempt: rare, few, and first in their number's turn
      collect(candidates, tx.query(claimQuery(Step.STALE, db.dialect(), skip.size()), JdbcRelayStore::candidate,
          Sql.params(head, Sql.params(skip, limit))));
      // due rows, number by number: a skip scan over the numbers with pending rows in the lane, and
      // for each at most as many of its oldest due rows as it may still start
      try (Sql.Prepared first = tx.prepare(NEXT_NUMBER_FIRST);
          Sql.Prepared next = tx.prepare(NEXT_NUMBER);
          Sql.Prepared due = tx.prepare(claimQuery(Step.DUE, db.dialect(), skip.size()))) {
        Optional<String> number = first.first(rs -> rs.getString(1), lane.wire());
        for (; number.isPresent(); number = next.first(rs -> rs.getString(1), lane.wire(), number.get())) {
          String n = number.get();
          int room = Math.min(limit, perNumber - load.getOrDefault(n, 0) - candidates.getOrDefault(n, List.of()).size());
          if (room > 0) {
            collect(candidates, due.query(JdbcRelayStore::candidate,
                Sql.params(head, Sql.params(skip, n, room))));
          }
        }
      }
      List<Claimed> claimed = new ArrayList<>();
      // an owned row claimed here is this instance's from now on (its owner's own, or taken over)
      try (Sql.Prepared update = tx.prepare(
              "UPDATE layer_deliveries SET state = 'delivering', lease_until = ?, claim_token = ?,"
                  + " owner = CASE WHEN owner IS NULL THEN owner ELSE ? END, updated_at = ? WHERE id = ?"
                  + " AND ((state = 'pending' AND next_attempt_at <= ?) OR (state = 'delivering' AND lease_until <= ?))");
          Sql.Prepared read = tx.prepare(
              "SELECT d.id, d.subscription_id, d.webhook_id, d.field, d.lane, b.body, d.attempts, d.max_attempts,"
                  + " d.expires_at, d.claim_token, e.request_id, d.created_at FROM layer_deliveries d"
                  + " JOIN layer_bodies b ON b.id = d.body_id LEFT JOIN layer_envelopes e ON e.id = b.envelope_id WHERE d.id = ?");
          Sql.Prepared supersede = tx.prepare(turn ? SUPERSEDE : HAS_TERMINATE)) {
        for (FairShare.Candidate candidate : FairShare.pick(candidates, load, perNumber, limit)) {
          if (lane == Lane.CALLS) {
            // the call order: a connect whose call's terminate is, or was, being sent is never sent
            if (turn && supersede.update(now, candidate.id(), now, now) == 1) {
              superseded[0]++;
              continue;
            }
            if (!turn && supersede.exists(candidate.id())) {
              continue; // decided by a claim within its turn, which sees every earlier claim's outcome
            }
          }
          if (update.update(leaseUntil, UUID.randomUUID().toString(), instance, now, candidate.id(), now, now) == 1) {
            read.first(JdbcRelayStore::claimed, candidate.id()).ifPresent(claimed::add);
          }
        }
      }
      return claimed;
    });
  }

  /** How long a claim waits for its turn before it claims without it (see {@link #takeClaimTurn}). */
  static final java.time.Duration CLAIM_TURN_WAIT = java.time.Duration.ofSeconds(1);

  /**
   * PostgreSQL: waits (up to {@link #CLAIM_TURN_WAIT}) for this lane's turn to claim in this schema, a
   * transaction-scoped advisory lock, released at commit. Claims of one lane by several instances thus
   * run one after the other, each reading the load ({@link #LOAD}) that the previous one committed, so
   * that no number ever exceeds its cap of attempts in flight, whichever instances hold them. A claim
   * takes a few milliseconds; one that cannot get its turn in time (a claiming instance stalled mid
   * transaction) claims without it: exclusivity still holds (SKIP LOCKED and the conditional update),
   * only the cap may be exceeded by that claim. The lock is tried, never waited on in the database, so a
   * stalled holder can never stall the others. H2 is used by one process, whose lanes claim from one
   * thread each: nothing to take. A claim without its turn leaves the connects that have a terminate of
   * their call to the next claim (the supersede must see every earlier claim's outcome).
   * @return whether this transaction holds the turn (always on H2)
   */
  private boolean takeClaimTurn(Sql tx, Lane lane) {
    if (channel == null) {
      return true;
    }
    long deadline = System.nanoTime() + CLAIM_TURN_WAIT.toNanos();
    while (!tx.first("SELECT pg_try_advisory_xact_lock(?, ?)", rs -> rs.getBoolean(1), schemaKey,
        CLAIM_LOCK + lane.ordinal()).orElse(false)) {
      if (System.nanoTime() >= deadline) {
        log.debug("The {} lane claims without its turn: another claim held it for {}", lane.wire(), CLAIM_TURN_WAIT);
        return false;
      }
      try {
        Thread.sleep(2);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return true;
  }

  /** The second key of the claim turns' advisory locks ("ml" and the lane). */
  static final int CLAIM_LOCK = 0x6d6c0000;

  /** Deliveries of a lane in flight under a live lease, per number: a read of the lease index. */
  private static final String LOAD =
      "SELECT phone_number_id, COUNT(*) FROM layer_deliveries WHERE lane = ? AND state = 'delivering'"
          + " AND lease_until > ? GROUP BY phone_number_id";
  /** The skip scan over the numbers with pending rows in a lane: the first, then the one after a number. */
  static final String NEXT_NUMBER_FIRST =
      "SELECT phone_number_id FROM layer_deliveries WHERE lane = ? AND state = 'pending'"
          + " ORDER BY lane, state, phone_number_id LIMIT 1";
  static final String NEXT_NUMBER =
      "SELECT phone_number_id FROM layer_deliveries WHERE lane = ? AND state = 'pending' AND phone_number_id > ?"
          + " ORDER BY lane, state, phone_number_id LIMIT 1";

  /**
   * The claiming instance may take the row: it has no owner, the claimer owns it, or its owner was not
   * seen since {@code now - OWNER_TIMEOUT} (no row in {@code layer_instances} counts as unseen). Only call
   * deliveries have an owner: the {@code IS NULL} test spares every other row the lookup. Parameters: the
   * claimer, now minus the owner timeout.
   */
  static final String CLAIMER_MAY =
      " AND (d.owner IS NULL OR d.owner = ? OR NOT EXISTS (SELECT 1 FROM layer_instances i WHERE i.id = d.owner"
          + " AND i.seen_at > ?))";

  enum Step {
    STALE,
    DUE
  }

  private static void collect(Map<String, List<FairShare.Candidate>> into, List<FairShare.Candidate> found) {
    for (FairShare.Candidate c : found) {
      into.computeIfAbsent(c.number(), k -> new ArrayList<>()).add(c);
    }
  }

  /**
   * The candidate query of a claim: leases left by a crashed attempt ({@code STALE}, every number) or
   * one number's due pending rows ({@code DUE}), in the order they are attempted, in index order so that
   * the scan stops at the limit. Selects ids, numbers and order keys only: the bodies of the few claimed
   * rows are read afterwards. The ORDER BY names the index's equality columns too, so that H2 sees the
   * index is sorted. Exclusivity comes from the conditional UPDATE of the claim; PostgreSQL also skips
   * rows other instances hold (SKIP LOCKED), which H2 cannot do without locking every row it scans.
   * A row owned by another instance is a candidate only once that instance is dead ({@link #CLAIMER_MAY}).
   * Parameters: lane, now, the claiming instance, now minus the owner timeout, the skipped subscription
   * ids, (DUE: the number), limit.
   */
  static String claimQuery(Step step, Database.Dialect dialect, int skipped) {
    String skipClause =
        skipped == 0 ? "" : " AND d.subscription_id NOT IN (" + Sql.placeholders(skipped) + ")";
    String lock = dialect == Database.Dialect.POSTGRESQL ? " FOR UPDATE SKIP LOCKED" : "";
    return step == Step.STALE
        ? "SELECT d.id, d.phone_number_id, d.lease_until, d.seq FROM layer_deliveries d WHERE d.lane = ?"
            + " AND d.state = 'delivering' AND d.lease_until <= ?" + CLAIMER_MAY + IN_ORDER + skipClause
            + " ORDER BY d.lane, d.state, d.lease_until LIMIT ?" + lock
        : "SELECT d.id, d.phone_number_id, d.next_attempt_at, d.seq FROM layer_deliveries d WHERE d.lane = ?"
            + " AND d.state = 'pending' AND d.next_attempt_at <= ?" + CLAIMER_MAY + IN_ORDER + skipClause
            + " AND d.phone_number_id = ? ORDER BY d.lane, d.state, d.phone_number_id, d.next_attempt_at, d.seq LIMIT ?"
            + lock;
  }

  @Override
  public boolean renew(String deliveryId, String claimToken, Instant leaseUntil) {
    return sql.update("UPDATE layer_deliveries SET lease_until = ? WHERE id = ? AND state = 'delivering'"
        + " AND claim_token = ?", leaseUntil, deliveryId, claimToken) == 1;
  }

  @Override
  public boolean finish(String deliveryId, String claimToken, AttemptRecord attempt, DeliveryState state,
      Instant nextAttemptAt, Instant at) {
    return sql.inTransaction(tx -> {
      // the update both checks that the claim still holds the row and locks it until the commit
      if (tx.update("UPDATE layer_deliveries SET state = ?, attempts = attempts + ?, next_attempt_at = ?,"
              + " lease_until = NULL, claim_token = NULL, updated_at = ? WHERE id = ? AND state = 'delivering'"
              + " AND claim_token = ?", state.wire(), attempt == null ? 0 : 1, Sql.millis(nextAttemptAt), at, deliveryId,
          claimToken) != 1) {
        return false; // the lease was lost (taken over, or the row finished or deleted meanwhile)
      }
      if (attempt != null) {
        int number = tx.first("SELECT attempts FROM layer_deliveries WHERE id = ?", rs -> rs.getInt(1), deliveryId)
            .orElseThrow();
        tx.update("INSERT INTO layer_attempts (delivery_id, attempt_no, attempted_at, status, latency_ms, error,"
                + " response_excerpt) VALUES (?, ?, ?, ?, ?, ?, ?)",
            deliveryId, number, attempt.at(), Sql.integer(attempt.status()), attempt.latencyMs(),
            Sql.text(truncate(attempt.error(), 500)), Sql.text(truncate(attempt.responseExcerpt(), 1024)));
      }
      return true;
    });
  }

  @Override
  public boolean park(Claimed claim, Instant at) {
    return sql.inTransaction(tx -> {
      // the subscription's row first, locked: setActive writes it before it resumes the backlog
      Optional<Boolean> active = tx.first("SELECT active FROM layer_subscriptions WHERE id = ? FOR UPDATE",
          rs -> rs.getBoolean(1), claim.subscriptionId());
      if (active.isEmpty()) {
        return false; // deleted meanwhile, with its deliveries
      }
      if (active.get()) { // turned on again since the attempt read it: attempted as any pending row
        tx.update("UPDATE layer_deliveries SET state = 'pending', next_attempt_at = ?, lease_until = NULL,"
            + " claim_token = NULL, updated_at = ? WHERE id = ? AND state = 'delivering' AND claim_token = ?", at, at,
            claim.id(), claim.claimToken());
        return false;
      }
      // only while this claim still holds the row: a lease taken over meanwhile belongs to the later claim
      return tx.update("UPDATE layer_deliveries SET state = 'paused', next_attempt_at = NULL, lease_until = NULL,"
          + " claim_token = NULL, updated_at = ? WHERE id = ? AND state = 'delivering' AND claim_token = ?", at,
          claim.id(), claim.claimToken()) == 1;
    });
  }

  @Override
  public Optional<Instant> nextWake(Lane lane) {
    // Two minima, each the first entry of an index (written as ORDER BY … LIMIT 1, which H2 reads
    // from the index where MIN would scan), rather than one scan of every open row.
    Optional<Instant> due = sql.first("SELECT next_attempt_at FROM layer_deliveries WHERE lane = ? AND state = 'pending'"
        + " AND next_attempt_at IS NOT NULL ORDER BY lane, state, next_attempt_at LIMIT 1", JdbcRelayStore::instant,
        lane.wire());
    Optional<Instant> lease = sql.first("SELECT lease_until FROM layer_deliveries WHERE lane = ? AND state = 'delivering'"
        + " AND lease_until IS NOT NULL ORDER BY lane, state, lease_until LIMIT 1", JdbcRelayStore::instant,
        lane.wire());
    if (due.isEmpty()) {
      return lease;
    }
    return lease.isPresent() && lease.get().isBefore(due.get()) ? lease : due;
  }

  @Override
  public int releaseLeases(Instant now) {
    return sql.inTransaction(tx -> {
      int released = tx.update("UPDATE layer_deliveries SET state = 'pending', lease_until = NULL, claim_token = NULL,"
          + " next_attempt_at = ?, updated_at = ? WHERE state = 'delivering'", now, now);
      tx.update("UPDATE layer_deliveries SET owner = NULL WHERE state = 'pending' AND owner IS NOT NULL");
      return released;
    });
  }

  @Override
  public boolean replay(String deliveryId, Instant now) {
    return sql.inTransaction(tx -> {
      // (the CASEs read the row as it was: a pending delivery keeps its attempts and expiry)
      if (tx.update("UPDATE layer_deliveries SET next_attempt_at = ?,"
          + " expires_at = CASE WHEN state = 'pending' THEN expires_at ELSE NULL END,"
          + " max_attempts = CASE WHEN state = 'pending' THEN max_attempts ELSE attempts + 1 END,"
          + " state = 'pending', lease_until = NULL, claim_token = NULL, updated_at = ? WHERE id = ?"
          + " AND state NOT IN ('delivering', 'paused', 'superseded')", now, now, deliveryId) != 1) {
        return false;
      }
      if (channel != null) {
        tx.first("SELECT lane FROM layer_deliveries WHERE id = ?", rs -> Lane.fromWire(rs.getString(1)), deliveryId)
            .ifPresent(lane -> announce(tx, lane));
      }
      return true;
    });
  }

  // ---- instances

  /** An instance row not seen for this long is removed when another instance starts. */
  static final java.time.Duration FORGET_INSTANCE = java.time.Duration.ofDays(1);

  @Override
  public void heartbeat(String instance, Instant at) {
    if (sql.update("UPDATE layer_instances SET seen_at = ? WHERE id = ?", at, instance) == 0) {
      sql.inTransaction(tx -> {
        tx.update("INSERT INTO layer_instances (id, started_at, seen_at) VALUES (?, ?, ?)", instance, at, at);
        // instances gone long ago: absent or stale, they count as dead alike
        tx.update("DELETE FROM layer_instances WHERE seen_at < ?", at.minus(FORGET_INSTANCE));
        return null;
      });
    }
  }

  @Override
  public void retire(String instance) {
    sql.update("DELETE FROM layer_instances WHERE id = ?", instance);
  }

  @Override
  public Listening listen(Consumer<Lane> wake) {
    if (channel == null) {
      return RelayStore.super.listen(wake);
    }
    try {
      return PgWakeups.start(db, channel, wake);
    } catch (LinkageError e) {
      log.warn("Wake-ups from the other layer instances are off: the PostgreSQL driver (org.postgresql) cannot read"
          + " notifications here ({}); deliveries are polled every second", e.toString());
      return RelayStore.super.listen(wake);
    }
  }

  // ---- retention

  @Override
  public Purged purge(Instant cutoff, int limit) {
    if (limit <= 0) {
      return Purged.NOTHING;
    }
    int[] removed = deletingBodies(tx -> {
      // the rows are locked until the end: a replay cannot make one pending while it is removed
      List<String[]> rows = tx.query("SELECT id, body_id FROM layer_deliveries WHERE state IN " + FINISHED
          + " AND updated_at < ? LIMIT ? FOR UPDATE SKIP LOCKED", rs -> new String[] {rs.getString(1), rs.getString(2)},
          cutoff, limit);
      if (rows.isEmpty()) {
        return new int[] {0, 0};
      }
      Object[] ids = rows.stream().map(r -> r[0]).toArray();
      String in = Sql.placeholders(ids.length);
      int attempts = tx.update("DELETE FROM layer_attempts WHERE delivery_id IN (" + in + ")", ids);
      int deliveries = tx.update("DELETE FROM layer_deliveries WHERE id IN (" + in + ")", ids);
      // their bodies, unless another delivery (of another subscription, or still open) refers to them
      deleteUnusedBodies(tx, rows.stream().map(r -> r[1]).distinct().toList());
      return new int[] {deliveries, attempts};
    });
    List<String> envelopes = sql.query("SELECT e.id FROM layer_envelopes e WHERE e.received_at < ? AND " + UNREFERENCED
        + " LIMIT ?", rs -> rs.getString(1), cutoff, limit);
    if (!envelopes.isEmpty()) {
      // a body left without a delivery while its envelope waited to be routed goes with the envelope
      sql.update("DELETE FROM layer_bodies b WHERE b.envelope_id IN (" + Sql.placeholders(envelopes.size()) + ") AND "
          + UNUSED_BODY, envelopes.toArray());
    }
    // checked again in the delete itself: a replay may have made a delivery of it pending meanwhile
    int envelopesRemoved = envelopes.isEmpty() ? 0
        : sql.update("DELETE FROM layer_envelopes e WHERE e.id IN (" + Sql.placeholders(envelopes.size()) + ") AND "
            + UNREFERENCED, envelopes.toArray());
    return new Purged(removed[0], removed[1], envelopesRemoved);
  }

  // ---- the log

  @Override
  public Optional<Delivery> findDelivery(String id) {
    return sql.inTransaction(tx -> tx.first(DELIVERY_COLUMNS + " FROM layer_deliveries WHERE id = ?",
        JdbcRelayStore::delivery, id).map(d -> withAttempts(tx, List.of(d)).get(0)));
  }

  @Override
  public List<Delivery> deliveries(String subscriptionId, Optional<DeliveryState> state, int limit) {
    String query = DELIVERY_COLUMNS + " FROM layer_deliveries WHERE subscription_id = ?"
        + (state.isPresent() ? " AND state = ?" : "") + " ORDER BY created_at DESC, seq DESC LIMIT ?";
    Object[] params = state.isPresent()
        ? new Object[] {subscriptionId, state.get().wire(), limit}
        : new Object[] {subscriptionId, limit};
    return sql.inTransaction(tx -> withAttempts(tx, tx.query(query, JdbcRelayStore::delivery, params)));
  }

  @Override
  public Optional<Envelope> findEnvelope(String id) {
    return sql.first(ENVELOPE_COLUMNS + " FROM layer_envelopes WHERE id = ?", JdbcRelayStore::envelope, id);
  }

  @Override
  public dev.metalayer.metrics.LayerMetrics.Backlog backlog(Lane lane) {
    // a range of the claim index (lane, state, ...) per state: no scan of finished history
    return sql.first("SELECT COUNT(*), MIN(created_at) FROM layer_deliveries WHERE lane = ? AND state IN ('pending', 'delivering')",
        rs -> {
          long waiting = rs.getLong(1);
          long oldest = rs.getLong(2);
          return new dev.metalayer.metrics.LayerMetrics.Backlog(waiting,
              rs.wasNull() || waiting == 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(oldest)));
        }, lane.wire()).orElse(dev.metalayer.metrics.LayerMetrics.Backlog.EMPTY);
  }

  @Override
  public boolean ping() {
    return db.ping();
  }

  @Override
  public void webhooksReceived(Collection<String> phoneNumberIds, Instant at) {
    for (String id : new java.util.TreeSet<>(phoneNumberIds)) {
      if (sql.update("UPDATE layer_number_webhooks SET received_at = ? WHERE phone_number_id = ? AND received_at < ?",
          at, id, at) > 0) {
        continue;
      }
      try {
        sql.update("INSERT INTO layer_number_webhooks (phone_number_id, received_at) SELECT ?, ? WHERE NOT EXISTS"
            + " (SELECT 1 FROM layer_number_webhooks WHERE phone_number_id = ?)", id, at, id);
      } catch (StoreException e) {
        if (!e.duplicate()) {
          throw e;
        }
        // another instance inserted the row meanwhile: its time or ours, the later one is kept
        sql.update("UPDATE layer_number_webhooks SET received_at = ? WHERE phone_number_id = ? AND received_at < ?",
            at, id, at);
      }
    }
  }

  @Override
  public Optional<Instant> lastWebhook(String phoneNumberId) {
    return sql.first("SELECT received_at FROM layer_number_webhooks WHERE phone_number_id = ?",
        rs -> Sql.instant(rs, 1), phoneNumberId).flatMap(t -> t);
  }

  @Override
  public List<DeliveredMinute> deliveredSince(Instant since) {
    long from = since.toEpochMilli();
    return sql.query("SELECT lane, m, COUNT(*), SUM(latency), MAX(latency) FROM (SELECT lane, (updated_at - ?) / 60000 AS m,"
            + " updated_at - created_at AS latency FROM layer_deliveries WHERE state = 'delivered' AND updated_at >= ?) t"
            + " GROUP BY lane, m",
        rs -> new DeliveredMinute(Lane.fromWire(rs.getString(1)), rs.getLong(2), rs.getLong(3), rs.getLong(4),
            rs.getLong(5)),
        from, from);
  }

  @Override
  public long queueDepth(Lane lane, long cap) {
    return sql.first("SELECT COUNT(*) FROM (SELECT 1 FROM layer_deliveries WHERE lane = ? AND state IN ('pending',"
        + " 'delivering') LIMIT ?) t", rs -> rs.getLong(1), lane.wire(), cap).orElse(0L);
  }

  // ---- mapping

  /** The deliveries with their attempts, in the order given. */
  private static List<Delivery> withAttempts(Sql tx, List<Delivery> deliveries) {
    if (deliveries.isEmpty()) {
      return List.of();
    }
    Map<String, List<Attempt>> attempts = new LinkedHashMap<>();
    tx.query("SELECT delivery_id, attempt_no, attempted_at, status, latency_ms, error, response_excerpt"
            + " FROM layer_attempts WHERE delivery_id IN (" + Sql.placeholders(deliveries.size()) + ")"
            + " ORDER BY delivery_id, attempt_no",
        rs -> attempts.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(attempt(rs)),
        deliveries.stream().map(Delivery::id).toArray());
    List<Delivery> out = new ArrayList<>();
    for (Delivery d : deliveries) {
      out.add(new Delivery(d.id(), d.subscriptionId(), d.webhookId(), d.field(), d.lane(), d.state(), d.nextAttemptAt(),
          d.expiresAt(), d.createdAt(), attempts.getOrDefault(d.id(), List.of())));
    }
    return out;
  }

  private static Attempt attempt(ResultSet rs) throws SQLException {
    int status = rs.getInt(4);
    Optional<Integer> st = rs.wasNull() ? Optional.empty() : Optional.of(status);
    return new Attempt(rs.getInt(2), Instant.ofEpochMilli(rs.getLong(3)), st, rs.getLong(5),
        Optional.ofNullable(rs.getString(6)), Optional.ofNullable(rs.getString(7)));
  }

  private static Delivery delivery(ResultSet rs) throws SQLException {
    DeliveryState state = DeliveryState.fromWire(rs.getString(6));
    return new Delivery(
        rs.getString(1),
        rs.getString(2),
        rs.getString(3),
        rs.getString(4),
        Lane.fromWire(rs.getString(5)),
        state,
        state.isFinal() ? Optional.empty() : Sql.instant(rs, 8),
        Sql.instant(rs, 9),
        Instant.ofEpochMilli(rs.getLong(10)),
        List.of());
  }

  private static Claimed claimed(ResultSet rs) throws SQLException {
    return new Claimed(
        rs.getString(1),
        rs.getString(2),
        rs.getString(3),
        rs.getString(4),
        Lane.fromWire(rs.getString(5)),
        rs.getBytes(6),
        rs.getInt(7),
        rs.getInt(8),
        Sql.instant(rs, 9),
        rs.getString(10),
        Optional.ofNullable(rs.getString(11)),
        Instant.ofEpochMilli(rs.getLong(12)));
  }

  private static FairShare.Candidate candidate(ResultSet rs) throws SQLException {
    return new FairShare.Candidate(rs.getString(1), rs.getString(2), Instant.ofEpochMilli(rs.getLong(3)), rs.getLong(4));
  }

  private static Envelope envelope(ResultSet rs) throws SQLException {
    return new Envelope(rs.getString(1), rs.getBytes(2), Instant.ofEpochMilli(rs.getLong(3)), Optional.ofNullable(rs.getString(4)));
  }

  private static Instant instant(ResultSet rs) throws SQLException {
    return Instant.ofEpochMilli(rs.getLong(1));
  }

  private static StoredSubscription subscription(ResultSet rs) throws SQLException {
    byte[] secret = rs.getBytes(6);
    String events = rs.getString(5);
    Subscription s =
        new Subscription(
            rs.getString(1),
            rs.getString(2),
            rs.getString(3),
            rs.getString(4),
            events.isEmpty() ? List.of() : Arrays.asList(events.split(",")),
            rs.getBoolean(7),
            rs.getBoolean(8),
            secret != null,
            Instant.ofEpochMilli(rs.getLong(9)),
            Instant.ofEpochMilli(rs.getLong(10)));
    return new StoredSubscription(s, secret);
  }

  static String truncate(String s, int max) {
    return s == null || s.length() <= max ? s : s.substring(0, max);
  }
}

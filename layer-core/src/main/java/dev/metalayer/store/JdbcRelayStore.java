package dev.metalayer.store;

import dev.metalayer.relay.RelayStore;
import dev.metalayer.relay.Attempt;
import dev.metalayer.relay.Delivery;
import dev.metalayer.relay.DeliveryState;
import dev.metalayer.relay.Lane;
import dev.metalayer.relay.Subscription;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * A {@link RelayStore} on a JDBC {@link Database} (H2 or PostgreSQL). Claims select candidates with
 * {@code FOR UPDATE SKIP LOCKED} (both H2 2.x and PostgreSQL have it) and then flip each row with a
 * conditional update, so a claim is exclusive even where row locks would not be. Thread-safe.
 */
public final class JdbcRelayStore implements RelayStore {
  private static final String SUBSCRIPTION_COLUMNS =
      "SELECT id, phone_number_id, name, url, events, secret, active, chatwoot_terminate_reason, created_at,"
          + " updated_at";
  private static final String DELIVERY_COLUMNS =
      "SELECT id, subscription_id, webhook_id, field, lane, state, attempts, next_attempt_at, expires_at, created_at";
  /**
   * A candidate is not held back by an earlier unfinished delivery of the same call to the same
   * subscription. Only call deliveries have an ordering key: the {@code IS NULL} test spares every
   * other row the subquery.
   */
  private static final String IN_ORDER =
      " AND (d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM layer_deliveries e WHERE e.subscription_id ="
          + " d.subscription_id AND e.ordering_key = d.ordering_key AND e.seq < d.seq AND e.state IN ('pending',"
          + " 'delivering')))";

  private static final String FINISHED = "('delivered', 'expired', 'dead')";
  private static final String UNREFERENCED =
      "e.routed = TRUE AND NOT EXISTS (SELECT 1 FROM layer_deliveries d WHERE d.envelope_id = e.id AND d.state IN ('pending', 'delivering'))";

  private final Database db;

  public JdbcRelayStore(Database db) {
    this.db = Objects.requireNonNull(db, "db");
  }

  // ---- subscriptions

  @Override
  public void insertSubscription(StoredSubscription stored) {
    Subscription s = stored.subscription();
    db.withConnection(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement(
                  "INSERT INTO layer_subscriptions (id, phone_number_id, name, url, events, secret, active,"
                      + " chatwoot_terminate_reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            p.setString(1, s.id());
            p.setString(2, s.phoneNumberId());
            p.setString(3, s.name());
            p.setString(4, s.url());
            p.setString(5, String.join(",", s.events()));
            setBytes(p, 6, stored.sealedSecret());
            p.setBoolean(7, s.active());
            p.setBoolean(8, s.chatwootTerminateReason());
            p.setLong(9, s.createdAt().toEpochMilli());
            p.setLong(10, s.updatedAt().toEpochMilli());
            p.executeUpdate();
          }
          return null;
        });
  }

  @Override
  public Optional<StoredSubscription> findSubscription(String id) {
    return db.withConnection(
        c -> {
          try (PreparedStatement p = c.prepareStatement(SUBSCRIPTION_COLUMNS + " FROM layer_subscriptions WHERE id = ?")) {
            p.setString(1, id);
            try (ResultSet rs = p.executeQuery()) {
              return rs.next() ? Optional.of(subscription(rs)) : Optional.empty();
            }
          }
        });
  }

  @Override
  public List<StoredSubscription> subscriptionsOf(String phoneNumberId) {
    return db.withConnection(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement(
                  SUBSCRIPTION_COLUMNS + " FROM layer_subscriptions WHERE phone_number_id = ? ORDER BY created_at, id")) {
            p.setString(1, phoneNumberId);
            try (ResultSet rs = p.executeQuery()) {
              List<StoredSubscription> out = new ArrayList<>();
              while (rs.next()) {
                out.add(subscription(rs));
              }
              return out;
            }
          }
        });
  }

  @Override
  public boolean updateSubscription(StoredSubscription stored) {
    Subscription s = stored.subscription();
    return db.withConnection(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement(
                  "UPDATE layer_subscriptions SET name = ?, url = ?, events = ?, secret = ?, active = ?,"
                      + " chatwoot_terminate_reason = ?, updated_at = ? WHERE id = ?")) {
            p.setString(1, s.name());
            p.setString(2, s.url());
            p.setString(3, String.join(",", s.events()));
            setBytes(p, 4, stored.sealedSecret());
            p.setBoolean(5, s.active());
            p.setBoolean(6, s.chatwootTerminateReason());
            p.setLong(7, s.updatedAt().toEpochMilli());
            p.setString(8, s.id());
            return p.executeUpdate() == 1;
          }
        });
  }

  @Override
  public boolean setActive(String id, boolean active, Instant at) {
    return db.withConnection(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement("UPDATE layer_subscriptions SET active = ?, updated_at = ? WHERE id = ?")) {
            p.setBoolean(1, active);
            p.setLong(2, at.toEpochMilli());
            p.setString(3, id);
            return p.executeUpdate() == 1;
          }
        });
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
   * Deletes the subscriptions {@code subscriptionIds} selects (one parameter), with their deliveries and
   * attempts, in one transaction. The deliveries are locked first: an attempt that is finishing holds
   * its delivery's row, so its attempt record is committed (and then deleted here) before the deletes
   * run, and one that finishes later finds its delivery gone. @return the subscriptions deleted
   */
  private int deleteSubscriptions(String subscriptionIds, String parameter) {
    String deliveryIds = "SELECT id FROM layer_deliveries WHERE subscription_id IN (" + subscriptionIds + ")";
    return db.inTransaction(
        c -> {
          for (String sql : List.of(
              deliveryIds + " FOR UPDATE",
              "DELETE FROM layer_attempts WHERE delivery_id IN (" + deliveryIds + ")",
              "DELETE FROM layer_deliveries WHERE subscription_id IN (" + subscriptionIds + ")")) {
            try (PreparedStatement p = c.prepareStatement(sql)) {
              p.setString(1, parameter);
              p.execute();
            }
          }
          try (PreparedStatement p = c.prepareStatement("DELETE FROM layer_subscriptions WHERE id IN (" + subscriptionIds + ")")) {
            p.setString(1, parameter);
            return p.executeUpdate();
          }
        });
  }

  // ---- ingest

  @Override
  public List<String> ingest(Envelope envelope, List<NewDelivery> deliveries) {
    return db.inTransaction(c -> {
      insertEnvelope(c, envelope, true);
      return insertDeliveries(c, deliveries);
    });
  }

  @Override
  public List<String> ingestUnrouted(Envelope envelope, List<NewDelivery> deliveries) {
    return db.inTransaction(c -> {
      insertEnvelope(c, envelope, false);
      return insertDeliveries(c, deliveries);
    });
  }

  @Override
  public List<Envelope> unrouted(int limit) {
    return db.withConnection(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement("SELECT id, body, received_at FROM layer_envelopes WHERE routed = FALSE"
                  + " ORDER BY routed, received_at LIMIT ?")) {
            p.setInt(1, Math.max(0, limit));
            List<Envelope> out = new ArrayList<>();
            try (ResultSet rs = p.executeQuery()) {
              while (rs.next()) {
                out.add(new Envelope(rs.getString(1), rs.getBytes(2), Instant.ofEpochMilli(rs.getLong(3))));
              }
            }
            return out;
          }
        });
  }

  @Override
  public List<String> route(String envelopeId, List<NewDelivery> deliveries, boolean last) {
    return db.inTransaction(
        c -> {
          List<String> inserted = insertDeliveries(c, deliveries);
          if (last) {
            try (PreparedStatement p = c.prepareStatement("UPDATE layer_envelopes SET routed = TRUE WHERE id = ?")) {
              p.setString(1, envelopeId);
              p.executeUpdate();
            }
          }
          return inserted;
        });
  }

  private static void insertEnvelope(Connection c, Envelope envelope, boolean routed) throws SQLException {
    try (PreparedStatement p =
        c.prepareStatement("INSERT INTO layer_envelopes (id, body, received_at, routed) VALUES (?, ?, ?, ?)")) {
      p.setString(1, envelope.id());
      p.setBytes(2, envelope.body());
      p.setLong(3, envelope.receivedAt().toEpochMilli());
      p.setBoolean(4, routed);
      p.executeUpdate();
    }
  }

  /** Inserts the deliveries not queued yet for their subscription; each takes its subscription's number. */
  private static List<String> insertDeliveries(Connection c, List<NewDelivery> deliveries) throws SQLException {
    List<String> inserted = new ArrayList<>();
    if (deliveries.isEmpty()) {
      return inserted;
    }
    Map<String, String> numbers = new java.util.HashMap<>();
    // inserts are batched, so a change repeated within this list is caught here, not by the query
    Set<String> queued = new java.util.HashSet<>();
    try (PreparedStatement exists =
            c.prepareStatement("SELECT 1 FROM layer_deliveries WHERE subscription_id = ? AND webhook_id = ?");
        PreparedStatement number = c.prepareStatement("SELECT phone_number_id FROM layer_subscriptions WHERE id = ?");
        PreparedStatement insert =
            c.prepareStatement(
                "INSERT INTO layer_deliveries (id, subscription_id, envelope_id, webhook_id, field, lane,"
                    + " ordering_key, body, state, attempts, max_attempts, next_attempt_at, expires_at,"
                    + " lease_until, created_at, updated_at, phone_number_id)"
                    + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, NULL, ?, ?, ?)")) {
      int batched = 0;
      for (NewDelivery d : deliveries) {
        if (!queued.add(d.subscriptionId() + "\n" + d.webhookId())) {
          continue;
        }
        exists.setString(1, d.subscriptionId());
        exists.setString(2, d.webhookId());
        try (ResultSet rs = exists.executeQuery()) {
          if (rs.next()) {
            continue;
          }
        }
        String numberId = numbers.get(d.subscriptionId());
        if (numberId == null) {
          number.setString(1, d.subscriptionId());
          try (ResultSet rs = number.executeQuery()) {
            numberId = rs.next() ? rs.getString(1) : "";
          }
          numbers.put(d.subscriptionId(), numberId);
        }
        insert.setString(1, d.id());
        insert.setString(2, d.subscriptionId());
        insert.setString(3, d.envelopeId());
        insert.setString(4, d.webhookId());
        insert.setString(5, d.field());
        insert.setString(6, d.lane().wire());
        insert.setString(7, d.orderingKey());
        insert.setBytes(8, d.body());
        insert.setString(9, d.state().wire());
        insert.setInt(10, d.maxAttempts());
        setMillis(insert, 11, d.nextAttemptAt());
        setMillis(insert, 12, d.expiresAt());
        insert.setLong(13, d.createdAt().toEpochMilli());
        insert.setLong(14, d.createdAt().toEpochMilli());
        insert.setString(15, numberId);
        insert.addBatch();
        inserted.add(d.id());
        if (++batched >= 500) {
          insert.executeBatch();
          batched = 0;
        }
      }
      if (batched > 0) {
        insert.executeBatch();
      }
    }
    return inserted;
  }

  // ---- the engine

  @Override
  public List<Claimed> claimDue(Lane lane, Instant now, Instant leaseUntil, int limit, int perNumber, Set<String> skip) {
    if (limit <= 0 || perNumber <= 0) {
      return List.of();
    }
    long nowMs = now.toEpochMilli();
    return db.inTransaction(
        c -> {
          Map<String, Integer> load = new java.util.HashMap<>();
          try (PreparedStatement p = c.prepareStatement(LOAD)) {
            p.setString(1, lane.wire());
            p.setLong(2, nowMs);
            try (ResultSet rs = p.executeQuery()) {
              while (rs.next()) {
                load.put(rs.getString(1), rs.getInt(2));
              }
            }
          }
          Map<String, List<FairShare.Candidate>> candidates = new LinkedHashMap<>();
          // leases left by a crashed attempt: rare, few, and first in their number's turn
          try (PreparedStatement p = c.prepareStatement(claimQuery(Step.STALE, db.dialect(), skip.size()))) {
            int i = bindLaneNowSkip(p, lane, nowMs, skip);
            p.setInt(i, limit);
            readCandidates(p, candidates);
          }
          // due rows, number by number: a skip scan over the numbers with pending rows in the lane, and
          // for each at most as many of its oldest due rows as it may still start
          String number = null;
          try (PreparedStatement first = c.prepareStatement(NEXT_NUMBER_FIRST);
              PreparedStatement next = c.prepareStatement(NEXT_NUMBER);
              PreparedStatement due = c.prepareStatement(claimQuery(Step.DUE, db.dialect(), skip.size()))) {
            while (true) {
              PreparedStatement step = number == null ? first : next;
              step.setString(1, lane.wire());
              if (number != null) {
                step.setString(2, number);
              }
              try (ResultSet rs = step.executeQuery()) {
                if (!rs.next()) {
                  break;
                }
                number = rs.getString(1);
              }
              int room = Math.min(limit, perNumber - load.getOrDefault(number, 0)
                  - candidates.getOrDefault(number, List.of()).size());
              if (room <= 0) {
                continue;
              }
              int i = bindLaneNowSkip(due, lane, nowMs, skip);
              due.setString(i++, number);
              due.setInt(i, room);
              readCandidates(due, candidates);
            }
          }
          List<Claimed> claimed = new ArrayList<>();
          try (PreparedStatement update =
                  c.prepareStatement(
                      "UPDATE layer_deliveries SET state = 'delivering', lease_until = ?, updated_at = ? WHERE id = ?"
                          + " AND ((state = 'pending' AND next_attempt_at <= ?) OR (state = 'delivering' AND lease_until <= ?))");
              PreparedStatement read =
                  c.prepareStatement(
                      "SELECT id, subscription_id, webhook_id, field, lane, body, attempts, max_attempts, expires_at"
                          + " FROM layer_deliveries WHERE id = ?")) {
            for (FairShare.Candidate candidate : FairShare.pick(candidates, load, perNumber, limit)) {
              update.setLong(1, leaseUntil.toEpochMilli());
              update.setLong(2, nowMs);
              update.setString(3, candidate.id());
              update.setLong(4, nowMs);
              update.setLong(5, nowMs);
              if (update.executeUpdate() == 1) {
                read.setString(1, candidate.id());
                try (ResultSet rs = read.executeQuery()) {
                  if (rs.next()) {
                    claimed.add(claimed(rs));
                  }
                }
              }
            }
          }
          return claimed;
        });
  }

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

  enum Step {
    STALE,
    DUE
  }

  private static int bindLaneNowSkip(PreparedStatement p, Lane lane, long nowMs, Set<String> skip) throws SQLException {
    int i = 1;
    p.setString(i++, lane.wire());
    p.setLong(i++, nowMs);
    for (String s : skip) {
      p.setString(i++, s);
    }
    return i;
  }

  private static void readCandidates(PreparedStatement p, Map<String, List<FairShare.Candidate>> into)
      throws SQLException {
    try (ResultSet rs = p.executeQuery()) {
      while (rs.next()) {
        String number = rs.getString(2);
        into.computeIfAbsent(number, k -> new ArrayList<>())
            .add(new FairShare.Candidate(rs.getString(1), number, Instant.ofEpochMilli(rs.getLong(3)), rs.getLong(4)));
      }
    }
  }

  /**
   * The candidate query of a claim: leases left by a crashed attempt ({@code STALE}, every number) or
   * one number's due pending rows ({@code DUE}), in the order they are attempted, in index order so that
   * the scan stops at the limit. Selects ids, numbers and order keys only: the bodies of the few claimed
   * rows are read afterwards. The ORDER BY names the index's equality columns too, so that H2 sees the
   * index is sorted. Exclusivity comes from the conditional UPDATE of the claim; PostgreSQL also skips
   * rows other instances hold (SKIP LOCKED), which H2 cannot do without locking every row it scans.
   * Parameters: lane, now, the skipped subscription ids, (DUE: the number), limit.
   */
  static String claimQuery(Step step, Database.Dialect dialect, int skipped) {
    String skipClause =
        skipped == 0 ? "" : " AND d.subscription_id NOT IN (" + String.join(", ", Collections.nCopies(skipped, "?")) + ")";
    String lock = dialect == Database.Dialect.POSTGRESQL ? " FOR UPDATE SKIP LOCKED" : "";
    return step == Step.STALE
        ? "SELECT d.id, d.phone_number_id, d.lease_until, d.seq FROM layer_deliveries d WHERE d.lane = ?"
            + " AND d.state = 'delivering' AND d.lease_until <= ?" + IN_ORDER + skipClause
            + " ORDER BY d.lane, d.state, d.lease_until LIMIT ?" + lock
        : "SELECT d.id, d.phone_number_id, d.next_attempt_at, d.seq FROM layer_deliveries d WHERE d.lane = ?"
            + " AND d.state = 'pending' AND d.next_attempt_at <= ?" + IN_ORDER + skipClause
            + " AND d.phone_number_id = ? ORDER BY d.lane, d.state, d.phone_number_id, d.next_attempt_at, d.seq LIMIT ?"
            + lock;
  }

  @Override
  public void finish(String deliveryId, AttemptRecord attempt, DeliveryState state, Instant nextAttemptAt, Instant at) {
    db.inTransaction(
        c -> {
          int attempts;
          try (PreparedStatement p = c.prepareStatement("SELECT attempts FROM layer_deliveries WHERE id = ? FOR UPDATE")) {
            p.setString(1, deliveryId);
            try (ResultSet rs = p.executeQuery()) {
              if (!rs.next()) {
                return null; // deleted meanwhile (its subscription was removed)
              }
              attempts = rs.getInt(1);
            }
          }
          if (attempt != null) {
            attempts++;
            try (PreparedStatement p =
                c.prepareStatement(
                    "INSERT INTO layer_attempts (delivery_id, attempt_no, attempted_at, status, latency_ms, error,"
                        + " response_excerpt) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
              p.setString(1, deliveryId);
              p.setInt(2, attempts);
              p.setLong(3, attempt.at().toEpochMilli());
              if (attempt.status() == null) {
                p.setNull(4, Types.INTEGER);
              } else {
                p.setInt(4, attempt.status());
              }
              p.setLong(5, attempt.latencyMs());
              p.setString(6, truncate(attempt.error(), 500));
              p.setString(7, truncate(attempt.responseExcerpt(), 1024));
              p.executeUpdate();
            }
          }
          try (PreparedStatement p =
              c.prepareStatement(
                  "UPDATE layer_deliveries SET state = ?, attempts = ?, next_attempt_at = ?, lease_until = NULL,"
                      + " updated_at = ? WHERE id = ?")) {
            p.setString(1, state.wire());
            p.setInt(2, attempts);
            setMillis(p, 3, nextAttemptAt);
            p.setLong(4, at.toEpochMilli());
            p.setString(5, deliveryId);
            p.executeUpdate();
          }
          return null;
        });
  }

  @Override
  public Optional<Instant> nextWake(Lane lane) {
    return db.withConnection(
        c -> {
          // Two minima, each the first entry of an index (written as ORDER BY … LIMIT 1, which H2 reads
          // from the index where MIN would scan), rather than one scan of every open row.
          Optional<Instant> due = first(c, "SELECT next_attempt_at FROM layer_deliveries WHERE lane = ? AND state = 'pending'"
              + " AND next_attempt_at IS NOT NULL ORDER BY lane, state, next_attempt_at LIMIT 1", lane);
          Optional<Instant> lease = first(c, "SELECT lease_until FROM layer_deliveries WHERE lane = ? AND state = 'delivering'"
              + " AND lease_until IS NOT NULL ORDER BY lane, state, lease_until LIMIT 1", lane);
          if (due.isEmpty()) {
            return lease;
          }
          return lease.isPresent() && lease.get().isBefore(due.get()) ? lease : due;
        });
  }

  private static Optional<Instant> first(java.sql.Connection c, String sql, Lane lane) throws SQLException {
    try (PreparedStatement p = c.prepareStatement(sql)) {
      p.setString(1, lane.wire());
      try (ResultSet rs = p.executeQuery()) {
        return rs.next() ? Optional.of(Instant.ofEpochMilli(rs.getLong(1))) : Optional.empty();
      }
    }
  }

  @Override
  public int releaseLeases(Instant now) {
    return db.withConnection(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement(
                  "UPDATE layer_deliveries SET state = 'pending', lease_until = NULL, next_attempt_at = ?,"
                      + " updated_at = ? WHERE state = 'delivering'")) {
            p.setLong(1, now.toEpochMilli());
            p.setLong(2, now.toEpochMilli());
            return p.executeUpdate();
          }
        });
  }

  @Override
  public boolean replay(String deliveryId, Instant now) {
    return db.withConnection(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement(
                  // (the CASEs read the row as it was: a pending delivery keeps its attempts and expiry)
                  "UPDATE layer_deliveries SET next_attempt_at = ?,"
                      + " expires_at = CASE WHEN state = 'pending' THEN expires_at ELSE NULL END,"
                      + " max_attempts = CASE WHEN state = 'pending' THEN max_attempts ELSE attempts + 1 END,"
                      + " state = 'pending', lease_until = NULL, updated_at = ? WHERE id = ? AND state <> 'delivering'")) {
            p.setLong(1, now.toEpochMilli());
            p.setLong(2, now.toEpochMilli());
            p.setString(3, deliveryId);
            return p.executeUpdate() == 1;
          }
        });
  }

  // ---- retention

  @Override
  public Purged purge(Instant cutoff, int limit) {
    if (limit <= 0) {
      return Purged.NOTHING;
    }
    long before = cutoff.toEpochMilli();
    int[] removed =
        db.inTransaction(
            c -> {
              // the rows are locked until the end: a replay cannot make one pending while it is removed
              List<String> ids = new ArrayList<>();
              try (PreparedStatement p =
                  c.prepareStatement(
                      "SELECT id FROM layer_deliveries WHERE state IN " + FINISHED + " AND updated_at < ? LIMIT ?"
                          + " FOR UPDATE SKIP LOCKED")) {
                p.setLong(1, before);
                p.setInt(2, limit);
                try (ResultSet rs = p.executeQuery()) {
                  while (rs.next()) {
                    ids.add(rs.getString(1));
                  }
                }
              }
              if (ids.isEmpty()) {
                return new int[] {0, 0};
              }
              String in = String.join(", ", Collections.nCopies(ids.size(), "?"));
              int attempts;
              try (PreparedStatement p = c.prepareStatement("DELETE FROM layer_attempts WHERE delivery_id IN (" + in + ")")) {
                for (int i = 0; i < ids.size(); i++) {
                  p.setString(i + 1, ids.get(i));
                }
                attempts = p.executeUpdate();
              }
              int deliveries;
              try (PreparedStatement p = c.prepareStatement("DELETE FROM layer_deliveries WHERE id IN (" + in + ")")) {
                for (int i = 0; i < ids.size(); i++) {
                  p.setString(i + 1, ids.get(i));
                }
                deliveries = p.executeUpdate();
              }
              return new int[] {deliveries, attempts};
            });
    int envelopes =
        db.withConnection(
            c -> {
              List<String> ids = new ArrayList<>();
              try (PreparedStatement p =
                  c.prepareStatement("SELECT e.id FROM layer_envelopes e WHERE e.received_at < ? AND " + UNREFERENCED
                      + " LIMIT ?")) {
                p.setLong(1, before);
                p.setInt(2, limit);
                try (ResultSet rs = p.executeQuery()) {
                  while (rs.next()) {
                    ids.add(rs.getString(1));
                  }
                }
              }
              if (ids.isEmpty()) {
                return 0;
              }
              // checked again in the delete itself: a replay may have made a delivery of it pending meanwhile
              try (PreparedStatement p =
                  c.prepareStatement("DELETE FROM layer_envelopes e WHERE e.id IN ("
                      + String.join(", ", Collections.nCopies(ids.size(), "?")) + ") AND " + UNREFERENCED)) {
                for (int i = 0; i < ids.size(); i++) {
                  p.setString(i + 1, ids.get(i));
                }
                return p.executeUpdate();
              }
            });
    return new Purged(removed[0], removed[1], envelopes);
  }

  // ---- the log

  @Override
  public Optional<Delivery> findDelivery(String id) {
    return db.withConnection(
        c -> {
          try (PreparedStatement p = c.prepareStatement(DELIVERY_COLUMNS + " FROM layer_deliveries WHERE id = ?")) {
            p.setString(1, id);
            try (ResultSet rs = p.executeQuery()) {
              if (!rs.next()) {
                return Optional.empty();
              }
              Map<String, Delivery> one = new LinkedHashMap<>();
              one.put(rs.getString(1), delivery(rs, List.of()));
              return Optional.of(withAttempts(c, one).get(0));
            }
          }
        });
  }

  @Override
  public List<Delivery> deliveries(String subscriptionId, Optional<DeliveryState> state, int limit) {
    return db.withConnection(
        c -> {
          String sql =
              DELIVERY_COLUMNS + " FROM layer_deliveries WHERE subscription_id = ?"
                  + (state.isPresent() ? " AND state = ?" : "") + " ORDER BY created_at DESC, seq DESC LIMIT ?";
          try (PreparedStatement p = c.prepareStatement(sql)) {
            int i = 1;
            p.setString(i++, subscriptionId);
            if (state.isPresent()) {
              p.setString(i++, state.get().wire());
            }
            p.setInt(i, limit);
            Map<String, Delivery> found = new LinkedHashMap<>();
            try (ResultSet rs = p.executeQuery()) {
              while (rs.next()) {
                found.put(rs.getString(1), delivery(rs, List.of()));
              }
            }
            return withAttempts(c, found);
          }
        });
  }

  @Override
  public Optional<Envelope> findEnvelope(String id) {
    return db.withConnection(
        c -> {
          try (PreparedStatement p = c.prepareStatement("SELECT id, body, received_at FROM layer_envelopes WHERE id = ?")) {
            p.setString(1, id);
            try (ResultSet rs = p.executeQuery()) {
              return rs.next()
                  ? Optional.of(new Envelope(rs.getString(1), rs.getBytes(2), Instant.ofEpochMilli(rs.getLong(3))))
                  : Optional.empty();
            }
          }
        });
  }

  @Override
  public boolean ping() {
    return db.ping();
  }

  // ---- mapping

  private static List<Delivery> withAttempts(Connection c, Map<String, Delivery> deliveries) throws SQLException {
    if (deliveries.isEmpty()) {
      return List.of();
    }
    Map<String, List<Attempt>> attempts = new LinkedHashMap<>();
    String in = String.join(", ", Collections.nCopies(deliveries.size(), "?"));
    try (PreparedStatement p =
        c.prepareStatement(
            "SELECT delivery_id, attempt_no, attempted_at, status, latency_ms, error, response_excerpt"
                + " FROM layer_attempts WHERE delivery_id IN (" + in + ") ORDER BY delivery_id, attempt_no")) {
      int i = 1;
      for (String id : deliveries.keySet()) {
        p.setString(i++, id);
      }
      try (ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          int status = rs.getInt(4);
          Optional<Integer> st = rs.wasNull() ? Optional.empty() : Optional.of(status);
          attempts.computeIfAbsent(rs.getString(1), k -> new ArrayList<>())
              .add(new Attempt(rs.getInt(2), Instant.ofEpochMilli(rs.getLong(3)), st, rs.getLong(5),
                  Optional.ofNullable(rs.getString(6)), Optional.ofNullable(rs.getString(7))));
        }
      }
    }
    List<Delivery> out = new ArrayList<>();
    for (Delivery d : deliveries.values()) {
      out.add(new Delivery(d.id(), d.subscriptionId(), d.webhookId(), d.field(), d.lane(), d.state(), d.nextAttemptAt(),
          d.expiresAt(), d.createdAt(), attempts.getOrDefault(d.id(), List.of())));
    }
    return out;
  }

  private static Delivery delivery(ResultSet rs, List<Attempt> attempts) throws SQLException {
    DeliveryState state = DeliveryState.fromWire(rs.getString(6));
    return new Delivery(
        rs.getString(1),
        rs.getString(2),
        rs.getString(3),
        rs.getString(4),
        Lane.fromWire(rs.getString(5)),
        state,
        state.isFinal() ? Optional.empty() : millis(rs, 8),
        millis(rs, 9),
        Instant.ofEpochMilli(rs.getLong(10)),
        attempts);
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
        millis(rs, 9));
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

  private static Optional<Instant> millis(ResultSet rs, int column) throws SQLException {
    long v = rs.getLong(column);
    return rs.wasNull() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(v));
  }

  private static void setMillis(PreparedStatement p, int i, Instant at) throws SQLException {
    if (at == null) {
      p.setNull(i, Types.BIGINT);
    } else {
      p.setLong(i, at.toEpochMilli());
    }
  }

  private static void setBytes(PreparedStatement p, int i, byte[] bytes) throws SQLException {
    if (bytes == null) {
      p.setNull(i, Types.BINARY);
    } else {
      p.setBytes(i, bytes);
    }
  }

  static String truncate(String s, int max) {
    return s == null || s.length() <= max ? s : s.substring(0, max);
  }
}

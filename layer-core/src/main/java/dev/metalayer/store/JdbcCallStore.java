package dev.metalayer.store;

import dev.metalayer.calls.CallStore;
import dev.metalayer.calls.Calls;
import dev.metalayer.relay.StoreException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;

/**
 * A {@link CallStore} on a JDBC {@link Database} (H2 or PostgreSQL), the relay store's tables beside
 * it. A call's row is locked ({@code SELECT … FOR UPDATE}) before its events are folded in, and a new
 * call's row is inserted so that a concurrent insert of the same call loses without failing the
 * transaction (PostgreSQL: {@code ON CONFLICT DO NOTHING}; H2: the duplicate statement alone fails)
 * and the events are folded again onto the row that won: the records of one call are written one
 * transaction at a time, across instances. Calls are locked in one order (number, call id), so two
 * transactions never wait for each other. Thread-safe.
 */
final class JdbcCallStore implements CallStore {
  private static final String CALL_COLUMNS = "SELECT phone_number_id, wacid, direction, user_wa_id, state, state_changes,"
      + " answered_by, terminate_status, duration_seconds, start_time, end_time, last_error, created_at, updated_at,"
      + " event_count";
  private static final String EVENT_COLUMNS = "SELECT phone_number_id, wacid, at_ms, source, actor, name, direction,"
      + " user_wa_id, http_status, detail";
  private static final String LIMIT_COLUMNS =
      "SELECT phone_number_id, user_wa_id, kind, code, http_status, answer, at_ms, until_at";
  /** Every state, as an SQL list. */
  private static final String STATES = java.util.Arrays.stream(State.values()).map(st -> "'" + st.wire() + "'")
      .collect(java.util.stream.Collectors.joining(", ", "(", ")"));
  /** Calls deleted per purge transaction. */
  private static final int PURGE_BATCH = 500;
  /** The most deliveries of one call listed. */
  private static final int MAX_DELIVERIES = 200;

  private final Database db;
  private final Sql sql;
  private final boolean pg;

  JdbcCallStore(Database db) {
    this.db = Objects.requireNonNull(db, "db");
    this.sql = new Sql(db);
    this.pg = db.dialect() == Database.Dialect.POSTGRESQL;
  }

  /** A stored call: its record and how many events its timeline holds. */
  private record Row(CallRecord record, int events) {}

  @Override
  public void record(List<Event> events) {
    if (!events.isEmpty()) {
      sql.inTransaction(tx -> {
        write(tx, events);
        return null;
      });
    }
  }

  /** {@link #record} inside the caller's transaction (the relay's ingest). */
  void write(Sql tx, List<Event> events) {
    if (events.isEmpty()) {
      return;
    }
    // one call at a time, in one order across transactions; each call's events in their order
    Map<List<String>, List<Event>> byCall = new TreeMap<>((a, b) -> {
      int n = a.get(0).compareTo(b.get(0));
      return n != 0 ? n : a.get(1).compareTo(b.get(1));
    });
    for (Event e : events) {
      byCall.computeIfAbsent(List.of(e.phoneNumberId(), e.wacid()), k -> new ArrayList<>()).add(CallRows.bounded(e));
    }
    for (List<Event> ofCall : byCall.values()) {
      if (!writeCall(tx, ofCall, startsACall(ofCall.get(0)))) {
        // the call exists (another transaction inserted it first, or Meta redelivered its start): fold
        // onto its row, locked now
        if (!writeCall(tx, ofCall, false)) {
          throw new IllegalStateException("a call's row was neither found nor inserted");
        }
      }
    }
  }

  /**
   * Whether an event usually starts a call (a ring): its row is then inserted without being looked up
   * first (a statement less on the calls lane's way), and looked up only should the insert find it.
   */
  private static boolean startsACall(Event e) {
    return switch (e.source()) {
      case WEBHOOK -> e.name().equals("connect") || e.name().equals("call_created") || e.name().equals("RINGING");
      case ACTION -> e.name().equals("connect");
      case LAYER -> false;
    };
  }

  /**
   * Folds one call's events.
   *
   * @param insertFirst whether to take the call for new, without looking it up (see {@link #startsACall})
   * @return false when the call was taken for new but exists (inserted by another transaction, or before)
   */
  private boolean writeCall(Sql tx, List<Event> events, boolean insertFirst) {
    Event first = events.get(0);
    Optional<Row> row = insertFirst ? Optional.empty() : lock(tx, first.phoneNumberId(), first.wacid());
    Set<String> keys = new HashSet<>();
    if (row.isPresent()) {
      keys.addAll(tx.query("SELECT event_key FROM layer_call_events WHERE phone_number_id = ? AND wacid = ?",
          rs -> rs.getString(1), first.phoneNumberId(), first.wacid()));
    }
    Optional<CallRecord> current = row.map(Row::record);
    int stored = row.map(Row::events).orElse(0);
    Map<String, Event> kept = new LinkedHashMap<>();
    boolean changed = false;
    for (Event e : events) {
      if (Calls.dropped(current, e)) {
        continue;
      }
      String key = CallRows.key(e);
      if (keys.contains(key) || kept.containsKey(key)) {
        continue;
      }
      current = Optional.of(Calls.apply(current, e));
      changed = true;
      if (stored + kept.size() < MAX_TIMELINE) {
        kept.put(key, e);
      }
    }
    if (!changed) {
      return true;
    }
    CallRecord c = current.orElseThrow();
    int count = stored + kept.size();
    if (row.isEmpty()) {
      if (!insert(tx, c, count)) {
        return false;
      }
    } else {
      update(tx, c, count);
    }
    try (Sql.Prepared insert = tx.prepare("INSERT INTO layer_call_events (phone_number_id, wacid, event_key, at_ms,"
        + " source, actor, name, direction, user_wa_id, http_status, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      for (Map.Entry<String, Event> k : kept.entrySet()) {
        Event e = k.getValue();
        insert.add(100, e.phoneNumberId(), e.wacid(), k.getKey(), e.at(), e.source().wire(), e.actor(), e.name(),
            Sql.text(e.direction().map(Direction::wire).orElse(null)), Sql.text(e.userWaId().orElse(null)),
            Sql.integer(e.httpStatus().isPresent() ? e.httpStatus().getAsInt() : null), Sql.text(e.detail().orElse(null)));
      }
      insert.flush();
    }
    return true;
  }

  private static Optional<Row> lock(Sql tx, String phoneNumberId, String wacid) {
    return tx.first(CALL_COLUMNS + " FROM layer_calls WHERE phone_number_id = ? AND wacid = ? FOR UPDATE",
        JdbcCallStore::row, phoneNumberId, wacid);
  }

  /** Inserts a new call's row. @return false when another transaction inserted it first */
  private boolean insert(Sql tx, CallRecord c, int events) {
    String insert = "INSERT INTO layer_calls (phone_number_id, wacid, direction, user_wa_id, state, state_changes,"
        + " answered_by, terminate_status, duration_seconds, start_time, end_time, last_error, created_at, updated_at,"
        + " event_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        + (pg ? " ON CONFLICT (phone_number_id, wacid) DO NOTHING" : "");
    Object[] params = {c.phoneNumberId(), c.wacid(), Sql.text(c.direction().map(Direction::wire).orElse(null)),
        Sql.text(c.userWaId().orElse(null)), c.state().wire(), CallRows.transitions(c.stateChanges()),
        Sql.text(c.answeredBy().orElse(null)), Sql.text(c.terminateStatus().orElse(null)),
        c.durationSeconds().<Object>map(d -> d).orElse(new Sql.Null(java.sql.Types.BIGINT)),
        Sql.millis(c.startTime()), Sql.millis(c.endTime()), Sql.text(c.lastError().orElse(null)), c.createdAt(),
        c.updatedAt(), events};
    try {
      return tx.update(insert, params) == 1;
    } catch (StoreException e) {
      if (e.duplicate() && !pg) {
        return false; // H2 fails the statement alone; the transaction goes on
      }
      throw e;
    }
  }

  private static void update(Sql tx, CallRecord c, int events) {
    tx.update("UPDATE layer_calls SET direction = ?, user_wa_id = ?, state = ?, state_changes = ?, answered_by = ?,"
            + " terminate_status = ?, duration_seconds = ?, start_time = ?, end_time = ?, last_error = ?, created_at = ?,"
            + " updated_at = ?, event_count = ? WHERE phone_number_id = ? AND wacid = ?",
        Sql.text(c.direction().map(Direction::wire).orElse(null)), Sql.text(c.userWaId().orElse(null)), c.state().wire(),
        CallRows.transitions(c.stateChanges()), Sql.text(c.answeredBy().orElse(null)),
        Sql.text(c.terminateStatus().orElse(null)),
        c.durationSeconds().<Object>map(d -> d).orElse(new Sql.Null(java.sql.Types.BIGINT)), Sql.millis(c.startTime()),
        Sql.millis(c.endTime()), Sql.text(c.lastError().orElse(null)), c.createdAt(), c.updatedAt(), events,
        c.phoneNumberId(), c.wacid());
  }

  @Override
  public Optional<CallRecord> find(String phoneNumberId, String wacid) {
    return sql.first(CALL_COLUMNS + " FROM layer_calls WHERE phone_number_id = ? AND wacid = ?", JdbcCallStore::row,
        phoneNumberId, wacid).map(Row::record);
  }

  @Override
  public List<Event> timeline(String phoneNumberId, String wacid) {
    return sql.query(EVENT_COLUMNS + " FROM layer_call_events WHERE phone_number_id = ? AND wacid = ?"
        + " ORDER BY at_ms, seq", JdbcCallStore::event, phoneNumberId, wacid);
  }

  @Override
  public List<DeliveryEntry> deliveries(String phoneNumberId, String wacid) {
    // through layer_deliveries_order (subscription_id, ordering_key, seq), for the number's subscriptions
    return sql.query("SELECT d.id, d.subscription_id, d.field, d.state, d.attempts, d.created_at,"
            + " (SELECT MAX(a.attempted_at) FROM layer_attempts a WHERE a.delivery_id = d.id)"
            + " FROM layer_deliveries d WHERE d.subscription_id IN (SELECT s.id FROM layer_subscriptions s"
            + " WHERE s.phone_number_id = ?) AND d.ordering_key = ? ORDER BY d.seq LIMIT ?",
        rs -> new DeliveryEntry(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getInt(5),
            Instant.ofEpochMilli(rs.getLong(6)), Sql.instant(rs, 7)),
        phoneNumberId, Calls.orderingKey(wacid), MAX_DELIVERIES);
  }

  @Override
  public Page list(Query query) {
    int limit = CallRows.limit(query.limit());
    StringBuilder where = new StringBuilder(" WHERE 1 = 1");
    List<Object> params = new ArrayList<>();
    query.phoneNumberId().ifPresent(n -> {
      where.append(" AND phone_number_id = ?");
      params.add(n);
    });
    if (!query.states().isEmpty()) {
      where.append(" AND state IN (").append(Sql.placeholders(query.states().size())).append(")");
      query.states().stream().map(State::wire).sorted().forEach(params::add);
    }
    query.direction().ifPresent(d -> {
      where.append(" AND direction = ?");
      params.add(d.wire());
    });
    query.since().ifPresent(s -> {
      where.append(" AND created_at >= ?");
      params.add(s);
    });
    query.until().ifPresent(u -> {
      where.append(" AND created_at < ?");
      params.add(u);
    });
    if (query.after().isPresent()) {
      CallRows.Position p = CallRows.position(query.after().get());
      where.append(" AND (created_at < ? OR (created_at = ? AND (phone_number_id < ? OR (phone_number_id = ?"
          + " AND wacid < ?))))");
      params.addAll(List.of(p.createdAt(), p.createdAt(), p.phoneNumberId(), p.phoneNumberId(), p.wacid()));
    }
    params.add(limit + 1);
    List<CallRecord> page = sql.query(CALL_COLUMNS + " FROM layer_calls" + where
        + " ORDER BY created_at DESC, phone_number_id DESC, wacid DESC LIMIT ?", JdbcCallStore::row, params.toArray())
        .stream().map(Row::record).toList();
    return CallRows.page(page, limit);
  }

  @Override
  public String claimAnswering(String phoneNumberId, String wacid, String keyId, Instant now) {
    Objects.requireNonNull(keyId, "keyId");
    return sql.inTransaction(tx -> {
      if (lock(tx, phoneNumberId, wacid).isEmpty()) {
        insert(tx, CallRows.created(phoneNumberId, wacid, now), 0);
        lock(tx, phoneNumberId, wacid); // ours, or the one another transaction inserted first
      }
      tx.update("UPDATE layer_calls SET answered_by = ? WHERE phone_number_id = ? AND wacid = ? AND answered_by IS NULL",
          keyId, phoneNumberId, wacid);
      return tx.first("SELECT answered_by FROM layer_calls WHERE phone_number_id = ? AND wacid = ?",
          rs -> rs.getString(1), phoneNumberId, wacid).orElseThrow();
    });
  }

  @Override
  public boolean releaseAnswering(String phoneNumberId, String wacid, String keyId) {
    Objects.requireNonNull(keyId, "keyId");
    return sql.update("UPDATE layer_calls SET answered_by = NULL WHERE phone_number_id = ? AND wacid = ? AND answered_by = ?",
        phoneNumberId, wacid, keyId) > 0;
  }

  @Override
  public void remember(Limit l) {
    CallRows.checkAnswer(l);
    Object[] params = {l.phoneNumberId(), l.userWaId(), l.kind(), l.code(), l.httpStatus(), l.answer(), l.at(), l.until()};
    if (pg) {
      sql.update("INSERT INTO layer_call_limits (phone_number_id, user_wa_id, kind, code, http_status, answer, at_ms,"
          + " until_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (phone_number_id, user_wa_id, kind) DO UPDATE SET"
          + " code = EXCLUDED.code, http_status = EXCLUDED.http_status, answer = EXCLUDED.answer, at_ms = EXCLUDED.at_ms,"
          + " until_at = EXCLUDED.until_at", params);
    } else {
      sql.update("MERGE INTO layer_call_limits (phone_number_id, user_wa_id, kind, code, http_status, answer, at_ms,"
          + " until_at) KEY (phone_number_id, user_wa_id, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", params);
    }
  }

  @Override
  public Optional<Limit> remembered(String phoneNumberId, String userWaId, String kind, Instant now) {
    return sql.first(LIMIT_COLUMNS + " FROM layer_call_limits WHERE phone_number_id = ? AND user_wa_id = ? AND kind = ?"
        + " AND until_at > ?", JdbcCallStore::limit, phoneNumberId, userWaId, kind, now);
  }

  @Override
  public List<Limit> rememberedFor(String phoneNumberId, String userWaId, Instant now) {
    return sql.query(LIMIT_COLUMNS + " FROM layer_call_limits WHERE phone_number_id = ? AND user_wa_id = ?"
        + " AND until_at > ? ORDER BY kind", JdbcCallStore::limit, phoneNumberId, userWaId, now);
  }

  @Override
  public void forget(String phoneNumberId, String userWaId, String kind) {
    sql.update("DELETE FROM layer_call_limits WHERE phone_number_id = ? AND user_wa_id = ? AND kind = ?", phoneNumberId,
        userWaId, kind);
  }

  @Override
  public String answering(String phoneNumberId) {
    return sql.first("SELECT mode FROM layer_call_answering WHERE phone_number_id = ?", rs -> rs.getString(1),
        phoneNumberId).orElse(Calls.SINGLE);
  }

  @Override
  public void setAnswering(String phoneNumberId, String mode) {
    Calls.answeringMode(mode);
    if (pg) {
      sql.update("INSERT INTO layer_call_answering (phone_number_id, mode) VALUES (?, ?) ON CONFLICT (phone_number_id)"
          + " DO UPDATE SET mode = EXCLUDED.mode", phoneNumberId, mode);
    } else {
      sql.update("MERGE INTO layer_call_answering (phone_number_id, mode) KEY (phone_number_id) VALUES (?, ?)",
          phoneNumberId, mode);
    }
  }

  @Override
  public List<CallRecord> unanswered(Instant before, int limit) {
    return sql.query(CALL_COLUMNS + " FROM layer_calls WHERE state IN ('ringing', 'pre_accepted') AND updated_at < ?"
        + " ORDER BY updated_at LIMIT ?", JdbcCallStore::row, before, Math.max(0, limit)).stream().map(Row::record).toList();
  }

  @Override
  public int purge(Instant before) {
    int total = 0;
    int n;
    do {
      n = sql.inTransaction(tx -> {
        // a range of layer_calls_state_updated per state
        List<String[]> calls = tx.query("SELECT phone_number_id, wacid FROM layer_calls WHERE state IN " + STATES
            + " AND updated_at < ? LIMIT ? FOR UPDATE SKIP LOCKED", rs -> new String[] {rs.getString(1), rs.getString(2)},
            before, PURGE_BATCH);
        try (Sql.Prepared events = tx.prepare("DELETE FROM layer_call_events WHERE phone_number_id = ? AND wacid = ?");
            Sql.Prepared call = tx.prepare("DELETE FROM layer_calls WHERE phone_number_id = ? AND wacid = ?"
                + " AND updated_at < ?")) {
          int removed = 0;
          for (String[] c : calls) {
            // checked again: an event may have come since the select (it waited for the lock)
            if (call.update(c[0], c[1], before) == 1) {
              events.update(c[0], c[1]);
              removed++;
            }
          }
          return removed;
        }
      });
      total += n;
    } while (n >= PURGE_BATCH);
    sql.update("DELETE FROM layer_call_limits WHERE until_at < ?", before);
    return total;
  }

  // ---- mapping

  private static Row row(ResultSet rs) throws SQLException {
    long duration = rs.getLong(9);
    Optional<Long> d = rs.wasNull() ? Optional.empty() : Optional.of(duration);
    return new Row(new CallRecord(
        rs.getString(1),
        rs.getString(2),
        Optional.ofNullable(rs.getString(3)).map(Direction::fromWire),
        Optional.ofNullable(rs.getString(4)),
        State.fromWire(rs.getString(5)),
        CallRows.transitions(rs.getString(6)),
        Optional.ofNullable(rs.getString(7)),
        Optional.ofNullable(rs.getString(8)),
        d,
        Sql.instant(rs, 10),
        Sql.instant(rs, 11),
        Optional.ofNullable(rs.getString(12)),
        Instant.ofEpochMilli(rs.getLong(13)),
        Instant.ofEpochMilli(rs.getLong(14))), rs.getInt(15));
  }

  private static Event event(ResultSet rs) throws SQLException {
    int status = rs.getInt(9);
    OptionalInt httpStatus = rs.wasNull() ? OptionalInt.empty() : OptionalInt.of(status);
    return new Event(rs.getString(1), rs.getString(2), Instant.ofEpochMilli(rs.getLong(3)),
        Source.fromWire(rs.getString(4)), rs.getString(5), rs.getString(6),
        Optional.ofNullable(rs.getString(7)).map(Direction::fromWire), Optional.ofNullable(rs.getString(8)), httpStatus,
        Optional.ofNullable(rs.getString(10)));
  }

  private static Limit limit(ResultSet rs) throws SQLException {
    return new Limit(rs.getString(1), rs.getString(2), rs.getString(3), rs.getInt(4), rs.getInt(5), rs.getString(6),
        Instant.ofEpochMilli(rs.getLong(7)), Instant.ofEpochMilli(rs.getLong(8)));
  }
}

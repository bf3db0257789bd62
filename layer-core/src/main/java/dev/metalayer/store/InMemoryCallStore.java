package dev.metalayer.store;

import dev.metalayer.calls.CallStore;
import dev.metalayer.calls.Calls;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiFunction;

/**
 * A {@link CallStore} in memory. Every method holds one lock: the relay store's, when it is that
 * store's {@link InMemoryRelayStore#calls()}, so that an ingest and its call events are one step.
 */
final class InMemoryCallStore implements CallStore {
  private final Object lock;
  /** The webhook deliveries of a number's call, by its ordering key; empty without a relay. */
  private final BiFunction<String, String, List<DeliveryEntry>> deliveries;
  private final Map<List<String>, Call> calls = new HashMap<>();
  private final Map<List<String>, Limit> limits = new LinkedHashMap<>();
  private final Map<String, String> answering = new HashMap<>();

  /** A call and its timeline, under the lock. */
  private static final class Call {
    CallRecord record;
    final List<Event> timeline = new ArrayList<>();
    final Set<String> keys = new HashSet<>();
  }

  /** A store of its own. */
  InMemoryCallStore() {
    this.lock = this;
    this.deliveries = (pnid, key) -> List.of();
  }

  /** The call store of a relay store: its lock, its deliveries. */
  InMemoryCallStore(Object lock, BiFunction<String, String, List<DeliveryEntry>> deliveries) {
    this.lock = Objects.requireNonNull(lock, "lock");
    this.deliveries = Objects.requireNonNull(deliveries, "deliveries");
  }

  @Override
  public void record(List<Event> events) {
    synchronized (lock) {
      write(events);
    }
  }

  /** {@link #record} for a caller that holds the lock already. */
  void write(List<Event> events) {
    for (Event raw : events) {
      Event e = CallRows.bounded(raw);
      List<String> id = List.of(e.phoneNumberId(), e.wacid());
      Call call = calls.get(id);
      Optional<CallRecord> current = call == null ? Optional.empty() : Optional.of(call.record);
      if (Calls.dropped(current, e)) {
        continue;
      }
      String key = CallRows.key(e);
      if (call != null && call.keys.contains(key)) {
        continue;
      }
      if (call == null) {
        call = new Call();
        calls.put(id, call);
      }
      call.record = Calls.apply(current, e);
      if (call.timeline.size() < MAX_TIMELINE) {
        call.keys.add(key);
        call.timeline.add(e);
      }
    }
  }

  @Override
  public Optional<CallRecord> find(String phoneNumberId, String wacid) {
    synchronized (lock) {
      return Optional.ofNullable(calls.get(List.of(phoneNumberId, wacid))).map(c -> c.record);
    }
  }

  @Override
  public List<Event> timeline(String phoneNumberId, String wacid) {
    synchronized (lock) {
      Call call = calls.get(List.of(phoneNumberId, wacid));
      if (call == null) {
        return List.of();
      }
      // oldest first; events of one time keep their arrival order (a stable sort)
      List<Event> out = new ArrayList<>(call.timeline);
      out.sort(Comparator.comparing(Event::at));
      return out;
    }
  }

  @Override
  public List<DeliveryEntry> deliveries(String phoneNumberId, String wacid) {
    synchronized (lock) {
      return deliveries.apply(phoneNumberId, Calls.orderingKey(wacid));
    }
  }

  @Override
  public Page list(Query query) {
    int limit = CallRows.limit(query.limit());
    Optional<CallRows.Position> after = query.after().map(CallRows::position);
    synchronized (lock) {
      List<CallRecord> page = calls.values().stream().map(c -> c.record)
          .filter(c -> query.phoneNumberId().map(c.phoneNumberId()::equals).orElse(true))
          .filter(c -> query.states().isEmpty() || query.states().contains(c.state()))
          .filter(c -> query.direction().map(d -> c.direction().equals(Optional.of(d))).orElse(true))
          .filter(c -> query.since().map(s -> !c.createdAt().isBefore(s)).orElse(true))
          .filter(c -> query.until().map(u -> c.createdAt().isBefore(u)).orElse(true))
          .filter(c -> after.map(a -> a.before(c)).orElse(true))
          .sorted(CallRows.NEWEST_FIRST)
          .limit(limit + 1L)
          .toList();
      return CallRows.page(page, limit);
    }
  }

  @Override
  public String claimAnswering(String phoneNumberId, String wacid, String keyId, Instant now) {
    Objects.requireNonNull(keyId, "keyId");
    synchronized (lock) {
      Call call = calls.computeIfAbsent(List.of(phoneNumberId, wacid), id -> {
        Call c = new Call();
        c.record = CallRows.created(phoneNumberId, wacid, now);
        return c;
      });
      if (call.record.answeredBy().isEmpty()) {
        call.record = CallRows.answeredBy(call.record, keyId);
      }
      return call.record.answeredBy().orElseThrow();
    }
  }

  @Override
  public boolean releaseAnswering(String phoneNumberId, String wacid, String keyId) {
    Objects.requireNonNull(keyId, "keyId");
    synchronized (lock) {
      Call call = calls.get(List.of(phoneNumberId, wacid));
      if (call == null || !call.record.answeredBy().equals(Optional.of(keyId))) {
        return false;
      }
      call.record = CallRows.answeredBy(call.record, Optional.empty());
      return true;
    }
  }

  @Override
  public void remember(Limit limit) {
    CallRows.checkAnswer(limit);
    synchronized (lock) {
      limits.put(List.of(limit.phoneNumberId(), limit.userWaId(), limit.kind()), limit);
    }
  }

  @Override
  public Optional<Limit> remembered(String phoneNumberId, String userWaId, String kind, Instant now) {
    synchronized (lock) {
      return Optional.ofNullable(limits.get(List.of(phoneNumberId, userWaId, kind))).filter(l -> l.until().isAfter(now));
    }
  }

  @Override
  public List<Limit> rememberedFor(String phoneNumberId, String userWaId, Instant now) {
    synchronized (lock) {
      return limits.values().stream()
          .filter(l -> l.phoneNumberId().equals(phoneNumberId) && l.userWaId().equals(userWaId) && l.until().isAfter(now))
          .sorted(Comparator.comparing(Limit::kind))
          .toList();
    }
  }

  @Override
  public void forget(String phoneNumberId, String userWaId, String kind) {
    synchronized (lock) {
      limits.remove(List.of(phoneNumberId, userWaId, kind));
    }
  }

  @Override
  public String answering(String phoneNumberId) {
    synchronized (lock) {
      return answering.getOrDefault(phoneNumberId, Calls.SINGLE);
    }
  }

  @Override
  public void setAnswering(String phoneNumberId, String mode) {
    Calls.answeringMode(mode);
    synchronized (lock) {
      answering.put(phoneNumberId, mode);
    }
  }

  @Override
  public List<CallRecord> unanswered(Instant before, int limit) {
    synchronized (lock) {
      return calls.values().stream().map(c -> c.record)
          .filter(c -> (c.state() == State.RINGING || c.state() == State.PRE_ACCEPTED) && c.updatedAt().isBefore(before))
          .sorted(Comparator.comparing(CallRecord::updatedAt))
          .limit(Math.max(0, limit))
          .toList();
    }
  }

  @Override
  public int purge(Instant before) {
    synchronized (lock) {
      int n = calls.size();
      calls.values().removeIf(c -> c.record.updatedAt().isBefore(before));
      limits.values().removeIf(l -> l.until().isBefore(before));
      return n - calls.size();
    }
  }
}

package dev.metalayer.store;

import dev.metalayer.calls.CallStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Call records in memory: the answering surface (claims, modes) and the remembered limits, and the
 * timelines of the events recorded. This branch's store keeps the records a claim makes and appends
 * events to timelines without folding them into records (the fold, {@code Calls.apply}, and its
 * store come with the call records). One lock; thread-safe.
 */
final class InMemoryCallStore implements CallStore {
  private record Id(String phoneNumberId, String wacid) {}

  private record LimitId(String phoneNumberId, String userWaId, String kind) {}

  private final Map<Id, CallRecord> records = new HashMap<>();
  private final Map<Id, List<Event>> timelines = new HashMap<>();
  private final Map<LimitId, Limit> limits = new HashMap<>();
  private final Map<String, String> modes = new HashMap<>();

  @Override
  public synchronized void record(List<Event> events) {
    for (Event e : events) {
      timelines.computeIfAbsent(new Id(e.phoneNumberId(), e.wacid()), k -> new ArrayList<>()).add(e);
    }
  }

  @Override
  public synchronized Optional<CallRecord> find(String phoneNumberId, String wacid) {
    return Optional.ofNullable(records.get(new Id(phoneNumberId, wacid)));
  }

  @Override
  public synchronized List<Event> timeline(String phoneNumberId, String wacid) {
    return List.copyOf(timelines.getOrDefault(new Id(phoneNumberId, wacid), List.of()));
  }

  @Override
  public List<DeliveryEntry> deliveries(String phoneNumberId, String wacid) {
    return List.of();
  }

  @Override
  public synchronized Page list(Query query) {
    List<CallRecord> calls = records.values().stream()
        .filter(r -> query.phoneNumberId().map(r.phoneNumberId()::equals).orElse(true))
        .sorted(Comparator.comparing(CallRecord::createdAt).reversed())
        .limit(Math.max(1, query.limit()))
        .toList();
    return new Page(calls, Optional.empty());
  }

  @Override
  public synchronized String claimAnswering(String phoneNumberId, String wacid, String keyId, Instant now) {
    Id id = new Id(phoneNumberId, wacid);
    CallRecord r = records.get(id);
    if (r == null) {
      r = new CallRecord(phoneNumberId, wacid, Optional.empty(), Optional.empty(), State.RINGING, List.of(),
          Optional.of(keyId), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), now, now);
      records.put(id, r);
      return keyId;
    }
    if (r.answeredBy().isPresent()) {
      return r.answeredBy().get();
    }
    records.put(id, withAnswering(r, Optional.of(keyId), now));
    return keyId;
  }

  @Override
  public synchronized boolean releaseAnswering(String phoneNumberId, String wacid, String keyId) {
    Id id = new Id(phoneNumberId, wacid);
    CallRecord r = records.get(id);
    if (r == null || !r.answeredBy().equals(Optional.of(keyId))) {
      return false;
    }
    records.put(id, withAnswering(r, Optional.empty(), r.updatedAt()));
    return true;
  }

  private static CallRecord withAnswering(CallRecord r, Optional<String> keyId, Instant now) {
    return new CallRecord(r.phoneNumberId(), r.wacid(), r.direction(), r.userWaId(), r.state(), r.stateChanges(), keyId,
        r.terminateStatus(), r.durationSeconds(), r.startTime(), r.endTime(), r.lastError(), r.createdAt(), now);
  }

  @Override
  public synchronized void remember(Limit limit) {
    limits.put(new LimitId(limit.phoneNumberId(), limit.userWaId(), limit.kind()), limit);
  }

  @Override
  public synchronized Optional<Limit> remembered(String phoneNumberId, String userWaId, String kind, Instant now) {
    return Optional.ofNullable(limits.get(new LimitId(phoneNumberId, userWaId, kind))).filter(l -> now.isBefore(l.until()));
  }

  @Override
  public synchronized List<Limit> rememberedFor(String phoneNumberId, String userWaId, Instant now) {
    return limits.values().stream()
        .filter(l -> l.phoneNumberId().equals(phoneNumberId) && l.userWaId().equals(userWaId) && now.isBefore(l.until()))
        .sorted(Comparator.comparing(Limit::kind))
        .toList();
  }

  @Override
  public synchronized void forget(String phoneNumberId, String userWaId, String kind) {
    limits.remove(new LimitId(phoneNumberId, userWaId, kind));
  }

  @Override
  public synchronized String answering(String phoneNumberId) {
    return modes.getOrDefault(phoneNumberId, "single");
  }

  @Override
  public synchronized void setAnswering(String phoneNumberId, String mode) {
    modes.put(phoneNumberId, mode);
  }

  @Override
  public synchronized int purge(Instant before) {
    List<Id> old = records.entrySet().stream().filter(e -> e.getValue().updatedAt().isBefore(before)).map(Map.Entry::getKey).toList();
    old.forEach(id -> {
      records.remove(id);
      timelines.remove(id);
    });
    limits.values().removeIf(l -> !l.until().isAfter(before));
    return old.size();
  }
}

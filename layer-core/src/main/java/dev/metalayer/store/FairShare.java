package dev.metalayer.store;

import dev.metalayer.relay.RelayStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * The order in which a claim takes deliveries from numbers (see {@link RelayStore#claimDue}): one at a
 * time from the number with the lowest load, ties to the oldest waiting, never above the cap. Shared
 * by every store, so that the rule lives once. Pure; not thread-safe (one call, one thread).
 */
final class FairShare {
  private FairShare() {}

  /** A claimable delivery. @param due when it became claimable (its due time, or its lease's end) */
  record Candidate(String id, String number, Instant due, long seq) {}

  private static final class Queue {
    final String number;
    final List<Candidate> candidates;
    int next;
    int load;

    Queue(String number, List<Candidate> candidates, int load) {
      this.number = number;
      this.candidates = candidates;
      this.load = load;
    }

    Candidate head() {
      return candidates.get(next);
    }
  }

  /**
   * @param candidates each number's claimable deliveries, in the order that number's are taken
   * @param load each number's deliveries in flight now (absent: none)
   * @return the deliveries to claim, in the order taken, at most {@code limit}
   */
  static List<Candidate> pick(Map<String, List<Candidate>> candidates, Map<String, Integer> load, int perNumber,
      int limit) {
    PriorityQueue<Queue> queues =
        new PriorityQueue<>(Comparator.<Queue>comparingInt(q -> q.load)
            .thenComparing(q -> q.head().due())
            .thenComparingLong(q -> q.head().seq())
            .thenComparing(q -> q.number));
    candidates.forEach((number, list) -> {
      int l = load.getOrDefault(number, 0);
      if (!list.isEmpty() && l < perNumber) {
        queues.add(new Queue(number, list, l));
      }
    });
    List<Candidate> out = new ArrayList<>();
    while (out.size() < limit && !queues.isEmpty()) {
      Queue q = queues.poll();
      out.add(q.head());
      q.next++;
      q.load++;
      if (q.next < q.candidates.size() && q.load < perNumber) {
        queues.add(q);
      }
    }
    return out;
  }

  /** One claim transaction of a store: up to {@code limit} deliveries; counts what it superseded into {@code superseded[0]}. */
  interface Round {
    List<RelayStore.Claimed> claim(int limit, int[] superseded);
  }

  /**
   * A claim of up to {@code limit} deliveries in rounds: a round that superseded rows may have let
   * others of their calls through, so the claim goes on, at most three rounds (bounded work per claim).
   */
  static List<RelayStore.Claimed> inRounds(int limit, Round round) {
    List<RelayStore.Claimed> claimed = new ArrayList<>();
    for (int r = 0; r < 3 && claimed.size() < limit; r++) {
      int[] superseded = {0};
      claimed.addAll(round.claim(limit - claimed.size(), superseded));
      if (superseded[0] == 0) {
        break;
      }
    }
    return claimed;
  }
}

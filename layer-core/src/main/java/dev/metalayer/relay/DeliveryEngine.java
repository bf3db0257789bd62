package dev.metalayer.relay;

import dev.metalayer.store.RelayStore;
import dev.metalayer.store.RelayStore.Claimed;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Claims due deliveries from the store and runs their attempts: deliveries are rows, not threads.
 *
 * <p>Each lane has its own worker pool, so a backlog of messages never delays a ring. Within a lane, a
 * subscription has at most {@code perSubscription} attempts in flight: a slow or dead subscriber holds
 * a few workers, never the lane. One scheduler thread pumps each lane: when woken (a new delivery
 * was committed, an attempt finished) and at the next due time from the store (at least every
 * second, so replays and other instances' rows are seen).
 *
 * <p>{@link #runDueNow()} runs everything due at the clock's current time on the calling thread,
 * without the pools: the deterministic way to drive retries, TTLs and dead-lettering in tests.
 */
final class DeliveryEngine implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DeliveryEngine.class);
  private static final Duration MAX_IDLE = Duration.ofSeconds(1);

  private final RelayStore store;
  private final Attempter attempter;
  private final DeliveryPolicy policy;
  private final Clock clock;
  private final int perSubscription;
  private final Map<Lane, LaneState> lanes = new EnumMap<>(Lane.class);
  private volatile ScheduledExecutorService scheduler;
  private volatile boolean running;

  /** The in-flight bookkeeping of one lane; guarded by its own monitor. */
  private final class LaneState {
    final Lane lane;
    final int threads;
    final Duration minPoll;
    final Map<String, Integer> inFlight = new HashMap<>();
    final AtomicBoolean pumpQueued = new AtomicBoolean();
    int total;
    ThreadPoolExecutor pool;
    ScheduledFuture<?> timer;

    LaneState(Lane lane, int threads, Duration minPoll) {
      this.lane = lane;
      this.threads = threads;
      this.minPoll = minPoll;
    }
  }

  DeliveryEngine(RelayStore store, Attempter attempter, DeliveryPolicy policy, Clock clock, int callsThreads,
      int defaultThreads, int perSubscription) {
    this.store = store;
    this.attempter = attempter;
    this.policy = policy;
    this.clock = clock;
    this.perSubscription = perSubscription;
    lanes.put(Lane.CALLS, new LaneState(Lane.CALLS, callsThreads, Duration.ofMillis(50)));
    lanes.put(Lane.DEFAULT, new LaneState(Lane.DEFAULT, defaultThreads, Duration.ofMillis(250)));
  }

  /** Starts the scheduler and the worker pools. Idempotent. */
  synchronized void start() {
    if (running) {
      return;
    }
    scheduler = Executors.newSingleThreadScheduledExecutor(threads("relay-scheduler"));
    for (LaneState s : lanes.values()) {
      s.pool = new ThreadPoolExecutor(s.threads, s.threads, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
          threads("relay-" + s.lane.wire()));
    }
    running = true;
    for (Lane lane : Lane.values()) {
      wake(lane);
    }
  }

  boolean running() {
    return running;
  }

  /** Asks for a pump of {@code lane} as soon as possible; coalesced; a no-op when not started. */
  void wake(Lane lane) {
    LaneState s = lanes.get(lane);
    ScheduledExecutorService sch = scheduler;
    if (!running || sch == null || !s.pumpQueued.compareAndSet(false, true)) {
      return;
    }
    try {
      sch.execute(() -> pump(s));
    } catch (java.util.concurrent.RejectedExecutionException stopping) {
      s.pumpQueued.set(false);
    }
  }

  private void pump(LaneState s) {
    s.pumpQueued.set(false);
    if (!running) {
      return;
    }
    Duration delay = MAX_IDLE;
    try {
      Instant now = clock.instant();
      int free;
      Set<String> saturated = new HashSet<>();
      synchronized (s) {
        free = s.threads - s.total;
        s.inFlight.forEach((sub, n) -> {
          if (n >= perSubscription) {
            saturated.add(sub);
          }
        });
      }
      if (free > 0) {
        List<Claimed> claimed = store.claimDue(s.lane, now, now.plus(policy.lease(s.lane)), free, saturated);
        for (Claimed c : claimed) {
          synchronized (s) {
            s.inFlight.merge(c.subscriptionId(), 1, Integer::sum);
            s.total++;
          }
          s.pool.execute(() -> run(s, c));
        }
      }
      Optional<Instant> next = store.nextWake(s.lane);
      if (next.isPresent()) {
        Duration until = Duration.between(clock.instant(), next.get());
        delay = until.compareTo(s.minPoll) < 0 ? s.minPoll : until.compareTo(MAX_IDLE) > 0 ? MAX_IDLE : until;
      }
    } catch (RuntimeException e) {
      log.warn("The {} lane could not claim deliveries; retrying in {}", s.lane.wire(), MAX_IDLE, e);
    }
    synchronized (s) {
      if (s.timer != null) {
        s.timer.cancel(false);
      }
      if (running) {
        try {
          s.timer = scheduler.schedule(() -> wake(s.lane), delay.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
          // closing
        }
      }
    }
  }

  private void run(LaneState s, Claimed c) {
    try {
      attempter.attempt(c);
    } catch (RuntimeException e) {
      log.error("Attempt of delivery {} failed unexpectedly; it is retried when its lease ends", c.id(), e);
    } finally {
      synchronized (s) {
        s.inFlight.computeIfPresent(c.subscriptionId(), (k, n) -> n <= 1 ? null : n - 1);
        s.total--;
      }
      wake(s.lane);
    }
  }

  /**
   * Attempts every delivery that is claimable at the clock's current time, calls first, on the calling
   * thread, until nothing more is (a delivery unblocked by an earlier one of its call is attempted in
   * the same run). @return the number of claims processed
   */
  int runDueNow() {
    int processed = 0;
    for (int round = 0; round < 100_000; round++) {
      boolean any = false;
      for (Lane lane : Lane.values()) {
        Instant now = clock.instant();
        for (Claimed c : store.claimDue(lane, now, now.plus(policy.lease(lane)), 100, Set.of())) {
          attempter.attempt(c);
          processed++;
          any = true;
        }
      }
      if (!any) {
        return processed;
      }
    }
    return processed;
  }

  /** Stops claiming, lets in-flight attempts finish for up to 10 seconds. Idempotent. */
  @Override
  public synchronized void close() {
    if (!running) {
      return;
    }
    running = false;
    scheduler.shutdownNow();
    for (LaneState s : lanes.values()) {
      s.pool.shutdown();
    }
    for (LaneState s : lanes.values()) {
      try {
        if (!s.pool.awaitTermination(10, TimeUnit.SECONDS)) {
          s.pool.shutdownNow();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        s.pool.shutdownNow();
      }
    }
  }

  private static ThreadFactory threads(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}

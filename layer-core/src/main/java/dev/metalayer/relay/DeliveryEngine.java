package dev.metalayer.relay;

import dev.metalayer.relay.RelayStore.Claimed;
import dev.metalayer.calls.Calls;
import dev.metalayer.relay.RelayStore.Purged;
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
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Claims due deliveries from the store and runs their attempts: deliveries are rows, not threads.
 *
 * <p>Each lane has its own worker pool, so a backlog of messages never delays a ring. Within a lane, a
 * subscription has at most {@code perSubscription} attempts in flight: a slow or dead subscriber holds
 * a few workers, never the lane. And a number has at most {@code perNumber} attempts in flight in a
 * lane (default half the lane's workers), claimed {@linkplain RelayStore#claimDue fairly}: the number
 * with the fewest attempts in flight is served first, one delivery at a time. So whatever one number
 * does (a backlog, hanging subscribers), the other half of the lane stays free for the others, and a
 * number with nothing in flight gets the next free worker before any number that has. Each lane also has its own scheduler thread, which pumps it: when
 * woken (a new delivery was committed, an attempt finished) and at the next due time from the store
 * (at least every second, so replays and other instances' rows are seen). A slow claim in the default
 * lane therefore never holds up the pump of the calls lane.
 *
 * <p>{@link #runDueNow()} runs everything due at the clock's current time on the calling thread,
 * without the pools: the deterministic way to drive retries, TTLs and dead-lettering in tests.
 *
 * <p>Instances: the engine claims as the instance {@code instanceId}. Once started it beats every
 * {@link #HEARTBEAT} ({@link RelayStore#heartbeat}), so that the others leave the call deliveries its
 * instance owns to it; it stops beating when one of its lanes has stopped (then they take them over after
 * {@link RelayStore#OWNER_TIMEOUT}), and at {@link #close()} it retires its instance, so that they take them
 * over at once. It also {@linkplain RelayStore#listen listens} for the other instances' wake-ups and pumps
 * the lane at once (on PostgreSQL); the one-second poll stays as the fallback.
 *
 * <p>Retention: a housekeeping thread {@linkplain #purge() purges} history older than the retention
 * period one minute after {@link #start()} and then every hour (after the previous run ended), in
 * short batches, so it never holds a lane up; {@link #purge()} runs the same on the calling thread.
 */
final class DeliveryEngine implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DeliveryEngine.class);
  /** The longest a started lane waits between two polls of the store when nothing wakes it (the fallback). */
  static final Duration MAX_IDLE = Duration.ofSeconds(1);
  /** How often a started engine tells the store that its instance is alive. */
  static final Duration HEARTBEAT = Duration.ofSeconds(1);
  static final Duration FIRST_PURGE = Duration.ofMinutes(1);
  static final Duration PURGE_INTERVAL = Duration.ofHours(1);
  /** Rows per purge transaction: short transactions that never hold the store for long. */
  static final int PURGE_BATCH = 500;

  /**
   * The engine's own waits, which the layer does not make options: {@code maxIdle}, the longest a lane
   * waits between two polls when nothing wakes it, and {@code firstPurge}, when the first retention purge
   * runs after {@link #start()}. The relay's tests shorten or lengthen them to show what each path does
   * without them (a wake-up, a scheduled purge) rather than waiting a minute.
   */
  record Timing(Duration maxIdle, Duration firstPurge) {
    static final Timing DEFAULT = new Timing(MAX_IDLE, FIRST_PURGE);
  }

  private final RelayStore store;
  private final Timing timing;
  private final String instanceId;
  private final Attempter attempter;
  private final DeliveryPolicy policy;
  private final Clock clock;
  private final int perSubscription;
  private final int perNumberSetting;
  private final Duration retention;
  private final Map<Lane, LaneState> lanes = new EnumMap<>(Lane.class);
  private volatile boolean running;
  private ScheduledExecutorService housekeeping;
  private volatile ScheduledFuture<?> purgeSchedule;
  private ScheduledExecutorService heartbeat;
  private volatile ScheduledFuture<?> heartbeatSchedule;
  /** Set while heartbeats fail: one warning per outage. */
  private volatile boolean heartbeatFailing;
  private RelayStore.Listening listening;
  /** The claims whose attempt runs now, over both lanes: released at close when the grace ends. */
  private final Set<Claimed> claims = java.util.concurrent.ConcurrentHashMap.newKeySet();
  /** Set at close once the claims still running were released: their attempts' late failures are expected. */
  private volatile boolean released;
  /** How long {@link #close()} lets in-flight attempts finish. */
  static final Duration CLOSE_GRACE = Duration.ofSeconds(10);
  /** Wake-ups heard from other instances, per lane: for tests. */
  private final Map<Lane, java.util.concurrent.atomic.AtomicLong> remoteWakes = new EnumMap<>(Lane.class);

  /** The in-flight bookkeeping of one lane; guarded by its own monitor. */
  private final class LaneState {
    final Lane lane;
    final int threads;
    final Duration minPoll;
    final int perNumber;
    final Map<String, Integer> inFlight = new HashMap<>();
    final AtomicBoolean pumpQueued = new AtomicBoolean();
    int total;
    ThreadPoolExecutor pool;
    volatile ScheduledExecutorService scheduler;
    ScheduledFuture<?> timer;
    /** Set when an {@link Error} ended a pump: the lane is no longer pumped. */
    volatile boolean pumpDied;
    /** Set while claims fail (the store is gone): one WARN per outage, not one stack trace a second. */
    volatile boolean claimFailing;

    LaneState(Lane lane, int threads, Duration minPoll) {
      this.lane = lane;
      this.threads = threads;
      this.minPoll = minPoll;
      this.perNumber = perNumber(perNumberSetting, threads);
    }
  }

  /**
   * @param perNumber attempts in flight per number and lane; 0: half the lane's threads (at least 1)
   * @param retention how long finished history is kept (see {@link RelayStore#purge})
   * @param timing the engine's own waits ({@link Timing#DEFAULT} in the layer)
   */
  DeliveryEngine(RelayStore store, String instanceId, Attempter attempter, DeliveryPolicy policy, Clock clock,
      int callsThreads, int defaultThreads, int perSubscription, int perNumber, Duration retention, Timing timing) {
    this.timing = timing;
    this.store = store;
    this.instanceId = instanceId;
    this.attempter = attempter;
    this.policy = policy;
    this.clock = clock;
    this.perSubscription = perSubscription;
    this.perNumberSetting = perNumber;
    this.retention = retention;
    lanes.put(Lane.CALLS, new LaneState(Lane.CALLS, callsThreads, Duration.ofMillis(50)));
    lanes.put(Lane.DEFAULT, new LaneState(Lane.DEFAULT, defaultThreads, Duration.ofMillis(250)));
    for (Lane lane : Lane.values()) {
      remoteWakes.put(lane, new java.util.concurrent.atomic.AtomicLong());
    }
  }

  /** The cap per number of a lane with {@code threads} workers. */
  static int perNumber(int setting, int threads) {
    return setting > 0 ? setting : Math.max(1, threads / 2);
  }

  /** Starts each lane's scheduler and worker pool. Idempotent. */
  synchronized void start() {
    if (running) {
      return;
    }
    for (LaneState s : lanes.values()) {
      java.util.concurrent.ScheduledThreadPoolExecutor scheduler =
          new java.util.concurrent.ScheduledThreadPoolExecutor(1, threads("relay-" + s.lane.wire() + "-scheduler"));
      // at close, pending wake-ups are dropped and a running pump finishes (see close())
      scheduler.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
      s.scheduler = scheduler;
      s.pool = new ThreadPoolExecutor(s.threads, s.threads, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
          threads("relay-" + s.lane.wire()));
    }
    housekeeping = Executors.newSingleThreadScheduledExecutor(threads("relay-retention"));
    heartbeat = Executors.newSingleThreadScheduledExecutor(threads("relay-heartbeat"));
    running = true;
    beat(); // before the first claim: the others leave this instance's calls to it from now on
    heartbeatSchedule =
        heartbeat.scheduleAtFixedRate(this::beat, HEARTBEAT.toMillis(), HEARTBEAT.toMillis(), TimeUnit.MILLISECONDS);
    listening = store.listen(this::remoteWake);
    for (Lane lane : Lane.values()) {
      wake(lane);
    }
    purgeSchedule = housekeeping.scheduleWithFixedDelay(this::scheduledPurge, timing.firstPurge().toMillis(), PURGE_INTERVAL.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  boolean running() {
    return running;
  }

  String instanceId() {
    return instanceId;
  }

  /** Wake-ups of {@code lane} heard from other instances since the start. */
  long remoteWakes(Lane lane) {
    return remoteWakes.get(lane).get();
  }

  private void remoteWake(Lane lane) {
    remoteWakes.get(lane).incrementAndGet();
    wake(lane);
  }

  /**
   * Tells the store that this instance is alive, unless one of its lanes has stopped: an instance that
   * no longer claims must not keep its calls from the others. Never throws: a failure is retried at the
   * next beat (one warning per outage).
   */
  private void beat() {
    if (lanesStopped()) {
      return;
    }
    try {
      store.heartbeat(instanceId, clock.instant());
      if (heartbeatFailing) {
        heartbeatFailing = false;
        log.info("The relay's heartbeat is recorded again");
      }
    } catch (RuntimeException e) {
      if (!heartbeatFailing) {
        heartbeatFailing = true;
        log.warn("The relay's heartbeat could not be recorded ({}); retrying every {}. Other instances take"
            + " this one's calls over after {} without it", e.toString(), HEARTBEAT, RelayStore.OWNER_TIMEOUT);
      }
    }
  }

  private boolean lanesStopped() {
    for (LaneState s : lanes.values()) {
      if (s.pumpDied || s.scheduler == null || s.scheduler.isShutdown() || s.pool == null || s.pool.isShutdown()) {
        return true;
      }
    }
    return false;
  }

  /**
   * The background work that has stopped while the engine runs, by thread name prefix: a lane's
   * scheduler whose pump died of an {@link Error} (such as an {@link OutOfMemoryError}), a lane's worker
   * pool that was shut down, the retention schedule ended by an {@link Error}. Empty when all is alive,
   * or when the engine is not running. Thread-safe and cheap.
   */
  List<String> deadWorkers() {
    if (!running) {
      return List.of();
    }
    List<String> dead = new java.util.ArrayList<>();
    for (LaneState s : lanes.values()) {
      if (s.pumpDied || s.scheduler == null || s.scheduler.isShutdown()) {
        dead.add("relay-" + s.lane.wire() + "-scheduler");
      }
      if (s.pool == null || s.pool.isShutdown()) {
        dead.add("relay-" + s.lane.wire());
      }
    }
    ScheduledFuture<?> purging = purgeSchedule;
    if (purging == null || purging.isDone()) {
      dead.add("relay-retention");
    }
    ScheduledFuture<?> beating = heartbeatSchedule;
    if (beating == null || beating.isDone()) {
      dead.add("relay-heartbeat");
    }
    return List.copyOf(dead);
  }

  /** Asks for a pump of {@code lane} as soon as possible; coalesced; a no-op when not started. */
  void wake(Lane lane) {
    LaneState s = lanes.get(lane);
    ScheduledExecutorService sch = s.scheduler;
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
    Duration maxIdle = timing.maxIdle();
    Duration delay = maxIdle;
    try {
      Instant now = clock.instant();
      // Claim in rounds until the lane's workers are busy or nothing is due. A round takes at most as
      // many rows as the least-loaded open subscription may still start, so that no subscription ever
      // exceeds its cap, however its rows are spread in the claim.
      while (running) { // closing: stop claiming (a claim's rows wait for their lease, or the next start)
        int free;
        int room;
        Set<String> saturated = new HashSet<>();
        synchronized (s) {
          free = s.threads - s.total;
          int busiest = 0;
          for (Map.Entry<String, Integer> e : s.inFlight.entrySet()) {
            if (e.getValue() >= perSubscription) {
              saturated.add(e.getKey());
            } else {
              busiest = Math.max(busiest, e.getValue());
            }
          }
          room = perSubscription - busiest;
        }
        int limit = Math.min(free, room);
        if (limit <= 0) {
          break;
        }
        List<Claimed> claimed =
            store.claimDue(s.lane, instanceId, now, now.plus(policy.lease(s.lane)), limit, s.perNumber, saturated);
        for (Claimed c : claimed) {
          synchronized (s) {
            s.inFlight.merge(c.subscriptionId(), 1, Integer::sum);
            s.total++;
          }
          claims.add(c);
          try {
            s.pool.execute(() -> run(s, c));
          } catch (java.util.concurrent.RejectedExecutionException closing) {
            // the pool stopped meanwhile: the claim stays listed, and close() releases it
          }
        }
        if (claimed.size() < limit) {
          break;
        }
      }
      Optional<Instant> next = store.nextWake(s.lane);
      if (next.isPresent()) {
        Duration until = Duration.between(clock.instant(), next.get());
        delay = until.compareTo(s.minPoll) < 0 ? s.minPoll : until.compareTo(maxIdle) > 0 ? maxIdle : until;
      }
      if (s.claimFailing) {
        s.claimFailing = false;
        log.info("The {} lane claims deliveries again", s.lane.wire());
      }
    } catch (RuntimeException e) {
      if (!s.claimFailing) {
        s.claimFailing = true;
        log.warn("The {} lane cannot claim deliveries ({}); retrying every second, one line when it can again",
            s.lane.wire(), e.toString());
      }
      log.debug("The {} lane could not claim deliveries", s.lane.wire(), e);
    } catch (Error e) {
      // not pumped again: reported by deadWorkers(), so that readiness fails and the process is replaced
      s.pumpDied = true;
      log.error("The {} lane stopped claiming deliveries ({}); /readyz reports it", s.lane.wire(), e.toString());
      throw e;
    }
    synchronized (s) {
      if (s.timer != null) {
        s.timer.cancel(false);
      }
      if (running) {
        try {
          s.timer = s.scheduler.schedule(() -> wake(s.lane), delay.toMillis(), TimeUnit.MILLISECONDS);
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
      if (released) {
        // released at close: the store may be closed under it, and the delivery is pending again
        log.debug("Attempt of delivery {} ended after its release at close", c.id(), e);
      } else {
        log.error("Attempt of delivery {} failed unexpectedly; it is retried when its lease ends", c.id(), e);
      }
    } finally {
      claims.remove(c);
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
        for (Claimed c : store.claimDue(lane, instanceId, now, now.plus(policy.lease(lane)), 100,
            lanes.get(lane).perNumber, Set.of())) {
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

  /**
   * Removes, on the calling thread, the history that the retention period no longer keeps: finished
   * deliveries (with their attempts) last changed before {@code now - retention}, and envelopes
   * received before it that no pending, delivering or paused delivery references. @return what was removed
   */
  Purged purge() {
    return purgeWhile(() -> true);
  }

  private void scheduledPurge() {
    try {
      purgeWhile(() -> running);
    } catch (RuntimeException e) {
      // a failed run must not cancel the schedule: the next one tries again
      log.warn("The retention purge failed; it runs again in {}", PURGE_INTERVAL, e);
    }
  }

  private Purged purgeWhile(BooleanSupplier goOn) {
    Instant cutoff = clock.instant().minus(retention);
    Purged total = Purged.NOTHING;
    Purged batch;
    do {
      batch = store.purge(cutoff, PURGE_BATCH);
      total = total.plus(batch);
    } while ((batch.deliveries() >= PURGE_BATCH || batch.envelopes() >= PURGE_BATCH) && goOn.getAsBoolean());
    if (!total.equals(Purged.NOTHING)) {
      log.info("Retention: removed {} finished deliveries ({} attempts) and {} envelopes from before {}",
          total.deliveries(), total.attempts(), total.envelopes(), cutoff);
    }
    purgeCalls(cutoff, goOn);
    return total;
  }

  /**
   * The call records' part of the retention: calls left ringing are marked expired (see
   * {@link Calls#expireUnanswered}), then calls whose last event is older than {@code cutoff} are removed
   * with their timelines, and remembered refusals that ended before it.
   */
  private void purgeCalls(Instant cutoff, BooleanSupplier goOn) {
    Calls calls = new Calls(store.calls(), clock);
    int expired = 0;
    int batch;
    do {
      batch = calls.expireUnanswered(PURGE_BATCH);
      expired += batch;
    } while (batch >= PURGE_BATCH && goOn.getAsBoolean());
    int removed = store.calls().purge(cutoff);
    if (expired > 0 || removed > 0) {
      log.info("Retention: {} call(s) left ringing marked expired; removed {} call record(s) from before {}", expired,
          removed, cutoff);
    }
  }

  /** Stops claiming, lets in-flight attempts finish for up to {@link #CLOSE_GRACE}. Idempotent. */
  @Override
  public void close() {
    close(CLOSE_GRACE);
  }

  /**
   * Stops claiming, lets in-flight attempts finish for up to {@code grace}, then releases the claims of
   * those still running: each delivery is pending again, due at once, with no attempt counted (another
   * instance may take it now; this one at its next start). Such an attempt is not interrupted (an
   * interrupt in a store write closes H2's file under it): it ends on its own, or when the host stops its
   * transport, and its outcome is dropped (the claim token no longer holds the row). Logs one INFO line
   * with what finished and what was released. Idempotent.
   */
  synchronized void close(Duration grace) {
    if (!running) {
      return;
    }
    long deadline = System.nanoTime() + Math.max(0, grace.toNanos());
    running = false;
    listening.close();
    heartbeat.shutdown();
    // not interrupted: a running purge stops after its current batch
    housekeeping.shutdown();
    for (LaneState s : lanes.values()) {
      // not interrupted either: an interrupt during a claim's write closes H2's file channel under the
      // store (ClosedByInterruptException), so a running pump finishes its transaction first
      s.scheduler.shutdown();
    }
    for (LaneState s : lanes.values()) {
      awaitStopped(s.scheduler);
    }
    // the pumps have stopped: no claim is added from here on. The pools are shut down only now: a pump
    // still in its loop would otherwise hand a claim to a pool that refuses it
    for (LaneState s : lanes.values()) {
      s.pool.shutdown();
    }
    awaitStopped(housekeeping);
    int inFlight = claims.size();
    boolean interrupted = false;
    for (LaneState s : lanes.values()) {
      try {
        s.pool.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    int releasedCount = releaseRunning();
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (inFlight > 0) {
      log.info("Relay stopped: {} delivery attempt(s) were in flight; {} finished, {} released (pending again:"
          + " another instance takes them now, this one at its next start)", inFlight, inFlight - releasedCount,
          releasedCount);
    } else {
      log.info("Relay stopped: no delivery attempt was in flight");
    }
    awaitStopped(heartbeat);
    try {
      // after the last attempt ended: the others may take this instance's calls over at once
      store.retire(instanceId);
    } catch (RuntimeException e) {
      log.warn("Could not retire relay instance {} ({}); the others take its calls over after {}", instanceId,
          e.toString(), RelayStore.OWNER_TIMEOUT);
    }
  }

  /**
   * Releases the claim of every attempt still running (see {@link #close(Duration)}). @return the claims
   * released (a claim whose attempt ended meanwhile is not: its outcome stands)
   */
  private int releaseRunning() {
    if (claims.isEmpty()) {
      return 0;
    }
    released = true;
    int count = 0;
    Instant now = clock.instant();
    for (Claimed c : List.copyOf(claims)) {
      try {
        if (store.finish(c.id(), c.claimToken(), null, DeliveryState.PENDING, now, now)) {
          count++;
        }
      } catch (RuntimeException e) {
        // its lease still runs out by itself: another instance, or the next start, takes it then
        log.warn("Could not release delivery {} at close ({}); it is attempted again when its lease ends", c.id(),
            e.toString());
      }
    }
    return count;
  }

  /**
   * Waits up to 10 seconds for an executor that was shut down to finish its running tasks, then
   * interrupts what is left (also when the waiting thread is interrupted, whose flag is kept).
   */
  static void awaitStopped(java.util.concurrent.ExecutorService executor) {
    try {
      if (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
        executor.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      executor.shutdownNow();
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

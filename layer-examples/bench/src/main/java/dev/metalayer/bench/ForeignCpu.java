package dev.metalayer.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * How much CPU processes that are not the harness's own (this JVM and its descendants: the layer, the
 * fake Graph, nginx, wrk) used between two snapshots, as a share of the whole machine. On a shared
 * two-core machine a build running next to the benchmark distorts every figure; the harness waits for
 * a quiet machine, repeats disturbed rounds, and reports what it saw.
 *
 * <p>Reads {@code /proc/<pid>/stat} (utime + stime, in clock ticks of 1/100 s). A foreign process that
 * starts and ends between two snapshots is not seen, so the share is a lower bound.
 */
final class ForeignCpu {
  private static final double TICKS_PER_SECOND = 100;
  private static final int CPUS = Runtime.getRuntime().availableProcessors();

  /** Foreign processes' CPU ticks at one moment. */
  record Snapshot(long nanos, Map<Long, Long> ticks) {}

  private ForeignCpu() {}

  static Snapshot take() {
    Set<Long> ours = new HashSet<>();
    ours.add(ProcessHandle.current().pid());
    ProcessHandle.current().descendants().forEach(p -> ours.add(p.pid()));
    Map<Long, Long> ticks = new HashMap<>();
    try (DirectoryStream<Path> proc = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
      for (Path dir : proc) {
        long pid = Long.parseLong(dir.getFileName().toString());
        if (ours.contains(pid)) {
          continue;
        }
        long t = ticks(dir.resolve("stat"));
        if (t >= 0) {
          ticks.put(pid, t);
        }
      }
    } catch (IOException e) {
      // no /proc: report nothing
    }
    return new Snapshot(System.nanoTime(), ticks);
  }

  /** The share (0..1) of all CPUs that foreign processes used since {@code before}. */
  static double since(Snapshot before) {
    Snapshot now = take();
    long used = 0;
    for (Map.Entry<Long, Long> e : now.ticks().entrySet()) {
      Long earlier = before.ticks().get(e.getKey());
      used += earlier == null ? 0 : Math.max(0, e.getValue() - earlier);
    }
    double seconds = (now.nanos() - before.nanos()) / 1e9;
    return seconds <= 0 ? 0 : used / TICKS_PER_SECOND / (seconds * CPUS);
  }

  /**
   * Waits until foreign processes use less than {@code threshold} of the machine over a 3-second
   * window, or until {@code timeout}. @return the share seen in the last window
   */
  static double awaitQuiet(double threshold, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    double share;
    do {
      Snapshot s = take();
      Thread.sleep(3_000);
      share = since(s);
      if (share < threshold) {
        return share;
      }
      Bench.log(String.format("other processes use %.0f %% of the CPUs; waiting for a quiet machine", share * 100));
    } while (System.nanoTime() < deadline);
    return share;
  }

  private static long ticks(Path stat) {
    try {
      String s = Files.readString(stat);
      String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
      // after "pid (comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
      return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    } catch (IOException | RuntimeException gone) {
      return -1;
    }
  }
}

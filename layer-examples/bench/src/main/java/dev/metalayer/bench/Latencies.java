package dev.metalayer.bench;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Latency samples in nanoseconds, recorded from many threads into a fixed array (no allocation on the
 * hot path), then sorted once for percentiles. Samples beyond the capacity are counted but dropped,
 * and {@link #dropped()} says how many.
 */
final class Latencies {
  private final long[] samples;
  private final AtomicInteger next = new AtomicInteger();

  Latencies(int capacity) {
    this.samples = new long[capacity];
  }

  /** Thread-safe. */
  void record(long nanos) {
    int i = next.getAndIncrement();
    if (i < samples.length) {
      samples[i] = nanos;
    }
  }

  int count() {
    return Math.min(next.get(), samples.length);
  }

  int dropped() {
    return Math.max(0, next.get() - samples.length);
  }

  /** A sorted copy of the samples recorded so far. */
  long[] sorted() {
    long[] copy = Arrays.copyOf(samples, count());
    Arrays.sort(copy);
    return copy;
  }

  /** Samples of several recorders, sorted together. */
  static long[] pooled(Latencies... parts) {
    int n = 0;
    for (Latencies p : parts) {
      n += p.count();
    }
    long[] all = new long[n];
    int at = 0;
    for (Latencies p : parts) {
      int c = p.count();
      System.arraycopy(p.samples, 0, all, at, c);
      at += c;
    }
    Arrays.sort(all);
    return all;
  }

  /** The nearest-rank percentile of sorted samples, in milliseconds; NaN when there are none. */
  static double percentileMillis(long[] sorted, double percentile) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    int rank = (int) Math.ceil(percentile / 100.0 * sorted.length);
    int index = Math.min(sorted.length - 1, Math.max(0, rank - 1));
    return sorted[index] / 1e6;
  }
}

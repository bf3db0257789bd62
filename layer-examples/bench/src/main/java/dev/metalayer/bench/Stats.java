package dev.metalayer.bench;

import java.util.Arrays;
import java.util.List;
import java.util.function.ToDoubleFunction;

/** Small statistics over rounds: the median and the spread of one figure. */
final class Stats {
  private Stats() {}

  static double median(double... values) {
    double[] v = Arrays.stream(values).filter(d -> !Double.isNaN(d)).sorted().toArray();
    if (v.length == 0) {
      return Double.NaN;
    }
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  static <T> double median(List<T> items, ToDoubleFunction<T> figure) {
    return median(items.stream().mapToDouble(figure).toArray());
  }

  static <T> double min(List<T> items, ToDoubleFunction<T> figure) {
    return items.stream().mapToDouble(figure).min().orElse(Double.NaN);
  }

  static <T> double max(List<T> items, ToDoubleFunction<T> figure) {
    return items.stream().mapToDouble(figure).max().orElse(Double.NaN);
  }
}

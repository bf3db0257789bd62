package dev.metalayer.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The figures of one run: a JSON tree by phase, the verdict on each target that {@code docs/performance.md} sets, and the
 * readable table that {@link Bench} prints and writes to {@code summary.txt}.
 */
final class Report {
  /** One target of {@code docs/performance.md} and how this run did against it. */
  record Verdict(String target, String measured, Boolean met, String margin) {
    String mark() {
      return met == null ? "n/a   " : met ? "MET   " : "MISSED";
    }
  }

  private final Map<String, Map<String, Object>> sections = new LinkedHashMap<>();
  private final List<Verdict> verdicts = new ArrayList<>();
  private final StringBuilder table = new StringBuilder();
  private final Map<String, long[]> hotPathSamples = new LinkedHashMap<>();

  void put(String section, String key, Object value) {
    sections.computeIfAbsent(section, s -> new LinkedHashMap<>()).put(key, value);
  }

  Object get(String section, String key) {
    Map<String, Object> s = sections.get(section);
    return s == null ? null : s.get(key);
  }

  void skip(String section, String reason) {
    put(section, "skipped", reason);
    line("");
    line("%s: not measured (%s)", section, reason);
  }

  void verdict(String target, String measured, Boolean met, String margin) {
    verdicts.add(new Verdict(target, measured, met, margin));
  }

  void line(String format, Object... args) {
    table.append(String.format(Locale.ROOT, format, args)).append('\n');
  }

  // ---- machine

  void machine(Bench.Options options) throws IOException {
    String cpu = "unknown";
    for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
      if (l.startsWith("model name")) {
        cpu = l.substring(l.indexOf(':') + 1).trim();
        break;
      }
    }
    long memKib = 0;
    for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
      if (l.startsWith("MemTotal:")) {
        memKib = Long.parseLong(l.replaceAll("[^0-9]", ""));
      }
    }
    put("machine", "date", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
    put("machine", "cpus", Runtime.getRuntime().availableProcessors());
    put("machine", "cpu_model", cpu);
    put("machine", "memory_gib", Bench.round(memKib / 1024.0 / 1024.0, 1));
    put("machine", "java", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
    put("machine", "os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    put("machine", "nginx", version("nginx", "-v"));
    put("machine", "wrk", version("wrk", "-v"));
    put("settings", "rate_per_second", options.rate());
    put("settings", "connections", options.connections());
    put("settings", "rounds", options.rounds());
    put("settings", "measure_seconds", options.measure().toSeconds());
    put("settings", "warmup_seconds", options.warmup().toSeconds());
    put("settings", "wrk_seconds", options.wrkSeconds());
    line("Meta Layer benchmark, %s", get("machine", "date"));
    line("Machine: %s, %s CPUs, %s GiB, %s; %s; %s", cpu, get("machine", "cpus"), get("machine", "memory_gib"),
        get("machine", "java"), get("machine", "nginx"), get("machine", "wrk"));
    line("Everything (load generator, fake Graph, nginx, layer) shares these CPUs on loopback.");
  }

  private static String version(String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      p.waitFor();
      String first = out.lines().findFirst().orElse("?").replaceFirst("^nginx version: ", "");
      int bracket = first.indexOf(" [");
      return bracket > 0 ? first.substring(0, bracket) : first;
    } catch (IOException e) {
      return "not installed";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "?";
    }
  }

  // ---- 1. hot path

  void hotPath(Bench.Options o, Map<String, List<OpenLoopLoad.Run>> runs, Map<String, List<Wrk.Saturation>> sat) {
    line("");
    line("1. Graph proxy hot path: POST /%s/{phone-number-id}/messages (Chatwoot text body), 10 numbers/keys",
        Bench.VERSION);
    line("   open loop at %.0f req/s, up to %d connections, latency from the intended send time;", o.rate(),
        o.connections());
    line("   medians of %d interleaved rounds of %d s (after %d s of warm-up each, half of it saturated);",
        o.rounds(), o.measure().toSeconds(), o.warmup().toSeconds());
    line("   max req/s: wrk, %d connections, %d interleaved rounds of %d s", o.connections(), o.rounds(), o.wrkSeconds());
    line("   %-7s %9s %9s %9s %9s %8s   %12s", "target", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors",
        "max req/s");
    Map<String, Map<String, Object>> figures = new LinkedHashMap<>();
    for (Map.Entry<String, List<OpenLoopLoad.Run>> e : runs.entrySet()) {
      List<OpenLoopLoad.Run> rs = e.getValue();
      long[] pooled = Latencies.pooled(rs.stream().map(OpenLoopLoad.Run::latencies).toArray(Latencies[]::new));
      hotPathSamples.put(e.getKey(), pooled);
      Map<String, Object> f = new LinkedHashMap<>();
      f.put("req_per_s", Bench.round(Stats.median(rs, OpenLoopLoad.Run::achievedRate), 1));
      f.put("p50_ms", Bench.round(Stats.median(rs, r -> Bench.pct(r, 50)), 3));
      f.put("p99_ms", Bench.round(Stats.median(rs, r -> Bench.pct(r, 99)), 3));
      f.put("p999_ms", Bench.round(Stats.median(rs, r -> Bench.pct(r, 99.9)), 3));
      f.put("p99_ms_range", List.of(Bench.round(Stats.min(rs, r -> Bench.pct(r, 99)), 3),
          Bench.round(Stats.max(rs, r -> Bench.pct(r, 99)), 3)));
      f.put("pooled_p50_ms", Bench.round(Latencies.percentileMillis(pooled, 50), 3));
      f.put("pooled_p99_ms", Bench.round(Latencies.percentileMillis(pooled, 99), 3));
      f.put("pooled_p999_ms", Bench.round(Latencies.percentileMillis(pooled, 99.9), 3));
      f.put("pooled_max_ms", Bench.round(pooled.length == 0 ? Double.NaN : pooled[pooled.length - 1] / 1e6, 3));
      f.put("samples", pooled.length);
      f.put("errors", rs.stream().mapToLong(OpenLoopLoad.Run::failed).sum());
      List<Wrk.Saturation> s = sat.getOrDefault(e.getKey(), List.of());
      f.put("saturation_req_per_s", Bench.round(Stats.median(s, Wrk.Saturation::requestsPerSecond), 0));
      f.put("saturation_rounds", s.stream().map(x -> Bench.round(x.requestsPerSecond(), 0)).toList());
      f.put("saturation_bad_answers", s.stream().mapToLong(Wrk.Saturation::bad).sum());
      figures.put(e.getKey(), f);
      line("   %-7s %9.0f %9.3f %9.3f %9.3f %8d   %12.0f", e.getKey(), f.get("req_per_s"), f.get("p50_ms"),
          f.get("p99_ms"), f.get("p999_ms"), f.get("errors"), f.get("saturation_req_per_s"));
    }
    put("proxy", "targets", figures);
    Map<String, Object> direct = figures.get("direct");
    Map<String, Object> nginx = figures.get("nginx");
    Map<String, Object> layer = figures.get("layer");
    line("   added latency over direct (ms):   p50       p99     p99.9");
    for (String name : List.of("nginx", "floor", "layer")) {
      Map<String, Object> f = figures.get(name);
      if (f == null) {
        continue;
      }
      double a50 = d(f, "p50_ms") - d(direct, "p50_ms");
      double a99 = d(f, "p99_ms") - d(direct, "p99_ms");
      double a999 = d(f, "p999_ms") - d(direct, "p999_ms");
      put("proxy", name + "_added_ms", Map.of("p50", Bench.round(a50, 3), "p99", Bench.round(a99, 3),
          "p999", Bench.round(a999, 3)));
      line("     %-7s                      %7.3f %9.3f %9.3f", name, a50, a99, a999);
    }
    if (layer == null) {
      verdict("Proxy throughput >= nginx (same machine, same run)", "layer not measured", null, "");
      verdict("Proxy added latency p99 < 1 ms over direct", "layer not measured", null, "");
      return;
    }
    double ratioNginx = d(layer, "saturation_req_per_s") / d(nginx, "saturation_req_per_s");
    double ratioDirect = d(layer, "saturation_req_per_s") / d(direct, "saturation_req_per_s");
    put("proxy", "ratio_layer_nginx_max_throughput", Bench.round(ratioNginx, 3));
    put("proxy", "ratio_layer_direct_max_throughput", Bench.round(ratioDirect, 3));
    put("proxy", "ratio_layer_nginx_p99", Bench.round(d(layer, "p99_ms") / d(nginx, "p99_ms"), 3));
    put("proxy", "ratio_layer_direct_p99", Bench.round(d(layer, "p99_ms") / d(direct, "p99_ms"), 3));
    put("proxy", "ratio_layer_nginx_p50", Bench.round(d(layer, "p50_ms") / d(nginx, "p50_ms"), 3));
    line("   ratios: max throughput layer/nginx %.2f, layer/direct %.2f; p99 layer/nginx %.2f, layer/direct %.2f",
        ratioNginx, ratioDirect, d(layer, "p99_ms") / d(nginx, "p99_ms"), d(layer, "p99_ms") / d(direct, "p99_ms"));
    Map<String, Object> floor = figures.get("floor");
    if (floor != null) {
      double ratioFloor = d(layer, "saturation_req_per_s") / d(floor, "saturation_req_per_s");
      put("proxy", "ratio_layer_floor_max_throughput", Bench.round(ratioFloor, 3));
      put("proxy", "ratio_floor_nginx_max_throughput",
          Bench.round(d(floor, "saturation_req_per_s") / d(nginx, "saturation_req_per_s"), 3));
      line("   floor = a bare Jetty server + client doing the same swap (JettyFloor): layer/floor %.2f, floor/nginx %.2f",
          ratioFloor, d(floor, "saturation_req_per_s") / d(nginx, "saturation_req_per_s"));
    }
    verdict("Proxy throughput >= nginx (same machine, same run)",
        String.format(Locale.ROOT, "layer %.0f vs nginx %.0f req/s (x%.2f)", d(layer, "saturation_req_per_s"),
            d(nginx, "saturation_req_per_s"), ratioNginx),
        ratioNginx >= 1.0,
        ratioNginx >= 1.0 ? String.format(Locale.ROOT, "+%.0f %%", (ratioNginx - 1) * 100)
            : String.format(Locale.ROOT, "%.0f %% short", (1 - ratioNginx) * 100));
    double added = d(layer, "p99_ms") - d(direct, "p99_ms");
    verdict(String.format(Locale.ROOT, "Proxy added latency p99 < 1 ms over direct at %.0f req/s", o.rate()),
        String.format(Locale.ROOT, "p99 %.3f vs %.3f ms: +%.3f ms", d(layer, "p99_ms"), d(direct, "p99_ms"), added),
        added < 1.0,
        added < 1.0 ? String.format(Locale.ROOT, "%.3f ms to spare", 1.0 - added)
            : String.format(Locale.ROOT, "%.3f ms over", added - 1.0));
  }

  Map<String, long[]> hotPathSamples() {
    return hotPathSamples;
  }

  private static double d(Map<String, Object> f, String key) {
    return ((Number) f.get(key)).doubleValue();
  }

  // ---- 5. key scale

  void keyScale(List<Wrk.Saturation> small, List<Wrk.Saturation> large, Wrk.Saturation wide) {
    double a = Stats.median(small, Wrk.Saturation::requestsPerSecond);
    double b = Stats.median(large, Wrk.Saturation::requestsPerSecond);
    double[] paired = new double[small.size()];
    for (int i = 0; i < paired.length; i++) {
      paired[i] = large.get(i).requestsPerSecond() / small.get(i).requestsPerSecond();
    }
    double ratio = Stats.median(paired);
    put("keys", "paired_ratios", java.util.Arrays.stream(paired).map(x -> Bench.round(x, 3)).boxed().toList());
    put("keys", "store_10_req_per_s", Bench.round(a, 0));
    put("keys", "store_100k_req_per_s", Bench.round(b, 0));
    put("keys", "store_10_rounds", small.stream().map(x -> Bench.round(x.requestsPerSecond(), 0)).toList());
    put("keys", "store_100k_rounds", large.stream().map(x -> Bench.round(x.requestsPerSecond(), 0)).toList());
    put("keys", "ratio_100k_over_10_median_of_pairs", Bench.round(ratio, 3));
    put("keys", "ratio_of_medians", Bench.round(b / a, 3));
    put("keys", "store_100k_all_keys_req_per_s", Bench.round(wide.requestsPerSecond(), 0));
    put("keys", "bad_answers", small.stream().mapToLong(Wrk.Saturation::bad).sum()
        + large.stream().mapToLong(Wrk.Saturation::bad).sum() + wide.bad());
    line("");
    line("5. Key scale: max throughput (wrk, %d connections, the same 10 active keys), %d pairs of back-to-back runs",
        Bench.KEY_SCALE_CONNECTIONS, small.size());
    line("   10 keys in the store        %8.0f req/s (median)", a);
    line("   100,000 keys in the store   %8.0f req/s (median)", b);
    line("   ratio 100,000 / 10 keys: median of the pairs %.3f %s; ratio of the medians %.3f", ratio,
        java.util.Arrays.stream(paired).mapToObj(x -> String.format(Locale.ROOT, "%.2f", x)).toList(), b / a);
    line("   100,000 keys, every request another key (cold grant cache): %.0f req/s", wide.requestsPerSecond());
    verdict("Throughput with 100,000 keys within 5 % of 10 keys",
        String.format(Locale.ROOT, "%.0f vs %.0f req/s (%+.1f %%)", b, a, (ratio - 1) * 100),
        ratio >= 0.95,
        ratio >= 0.95 ? String.format(Locale.ROOT, "%.1f points to spare", (ratio - 0.95) * 100)
            : String.format(Locale.ROOT, "%.1f points over", (0.95 - ratio) * 100));
  }

  // ---- 4. start-up

  void observability(List<Wrk.Saturation> on, List<Wrk.Saturation> off, double forwardedCounted, int offScrapeStatus,
      int scrapeBytes) {
    double a = Stats.median(on, Wrk.Saturation::requestsPerSecond);
    double b = Stats.median(off, Wrk.Saturation::requestsPerSecond);
    double[] paired = new double[on.size()];
    for (int i = 0; i < paired.length; i++) {
      paired[i] = on.get(i).requestsPerSecond() / off.get(i).requestsPerSecond();
    }
    double ratio = Stats.median(paired);
    put("observability", "paired_ratios", java.util.Arrays.stream(paired).map(x -> Bench.round(x, 3)).boxed().toList());
    put("observability", "on_req_per_s", Bench.round(a, 0));
    put("observability", "off_req_per_s", Bench.round(b, 0));
    put("observability", "on_rounds", on.stream().map(x -> Bench.round(x.requestsPerSecond(), 0)).toList());
    put("observability", "off_rounds", off.stream().map(x -> Bench.round(x.requestsPerSecond(), 0)).toList());
    put("observability", "ratio_on_over_off_median_of_pairs", Bench.round(ratio, 3));
    put("observability", "ratio_of_medians", Bench.round(a / b, 3));
    put("observability", "forwarded_requests_counted", Bench.round(forwardedCounted, 0));
    put("observability", "scrape_bytes", scrapeBytes);
    put("observability", "bad_answers", on.stream().mapToLong(Wrk.Saturation::bad).sum()
        + off.stream().mapToLong(Wrk.Saturation::bad).sum());
    line("");
    line("7. Metrics and request logs: max throughput (wrk, %d connections, 10 keys), %d pairs of back-to-back runs",
        Bench.KEY_SCALE_CONNECTIONS, on.size());
    line("   metrics on, request loggers INFO   %8.0f req/s (median)", a);
    line("   metrics off, request loggers OFF   %8.0f req/s (median)", b);
    line("   ratio on / off: median of the pairs %.3f %s; ratio of the medians %.3f", ratio,
        java.util.Arrays.stream(paired).mapToObj(x -> String.format(Locale.ROOT, "%.2f", x)).toList(), a / b);
    line("   the observed layer counted %.0f forwarded requests (a %d-byte scrape); the other answered /metrics %d",
        forwardedCounted, scrapeBytes, offScrapeStatus);
  }

  void startup(double freshMs, List<Double> existingMs) {
    double median = Stats.median(existingMs.stream().mapToDouble(Double::doubleValue).toArray());
    put("startup", "fresh_store_ms", Bench.round(freshMs, 0));
    put("startup", "existing_store_ms", existingMs.stream().map(v -> Bench.round(v, 0)).toList());
    put("startup", "existing_store_median_ms", Bench.round(median, 0));
    line("");
    line("4. Start-up: java -jar to /readyz 200");
    line("   fresh data directory (store created, master key generated): %.0f ms", freshMs);
    line("   existing store, median of %d: %.0f ms   (runs: %s)", existingMs.size(), median,
        existingMs.stream().map(v -> String.format(Locale.ROOT, "%.0f", v)).toList());
  }

  void interference(double atStart, double max, int repeated, int disturbed) {
    line("");
    line("Interference: other processes used %.0f %% of the CPUs before the run, at most %.0f %% during a kept round;"
        + " %d round(s) repeated, %d kept disturbed (threshold %.0f %%)", atStart * 100, max * 100, repeated, disturbed,
        Bench.MAX_FOREIGN * 100);
  }

  // ---- output

  String table() {
    StringBuilder b = new StringBuilder(table);
    b.append('\n').append("Targets (docs/performance.md)\n");
    for (Verdict v : verdicts) {
      b.append(String.format(Locale.ROOT, "   %s %-62s %s%s%n", v.mark(), v.target(), v.measured(),
          v.margin().isEmpty() ? "" : " [" + v.margin() + "]"));
    }
    return b.toString();
  }

  void write(Path dir) throws IOException {
    Map<String, Object> all = new LinkedHashMap<>(sections);
    all.put("targets", verdicts);
    Files.writeString(dir.resolve("results.json"), Bench.json().writeValueAsString(all) + "\n", StandardCharsets.UTF_8);
    Files.writeString(dir.resolve("summary.txt"), table(), StandardCharsets.UTF_8);
    if (!hotPathSamples.isEmpty()) {
      StringBuilder csv = new StringBuilder("percentile");
      hotPathSamples.keySet().forEach(k -> csv.append(',').append(k).append("_ms"));
      csv.append('\n');
      for (double p : new double[] {0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100}) {
        csv.append(p);
        for (long[] s : hotPathSamples.values()) {
          csv.append(',').append(String.format(Locale.ROOT, "%.3f",
              p == 0 ? s[0] / 1e6 : Latencies.percentileMillis(s, p)));
        }
        csv.append('\n');
      }
      Files.writeString(dir.resolve("percentiles.csv"), csv.toString(), StandardCharsets.UTF_8);
    }
  }
}

package dev.metalayer.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;

/**
 * Runs every measurement of {@code docs/performance.md} in one process, on loopback, and writes {@code summary.txt},
 * {@code results.json}, {@code percentiles.csv} and {@code latency.png} into the output directory.
 *
 * <p>Usage: {@code java -cp meta-layer.jar:layer-examples/target/classes
 * dev.metalayer.bench.Bench [--jar PATH] [--out DIR] [--work DIR] [--rate N] [--quick]}.
 * {@code layer-examples/bench/run.sh} builds everything and calls it. Each phase is bounded in time;
 * the full run takes about seven minutes on two cores.
 */
public final class Bench {
  static final String PREFIX = "/api/layer/meta";
  static final String VERSION = "v13.0";
  /** The body Chatwoot 4.15 sends for a text message that is not a reply ({@code context} is null). */
  static final String SEND_BODY =
      "{\"messaging_product\":\"whatsapp\",\"context\":null,\"to\":\"15551234567\","
          + "\"text\":{\"body\":\"Hello from Chatwoot\"},\"type\":\"text\"}";
  static final int NUMBERS = 10;
  static final int KEYS_PER_NUMBER_LARGE = 10_000;
  static final int KEY_SCALE_CONNECTIONS = 32;

  private final Options options;
  private final Report report;
  private final List<ChildProcess> children = new CopyOnWriteArrayList<>();
  private final SecureRandom random = new SecureRandom();
  private final String masterKey;
  private final String adminToken;
  private final String appSecret;
  private final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
  private int fakePort;
  private List<Tenant> tenants;
  private KeySeeder.Seeded large;
  private ChildProcess layerA;
  private int layerAPort;
  private boolean proxyAvailable;
  /** Foreign CPU share above which a measured round is repeated (at most twice). */
  static final double MAX_FOREIGN = 0.05;
  private double foreignMax;
  private int repeated;
  private int disturbed;

  /** Durations and rates of one run; {@code --quick} shrinks every phase for a smoke test. */
  record Options(Path jar, Path out, Path work, double rate, int connections, boolean quick, boolean profile,
      List<String> only, String pgUrl, String pgUser) {
    static Options parse(String[] args) {
      Path jar = Path.of("layer-jetty/target/meta-layer.jar");
      Path out = Path.of("layer-examples/bench/results");
      Path work = Path.of("layer-examples/target/bench-work");
      double rate = 1000;
      int connections = 32;
      boolean quick = false;
      boolean profile = false;
      List<String> only = List.of();
      String pgUrl = System.getenv().getOrDefault("LAYER_BENCH_PG_URL", "jdbc:postgresql://127.0.0.1:5432/test");
      String pgUser = System.getenv().getOrDefault("LAYER_BENCH_PG_USER", "postgres");
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--jar" -> jar = Path.of(args[++i]);
          case "--out" -> out = Path.of(args[++i]);
          case "--work" -> work = Path.of(args[++i]);
          case "--rate" -> rate = Double.parseDouble(args[++i]);
          case "--connections" -> connections = Integer.parseInt(args[++i]);
          case "--quick" -> quick = true;
          case "--profile" -> profile = true;
          case "--only" -> only = List.of(args[++i].split(","));
          case "--pg-url" -> pgUrl = args[++i];
          case "--pg-user" -> pgUser = args[++i];
          default -> throw new IllegalArgumentException("unknown option " + args[i]);
        }
      }
      return new Options(jar, out, work, rate, connections, quick, profile, only, pgUrl, pgUser);
    }

    Duration warmup() {
      return Duration.ofSeconds(quick ? 3 : 10);
    }

    Duration measure() {
      return Duration.ofSeconds(quick ? 3 : 10);
    }

    int rounds() {
      return quick ? 1 : 3;
    }

    int wrkSeconds() {
      return quick ? 2 : 5;
    }

    boolean wants(String phase) {
      return only.isEmpty() || only.contains(phase);
    }
  }

  private Bench(Options options) {
    this.options = options;
    this.report = new Report();
    this.masterKey = base64(32);
    this.adminToken = "adm_" + base64(24);
    this.appSecret = base64(24);
  }

  public static void main(String[] args) throws Exception {
    System.setProperty("java.awt.headless", "true");
    // layer-jetty's logback.xml reads this; the key seeder would otherwise log every key it creates.
    if (System.getProperty("LAYER_LOG_LEVEL") == null) {
      System.setProperty("LAYER_LOG_LEVEL", "WARN");
    }
    Options options = Options.parse(args);
    Bench bench = new Bench(options);
    // Ctrl-C or SIGTERM: stop the layer, nginx and the fake Graph too.
    Thread stopper = new Thread(bench::stopAll, "bench-stop");
    Runtime.getRuntime().addShutdownHook(stopper);
    int status = 0;
    try {
      bench.run();
    } catch (Exception e) {
      status = 1;
      System.err.println("benchmark failed: " + e);
      e.printStackTrace();
    } finally {
      bench.stopAll();
      Runtime.getRuntime().removeShutdownHook(stopper);
    }
    System.exit(status);
  }

  private void run() throws Exception {
    long t0 = System.nanoTime();
    deleteRecursively(options.work());
    Files.createDirectories(options.work());
    Files.createDirectories(options.out());
    report.machine(options);
    setUp();
    double quiet = ForeignCpu.awaitQuiet(MAX_FOREIGN, Duration.ofSeconds(options.quick() ? 10 : 180));
    report.put("interference", "foreign_cpu_share_at_start", round(quiet, 3));
    if (options.wants("proxy")) {
      phase("1. Graph proxy hot path", this::hotPath);
    }
    if (options.wants("keys")) {
      phase("5. Key scale", this::keyScale);
    }
    if (options.wants("observability")) {
      phase("7. What metrics and request logs cost", this::observability);
    }
    if (options.wants("relay")) {
      phase("2. Webhook relay", this::relay);
    }
    if (options.wants("media")) {
      phase("3. Streaming", this::media);
    }
    stop(layerA);
    if (options.wants("scaling")) {
      phase("6. Scale-out on PostgreSQL", this::scaling);
    }
    if (options.wants("startup")) {
      phase("4. Start-up", this::startup);
    }
    report.put("interference", "foreign_cpu_share_max_in_a_round", round(foreignMax, 3));
    report.put("interference", "rounds_repeated", repeated);
    report.put("interference", "rounds_kept_disturbed", disturbed);
    report.interference(quiet, foreignMax, repeated, disturbed);
    report.put("run", "total_seconds", round((System.nanoTime() - t0) / 1e9, 1));
    report.write(options.out());
    System.out.println();
    System.out.println(report.table());
  }

  @FunctionalInterface
  private interface Phase {
    void run() throws Exception;
  }

  private void phase(String name, Phase phase) throws Exception {
    long t0 = System.nanoTime();
    log("== " + name);
    phase.run();
    log("== " + name + " done in " + Math.round((System.nanoTime() - t0) / 1e9) + " s");
  }

  // ---- set-up

  private void setUp() throws Exception {
    fakePort = ChildProcess.freePort();
    ChildProcess fake =
        start(ChildProcess.start(
            "fake-graph",
            List.of(java, "-Xmx512m", "-cp", System.getProperty("java.class.path"), InstantGraph.class.getName(),
                "--port", Integer.toString(fakePort), "--media-bytes", Long.toString(MediaBench.MEDIA_BYTES)),
            Map.of(),
            options.work().resolve("fake-graph.log")));
    fake.awaitHttp200(fakePort, "/__stats", Duration.ofSeconds(30));

    KeySeeder.Seeded small = KeySeeder.seed(options.work().resolve("layer-a"), masterKeyBytes(), NUMBERS, 1);
    tenants = small.tenants();
    if (options.wants("keys")) {
      log("seeding " + NUMBERS * KEYS_PER_NUMBER_LARGE + " keys into layer-b's store");
      large = KeySeeder.seed(options.work().resolve("layer-b"), masterKeyBytes(), NUMBERS, KEYS_PER_NUMBER_LARGE);
      log(String.format(Locale.ROOT, "seeded %d keys in %.1f s", large.allKeys().size(), large.seconds()));
      report.put("keys", "seed_seconds_100k", round(large.seconds(), 1));
    }
    layerAPort = ChildProcess.freePort();
    report.put("settings", "profiled_with_jfr", options.profile());
    layerA = startLayer("layer-a", options.work().resolve("layer-a"), layerAPort, List.of());
    proxyAvailable = probe(layerAPort, PREFIX + "/" + VERSION + "/%s/messages", tenants.get(0).key()) == 200;
    if (!proxyAvailable) {
      log("the layer does not proxy " + PREFIX + " yet (no 200 on a send): layer figures are skipped");
    }
  }

  ChildProcess startLayer(String name, Path dataDir, int port, List<String> jvmFlags) throws Exception {
    return startLayer(name, dataDir, port, jvmFlags, Map.of());
  }

  /** A layer process with {@code env} over the harness's environment for layers. */
  ChildProcess startLayer(String name, Path dataDir, int port, List<String> jvmFlags, Map<String, String> env)
      throws Exception {
    List<String> command = new ArrayList<>();
    command.add(java);
    command.addAll(jvmFlags);
    if (options.profile()) {
      command.add("-XX:StartFlightRecording=filename=" + jfrFile(name) + ",settings=profile,dumponexit=true");
    }
    command.add("-jar");
    command.add(options.jar().toAbsolutePath().toString());
    Map<String, String> all = layerEnv(dataDir, port);
    all.putAll(env);
    ChildProcess p = start(ChildProcess.start(name, command, all, options.work().resolve(name + ".log")));
    p.awaitHttp200(port, "/readyz", Duration.ofSeconds(60));
    return p;
  }

  Map<String, String> layerEnv(Path dataDir, int port) {
    Map<String, String> env = new HashMap<>();
    env.put("LAYER_HOST", "127.0.0.1");
    env.put("LAYER_PORT", Integer.toString(port));
    env.put("LAYER_PUBLIC_URL", "http://127.0.0.1:" + port);
    env.put("LAYER_DATA_DIR", dataDir.toAbsolutePath().toString());
    env.put("LAYER_MASTER_KEY", masterKey);
    env.put("LAYER_ADMIN_TOKEN", adminToken);
    env.put("LAYER_GRAPH_URL", "http://127.0.0.1:" + fakePort);
    env.put("META_APP_SECRET", appSecret);
    env.put("LAYER_MEDIA_HOSTS", "http://127.0.0.1,http://localhost");
    env.put("LAYER_ALLOW_PRIVATE_TARGETS", "true");
    // the bench measures the proxy's cost, and its tenants send far more than 50 requests a second per key
    // (LAYER_KEY_RATE's default): with the limit on, most of its requests would be 429s answered at once
    env.put("LAYER_KEY_RATE", "off");
    return env;
  }

  /** One send through a target: its status, or -1. */
  private int probe(int port, String pathFormat, String credential) throws Exception {
    HttpClient client = OpenLoopLoad.newClient("probe", 1);
    try {
      ContentResponse r =
          client.newRequest("http://127.0.0.1:" + port + String.format(pathFormat, tenants.get(0).phoneNumberId()))
              .method(HttpMethod.POST)
              .headers(h -> h.put(HttpHeader.AUTHORIZATION, "Bearer " + credential))
              .body(new BytesRequestContent("application/json", SEND_BODY.getBytes(StandardCharsets.UTF_8)))
              .timeout(10, TimeUnit.SECONDS)
              .send();
      return r.getStatus();
    } catch (Exception e) {
      return -1;
    } finally {
      client.stop();
    }
  }

  // ---- 1. hot path

  /** A proxy target of the hot path: where it listens and which credential it takes per number. */
  private record Target(String label, int port, String pathFormat, boolean metaToken) {
    String credential(Tenant t) {
      return metaToken ? t.metaToken() : t.key();
    }
  }

  private void hotPath() throws Exception {
    int nginxPort = ChildProcess.freePort();
    ChildProcess nginx = start(Nginx.start(options.work().resolve("nginx"), nginxPort, fakePort, PREFIX, tenants, 1));
    awaitListening(nginx, nginxPort);

    int floorPort = ChildProcess.freePort();
    Path floorKeys = options.work().resolve("floor-keys.txt");
    Files.writeString(floorKeys, tenants.stream()
        .map(t -> t.key() + " " + t.metaToken() + " " + t.phoneNumberId() + "\n")
        .collect(Collectors.joining()), StandardCharsets.UTF_8);
    ChildProcess floor =
        start(ChildProcess.start(
            "jetty-floor",
            List.of(java, "-cp", System.getProperty("java.class.path"), JettyFloor.class.getName(), "--port",
                Integer.toString(floorPort), "--upstream", "http://127.0.0.1:" + fakePort, "--prefix", PREFIX,
                "--keys", floorKeys.toString()),
            Map.of(),
            options.work().resolve("jetty-floor.log")));
    awaitListening(floor, floorPort);

    List<Target> targets = new ArrayList<>();
    targets.add(new Target("direct", fakePort, "/" + VERSION + "/%s/messages", true));
    targets.add(new Target("nginx", nginxPort, PREFIX + "/" + VERSION + "/%s/messages", false));
    targets.add(new Target("floor", floorPort, PREFIX + "/" + VERSION + "/%s/messages", false));
    if (proxyAvailable) {
      targets.add(new Target("layer", layerAPort, PREFIX + "/" + VERSION + "/%s/messages", false));
    }
    for (Target t : targets) {
      int status = probe(t.port(), t.pathFormat(), t.credential(tenants.get(0)));
      if (status != 200) {
        throw new IllegalStateException(t.label() + " answered " + status + " to a valid send");
      }
    }
    int nginxRefusal = probe(nginxPort, targets.get(1).pathFormat(), "ps_" + "x".repeat(43));
    report.put("proxy", "nginx_unknown_key_status", nginxRefusal);

    Map<String, HttpClient> clients = new LinkedHashMap<>();
    for (Target t : targets) {
      clients.put(t.label(), OpenLoopLoad.newClient("load-" + t.label(), options.connections()));
    }
    try {
      // Warm-up: half saturation (wrk), so that the JIT compiles the hot path, half at the measured rate.
      Duration half = options.warmup().dividedBy(2);
      for (Target t : targets) {
        log("warm-up " + t.label() + ": wrk for " + half.toSeconds() + " s, then " + options.rate() + " req/s for "
            + half.toSeconds() + " s");
        wrk("warmup-" + t.label(), t.port(), t.pathFormat(), tenantCredentials(t), (int) half.toSeconds());
        openLoop(t, clients.get(t.label()), half);
      }
      if (options.profile() && proxyAvailable) {
        Jfr.start(layerA, "hot-path");
      }
      Map<String, List<OpenLoopLoad.Run>> runs = new LinkedHashMap<>();
      targets.forEach(t -> runs.put(t.label(), new ArrayList<>()));
      for (int r = 0; r < options.rounds(); r++) {
        for (int i = 0; i < targets.size(); i++) {
          Target t = targets.get((i + r) % targets.size());
          OpenLoopLoad.Run run =
              undisturbed("round " + (r + 1) + " " + t.label(), () -> openLoop(t, clients.get(t.label()), options.measure()));
          runs.get(t.label()).add(run);
          log(String.format(Locale.ROOT, "round %d %-6s %7.0f req/s  p50 %.3f  p99 %.3f  p99.9 %.3f ms  failed %d",
              r + 1, t.label(), run.achievedRate(), pct(run, 50), pct(run, 99), pct(run, 99.9), run.failed()));
        }
      }
      Map<String, List<Wrk.Saturation>> saturation = new LinkedHashMap<>();
      targets.forEach(t -> saturation.put(t.label(), new ArrayList<>()));
      for (int r = 0; r < options.rounds(); r++) {
        for (int i = 0; i < targets.size(); i++) {
          Target t = targets.get((i + r) % targets.size());
          Wrk.Saturation s =
              undisturbed("saturation " + t.label(),
                  () -> wrk(t.label(), t.port(), t.pathFormat(), tenantCredentials(t), options.wrkSeconds()));
          saturation.get(t.label()).add(s);
          log(String.format(Locale.ROOT, "saturation round %d %-6s %8.0f req/s (%d bad)", r + 1, t.label(),
              s.requestsPerSecond(), s.bad()));
        }
      }
      if (options.profile() && proxyAvailable) {
        Jfr.stopAndSummarise(layerA, "hot-path", options.work(), options.out());
      }
      report.hotPath(options, runs, saturation);
      if (proxyAvailable) {
        report.put("proxy", "layer_peak_rss_mib", layerA.peakRssKib().orElse(0) / 1024);
      }
      report.put("proxy", "fake_graph_stats", InstantGraphStats.read(fakePort));
      Plot.percentiles(
          options.out().resolve("latency.png"),
          String.format(Locale.ROOT, "POST /messages at %.0f req/s, %d connections, %d x %d s per target",
              options.rate(), options.connections(), options.rounds(), options.measure().toSeconds()),
          runs.entrySet().stream()
              .collect(Collectors.toMap(
                  e -> legend(e.getKey(), report.hotPathSamples().get(e.getKey())),
                  e -> report.hotPathSamples().get(e.getKey()),
                  (a, b) -> a,
                  LinkedHashMap::new)),
          3);
    } finally {
      for (HttpClient c : clients.values()) {
        c.stop();
      }
      stop(nginx);
      stop(floor);
    }
  }

  private static String legend(String label, long[] sorted) {
    return String.format(Locale.ROOT, "%s: p50 %.2f, p99 %.2f, p99.9 %.2f ms (all rounds pooled)", label,
        Latencies.percentileMillis(sorted, 50), Latencies.percentileMillis(sorted, 99),
        Latencies.percentileMillis(sorted, 99.9));
  }

  private List<Map.Entry<String, String>> tenantCredentials(Target t) {
    return tenants.stream().map(x -> Map.entry(x.phoneNumberId(), t.credential(x))).toList();
  }

  private OpenLoopLoad.Run openLoop(Target t, HttpClient client, Duration duration) throws InterruptedException {
    byte[] body = SEND_BODY.getBytes(StandardCharsets.UTF_8);
    String base = "http://127.0.0.1:" + t.port();
    String[] uris = tenants.stream().map(x -> base + String.format(t.pathFormat(), x.phoneNumberId())).toArray(String[]::new);
    String[] auth = tenants.stream().map(x -> "Bearer " + t.credential(x)).toArray(String[]::new);
    return OpenLoopLoad.run(
        t.label(),
        client,
        (c, seq, intended) -> {
          int k = (int) (seq % uris.length);
          return c.newRequest(uris[k])
              .method(HttpMethod.POST)
              .headers(h -> h.put(HttpHeader.AUTHORIZATION, auth[k]))
              .body(new BytesRequestContent("application/json", body));
        },
        options.rate(),
        duration,
        Duration.ofSeconds(15));
  }

  Wrk.Saturation wrk(String label, int port, String pathFormat, List<Map.Entry<String, String>> credentials, int seconds)
      throws IOException, InterruptedException {
    return Wrk.run(label, options.work().resolve("wrk"), port, pathFormat, credentials, SEND_BODY, options.connections(),
        seconds);
  }

  static double pct(OpenLoopLoad.Run run, double p) {
    return Latencies.percentileMillis(run.latencies().sorted(), p);
  }

  // ---- 5. key scale

  private void keyScale() throws Exception {
    if (!proxyAvailable || large == null) {
      report.skip("keys", "the layer's proxy is not available");
      return;
    }
    int portB = ChildProcess.freePort();
    ChildProcess layerB = startLayer("layer-b", options.work().resolve("layer-b"), portB, List.of());
    try {
      String path = PREFIX + "/" + VERSION + "/%s/messages";
      List<Map.Entry<String, String>> small =
          tenants.stream().map(t -> Map.entry(t.phoneNumberId(), t.key())).toList();
      List<Map.Entry<String, String>> bActive =
          large.tenants().stream().map(t -> Map.entry(t.phoneNumberId(), t.key())).toList();
      log("warm-up of layer-b (100,000 keys) for " + options.warmup().toSeconds() + " s and of layer-a for "
          + options.warmup().dividedBy(2).toSeconds() + " s more");
      wrk("warmup-b", portB, path, bActive, (int) options.warmup().toSeconds());
      wrk("warmup-a", layerAPort, path, small, (int) options.warmup().dividedBy(2).toSeconds());
      List<Wrk.Saturation> a = new ArrayList<>();
      List<Wrk.Saturation> b = new ArrayList<>();
      // Pairs of short runs, one right after the other, so that a drift of the machine hits both alike;
      // which one goes first alternates, so that a drift within a pair does not favour either. Single
      // pairs spread by up to ±20 % on this machine, hence nine of them and their median.
      int rounds = options.quick() ? 1 : 9;
      int seconds = options.quick() ? 2 : 4;
      for (int r = 0; r < rounds; r++) {
        Wrk.Saturation sa;
        Wrk.Saturation sb;
        if (r % 2 == 0) {
          sa = undisturbed("10 keys", () -> wrk("keys-10", layerAPort, path, small, seconds));
          sb = undisturbed("100k keys", () -> wrk("keys-100k", portB, path, bActive, seconds));
        } else {
          sb = undisturbed("100k keys", () -> wrk("keys-100k", portB, path, bActive, seconds));
          sa = undisturbed("10 keys", () -> wrk("keys-10", layerAPort, path, small, seconds));
        }
        a.add(sa);
        b.add(sb);
        log(String.format(Locale.ROOT, "round %d: 10 keys %.0f req/s, 100,000 keys %.0f req/s", r + 1,
            sa.requestsPerSecond(), sb.requestsPerSecond()));
      }
      // Every request with another key: each first use is a store lookup and a token decryption.
      List<Map.Entry<String, String>> wide = new ArrayList<>();
      List<String> all = large.allKeys();
      for (int k = 0; k < all.size(); k++) {
        wide.add(Map.entry(large.tenants().get(k % NUMBERS).phoneNumberId(), all.get(k)));
      }
      Wrk.Saturation sw = undisturbed("100k keys, all", () -> wrk("keys-100k-all", portB, path, wide, options.wrkSeconds()));
      log(String.format(Locale.ROOT, "100,000 keys, rotating over all of them: %.0f req/s (%d bad)",
          sw.requestsPerSecond(), sw.bad()));
      report.keyScale(a, b, sw);
    } finally {
      stop(layerB);
    }
  }

  // ---- 7. observability

  /** The loggers of the layer's request and delivery lines, switched on (INFO) and off (OFF) with the metrics. */
  static final List<String> REQUEST_LOGGERS = List.of("dev.metalayer.access", "dev.metalayer.deliveries");

  /**
   * The cost of observability on the hot path: one layer with metrics on (LAYER_METRICS=true, scraped) and the
   * request loggers at INFO, one with metrics off and those loggers OFF, same store content, same load
   * (wrk, the keys of 10 numbers); pairs of back-to-back runs, which one goes first alternating, as in the key
   * scale phase. The loggers are set through a logback configuration made from the layer's own (read from its
   * jar) with the two loggers added, so the lines are written as the layer writes them.
   */
  private void observability() throws Exception {
    if (!proxyAvailable) {
      report.skip("observability", "the layer's proxy is not available");
      return;
    }
    Map<Boolean, ChildProcess> layers = new LinkedHashMap<>();
    Map<Boolean, Integer> ports = new LinkedHashMap<>();
    Map<Boolean, List<Map.Entry<String, String>>> keys = new LinkedHashMap<>();
    try {
      for (boolean on : new boolean[] {true, false}) {
        String name = on ? "layer-observed" : "layer-unobserved";
        Path dir = options.work().resolve(name);
        KeySeeder.Seeded seeded = KeySeeder.seed(dir, masterKeyBytes(), NUMBERS, 1);
        keys.put(on, seeded.tenants().stream().map(t -> Map.entry(t.phoneNumberId(), t.key())).toList());
        Path logback = options.work().resolve(name + "-logback.xml");
        Files.writeString(logback, withRequestLoggers(on ? "INFO" : "OFF"));
        ports.put(on, ChildProcess.freePort());
        layers.put(on, startLayer(name, dir, ports.get(on), List.of("-Dlogback.configurationFile=" + logback),
            Map.of("LAYER_METRICS", Boolean.toString(on))));
      }
      String path = PREFIX + "/" + VERSION + "/%s/messages";
      log("warm-up of both layers for " + options.warmup().toSeconds() + " s each");
      for (boolean on : new boolean[] {true, false}) {
        wrk("warmup-" + (on ? "observed" : "unobserved"), ports.get(on), path, keys.get(on), (int) options.warmup().toSeconds());
      }
      List<Wrk.Saturation> observed = new ArrayList<>();
      List<Wrk.Saturation> unobserved = new ArrayList<>();
      int rounds = options.quick() ? 1 : 9;
      int seconds = options.quick() ? 2 : 4;
      for (int r = 0; r < rounds; r++) {
        Callable<Wrk.Saturation> on = () -> wrk("observed", ports.get(true), path, keys.get(true), seconds);
        Callable<Wrk.Saturation> off = () -> wrk("unobserved", ports.get(false), path, keys.get(false), seconds);
        Wrk.Saturation so;
        Wrk.Saturation su;
        if (r % 2 == 0) {
          so = undisturbed("observed", on);
          su = undisturbed("unobserved", off);
        } else {
          su = undisturbed("unobserved", off);
          so = undisturbed("observed", on);
        }
        observed.add(so);
        unobserved.add(su);
        log(String.format(Locale.ROOT, "round %d: metrics and request logs on %.0f req/s, off %.0f req/s", r + 1,
            so.requestsPerSecond(), su.requestsPerSecond()));
      }
      // the observed layer did count: its scrape shows the forwarded requests
      String scrape = ChildProcess.httpGet(ports.get(true), "/metrics");
      double forwarded = scrape.lines()
          .filter(l -> l.startsWith("metalayer_proxy_requests_total{") && l.contains("outcome=\"forwarded\""))
          .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
      int scrapeStatusUnobserved = ChildProcess.httpStatus(ports.get(false), "/metrics");
      report.observability(observed, unobserved, forwarded, scrapeStatusUnobserved, scrape.length());
    } finally {
      for (ChildProcess p : layers.values()) {
        stop(p);
      }
    }
  }

  /** The layer's own logback configuration with {@link #REQUEST_LOGGERS} at {@code level}. */
  private static String withRequestLoggers(String level) throws IOException {
    String config;
    try (java.io.InputStream in = Bench.class.getClassLoader().getResourceAsStream("logback.xml")) {
      if (in == null) {
        throw new IllegalStateException("the layer's jar has no logback.xml");
      }
      config = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    StringBuilder loggers = new StringBuilder();
    for (String logger : REQUEST_LOGGERS) {
      loggers.append("  <logger name=\"").append(logger).append("\" level=\"").append(level).append("\"/>\n");
    }
    int root = config.indexOf("<root");
    return config.substring(0, root) + loggers + "  " + config.substring(root);
  }

  // ---- 2. relay

  private void relay() throws Exception {
    if (layerA == null) {
      report.skip("relay", "no layer");
      return;
    }
    RelayBench relay = new RelayBench(options, layerA, layerAPort, tenants.get(0), appSecret);
    relay.run(report);
  }

  // ---- 6. scale-out

  private void scaling() throws Exception {
    new ScalingBench(options, (name, dataDir, port, env) -> startLayer(name, dataDir, port, List.of(), env), adminToken,
        appSecret).run(report);
  }

  // ---- 3. streaming

  private void media() throws Exception {
    if (!proxyAvailable) {
      report.skip("media", "the layer's proxy is not available");
      return;
    }
    Path dir = options.work().resolve("layer-media");
    KeySeeder.Seeded seeded = KeySeeder.seed(dir, masterKeyBytes(), 1, 1);
    int port = ChildProcess.freePort();
    ChildProcess layer = startLayer("layer-media", dir, port, List.of("-Xmx64m"));
    try {
      new MediaBench(port, fakePort, seeded.tenants().get(0), layer).run(report);
    } finally {
      stop(layer);
    }
  }

  // ---- 4. start-up

  private void startup() throws Exception {
    List<Double> warm = new ArrayList<>();
    Path dir = options.work().resolve("layer-startup");
    double cold = startOnce("startup-fresh", dir);
    int runs = options.quick() ? 2 : 5;
    for (int i = 0; i < runs; i++) {
      warm.add(startOnce("startup-" + i, dir));
    }
    log("start-up to /readyz 200, ms: fresh store " + Math.round(cold) + "; existing store " + warm);
    report.startup(cold, warm);
  }

  /** Starts a layer, times {@code /readyz} answering 200, stops it. @return milliseconds */
  private double startOnce(String name, Path dataDir) throws Exception {
    int port = ChildProcess.freePort();
    ChildProcess p =
        ChildProcess.start(name, List.of(java, "-jar", options.jar().toAbsolutePath().toString()),
            layerEnv(dataDir, port), options.work().resolve(name + ".log"));
    try {
      long ready = p.awaitHttp200(port, "/readyz", Duration.ofSeconds(60));
      return (ready - p.startedNanos()) / 1e6;
    } finally {
      p.close();
    }
  }

  // ---- helpers

  /**
   * Runs a measurement; when other processes used more than {@link #MAX_FOREIGN} of the machine meanwhile,
   * runs it again, at most three times in all, and keeps the last (counted as disturbed).
   */
  private <T> T undisturbed(String what, Callable<T> measurement) throws Exception {
    for (int attempt = 1; ; attempt++) {
      ForeignCpu.Snapshot before = ForeignCpu.take();
      T result = measurement.call();
      double share = ForeignCpu.since(before);
      if (share <= MAX_FOREIGN || attempt == 3) {
        foreignMax = Math.max(foreignMax, share);
        if (share > MAX_FOREIGN) {
          disturbed++;
          log(String.format(Locale.ROOT, "%s: other processes used %.0f %% of the CPUs; kept after 3 attempts", what,
              share * 100));
        }
        return result;
      }
      repeated++;
      log(String.format(Locale.ROOT, "%s: other processes used %.0f %% of the CPUs; repeating", what, share * 100));
    }
  }

  private static void awaitListening(ChildProcess p, int port) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (ChildProcess.httpStatus(port, "/") < 0) {
      if (!p.alive() || System.nanoTime() > deadline) {
        throw new IllegalStateException(p.name() + " is not listening on " + port + "; see " + p.log());
      }
      Thread.sleep(20);
    }
  }

  private ChildProcess start(ChildProcess p) {
    children.add(p);
    return p;
  }

  private void stop(ChildProcess p) throws IOException, InterruptedException {
    if (p != null) {
      p.close();
      children.remove(p);
      Path jfr = jfrFile(p.name());
      if (options.profile() && Files.exists(jfr)) {
        Path summary = options.out().resolve("profile-" + p.name() + ".txt");
        Files.writeString(summary, JfrTop.summarize(jfr, 25), StandardCharsets.UTF_8);
        log("JFR profile of " + p.name() + " summarised in " + summary + " (recording: " + jfr + ")");
      }
    }
  }

  private Path jfrFile(String processName) {
    return options.work().resolve(processName + ".jfr").toAbsolutePath();
  }

  private void stopAll() {
    List<ChildProcess> running = new ArrayList<>(children);
    for (int i = running.size() - 1; i >= 0; i--) {
      try {
        running.get(i).close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    children.clear();
  }

  private byte[] masterKeyBytes() {
    return Base64.getDecoder().decode(masterKey);
  }

  private String base64(int bytes) {
    byte[] b = new byte[bytes];
    random.nextBytes(b);
    return Base64.getEncoder().encodeToString(b);
  }

  static double round(double v, int decimals) {
    double f = Math.pow(10, decimals);
    return Math.round(v * f) / f;
  }

  static void log(String message) {
    System.out.printf(Locale.ROOT, "[%tT] %s%n", System.currentTimeMillis(), message);
    System.out.flush();
  }

  private static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted((x, y) -> y.getNameCount() - x.getNameCount()).toList()) {
        Files.delete(p);
      }
    }
  }

  static ObjectMapper json() {
    return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  }
}

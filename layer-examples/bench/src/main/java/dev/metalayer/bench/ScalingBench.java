package dev.metalayer.bench;

import dev.metalayer.crypto.Secrets;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import org.eclipse.jetty.client.BufferingResponseListener;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Promise;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * Scale-out on PostgreSQL beside the default, in one run: the same three measurements on one layer on
 * its H2 file, then on two layers (two processes of the real jar, each with its own data directory)
 * sharing one fresh PostgreSQL schema, the load spread over both; each PostgreSQL figure is printed as a
 * ratio to the H2 one.
 *
 * <ol>
 *   <li><b>Durable ingest</b>: {@value #SENDERS} closed-loop senders post signed {@code messages}
 *       webhooks for a fixed time while the subscriber holds its answers (so the relay's workers wait
 *       and the stores do nothing but take webhooks): webhooks answered {@code 200} per second.
 *   <li><b>Deliveries behind a backlog</b>: the subscriber then answers everything at once; the
 *       webhooks taken in the first step are delivered, and the rate is their number over the time from
 *       the release to the last arrival. Every one must arrive exactly once.
 *   <li><b>Calls with message load</b>: signed {@code calls} {@code connect} events at 20/s with
 *       {@code messages} webhooks at 100/s, open loop; the p99 from a call's intended send time to its
 *       arrival at the subscriber.
 * </ol>
 *
 * <p>PostgreSQL is {@code --pg-url} (default {@code LAYER_BENCH_PG_URL}, else
 * {@code jdbc:postgresql://127.0.0.1:5432/test}), user {@code --pg-user} (default {@code postgres}),
 * password from {@code LAYER_BENCH_PG_PASSWORD}; the phase makes a schema of its own and drops it at the
 * end. When PostgreSQL cannot be reached, the phase is skipped with one line saying so.
 */
final class ScalingBench {
  static final int SENDERS = 16;
  private static final String MESSAGE_MARK = "\"wamid.bench-";
  private static final String CALL_MARK = "\"wacid.bench-";

  /** One round of one configuration. */
  record Round(long accepted, long errors, double ingestPerSecond, long delivered, double drainSeconds,
      double deliveriesPerSecond, int calls, int callsMissing, double callP50, double callP99) {}

  /** A configuration under test: its label, its instances' ports, its tenant, and its rounds. */
  private static final class Config {
    final String label;
    final List<Integer> ports = new ArrayList<>();
    final List<ChildProcess> processes = new ArrayList<>();
    final List<Round> rounds = new ArrayList<>();
    Tenant tenant;

    Config(String label) {
      this.label = label;
    }

    double median(java.util.function.ToDoubleFunction<Round> f) {
      double[] v = rounds.stream().mapToDouble(f).sorted().toArray();
      return v.length == 0 ? Double.NaN : v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    long sum(java.util.function.ToLongFunction<Round> f) {
      return rounds.stream().mapToLong(f).sum();
    }
  }

  /** Starts a layer process: a name, its data directory, its port, extra environment. */
  @FunctionalInterface
  interface Launcher {
    ChildProcess start(String name, Path dataDir, int port, Map<String, String> env) throws Exception;
  }

  private final Bench.Options options;
  private final Launcher launcher;
  private final String adminToken;
  private final String appSecret;
  private final String pgUrl;
  private final String pgUser;
  private final String pgPassword;

  // the subscriber's view; message ids are unique over the run, call ids over one measurement
  private volatile boolean holding;
  private final ConcurrentLinkedQueue<Runnable> held = new ConcurrentLinkedQueue<>();
  private final Map<Integer, Long> messageArrivals = new ConcurrentHashMap<>();
  private final LongAdder duplicates = new LongAdder();
  private final AtomicLong lastArrival = new AtomicLong();
  private final AtomicLong messageSeq = new AtomicLong();
  private volatile AtomicLongArray callSent = new AtomicLongArray(0);
  private volatile AtomicLongArray callArrived = new AtomicLongArray(0);

  ScalingBench(Bench.Options options, Launcher launcher, String adminToken, String appSecret) {
    this.options = options;
    this.launcher = launcher;
    this.adminToken = adminToken;
    this.appSecret = appSecret;
    this.pgUrl = options.pgUrl();
    this.pgUser = options.pgUser();
    this.pgPassword = System.getenv().getOrDefault("LAYER_BENCH_PG_PASSWORD", "");
  }

  /**
   * Starts one layer on H2 and two on a fresh PostgreSQL schema, all at once, then measures them in
   * alternating rounds (H2 first in odd rounds, PostgreSQL first in even ones), so that a drift of the
   * shared machine hits both alike; each figure is the median of its rounds.
   */
  void run(Report report) throws Exception {
    String unreachable = probePostgres();
    if (unreachable != null) {
      Bench.log("PostgreSQL at " + pgUrl + " is unreachable (" + unreachable + "): the scaling phase is skipped");
      report.skip("scaling", "PostgreSQL at " + pgUrl + " is unreachable: " + unreachable);
      return;
    }
    Server subscriber = subscriber();
    int subPort = ((ServerConnector) subscriber.getConnectors()[0]).getLocalPort();
    String schema = "bench_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    Config h2 = new Config("h2");
    Config pg = new Config("pg");
    HttpClient client = OpenLoopLoad.newClient("scaling", SENDERS * 2);
    try {
      exec("CREATE SCHEMA " + schema);
      String url = pgUrl + (pgUrl.contains("?") ? "&" : "?") + "currentSchema=" + schema;
      start(h2, 1, Map.of());
      // one after the other: the first migrates the schema, the second finds it done
      start(pg, 2, Map.of("LAYER_DB_URL", url, "LAYER_DB_USER", pgUser, "LAYER_DB_PASSWORD", pgPassword));
      for (Config c : List.of(h2, pg)) {
        c.tenant = register(client, c.ports.get(0), c.label);
        subscribe(client, c.ports.get(0), c.tenant, "scale-messages", "http://127.0.0.1:" + subPort + "/messages",
            "messages");
        subscribe(client, c.ports.get(c.ports.size() - 1), c.tenant, "scale-calls",
            "http://127.0.0.1:" + subPort + "/calls", "calls");
      }
      Bench.log("warm-up of both configurations");
      for (Config c : List.of(h2, pg)) {
        round(client, c, Duration.ofSeconds(options.quick() ? 2 : 5), Duration.ofSeconds(options.quick() ? 2 : 5));
      }
      ForeignCpu.Snapshot before = ForeignCpu.take();
      int rounds = options.quick() ? 1 : 3;
      for (int r = 0; r < rounds; r++) {
        for (Config c : r % 2 == 0 ? List.of(h2, pg) : List.of(pg, h2)) {
          Round round = round(client, c, Duration.ofSeconds(options.quick() ? 3 : 8),
              Duration.ofSeconds(options.quick() ? 5 : 15));
          c.rounds.add(round);
          Bench.log(String.format(Locale.ROOT, "round %d %s: ingest %.0f/s (%d, %d errors); backlog %d delivered in %.1f s,"
                  + " %.0f/s; calls p50 %.2f ms, p99 %.2f ms (%d, %d missing)", r + 1, c.label, round.ingestPerSecond(),
              round.accepted(), round.errors(), round.delivered(), round.drainSeconds(), round.deliveriesPerSecond(),
              round.callP50(), round.callP99(), round.calls(), round.callsMissing()));
        }
      }
      double foreign = ForeignCpu.since(before);
      report.put("scaling", "foreign_cpu_share", Bench.round(foreign, 3));
      write(report, h2, pg, foreign);
    } finally {
      release();
      client.stop();
      for (Config c : List.of(h2, pg)) {
        for (ChildProcess p : c.processes) {
          p.close();
        }
      }
      subscriber.stop();
      try {
        exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
      } catch (SQLException e) {
        Bench.log("could not drop the schema " + schema + ": " + e.getMessage());
      }
    }
  }

  private void start(Config c, int instances, Map<String, String> env) throws Exception {
    for (int i = 1; i <= instances; i++) {
      int port = ChildProcess.freePort();
      String name = "scale-" + c.label + "-" + i;
      c.processes.add(launcher.start(name, options.work().resolve(name), port, env));
      c.ports.add(port);
    }
  }

  /** One round on one configuration: ingest with the subscriber holding, the backlog, then calls with load. */
  private Round round(HttpClient client, Config c, Duration ingestFor, Duration callsFor) throws Exception {
    awaitQuiet();
    // 1. durable ingest, the subscriber holding its answers
    holding = true;
    LongAdder accepted = new LongAdder();
    LongAdder errors = new LongAdder();
    int lo = (int) messageSeq.get();
    long t0 = System.nanoTime();
    saturate(client, c.ports, c.tenant, t0 + ingestFor.toNanos(), accepted, errors);
    double ingestSeconds = (System.nanoTime() - t0) / 1e9;
    int hi = (int) messageSeq.get();

    // 2. the backlog, delivered once the subscriber answers
    long released = System.nanoTime();
    release();
    long deadline = released + Duration.ofSeconds(options.quick() ? 60 : 180).toNanos();
    while (arrivedIn(lo, hi) < accepted.sum() && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    long delivered = arrivedIn(lo, hi);
    long last = lastArrivalIn(lo, hi);
    double drain = Math.max(1e-3, (last - released) / 1e9);

    // 3. calls with message load
    awaitQuiet();
    double callRate = 20;
    double messageRate = 100;
    int due = (int) (callsFor.toSeconds() * callRate);
    callSent = new AtomicLongArray(due);
    callArrived = new AtomicLongArray(due);
    OpenLoopLoad.Run[] runs = steady(client, c.ports, c.tenant, callRate, messageRate, callsFor);
    awaitCalls(due, Duration.ofSeconds(30));
    long[] latencies = callLatencies(due);
    return new Round(accepted.sum(), errors.sum() + runs[0].failed() + runs[1].failed(), accepted.sum() / ingestSeconds,
        delivered, drain, delivered / drain, due, due - latencies.length, Latencies.percentileMillis(latencies, 50),
        Latencies.percentileMillis(latencies, 99));
  }

  /** Answers everything held, and stops holding. */
  private void release() {
    holding = false;
    for (Runnable r; (r = held.poll()) != null; ) {
      r.run();
    }
  }

  /** Waits until no delivery has arrived for a second (at most 30 s): a round starts on an idle relay. */
  private void awaitQuiet() throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < deadline && System.nanoTime() - lastArrival.get() < 1_000_000_000L) {
      Thread.sleep(100);
    }
  }

  private long arrivedIn(int lo, int hi) {
    return messageArrivals.keySet().stream().filter(id -> id >= lo && id < hi).count();
  }

  private long lastArrivalIn(int lo, int hi) {
    return messageArrivals.entrySet().stream().filter(e -> e.getKey() >= lo && e.getKey() < hi)
        .mapToLong(Map.Entry::getValue).max().orElse(0);
  }

  private void write(Report report, Config h2, Config pg, double foreign) {
    for (Config c : List.of(h2, pg)) {
      String s = "scaling_" + c.label;
      report.put(s, "instances", c.ports.size());
      report.put(s, "rounds", c.rounds.size());
      report.put(s, "ingest_per_s_median", Bench.round(c.median(Round::ingestPerSecond), 0));
      report.put(s, "backlog_deliveries_per_s_median", Bench.round(c.median(Round::deliveriesPerSecond), 0));
      report.put(s, "call_p50_ms_median", Bench.round(c.median(Round::callP50), 3));
      report.put(s, "call_p99_ms_median", Bench.round(c.median(Round::callP99), 3));
      report.put(s, "accepted", c.sum(Round::accepted));
      report.put(s, "backlog_delivered", c.sum(Round::delivered));
      report.put(s, "calls", c.sum(Round::calls));
      report.put(s, "calls_missing", c.sum(Round::callsMissing));
      report.put(s, "errors", c.sum(Round::errors));
      report.put(s, "rounds_detail", c.rounds);
    }
    double ingest = pg.median(Round::ingestPerSecond) / h2.median(Round::ingestPerSecond);
    double deliveries = pg.median(Round::deliveriesPerSecond) / h2.median(Round::deliveriesPerSecond);
    double p99 = pg.median(Round::callP99) / h2.median(Round::callP99);
    report.put("scaling", "ingest_ratio_pg2_to_h2", Bench.round(ingest, 2));
    report.put("scaling", "deliveries_ratio_pg2_to_h2", Bench.round(deliveries, 2));
    report.put("scaling", "call_p99_ratio_pg2_to_h2", Bench.round(p99, 2));
    report.put("scaling", "duplicates", duplicates.sum());
    report.line("");
    report.line("6. Scale-out: 2 instances on one PostgreSQL vs 1 on its H2 file, medians of %d alternating rounds",
        h2.rounds.size());
    report.line("   (%d closed-loop senders; calls 20/s with messages webhooks 100/s; other processes used %.0f %% of the"
        + " CPUs meanwhile)", SENDERS, foreign * 100);
    report.line("   %-36s %12s %12s %8s", "", "H2 x1", "PG x2", "PG/H2");
    report.line("   %-36s %12.0f %12.0f %8.2f", "durable ingest, webhooks/s", h2.median(Round::ingestPerSecond),
        pg.median(Round::ingestPerSecond), ingest);
    report.line("   %-36s %12.0f %12.0f %8.2f", "deliveries/s behind a backlog", h2.median(Round::deliveriesPerSecond),
        pg.median(Round::deliveriesPerSecond), deliveries);
    report.line("   %-36s %12.2f %12.2f %8.2f", "call ingest->delivery p99, ms", h2.median(Round::callP99),
        pg.median(Round::callP99), p99);
    report.line("   delivered H2 %d of %d, PG %d of %d; duplicates %d; calls missing H2 %d, PG %d; errors H2 %d, PG %d",
        h2.sum(Round::delivered), h2.sum(Round::accepted), pg.sum(Round::delivered), pg.sum(Round::accepted),
        duplicates.sum(), h2.sum(Round::callsMissing), pg.sum(Round::callsMissing), h2.sum(Round::errors),
        pg.sum(Round::errors));
    boolean complete = pg.sum(Round::delivered) == pg.sum(Round::accepted) && duplicates.sum() == 0
        && pg.sum(Round::callsMissing) == 0;
    report.verdict("Scale-out: 2 PG instances deliver every webhook exactly once",
        String.format(Locale.ROOT, "%d/%d delivered, %d duplicates, %d calls missing", pg.sum(Round::delivered),
            pg.sum(Round::accepted), duplicates.sum(), pg.sum(Round::callsMissing)),
        complete, "");
  }

  // ---- the subscriber

  /** Answers 200, at once or, while {@link #holding}, when released; notes each arrival by its id. */
  private Server subscriber() throws Exception {
    QueuedThreadPool threads = new QueuedThreadPool(128, 4);
    threads.setName("scale-subscriber");
    threads.setDaemon(true);
    Server server = new Server(threads);
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(org.eclipse.jetty.server.Request request, Response response, Callback callback) {
        String path = request.getHttpURI().getPath();
        Content.Source.asByteArrayAsync(request, 4 * 1024 * 1024, new Promise.Invocable<byte[]>() {
          @Override
          public void succeeded(byte[] body) {
            if (path.startsWith("/calls")) {
              arrived(body, CALL_MARK, System.nanoTime());
              answer();
            } else if (holding) {
              held.add(() -> {
                arrived(body, MESSAGE_MARK, System.nanoTime());
                answer();
              });
            } else {
              arrived(body, MESSAGE_MARK, System.nanoTime());
              answer();
            }
          }

          @Override
          public void failed(Throwable failure) {
            answer();
          }

          private void answer() {
            response.setStatus(200);
            response.write(true, ByteBuffer.allocate(0), callback);
          }
        });
        return true;
      }
    });
    server.start();
    return server;
  }

  private void arrived(byte[] body, String mark, long now) {
    String text = new String(body, StandardCharsets.UTF_8);
    int at = text.indexOf(mark);
    if (at < 0) {
      return;
    }
    int from = at + mark.length();
    int to = from;
    while (to < text.length() && Character.isDigit(text.charAt(to))) {
      to++;
    }
    int seq = Integer.parseInt(text.substring(from, to));
    lastArrival.accumulateAndGet(now, Math::max);
    if (mark.equals(CALL_MARK)) {
      AtomicLongArray arrived = callArrived;
      if (seq < arrived.length() && !arrived.compareAndSet(seq, 0, now)) {
        duplicates.increment();
      }
    } else if (messageArrivals.putIfAbsent(seq, now) != null) {
      duplicates.increment();
    }
  }

  // ---- the load

  /** The benchmark's number and a key, registered through the admin API of the first instance. */
  private Tenant register(HttpClient client, int port, String label) throws Exception {
    Tenant t = Tenant.number(label.equals("h2") ? 0 : 1);
    String number = "{\"phone\":\"" + t.phone() + "\",\"phone_number_id\":\"" + t.phoneNumberId() + "\",\"waba_id\":\""
        + t.wabaId() + "\",\"business_id\":\"" + t.businessId() + "\",\"meta_token\":\"" + t.metaToken() + "\"}";
    ContentResponse added = admin(client, port, "/admin/v1/numbers", number);
    if (added.getStatus() != 201) {
      throw new IllegalStateException("POST /admin/v1/numbers answered " + added.getStatus() + ": "
          + added.getContentAsString());
    }
    ContentResponse key = admin(client, port, "/admin/v1/keys", "{\"phone_number_id\":\"" + t.phoneNumberId() + "\"}");
    if (key.getStatus() != 201) {
      throw new IllegalStateException("POST /admin/v1/keys answered " + key.getStatus());
    }
    return t.withKey(Bench.json().readTree(key.getContentAsString()).path("key").asText());
  }

  private ContentResponse admin(HttpClient client, int port, String path, String json) throws Exception {
    return client.newRequest("http://127.0.0.1:" + port + path).method(HttpMethod.POST)
        .headers(h -> h.put("Authorization", "Bearer " + adminToken))
        .body(new BytesRequestContent("application/json", json.getBytes(StandardCharsets.UTF_8)))
        .timeout(10, TimeUnit.SECONDS).send();
  }

  private void subscribe(HttpClient client, int port, Tenant t, String name, String url, String event) throws Exception {
    String body = "{\"name\":\"" + name + "\",\"url\":\"" + url + "\",\"events\":[\"" + event + "\"]}";
    ContentResponse r = client.newRequest("http://127.0.0.1:" + port + "/v1/webhooks").method(HttpMethod.POST)
        .headers(h -> h.put("x-api-key", t.key()))
        .body(new BytesRequestContent("application/json", body.getBytes(StandardCharsets.UTF_8)))
        .timeout(10, TimeUnit.SECONDS).send();
    if (r.getStatus() != 201) {
      throw new IllegalStateException("POST /v1/webhooks answered " + r.getStatus() + ": " + r.getContentAsString());
    }
  }

  /** {@link #SENDERS} senders post messages webhooks back to back, spread over the instances, until {@code deadline}. */
  private void saturate(HttpClient client, List<Integer> ports, Tenant t, long deadline, LongAdder accepted,
      LongAdder errors) throws InterruptedException {
    CountDownLatch finished = new CountDownLatch(SENDERS);
    for (int i = 0; i < SENDERS; i++) {
      sendLoop(client, ports.get(i % ports.size()), t, deadline, accepted, errors, finished);
    }
    finished.await((deadline - System.nanoTime()) / 1_000_000 + 30_000, TimeUnit.MILLISECONDS);
  }

  private void sendLoop(HttpClient client, int port, Tenant t, long deadline, LongAdder accepted, LongAdder errors,
      CountDownLatch done) {
    if (System.nanoTime() >= deadline) {
      done.countDown();
      return;
    }
    post(client, port, messageWebhook(t, (int) messageSeq.getAndIncrement())).timeout(10, TimeUnit.SECONDS)
        .send(new BufferingResponseListener() {
          @Override
          public void onComplete(Result result) {
            if (result.isSucceeded() && result.getResponse().getStatus() == 200) {
              accepted.increment();
            } else {
              errors.increment();
            }
            sendLoop(client, port, t, deadline, accepted, errors, done);
          }
        });
  }

  /** Calls and messages at their rates, alternating over the instances, for {@code duration}. */
  private OpenLoopLoad.Run[] steady(HttpClient client, List<Integer> ports, Tenant t, double callRate,
      double messageRate, Duration duration) throws Exception {
    OpenLoopLoad.Run[] runs = new OpenLoopLoad.Run[2];
    Exception[] failure = new Exception[1];
    Thread messages = new Thread(() -> {
      try {
        runs[1] = OpenLoopLoad.run("messages", client, (c, seq, intended) -> post(c, ports.get((int) (seq % ports.size())),
            messageWebhook(t, (int) messageSeq.getAndIncrement())), messageRate, duration, Duration.ofSeconds(30));
      } catch (InterruptedException e) {
        failure[0] = e;
      }
    }, "scale-pace-messages");
    messages.start();
    AtomicLongArray sent = callSent;
    runs[0] = OpenLoopLoad.run("calls", client, (c, seq, intended) -> {
      sent.set((int) seq, intended);
      return post(c, ports.get((int) (seq % ports.size())), callWebhook(t, (int) seq));
    }, callRate, duration, Duration.ofSeconds(30));
    messages.join();
    if (failure[0] != null) {
      throw failure[0];
    }
    return runs;
  }

  private void awaitCalls(int due, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      boolean all = true;
      for (int i = 0; i < due && all; i++) {
        all = callArrived.get(i) != 0;
      }
      if (all) {
        return;
      }
      Thread.sleep(50);
    }
  }

  private long[] callLatencies(int due) {
    List<Long> out = new ArrayList<>();
    for (int i = 0; i < due; i++) {
      long arrived = callArrived.get(i);
      if (arrived != 0) {
        out.add(arrived - callSent.get(i));
      }
    }
    long[] sorted = out.stream().mapToLong(Long::longValue).toArray();
    Arrays.sort(sorted);
    return sorted;
  }

  private Request post(HttpClient c, int port, String body) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    return c.newRequest("http://127.0.0.1:" + port + "/webhooks/meta").method(HttpMethod.POST)
        .headers(h -> h.put("X-Hub-Signature-256", "sha256=" + Secrets.hex(
            Secrets.hmacSha256(appSecret.getBytes(StandardCharsets.UTF_8), bytes))))
        .body(new BytesRequestContent("application/json", bytes));
  }

  private static String callWebhook(Tenant t, int id) {
    long now = System.currentTimeMillis() / 1000;
    String digits = t.phone().substring(1);
    return "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + t.wabaId() + "\",\"changes\":[{"
        + "\"field\":\"calls\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\""
        + digits + "\",\"phone_number_id\":\"" + t.phoneNumberId() + "\"},\"contacts\":[{\"profile\":{\"name\":"
        + "\"Jane Doe\"},\"wa_id\":\"15551234567\"}],\"calls\":[{\"id\":\"wacid.bench-" + id + "\",\"from\":"
        + "\"15551234567\",\"to\":\"" + digits + "\",\"event\":\"connect\",\"timestamp\":\"" + now + "\","
        + "\"direction\":\"USER_INITIATED\",\"session\":{\"sdp_type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}}]}}]}]}";
  }

  private static String messageWebhook(Tenant t, int id) {
    long now = System.currentTimeMillis() / 1000;
    String digits = t.phone().substring(1);
    return "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + t.wabaId() + "\",\"changes\":[{"
        + "\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\"" + digits
        + "\",\"phone_number_id\":\"" + t.phoneNumberId() + "\"},\"contacts\":[{\"profile\":{\"name\":"
        + "\"Jane Doe\"},\"wa_id\":\"15551234567\"}],\"messages\":[{\"from\":\"15551234567\",\"id\":\"wamid.bench-"
        + id + "\",\"timestamp\":\"" + now + "\",\"text\":{\"body\":\"Hi, I need help with my order #" + id
        + "\"},\"type\":\"text\"}]},\"field\":\"messages\"}]}]}";
  }

  // ---- PostgreSQL

  /** @return why PostgreSQL cannot be used, or null */
  private String probePostgres() {
    try (Connection c = DriverManager.getConnection(pgUrl, pgUser, pgPassword)) {
      return null;
    } catch (SQLException e) {
      return e.getMessage();
    }
  }

  private void exec(String sql) throws SQLException {
    try (Connection c = DriverManager.getConnection(pgUrl, pgUser, pgPassword); Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }
}

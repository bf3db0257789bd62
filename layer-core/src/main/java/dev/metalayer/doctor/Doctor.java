package dev.metalayer.doctor;

import dev.metalayer.doctor.MetaReads.Read;
import dev.metalayer.graph.GraphForwarder;
import dev.metalayer.graph.GraphForwarder.UpstreamFailure;
import dev.metalayer.keys.KeyService;
import dev.metalayer.keys.WhatsAppNumber;
import dev.metalayer.relay.Subscription;
import dev.metalayer.relay.WebhookSubscriptions;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Meta doctor: checks, for a registered number, what must hold at Meta and in the layer for its
 * messages and calls to flow, each check {@code ok}, {@code warn} or {@code fail} with one sentence saying
 * what to do. At Meta, with the number's own token: the token ({@code debug_token}: valid, the two
 * WhatsApp permissions, not expiring soon), the number ({@code status}, {@code quality_rating},
 * {@code messaging_limit_tier}: calling needs 2,000 a day), the app's subscription to the WABA and the
 * callback Meta calls (it must be the layer's {@code /webhooks/meta}), and the calling settings (calling
 * on, SIP off). In the layer: when a webhook for the number last arrived, and each subscription's last
 * success and recent failure rate. The check names, statuses and thresholds are in docs/operations.md.
 *
 * <p>The four Graph reads of a number run at once on the doctor's own threads, each ended after the
 * check timeout ({@link GraphForwarder} contract; the doctor stops waiting shortly after too); Meta's
 * errors, timeouts and an unreachable Graph become checks, never exceptions. Time rules (token expiry,
 * webhook age, failure windows, streaks) read the injected clock. The token is sent to Graph and nowhere
 * else: no check, log line or exception carries it.
 *
 * <p>In the background ({@link #start()}) the doctor examines every number every interval; a check that
 * fails {@link #FAILURES_BEFORE_WARNING} times in a row logs one WARN naming the number, the check and
 * the fix, once per streak (and one INFO when it passes again). {@link #consecutiveFailures} and
 * {@link #streaks()} expose that state, e.g. for a gauge. Thread-safe.
 */
public final class Doctor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Doctor.class);

  /** Background failures in a row of one check after which the operator is warned (once per streak). */
  public static final int FAILURES_BEFORE_WARNING = 3;
  /** The default of {@link Setup#checkTimeout()}: the longest one Graph read of a check may take. */
  public static final Duration DEFAULT_CHECK_TIMEOUT = Duration.ofSeconds(10);
  /** How long a background run may take in all before its reports are taken as they are. */
  private static final Duration RUN_BOUND = Duration.ofMinutes(5);
  /** Numbers examined at once by {@link #examineAll()}: each has five reads at once (four of Graph, one of the store). */
  private static final int NUMBERS_AT_ONCE = 4;
  private static final int THREADS = NUMBERS_AT_ONCE * 5;

  /** How a check ended. */
  public enum Status {
    OK,
    WARN,
    FAIL;

    /** {@code ok}, {@code warn} or {@code fail}, as the admin API writes it. */
    public String wire() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * One check of one number.
   *
   * @param name one of {@code token}, {@code number_status}, {@code quality_rating}, {@code messaging_limit},
   *     {@code app_subscription}, {@code callback_url}, {@code calling}, {@code sip}, {@code last_webhook},
   *     {@code deliveries} (one per subscription, or one when there is none)
   * @param detail what was found, for the operator; never a secret
   * @param fix what to do, one sentence: present exactly when the status is not {@code OK}
   * @param subscriptionId the subscription a {@code deliveries} check is about
   */
  public record Check(String name, Status status, String detail, Optional<String> fix, String phoneNumberId,
      Optional<String> subscriptionId) {
    public Check {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(status, "status");
      Objects.requireNonNull(detail, "detail");
      Objects.requireNonNull(phoneNumberId, "phoneNumberId");
      Objects.requireNonNull(subscriptionId, "subscriptionId");
      if (fix.isPresent() == (status == Status.OK)) {
        throw new IllegalArgumentException("a fix goes with warn and fail, and only with them");
      }
    }

    /** The check's name, with {@code :<subscription id>} for a subscription's: what a streak is counted by. */
    public String key() {
      return subscriptionId.map(id -> name + ":" + id).orElse(name);
    }
  }

  /** The checks of one number, in a fixed order, as of {@code checkedAt}. */
  public record Report(String phoneNumberId, Instant checkedAt, List<Check> checks) {
    public Report {
      checks = List.copyOf(checks);
    }

    /** The worst status of its checks ({@code OK} when there is none). */
    public Status status() {
      return checks.stream().map(Check::status).max(Comparator.naturalOrder()).orElse(Status.OK);
    }
  }

  /** How many background runs in a row one check of one number has failed (0: it passed last time). */
  public record Streak(String phoneNumberId, String check, int consecutiveFailures) {}

  /**
   * What the doctor needs; {@link dev.metalayer.MetaLayer} gives it. {@code toString()} hides the secret.
   *
   * @param graphUrl the Graph API base the layer forwards to
   * @param appId the Meta app's id: with {@code appSecret}, {@code debug_token} is asked with the app token
   *     and the app's subscription to the WABA is recognised
   * @param appSecret the app secret: the app token, and {@code appsecret_proof} on the number's reads
   * @param publicUrl the layer's public base URL: Meta's callback must be {@code <publicUrl>/webhooks/meta}
   * @param checkTimeout the longest one Graph read may take
   * @param interval how often the background doctor runs; zero: never
   * @param lastWebhook when a webhook for a number last arrived (the relay store)
   */
  public record Setup(URI graphUrl, Optional<String> appId, Optional<String> appSecret, Optional<URI> publicUrl,
      Duration checkTimeout, Duration interval, Clock clock, GraphForwarder forwarder, KeyService keys,
      WebhookSubscriptions subscriptions, Function<String, Optional<Instant>> lastWebhook) {
    public Setup {
      Objects.requireNonNull(graphUrl, "graphUrl");
      Objects.requireNonNull(appId, "appId");
      Objects.requireNonNull(appSecret, "appSecret");
      Objects.requireNonNull(publicUrl, "publicUrl");
      if (checkTimeout.isNegative() || checkTimeout.isZero()) {
        throw new IllegalArgumentException("checkTimeout must be positive");
      }
      if (interval.isNegative()) {
        throw new IllegalArgumentException("interval must not be negative");
      }
      Objects.requireNonNull(clock, "clock");
      Objects.requireNonNull(forwarder, "forwarder");
      Objects.requireNonNull(keys, "keys");
      Objects.requireNonNull(subscriptions, "subscriptions");
      Objects.requireNonNull(lastWebhook, "lastWebhook");
    }

    @Override
    public String toString() {
      return "Doctor.Setup[graphUrl=" + graphUrl + ", appId=" + appId.orElse("-") + ", appSecret="
          + (appSecret.isPresent() ? "<redacted>" : "-") + ", interval=" + interval + "]";
    }
  }

  private final Setup setup;
  private final MetaReads reads;
  private final ExecutorService pool;
  /** Consecutive background failures per number and check key. */
  private final Map<String, Map<String, Integer>> streaks = new HashMap<>();
  private ScheduledExecutorService schedule;

  private Doctor(Setup setup) {
    this.setup = setup;
    this.reads = new MetaReads(setup.graphUrl(), setup.appId(), setup.appSecret(), setup.forwarder(), setup.checkTimeout());
    java.util.concurrent.ThreadPoolExecutor threads = new java.util.concurrent.ThreadPoolExecutor(THREADS, THREADS,
        1, TimeUnit.MINUTES, new java.util.concurrent.LinkedBlockingQueue<>(), daemons("layer-doctor-"));
    // no thread is kept while the doctor is idle
    threads.allowCoreThreadTimeOut(true);
    this.pool = threads;
  }

  /** A doctor; its threads run only while checks do. {@link #close()} stops them. */
  public static Doctor create(Setup setup) {
    return new Doctor(Objects.requireNonNull(setup, "setup"));
  }

  /** The background run's interval; zero when the doctor runs only when asked. */
  public Duration interval() {
    return setup.interval();
  }

  /** Examines one number. @return empty (at once) when no such number is registered */
  public CompletableFuture<Optional<Report>> examine(String phoneNumberId) {
    Optional<WhatsAppNumber> number = setup.keys().findNumber(phoneNumberId);
    if (number.isEmpty()) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    return examine(number.get()).thenApply(Optional::of);
  }

  /**
   * Examines every registered number, a few at once (so that Graph sees a handful of requests at a time,
   * however many numbers there are); the reports in the order of the numbers' list.
   */
  public CompletableFuture<List<Report>> examineAll() {
    List<WhatsAppNumber> numbers = setup.keys().listNumbers();
    CompletableFuture<List<Report>> all = CompletableFuture.completedFuture(new ArrayList<>());
    for (int i = 0; i < numbers.size(); i += NUMBERS_AT_ONCE) {
      List<WhatsAppNumber> chunk = numbers.subList(i, Math.min(numbers.size(), i + NUMBERS_AT_ONCE));
      all = all.thenCompose(done -> {
        List<CompletableFuture<Report>> each = chunk.stream().map(this::examine).toList();
        return CompletableFuture.allOf(each.toArray(CompletableFuture[]::new)).thenApply(v -> {
          each.forEach(f -> done.add(f.join()));
          return done;
        });
      });
    }
    return all.thenApply(List::copyOf);
  }

  private CompletableFuture<Report> examine(WhatsAppNumber n) {
    Instant now = setup.clock().instant();
    CompletableFuture<Optional<String>> token = CompletableFuture.supplyAsync(() -> token(n), pool);
    CompletableFuture<Read> debug = read(token, reads::debugToken);
    CompletableFuture<Read> phone = read(token, t -> reads.number(n.phoneNumberId(), t));
    CompletableFuture<Read> apps = read(token, t -> reads.subscribedApps(n.wabaId(), t));
    CompletableFuture<Read> settings = read(token, t -> reads.settings(n.phoneNumberId(), t));
    CompletableFuture<List<Doctor.Check>> local = CompletableFuture.supplyAsync(() -> local(n, now), pool)
        .completeOnTimeout(null, patience(), TimeUnit.MILLISECONDS)
        .exceptionally(e -> null);
    return CompletableFuture.allOf(token, debug, phone, apps, settings, local).handle((v, e) -> {
      Checks checks = new Checks(n, secrets(token));
      List<Check> out = new ArrayList<>();
      out.add(checks.token(debug.join(), reads.withAppToken(), reads.appId(), now));
      out.addAll(checks.number(phone.join()));
      out.addAll(checks.webhooks(apps.join(), phone.join(), reads.appId(), expectedCallback()));
      out.addAll(checks.calling(settings.join()));
      List<Check> mine = local.join();
      out.addAll(mine != null ? mine : List.of(new Check(Checks.LAST_WEBHOOK, Status.WARN,
          "The layer's store did not answer in time", Optional.of("Check the database (GET /readyz), then run the"
          + " doctor again."), n.phoneNumberId(), Optional.empty())));
      return new Report(n.phoneNumberId(), now, out);
    });
  }

  /** One Graph read with the token, on the doctor's threads, ended after the check timeout (and a margin). */
  private CompletableFuture<Read> read(CompletableFuture<Optional<String>> token, Function<String, Read> read) {
    return token.thenApplyAsync(t -> t.map(read).orElseGet(() -> new Read.NoToken("it is not in the store")), pool)
        .completeOnTimeout(new Read.Failed(UpstreamFailure.TIMEOUT), patience(), TimeUnit.MILLISECONDS)
        .exceptionally(e -> new Read.NoToken(reason(e)));
  }

  /**
   * How long the doctor waits for one read before it counts it timed out: the read itself ends within the
   * check timeout (the forwarder's contract); this also covers its wait for the token and for a thread.
   */
  private long patience() {
    return setup.checkTimeout().toMillis() * 3;
  }

  private Optional<String> token(WhatsAppNumber n) {
    return setup.keys().metaTokenOf(n.phoneNumberId());
  }

  /** Why the token could not be read, naming no secret. */
  private static String reason(Throwable e) {
    Throwable c = e.getCause() != null ? e.getCause() : e;
    return c instanceof dev.metalayer.crypto.TokenCipher.SecretUnreadableException
        ? "it does not open with this layer's master key" : "the store failed (" + c.getClass().getSimpleName() + ")";
  }

  /** The secrets Meta's quoted messages are scrubbed of: the token (when read) and the app secret. */
  private List<String> secrets(CompletableFuture<Optional<String>> token) {
    List<String> secrets = new ArrayList<>();
    if (!token.isCompletedExceptionally()) {
      token.getNow(Optional.empty()).ifPresent(secrets::add);
    }
    setup.appSecret().ifPresent(secrets::add);
    return secrets;
  }

  private Optional<String> expectedCallback() {
    return setup.publicUrl().map(u -> {
      String base = u.toString();
      while (base.endsWith("/")) {
        base = base.substring(0, base.length() - 1);
      }
      return base + "/webhooks/meta";
    });
  }

  /** The layer's own checks of a number: its last webhook, and its subscriptions' deliveries. */
  private List<Check> local(WhatsAppNumber n, Instant now) {
    Checks checks = new Checks(n, List.of());
    List<Check> out = new ArrayList<>();
    out.add(checks.lastWebhook(setup.lastWebhook().apply(n.phoneNumberId()), now));
    List<Subscription> subscriptions = setup.subscriptions().list(n.phoneNumberId());
    if (subscriptions.isEmpty()) {
      out.add(checks.noSubscriptions());
    }
    for (Subscription s : subscriptions) {
      out.add(checks.deliveries(s, setup.subscriptions().deliveriesForOperator(s.id(), Optional.empty(),
          Checks.DELIVERIES_READ).orElse(List.of()), now));
    }
    return out;
  }

  // ---- the background doctor

  /**
   * Starts the background doctor: every {@link Setup#interval()}, the first run one interval after the
   * start. Nothing when the interval is zero. Idempotent.
   */
  public synchronized void start() {
    if (schedule != null || setup.interval().isZero()) {
      return;
    }
    schedule = Executors.newSingleThreadScheduledExecutor(daemons("layer-doctor-schedule-"));
    long every = setup.interval().toMillis();
    schedule.scheduleWithFixedDelay(() -> {
      try {
        runBackgroundNow();
      } catch (RuntimeException e) {
        log.warn("Meta doctor: a background run failed: {}", e.toString());
      }
    }, every, every, TimeUnit.MILLISECONDS);
  }

  /**
   * One background run, now, on the calling thread: examines every number and counts each check's
   * failures in a row, warning once when a streak reaches {@link #FAILURES_BEFORE_WARNING}. Numbers no
   * longer registered are forgotten. @return the reports of this run
   */
  public List<Report> runBackgroundNow() {
    List<Report> reports;
    try {
      reports = examineAll().get(RUN_BOUND.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return List.of();
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      log.warn("Meta doctor: a background run did not finish ({})", e.getClass().getSimpleName());
      return List.of();
    }
    count(reports);
    return reports;
  }

  private synchronized void count(List<Report> reports) {
    streaks.keySet().retainAll(reports.stream().map(Report::phoneNumberId).toList());
    for (Report report : reports) {
      Map<String, Integer> ofNumber = streaks.computeIfAbsent(report.phoneNumberId(), k -> new HashMap<>());
      ofNumber.keySet().retainAll(report.checks().stream().map(Check::key).toList());
      for (Check check : report.checks()) {
        int before = ofNumber.getOrDefault(check.key(), 0);
        int now = check.status() == Status.FAIL ? before + 1 : 0;
        ofNumber.put(check.key(), now);
        if (now == FAILURES_BEFORE_WARNING) {
          log.warn("Meta doctor: check {} of phone number ID {} failed {} times in a row: {}. Fix: {}", check.key(),
              report.phoneNumberId(), now, check.detail(), check.fix().orElse(""));
        } else if (now == 0 && before >= FAILURES_BEFORE_WARNING) {
          log.info("Meta doctor: check {} of phone number ID {} passes again ({}) after {} failures in a row",
              check.key(), report.phoneNumberId(), check.status().wire(), before);
        }
      }
    }
  }

  /** Background failures in a row of one check ({@link Check#key()}) of one number; 0 when none or unknown. */
  public synchronized int consecutiveFailures(String phoneNumberId, String check) {
    return streaks.getOrDefault(phoneNumberId, Map.of()).getOrDefault(check, 0);
  }

  /**
   * How many checks have failed {@value #FAILURES_BEFORE_WARNING} background runs in a row or more: the
   * operator events now in force (the metric {@code metalayer_doctor_failing_checks}).
   */
  public synchronized int failingChecks() {
    int n = 0;
    for (Map<String, Integer> checks : streaks.values()) {
      for (int failures : checks.values()) {
        if (failures >= FAILURES_BEFORE_WARNING) {
          n++;
        }
      }
    }
    return n;
  }

  /** Every check the background doctor counts, by number and check key, with its failures in a row. */
  public synchronized List<Streak> streaks() {
    List<Streak> out = new ArrayList<>();
    streaks.forEach((number, checks) -> checks.forEach((check, n) -> out.add(new Streak(number, check, n))));
    out.sort(Comparator.comparing(Streak::phoneNumberId).thenComparing(Streak::check));
    return out;
  }

  /** Stops the background doctor and the doctor's threads; checks in flight end as Graph timeouts. Idempotent. */
  @Override
  public synchronized void close() {
    if (schedule != null) {
      schedule.shutdownNow();
      schedule = null;
    }
    pool.shutdownNow();
  }

  private static ThreadFactory daemons(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}

package dev.metalayer.relay;

import java.util.Optional;
import java.util.Map;
import java.util.LinkedHashMap;
import java.util.ArrayList;
import java.time.Instant;
import dev.metalayer.keys.WhatsAppNumber;
import dev.metalayer.graph.GraphError;
import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.keys.KeyService;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The call webhook relay, embeddable without any web framework: hand it the raw bytes Meta POSTed and
 * the {@code X-Hub-Signature-256} header, answer Meta with what it returns, and it verifies, stores,
 * splits, routes and delivers. Obtain it from {@link dev.metalayer.MetaLayer#relay()}.
 *
 * <p>Life cycle: deliveries are stored rows; {@link #start()} starts the workers that attempt them
 * (the calls lane and the default lane), {@link #close()} stops them. Without {@code start()}, nothing
 * is sent until {@link #runDueNow()} is called: the deterministic mode for tests and for hosts that
 * schedule work themselves. {@code start()} also purges old history hourly ({@link #purge()}).
 * Thread-safe.
 */
public interface CallWebhookRelay extends AutoCloseable {
  /** Meta's own payload limit: a larger webhook body is refused (413). */
  int MAX_BODY_BYTES = 3 * 1024 * 1024;

  /**
   * The shortest retention: Meta redelivers webhooks for up to 7 days, and the relay recognises a
   * redelivery by the rows it keeps.
   */
  Duration MIN_RETENTION = Duration.ofDays(8);

  /** The answer to a webhook body over {@link #MAX_BODY_BYTES}. */
  static GraphError tooLarge() {
    return GraphError.tooLarge("The webhook body is larger than 3 MB.");
  }

  /**
   * Deliveries one envelope may queue for one number: 4,000 changes times the default subscription cap
   * (25), four times Meta's largest batch (1,000 changes). What is over it is not queued; see
   * {@link IngestResult.Accepted#overFanOut()}.
   */
  int MAX_FANOUT_PER_NUMBER = 100_000;

  /** Default cap on the subscriptions of one number. */
  int DEFAULT_MAX_SUBSCRIPTIONS = 25;

  /** The default hold of a terminate that arrives before its call's connect: see {@link Builder#callTerminateHold}. */
  Duration DEFAULT_TERMINATE_HOLD = Duration.ofSeconds(2);

  /** The longest hold of such a terminate. */
  Duration MAX_TERMINATE_HOLD = Duration.ofSeconds(10);

  /**
   * The relay's one factory, for {@link dev.metalayer.MetaLayer}, which holds the relay's settings in
   * it and builds it with the layer's store, keys and cipher; embedders set these settings on
   * {@code MetaLayer.Builder} and get the relay from {@link dev.metalayer.MetaLayer#relay()}.
   */
  static Builder builder() {
    return new Builder();
  }

  /**
   * Verifies and ingests one webhook POST. When this returns {@link IngestResult.Accepted}, the
   * envelope and its deliveries are durable in the relay store: answer Meta 200 at once. Call
   * deliveries are handed to the calls lane immediately after the commit. An envelope that causes more
   * than 1,000 deliveries is answered once it is stored with its call deliveries; the rest are routed
   * after the answer, by a background thread once {@link #start()}ed, else by {@link #runDueNow()}
   * ({@link IngestResult.Accepted#routingLater()} counts them). A stored envelope not routed yet is
   * routed at the next start, so nothing acknowledged is lost if the process stops in between.
   *
   * @param body the request body exactly as received (never re-encoded)
   * @param signatureHeader the {@code X-Hub-Signature-256} header value, or null when absent
   * @return {@link IngestResult.Accepted}, or {@link IngestResult.Refused} with the Graph-shaped error
   *     to answer (nothing stored, or nothing acknowledged: a store that fails is
   *     {@link IngestResult.Reason#STORE_UNAVAILABLE}, a 503 that Meta retries)
   */
  IngestResult ingest(byte[] body, String signatureHeader);

  /**
   * {@link #ingest(byte[], String)}, the envelope stored with the request id of the webhook POST
   * ({@link dev.metalayer.log.RequestIds}): each delivery it causes carries that id to its subscriber as
   * {@code X-Request-Id}. An id that is empty or not {@linkplain dev.metalayer.log.RequestIds#valid valid}
   * is replaced by a new one. This default ignores the id.
   */
  default IngestResult ingest(byte[] body, String signatureHeader, java.util.Optional<String> requestId) {
    return ingest(body, signatureHeader);
  }

  /** The {@code Retry-After} seconds sent with the 503 of {@link IngestResult.Reason#STORE_UNAVAILABLE}. */
  int STORE_RETRY_AFTER_SECONDS = 10;

  /**
   * The refusal a webhook earns from its {@code X-Hub-Signature-256} header alone, so that an adapter
   * answers it before reading (and holding) the body: {@link #ingest} would refuse it the same way
   * whatever the body. Empty when the body must be read and checked. This default refuses nothing.
   *
   * @param signatureHeader the header value, or null when absent
   */
  default java.util.Optional<IngestResult.Refused> refusalBeforeBody(String signatureHeader) {
    return java.util.Optional.empty();
  }

  /**
   * The numbers Meta sent webhooks for that the layer does not know (answered 200, routed nowhere): the
   * last ones seen, with counts. This default keeps none.
   */
  default UnknownNumbers unknownNumbers() {
    return new UnknownNumbers(java.time.Clock.systemUTC());
  }

  /** Subscriptions of numbers and their delivery log, each call scoped to one number. */
  WebhookSubscriptions subscriptions();

  /** Starts the delivery workers. Idempotent. */
  void start();

  /**
   * The names of the relay's background workers that have stopped while it runs (a lane's scheduler
   * or worker pool, the retention schedule), for a readiness check: such a relay accepts webhooks that
   * it no longer delivers. Empty when all are alive or the relay is not started; this default reports
   * nothing. Thread-safe and cheap.
   */
  default java.util.List<String> deadWorkers() {
    return java.util.List.of();
  }

  /**
   * Routes, on the calling thread, every stored envelope not routed yet, then attempts every delivery
   * due at the layer clock's current time, until none is left (no sleeping, no worker threads).
   * @return how many deliveries were processed
   */
  int runDueNow();

  /**
   * Removes, on the calling thread, the relay history older than the retention period
   * ({@link dev.metalayer.MetaLayer.Builder#retention}): deliveries that are finished ({@code delivered},
   * {@code expired}, {@code dead}) and last changed before it, with their attempts, and envelopes
   * received before it that no pending, delivering or paused delivery still references, and the bodies
   * no remaining delivery refers to. Pending, delivering and paused deliveries are never removed. After {@link #start()} this runs by itself about every hour; hosts
   * that drive {@link #runDueNow()} themselves call it now and then.
   *
   * @return how many rows of each kind were removed
   * @throws dev.metalayer.relay.StoreException when the store fails
   */
  RelayStore.Purged purge();

  /** Stops the workers, letting in-flight attempts finish for up to 10 seconds ({@link #close(Duration)}). Idempotent. */
  @Override
  void close();

  /**
   * Stops the workers: claiming stops at once, in-flight attempts get up to {@code grace} to finish, and
   * those still running then are released (their deliveries pending again, due at once, without an
   * attempt counted: another instance takes them now, this one at its next start). One INFO line says how
   * many finished and how many were released. Idempotent.
   */
  default void close(java.time.Duration grace) {
    close();
  }

  /**
   * The relay's settings: each one's default and range are here, once ({@link dev.metalayer.MetaLayer.Builder}
   * passes its settings on). Not thread-safe.
   */
  final class Builder {
    RelayStore store;
    KeyService keys;
    TokenCipher cipher;
    DeliveryTransport transport;
    EgressGuard egressGuard = EgressGuard.publicOnly();
    Clock clock = Clock.systemUTC();
    SecureRandom random = new SecureRandom();
    List<String> appSecrets = List.of();
    boolean allowUnsignedWebhooks;
    Duration callTtl = Duration.ofSeconds(45);
    Duration terminateHold = DEFAULT_TERMINATE_HOLD;
    Duration retention = Duration.ofDays(14);
    int callsThreads = 16;
    int defaultThreads = 16;
    int concurrencyPerSubscription = 4;
    /** 0: half of each lane's threads. */
    int concurrencyPerNumber;
    int maxSubscriptionsPerNumber = DEFAULT_MAX_SUBSCRIPTIONS;
    boolean soleDeliverer;
    /** The engine's own waits (not options: see {@link #timing}). */
    DeliveryEngine.Timing timing = DeliveryEngine.Timing.DEFAULT;
    dev.metalayer.metrics.LayerMetrics metrics = dev.metalayer.metrics.LayerMetrics.none();

    private Builder() {}

    /**
     * For the relay's own tests: the engine's waits. A long idle poll shows that every path that queues a
     * delivery wakes its lane rather than leaving it to the poll; an early first purge shows what the
     * scheduled purge does without waiting a minute.
     */
    Builder timing(DeliveryEngine.Timing timing) {
      this.timing = Objects.requireNonNull(timing, "timing");
      return this;
    }

    /** Default {@link dev.metalayer.metrics.LayerMetrics#none()}: what the relay counts (webhooks, deliveries, backlog). */
    public Builder metrics(dev.metalayer.metrics.LayerMetrics metrics) {
      this.metrics = Objects.requireNonNull(metrics, "metrics");
      return this;
    }

    /** Default {@link DeliveryTransport#jdk} with the {@link #egressGuard}. */
    public Builder transport(DeliveryTransport transport) {
      this.transport = Objects.requireNonNull(transport, "transport");
      return this;
    }

    /** Default {@link EgressGuard#publicOnly()}. */
    public Builder egressGuard(EgressGuard guard) {
      this.egressGuard = Objects.requireNonNull(guard, "guard");
      return this;
    }

    /** Default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Default a new {@link SecureRandom}. */
    public Builder random(SecureRandom random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /** Default none: every webhook is refused unless unsigned ones are allowed. */
    public Builder appSecrets(List<String> appSecrets) {
      this.appSecrets = List.copyOf(appSecrets);
      return this;
    }

    /** Default false. When true, webhooks without a signature are accepted: for local trials only. */
    public Builder allowUnsignedWebhooks(boolean allow) {
      this.allowUnsignedWebhooks = allow;
      return this;
    }

    /**
     * Default 45 seconds: how long after its receipt a {@code calls} event may still be delivered; for
     * a ring (a {@code connect}), counted from the earlier of its receipt and Meta's {@code timestamp}
     * (a timestamp ahead of the layer's clock does not count). An event not delivered by then is
     * recorded as expired and never sent; a ring that arrives already past it is recorded so at once.
     * Between 1 second and 1 hour.
     */
    public Builder callTtl(Duration ttl) {
      Objects.requireNonNull(ttl, "ttl");
      if (ttl.compareTo(Duration.ofSeconds(1)) < 0 || ttl.compareTo(Duration.ofHours(1)) > 0) {
        throw new IllegalArgumentException("callTtl must be between 1 second and 1 hour");
      }
      this.callTtl = ttl;
      return this;
    }

    /**
     * Default 2 seconds: how long a {@code terminate} that is the first delivery of its call to a
     * subscription waits for its {@code connect} (Meta sometimes sends the terminate first). A connect
     * that arrives within it is delivered first and the terminate right after it; otherwise the terminate
     * is delivered at the end of the window. A terminate whose call already had a delivery is not held.
     * Zero turns the hold off. Between 0 and 10 seconds, and shorter than the {@link #callTtl}.
     */
    public Builder callTerminateHold(Duration hold) {
      Objects.requireNonNull(hold, "hold");
      if (hold.isNegative() || hold.compareTo(MAX_TERMINATE_HOLD) > 0) {
        throw new IllegalArgumentException("callTerminateHold must be between 0 and 10 seconds");
      }
      this.terminateHold = hold;
      return this;
    }

    /**
     * Default 14 days: how long the relay keeps finished deliveries (delivered, expired, dead), their
     * attempts and the envelopes received from Meta; older history is purged about every hour once the
     * relay is started (see {@link CallWebhookRelay#purge()}). Pending, delivering and paused deliveries
     * are always kept. At least {@link CallWebhookRelay#MIN_RETENTION} (8 days): Meta redelivers for up to 7 days, and a
     * redelivery is recognised by the delivery rows of the first one.
     */
    public Builder retention(Duration retention) {
      Objects.requireNonNull(retention, "retention");
      if (retention.compareTo(MIN_RETENTION) < 0) {
        throw new IllegalArgumentException("retention must be at least 8 days (Meta redelivers webhooks for up to"
            + " 7 days and the relay recognises a redelivery by the rows it keeps)");
      }
      this.retention = retention;
      return this;
    }

    /**
     * Default 16 and 16: worker threads of the calls lane and of the default lane. Each lane has its
     * own, so a backlog of messages never delays a call event.
     */
    public Builder relayThreads(int callsLane, int defaultLane) {
      if (callsLane < 1 || defaultLane < 1) {
        throw new IllegalArgumentException("each lane needs at least one thread");
      }
      this.callsThreads = callsLane;
      this.defaultThreads = defaultLane;
      return this;
    }

    /**
     * Default 4: attempts in flight per subscription and lane. A slow subscriber holds at most this
     * many workers, so it never delays the others.
     */
    public Builder concurrencyPerSubscription(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("concurrencyPerSubscription must be at least 1");
      }
      this.concurrencyPerSubscription = max;
      return this;
    }

    /**
     * Default half of each lane's threads (8 of 16): attempts in flight per number and lane, claimed
     * fairly (the number with the fewest in flight first). Whatever one number does (a backlog, hanging
     * subscribers), it holds at most this many workers of a lane; the rest serve the other numbers.
     */
    public Builder concurrencyPerNumber(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("concurrencyPerNumber must be at least 1");
      }
      this.concurrencyPerNumber = max;
      return this;
    }

    /**
     * Default {@value CallWebhookRelay#DEFAULT_MAX_SUBSCRIPTIONS}: webhook subscriptions one number may
     * have. Each change is delivered to each of them, so this bounds a number's fan-out.
     */
    public Builder maxSubscriptionsPerNumber(int max) {
      if (max < 1 || max > 1000) {
        throw new IllegalArgumentException("maxSubscriptionsPerNumber must be from 1 to 1000");
      }
      this.maxSubscriptionsPerNumber = max;
      return this;
    }

    /**
     * Default false. True when this process is the only one delivering from the relay store (the
     * embedded H2 store): deliveries left in flight by a crash are resumed at start instead of after
     * their lease expires, and the call deliveries the previous run owned are claimed at once instead of
     * after {@link RelayStore#OWNER_TIMEOUT}. Never set it when several instances share a database.
     */
    public Builder soleDeliverer(boolean sole) {
      this.soleDeliverer = sole;
      return this;
    }

    /** The relay on {@code store}, routing to the numbers of {@code keys}, opening secrets with {@code cipher}. */
    public CallWebhookRelay build(RelayStore store, KeyService keys, TokenCipher cipher) {
      this.store = Objects.requireNonNull(store, "store");
      this.keys = Objects.requireNonNull(keys, "keys");
      this.cipher = Objects.requireNonNull(cipher, "cipher");
      if (terminateHold.compareTo(callTtl) >= 0) {
        throw new IllegalArgumentException("callTerminateHold must be shorter than callTtl (" + callTtl.toSeconds()
            + " s): a held terminate would expire");
      }
      return new WebhookRelay(this, transport != null ? transport : DeliveryTransport.jdk(egressGuard));
    }
  }

  /** The outcome of handing one webhook POST to the relay. */
  sealed interface IngestResult {

    /**
     * The envelope is stored durably, with its deliveries: answer Meta 200 now.
     *
     * @param changes the {@code entry[] × changes[]} items the envelope held
     * @param deliveries deliveries newly stored (one per change and matching subscription), a call event
     *     already past its TTL included (stored as {@code expired}, never sent), and a ring of a call whose
     *     terminate was already sent (stored as {@code superseded}, never sent)
     * @param duplicates deliveries not queued because the same change was already queued for that
     *     subscription (a Meta redelivery)
     * @param routingLater deliveries of a large envelope that are queued in the background after this
     *     answer (the envelope is durable and is routed even if the process stops first); 0 for most
     * @param overFanOut deliveries not queued because they exceed the fan-out bound of one envelope for
     *     one number ({@link CallWebhookRelay#MAX_FANOUT_PER_NUMBER}); logged, and the envelope is kept
     */
    record Accepted(int changes, int deliveries, int duplicates, int routingLater, int overFanOut)
        implements IngestResult {
      /** Everything routed before the answer, nothing over the bound. */
      public Accepted(int changes, int deliveries, int duplicates) {
        this(changes, deliveries, duplicates, 0, 0);
      }
    }

    /** Nothing was stored (or nothing acknowledged); {@code error} is the Graph-shaped answer (401, 400, 413 or 503). */
    record Refused(Reason reason, GraphError error) implements IngestResult {
      public Refused {
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(error, "error");
      }
    }

    /** Why a webhook was refused. */
    enum Reason {
      /** No {@code X-Hub-Signature-256}, and unsigned webhooks are not allowed. 401. */
      UNSIGNED,
      /** The signature matches none of the configured app secrets. 401. */
      BAD_SIGNATURE,
      /** Not JSON, or not an object with {@code object} and an {@code entry} array. 400. */
      MALFORMED,
      /** {@code object} is not {@code whatsapp_business_account}. 400. */
      WRONG_OBJECT,
      /** The body is over 3 MB, Meta's own limit. 413. */
      TOO_LARGE,
      /**
       * The store failed (unreachable, timed out): the webhook is not acknowledged, so that Meta sends it
       * again. 503 with {@code Retry-After} ({@link CallWebhookRelay#STORE_RETRY_AFTER_SECONDS}). Part of
       * it may be stored already; Meta's retry is then deduplicated as any redelivery.
       */
      STORE_UNAVAILABLE
    }
  }

  /**
   * The numbers Meta sent webhooks for that the layer does not know (answered 200 and routed nowhere), for
   * the operator: the last {@value #MAX_KEPT} seen, each with a count and when it was first and last seen,
   * and a total. A number is kept by its phone number ID, or, for a WABA-level change, by its WABA ID alone.
   * An ID that is not a Graph ID (digits) is kept as {@value #NOT_AN_ID}, so outside text never reaches the
   * operator's view. Bounded memory; thread-safe.
   */
  final class UnknownNumbers {
    /** How many numbers are kept; the one seen least recently gives way. */
    public static final int MAX_KEPT = 100;

    static final String NOT_AN_ID = "(not a Graph ID)";

    /**
     * One unknown number as seen.
     *
     * @param phoneNumberId Meta's phone number ID the change named; empty for a WABA-level change
     * @param wabaId the WABA ID of the change's entry; empty when it had none
     * @param count changes seen for it since the layer started
     */
    public record Seen(Optional<String> phoneNumberId, Optional<String> wabaId, long count, Instant firstSeen,
        Instant lastSeen) {}

    private record Key(String phoneNumberId, String wabaId) {}

    private final Clock clock;
    private final Map<Key, Seen> seen = new LinkedHashMap<>(16, 0.75f, true);
    private long total;

    UnknownNumbers(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
    }

    /**
     * Counts one change for an unknown number. @param phoneNumberId null for a WABA-level change
     * @return what is now kept of it
     */
    synchronized Seen record(String phoneNumberId, String wabaId) {
      Instant now = clock.instant();
      Key key = phoneNumberId != null
          ? new Key(shown(phoneNumberId), null)
          : new Key(null, wabaId == null || wabaId.isEmpty() ? null : shown(wabaId));
      Seen before = seen.get(key);
      Seen after = before == null
          ? new Seen(Optional.ofNullable(key.phoneNumberId()), Optional.ofNullable(shownOrNull(wabaId)), 1, now, now)
          : new Seen(before.phoneNumberId(), before.wabaId(), before.count() + 1, before.firstSeen(), now);
      seen.put(key, after);
      total++;
      if (seen.size() > MAX_KEPT) {
        seen.remove(seen.keySet().iterator().next());
      }
      return after;
    }

    /** The numbers kept, the one seen last first. */
    public synchronized List<Seen> recent() {
      List<Seen> out = new ArrayList<>(seen.values()); // access order: the one recorded last is last
      java.util.Collections.reverse(out);
      return out;
    }

    /** Changes for unknown numbers seen since the layer started, including those of numbers no longer kept. */
    public synchronized long total() {
      return total;
    }

    private static String shownOrNull(String id) {
      return id == null || id.isEmpty() ? null : shown(id);
    }

    /** The ID as the operator sees it: a Graph ID in canonical form, else a fixed placeholder. */
    static String shown(String id) {
      return WhatsAppNumber.isGraphId(id) ? WhatsAppNumber.canonicalId(id) : NOT_AN_ID;
    }
  }
}

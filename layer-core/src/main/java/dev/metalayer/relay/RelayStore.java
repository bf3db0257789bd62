package dev.metalayer.relay;

import dev.metalayer.calls.CallStore;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Persistence of the call webhook relay: received envelopes, subscriptions (with sealed secrets),
 * deliveries as claimable rows, and the attempt log. Implementations (see {@code dev.metalayer.store.Stores}): in memory and
 * on JDBC; both pass the same contract tests. All methods are thread-safe. Nothing here
 * decides a rule: the relay computes states and times, the store keeps them and makes claims exclusive.
 *
 * <p>A delivery is <i>claimable</i> at {@code now} when it is {@code pending} with
 * {@code next_attempt_at <= now}, or {@code delivering} with an expired lease (its worker died), and no
 * other delivery of the same subscription and ordering key that is still {@code pending} or
 * {@code delivering} comes before it. Among those, one comes before another when it arrived earlier
 * (lower arrival sequence), except that a later one of lower {@linkplain CallEvent#rank rank} comes
 * before an earlier one no attempt has reached yet ({@code pending} with no attempt made): a
 * {@code connect} that arrives after its {@code terminate} still goes first while that terminate waits
 * (it is held, see {@link NewDelivery#holdUntil}). A {@code terminate} that is being attempted, or was,
 * never holds back a {@code connect} of its call: that connect is <i>superseded</i> instead. A
 * {@code paused} delivery (its subscription is off) is never claimable: it lies outside every claim's
 * index range, so a paused backlog costs a claim nothing.
 *
 * <p>Supersede: a {@link CallEvent#CONNECT} delivery whose subscription has a {@link CallEvent#TERMINATE}
 * delivery of the same ordering key that is {@code delivering}, {@code delivered}, or was attempted, is
 * never sent: it is stored {@code superseded} when that is known at its insert, and a claim that finds
 * it so ends it {@code superseded} instead of claiming it. On PostgreSQL the claim decides it within
 * its lane's claim turn, so a terminate claimed by one instance while another ingests the connect still
 * ends with the connect superseded.
 *
 * <p>The bytes a delivery is sent with are stored once per envelope and content, however many
 * subscriptions share them (the deliveries of a change to N subscriptions refer to one stored body),
 * read with the claim, and removed with the last delivery that refers to them.
 *
 * <p>Every delivery belongs to the number of its subscription (its phone number ID, {@code ""} when the
 * subscription is unknown at ingest). A claim shares a lane between numbers: see {@link #claimDue}.
 *
 * <p>Several instances may share one store (PostgreSQL). Each claim writes a fresh <i>claim token</i>
 * with its lease; {@link #renew} and {@link #finish} write only while the row still carries it, so an
 * attempt whose lease ended and was taken over writes nothing. A delivery may have an <i>owner</i>, the
 * instance that stored it: no other instance claims it while the owner is alive, that is seen by
 * {@link #heartbeat} within {@link #OWNER_TIMEOUT}. A store used by one instance only (in memory, the H2
 * file) keeps the same rules, which then always let that instance claim its rows.
 */
public interface RelayStore {
  /**
   * How long an instance may go without a {@link #heartbeat} before it counts as dead, and the
   * deliveries it owns are claimed by the others: five beats of the relay's one-second heartbeat.
   */
  Duration OWNER_TIMEOUT = Duration.ofSeconds(5);

  /** A subscription as stored: the value plus its sealed secret (null when it has none). */
  record StoredSubscription(Subscription subscription, byte[] sealedSecret) {
    public StoredSubscription {
      Objects.requireNonNull(subscription, "subscription");
    }
  }

  /**
   * A webhook POST as received.
   *
   * @param requestId the request id of the POST ({@link dev.metalayer.log.RequestIds}), which its
   *     deliveries carry to subscribers; empty for one stored before request ids were (migration V14)
   */
  record Envelope(String id, byte[] body, Instant receivedAt, Optional<String> requestId) {
    public Envelope {
      Objects.requireNonNull(requestId, "requestId");
    }

    /** An envelope without a request id. */
    public Envelope(String id, byte[] body, Instant receivedAt) {
      this(id, body, receivedAt, Optional.empty());
    }
  }

  /**
   * What a delivery of the calls lane is to its call, for the per-call order (see {@link RelayStore}):
   * its {@linkplain #rank() rank} orders the deliveries of one call that no attempt has reached yet.
   */
  enum CallEvent {
    /** A ring: {@code connect}, or the SDP-less {@code call_created} of a SIP number. Rank 0. */
    CONNECT(0),
    /** A call status ({@code statuses[]} of type {@code call}: RINGING, ACCEPTED, REJECTED). Rank 1. */
    STATUS(1),
    /** The call's end ({@code terminate}). Rank 2. */
    TERMINATE(2),
    /**
     * Any other call event: a permission reply, a voicemail, a recording or transcription notice. Rank 3:
     * they follow the call.
     */
    OTHER(3);

    /** The rank of rows stored before the call order (migration V12): between a connect and a terminate. */
    public static final int UNRANKED = 1;

    private final int rank;

    CallEvent(int rank) {
      this.rank = rank;
    }

    public int rank() {
      return rank;
    }

    public String wire() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /**
   * A delivery to queue, made with {@link #builder()}: by default {@code pending} with its first
   * attempt at its creation time, without ordering key and without expiry.
   */
  final class NewDelivery {
    private final String id;
    private final String subscriptionId;
    private final String envelopeId;
    private final String webhookId;
    private final String field;
    private final Lane lane;
    private final byte[] body;
    private final int maxAttempts;
    private final Optional<String> orderingKey;
    private final DeliveryState state;
    private final Optional<Instant> expiresAt;
    private final Instant createdAt;
    private final Optional<String> owner;
    private final Optional<CallEvent> callEvent;
    private final Optional<Instant> holdUntil;

    private NewDelivery(Builder b) {
      this.id = Objects.requireNonNull(b.id, "id");
      this.subscriptionId = Objects.requireNonNull(b.subscriptionId, "subscriptionId");
      this.envelopeId = Objects.requireNonNull(b.envelopeId, "envelopeId");
      this.webhookId = Objects.requireNonNull(b.webhookId, "webhookId");
      this.field = Objects.requireNonNull(b.field, "field");
      this.lane = Objects.requireNonNull(b.lane, "lane");
      this.body = Objects.requireNonNull(b.body, "body");
      this.createdAt = Objects.requireNonNull(b.createdAt, "createdAt");
      if (b.maxAttempts < 1) {
        throw new IllegalArgumentException("a delivery makes at least one attempt");
      }
      this.maxAttempts = b.maxAttempts;
      this.orderingKey = b.orderingKey;
      this.state = b.expired ? DeliveryState.EXPIRED : DeliveryState.PENDING;
      this.expiresAt = b.expiresAt;
      this.owner = b.owner;
      this.callEvent = b.callEvent;
      this.holdUntil = b.holdUntil;
    }

    public static Builder builder() {
      return new Builder();
    }

    public String id() {
      return id;
    }

    public String subscriptionId() {
      return subscriptionId;
    }

    public String envelopeId() {
      return envelopeId;
    }

    /** The change's webhook id: a subscription receives one delivery per webhook id. */
    public String webhookId() {
      return webhookId;
    }

    public String field() {
      return field;
    }

    public Lane lane() {
      return lane;
    }

    /** The bytes to send, exactly. */
    public byte[] body() {
      return body;
    }

    public int maxAttempts() {
      return maxAttempts;
    }

    /** Deliveries with the same subscription and key are attempted in insertion order. */
    public Optional<String> orderingKey() {
      return orderingKey;
    }

    /**
     * {@code pending}, or {@code expired} for a call event already past its TTL when it arrived:
     * recorded (it shows in the log and makes a later redelivery a duplicate), never sent.
     */
    public DeliveryState state() {
      return state;
    }

    /** The first attempt's time: its creation when pending; empty when expired. */
    public Optional<Instant> nextAttemptAt() {
      return state == DeliveryState.PENDING ? Optional.of(createdAt) : Optional.empty();
    }

    public Optional<Instant> expiresAt() {
      return expiresAt;
    }

    public Instant createdAt() {
      return createdAt;
    }

    /** The instance that owns it (see {@link RelayStore}); empty: any instance claims it. */
    public Optional<String> owner() {
      return owner;
    }

    /** What it is to its call (a calls-lane delivery with an ordering key); empty otherwise. */
    public Optional<CallEvent> callEvent() {
      return callEvent;
    }

    /** The rank the store orders it by: its call event's, else {@link CallEvent#UNRANKED}. */
    public int callRank() {
      return callEvent.map(CallEvent::rank).orElse(CallEvent.UNRANKED);
    }

    /**
     * The hold of a terminate: when this delivery is the first of its ordering key for its subscription
     * (no delivery of that key is stored, in any state), its first attempt is not before this time;
     * otherwise, and when empty, it is due at its creation. A {@link CallEvent#CONNECT} stored later
     * for the same key ends the hold: a held delivery of its key that no attempt has reached becomes due
     * at the connect's creation (and goes after it, by rank).
     */
    public Optional<Instant> holdUntil() {
      return holdUntil;
    }

    /** Collects a new delivery; {@link #build()} checks that every required part is set. */
    public static final class Builder {
      private String id;
      private String subscriptionId;
      private String envelopeId;
      private String webhookId;
      private String field;
      private Lane lane;
      private byte[] body;
      private int maxAttempts = 1;
      private Optional<String> orderingKey = Optional.empty();
      private boolean expired;
      private Optional<Instant> expiresAt = Optional.empty();
      private Instant createdAt;
      private Optional<String> owner = Optional.empty();
      private Optional<CallEvent> callEvent = Optional.empty();
      private Optional<Instant> holdUntil = Optional.empty();

      private Builder() {}

      /** Required: the delivery's id, its subscription and the envelope it came in. */
      public Builder ids(String id, String subscriptionId, String envelopeId) {
        this.id = id;
        this.subscriptionId = subscriptionId;
        this.envelopeId = envelopeId;
        return this;
      }

      /** Required: the change's webhook id, field and lane, and the bytes to send. */
      public Builder change(String webhookId, String field, Lane lane, byte[] body) {
        this.webhookId = webhookId;
        this.field = field;
        this.lane = lane;
        this.body = body;
        return this;
      }

      /** Required: when the delivery was made (and, when pending, its first attempt's time). */
      public Builder createdAt(Instant createdAt) {
        this.createdAt = createdAt;
        return this;
      }

      /** Default 1. */
      public Builder maxAttempts(int maxAttempts) {
        this.maxAttempts = maxAttempts;
        return this;
      }

      /** Default none. */
      public Builder orderingKey(Optional<String> orderingKey) {
        this.orderingKey = Objects.requireNonNull(orderingKey, "orderingKey");
        return this;
      }

      /** Default none. */
      public Builder expiresAt(Optional<Instant> expiresAt) {
        this.expiresAt = Objects.requireNonNull(expiresAt, "expiresAt");
        return this;
      }

      /**
       * Default none: any instance claims it. An instance id: no other instance claims it while that one
       * is alive (see {@link RelayStore}).
       */
      public Builder owner(Optional<String> instanceId) {
        this.owner = Objects.requireNonNull(instanceId, "instanceId");
        return this;
      }

      /** Default none. */
      public Builder callEvent(Optional<CallEvent> callEvent) {
        this.callEvent = Objects.requireNonNull(callEvent, "callEvent");
        return this;
      }

      /** Default none: due at its creation. See {@link NewDelivery#holdUntil()}. */
      public Builder holdUntil(Optional<Instant> holdUntil) {
        this.holdUntil = Objects.requireNonNull(holdUntil, "holdUntil");
        return this;
      }

      /** Default false: pending. True: recorded as {@code expired}, never attempted. */
      public Builder expired(boolean expired) {
        this.expired = expired;
        return this;
      }

      public NewDelivery build() {
        return new NewDelivery(this);
      }
    }
  }

  /**
   * A delivery a worker now holds, under a lease.
   *
   * @param attempts attempts made before this claim
   * @param claimToken this claim's token: {@link #renew} and {@link #finish} write only with it
   * @param requestId the request id of its envelope ({@link Envelope#requestId()}), if it has one
   * @param createdAt when the delivery was queued (its webhook's ingest, or a replay)
   */
  record Claimed(
      String id,
      String subscriptionId,
      String webhookId,
      String field,
      Lane lane,
      byte[] body,
      int attempts,
      int maxAttempts,
      Optional<Instant> expiresAt,
      String claimToken,
      Optional<String> requestId,
      Instant createdAt) {
    public Claimed {
      Objects.requireNonNull(requestId, "requestId");
      Objects.requireNonNull(createdAt, "createdAt");
    }
  }

  /** A running {@linkplain #listen listener}; {@link #close()} stops it. */
  interface Listening extends AutoCloseable {
    /** Stops listening. Idempotent; never throws. */
    @Override
    void close();
  }

  /** One attempt to log. @param status null when no answer came */
  record AttemptRecord(Instant at, Integer status, long latencyMs, String error, String responseExcerpt) {}

  /** What one {@linkplain #purge purge} removed: rows of each kind. */
  record Purged(int deliveries, int attempts, int envelopes) {
    public static final Purged NOTHING = new Purged(0, 0, 0);

    public Purged plus(Purged other) {
      return new Purged(deliveries + other.deliveries, attempts + other.attempts, envelopes + other.envelopes);
    }
  }

  // ---- subscriptions

  /**
   * Inserts the subscription unless its number already has {@code maxPerNumber} subscriptions: the
   * count and the insert are one step, for every writer of the store (on PostgreSQL, creators of one
   * number are serialized across instances by a transaction-scoped advisory lock on the number).
   *
   * @return false when the number is at its cap (nothing was inserted)
   */
  boolean insertSubscription(StoredSubscription subscription, int maxPerNumber);

  /** {@link #insertSubscription(StoredSubscription, int)} without a cap. */
  default void insertSubscription(StoredSubscription subscription) {
    insertSubscription(subscription, Integer.MAX_VALUE);
  }

  Optional<StoredSubscription> findSubscription(String id);

  /** The subscriptions of one number, oldest first. */
  List<StoredSubscription> subscriptionsOf(String phoneNumberId);

  /**
   * Replaces every column but id, number and created_at; when this turns the subscription off or on,
   * pauses or resumes its deliveries as {@link #setActive} does, in the same transaction.
   * @return false when there is no such id
   */
  boolean updateSubscription(StoredSubscription subscription);

  /**
   * Turns a subscription off or on, with its backlog, in one transaction. Off: its {@code pending}
   * deliveries become {@code paused} (a delivery being attempted finishes; should it need another
   * attempt, its next claim {@linkplain #park parks} it). On: its {@code paused} deliveries become
   * {@code pending}, due at {@code at}, and are claimed in their order of arrival (a call event whose
   * TTL passed meanwhile ends {@code expired} at that claim). Setting the state it already has changes
   * no delivery. This is the one place a backlog resumes: the caller wakes the delivery engine.
   *
   * @return false when there is no such id
   */
  boolean setActive(String id, boolean active, Instant at);

  /** Removes the subscription with its deliveries, their attempts and the bodies only they used. @return false when unknown */
  boolean deleteSubscription(String id);

  /**
   * In one transaction, removes every subscription of a number with its deliveries (pending ones
   * included) and their attempts. @return how many subscriptions were removed
   */
  int deleteSubscriptionsOf(String phoneNumberId);

  // ---- ingest

  /**
   * In one transaction: stores the envelope and every delivery whose (subscription, webhook id) is
   * not queued yet. When this returns, all of it is durable.
   *
   * @return the ids of the deliveries inserted (the others were duplicates)
   */
  default List<String> ingest(Envelope envelope, List<NewDelivery> deliveries) {
    return ingest(envelope, deliveries, List.of());
  }

  /**
   * {@link #ingest(Envelope, List)}, and, in the same transaction, the call events of the envelope's
   * changes folded into their call records ({@link CallStore#record}): a failed ingest leaves no call
   * record, and a stored envelope is never without its calls' events.
   */
  List<String> ingest(Envelope envelope, List<NewDelivery> deliveries, List<CallStore.Event> callEvents);

  /**
   * In one transaction: stores the envelope marked <i>unrouted</i>, with the deliveries given (those
   * that cannot wait, e.g. its calls; the same duplicate rule as {@link #ingest}). When this returns, the
   * envelope is durable; it stays listed by {@link #unrouted} until {@link #route} marks it routed, and
   * retention never removes it before. @return the ids of the deliveries inserted
   */
  default List<String> ingestUnrouted(Envelope envelope, List<NewDelivery> deliveries) {
    return ingestUnrouted(envelope, deliveries, List.of());
  }

  /** {@link #ingestUnrouted(Envelope, List)} with the envelope's call events, as {@link #ingest(Envelope, List, List)}. */
  List<String> ingestUnrouted(Envelope envelope, List<NewDelivery> deliveries, List<CallStore.Event> callEvents);

  /**
   * The call records kept beside the relay's rows (in the same database, sharing its transactions: see
   * {@link #ingest(Envelope, List, List)}). The same instance on every call.
   */
  CallStore calls();

  /** Up to {@code limit} envelopes stored by {@link #ingestUnrouted} and not routed yet, oldest first. */
  List<Envelope> unrouted(int limit);

  /**
   * In one transaction, inserts deliveries of an envelope (the same duplicate rule as {@link #ingest}),
   * and, when {@code last}, marks the envelope routed. Routing an envelope again after a crash inserts
   * nothing twice. @return the ids of the deliveries inserted
   */
  List<String> route(String envelopeId, List<NewDelivery> deliveries, boolean last);

  // ---- the engine

  /**
   * Claims, for the instance {@code instance}, up to {@code limit} claimable deliveries of {@code lane}
   * at {@code now}, shared between numbers, skipping the subscriptions in {@code skip}; each claimed row
   * becomes {@code delivering} until {@code leaseUntil}, with a new {@linkplain Claimed#claimToken claim
   * token}. Exclusive: a row is never claimed twice while its lease runs.
   *
   * <p>Ownership: a delivery owned by another instance is claimable only when that instance was not
   * {@linkplain #heartbeat seen} within {@link #OWNER_TIMEOUT} before {@code now} (it died, or stopped);
   * the claim then makes {@code instance} its owner, so that its retries stay there.
   *
   * <p>The fair share: a number's <i>load</i> is how many of its deliveries of the lane are
   * {@code delivering} under a lease that has not ended (in this process or another), plus those this
   * claim takes. The claim takes one delivery at a time from the number with the lowest load (ties: the
   * number whose oldest claimable delivery is oldest), that number's oldest claimable delivery (a
   * crashed attempt's lease first, then by due time and arrival), and never brings a number's load above
   * {@code perNumber}. So a number that has nothing in flight is served before any number that has, and
   * a backlog of one number never stands before another number's first delivery.
   */
  List<Claimed> claimDue(Lane lane, String instance, Instant now, Instant leaseUntil, int limit, int perNumber,
      Set<String> skip);

  /** {@link #claimDue(Lane, String, Instant, Instant, int, int, Set)} for an instance that owns nothing. */
  default List<Claimed> claimDue(Lane lane, Instant now, Instant leaseUntil, int limit, int perNumber, Set<String> skip) {
    return claimDue(lane, "", now, leaseUntil, limit, perNumber, skip);
  }

  /** {@link #claimDue(Lane, Instant, Instant, int, int, Set)} without a cap per number. */
  default List<Claimed> claimDue(Lane lane, Instant now, Instant leaseUntil, int limit, Set<String> skip) {
    return claimDue(lane, now, leaseUntil, limit, Integer.MAX_VALUE, skip);
  }

  /**
   * Extends a claim's lease to {@code leaseUntil}, if the claim still holds the row: {@code delivering}
   * with {@code claimToken}. An attempt calls it right before sending. @return false when the claim was
   * lost (another claim took the row after its lease ended, or the row is finished or deleted): then do
   * not send
   */
  boolean renew(String deliveryId, String claimToken, Instant leaseUntil);

  /**
   * Records the end of a claim, if the claim still holds the row ({@code delivering} with
   * {@code claimToken}): the attempt (null when none was made, e.g. an expired call), the new state and
   * the next attempt time (null in final states). Clears the lease and the token. All or nothing.
   *
   * @return false when the claim was lost (see {@link #renew}): nothing was written
   */
  boolean finish(String deliveryId, String claimToken, AttemptRecord attempt, DeliveryState state, Instant nextAttemptAt,
      Instant at);

  /**
   * Ends a claim without an attempt because its subscription was found turned off: the delivery
   * becomes {@code paused}, unless the subscription was turned on meanwhile, in which case it becomes
   * {@code pending} at {@code at} (it is never left paused under an active subscription: this reads the
   * subscription under the same lock {@link #setActive} writes it). A delivery or subscription gone
   * meanwhile is left alone, and so is a row this claim no longer holds (its lease was taken over: the
   * claim token is checked). Clears the lease; records no attempt.
   *
   * @return true when the delivery is now paused
   */
  boolean park(Claimed claim, Instant at);

  /**
   * The earliest time something of {@code lane} may become claimable, by any instance (a delivery
   * another live instance owns included: the caller may then find nothing it can claim, until the owner
   * claims it); empty when nothing is pending.
   */
  Optional<Instant> nextWake(Lane lane);

  /**
   * Releases every lease, and the ownership of every open delivery (after a crash, when this process is
   * the store's only deliverer: whatever instance held them is gone). @return the leases released
   */
  int releaseLeases(Instant now);

  // ---- instances

  /** Records that {@code instance} is alive at {@code at}; the first beat registers it. */
  void heartbeat(String instance, Instant at);

  /** Forgets {@code instance} (it stops): the deliveries it owns are claimable by the others at once. */
  void retire(String instance);

  /**
   * Calls {@code wake} with a lane when another instance sharing this store has made something of that
   * lane claimable (new deliveries, a replay, a subscription turned on), until the returned listener is
   * closed: the other instances act on it without waiting for their poll. A store with one instance only
   * has nothing to hear: this default listens to nothing. {@code wake} must be quick and must not throw.
   */
  default Listening listen(Consumer<Lane> wake) {
    return () -> {};
  }

  /**
   * Makes a finished delivery (delivered, dead, expired) pending again for one more attempt at
   * {@code now}, without expiry; brings a pending delivery's next attempt forward to {@code now},
   * keeping its remaining attempts and its expiry. Refused (false) when unknown, currently
   * {@code delivering}, {@code paused} (its subscription is off: turning it on resumes every paused
   * delivery at once, in order), or {@code superseded} (a ring of a call whose end the subscriber was
   * sent: never sent, not even on request).
   */
  boolean replay(String deliveryId, Instant now);

  // ---- retention

  /**
   * Removes history from before {@code cutoff}, at most {@code limit} deliveries and at most
   * {@code limit} envelopes per call (each call is short; repeat while a count reaches the limit):
   * deliveries in a final state ({@code delivered}, {@code expired}, {@code dead}, {@code superseded})
   * whose last change is
   * older than {@code cutoff}, with their attempts and the bodies no other delivery refers to; then routed
   * envelopes received before {@code cutoff} that no {@code pending}, {@code delivering} or {@code paused}
   * delivery references. Pending, delivering and paused deliveries (and their bodies) are never removed,
   * whatever their age. Subscriptions are not touched.
   */
  Purged purge(Instant cutoff, int limit);

  // ---- the log

  Optional<Delivery> findDelivery(String id);

  /**
   * The deliveries of {@code lane} that are pending or in flight, and when the oldest of them was
   * queued: what the backlog gauges show (read at most every few seconds). One statement, whose cost grows
   * with the backlog, not with history. Default: none (a store that cannot tell).
   */
  default dev.metalayer.metrics.LayerMetrics.Backlog backlog(Lane lane) {
    return dev.metalayer.metrics.LayerMetrics.Backlog.EMPTY;
  }

  /** The deliveries of a subscription, newest first, with their attempts. */
  List<Delivery> deliveries(String subscriptionId, Optional<DeliveryState> state, int limit);

  /** The envelope as received. */
  Optional<Envelope> findEnvelope(String id);

  // ---- when webhooks last arrived, per number (the Meta doctor reads it)

  /**
   * Records that a webhook for each of {@code phoneNumberIds} was received at {@code at}: a number's time
   * only moves forward (an earlier {@code at} than the one stored changes nothing). Kept when the
   * number's subscriptions go; not purged by retention (one row per number).
   */
  void webhooksReceived(Collection<String> phoneNumberIds, Instant at);

  /** When a webhook for the number was last {@linkplain #webhooksReceived recorded}; empty when never. */
  Optional<Instant> lastWebhook(String phoneNumberId);

  /** Whether the store answers right now. Never throws. */
  boolean ping();

  // ---- the operator's charts

  /**
   * The deliveries of one lane that ended {@code delivered} within one minute: how many, and the sum and
   * maximum of their ingest-to-delivery latency (from the delivery's creation to its last change).
   *
   * @param minute whole minutes from the {@code since} of {@link #deliveredSince} (0 the first)
   */
  record DeliveredMinute(Lane lane, long minute, long count, long latencySumMs, long latencyMaxMs) {}

  /**
   * The deliveries that ended {@code delivered} at or after {@code since}, per lane and minute: one range
   * read of the finished deliveries (the index on state and last change), at most lanes × minutes rows.
   */
  List<DeliveredMinute> deliveredSince(Instant since);

  /** How many deliveries of {@code lane} wait ({@code pending} or {@code delivering}), counting at most {@code cap}. */
  long queueDepth(Lane lane, long cap);
}

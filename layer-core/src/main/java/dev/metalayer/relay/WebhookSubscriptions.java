package dev.metalayer.relay;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Objects;
import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.keys.KeyService;
import dev.metalayer.keys.WhatsAppNumber;
import dev.metalayer.relay.RelayStore.StoredSubscription;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The subscriptions of numbers and their delivery log. Every method takes the phone number ID the
 * caller acts for (the number of its key): a subscription of another number is not found, exactly as
 * one that does not exist. Secrets are sealed before they are stored and never returned. Thread-safe.
 *
 * <p>Validation: {@code name} 1–100 characters; {@code url} an absolute http(s) URL without user info
 * whose addresses the {@link EgressGuard} permits; {@code events} 1–50 {@linkplain Events known}
 * names; {@code secret} 8–200 characters without control characters. At most
 * {@code maxPerNumber} subscriptions per number (default {@value CallWebhookRelay#DEFAULT_MAX_SUBSCRIPTIONS},
 * {@link dev.metalayer.MetaLayer.Builder#maxSubscriptionsPerNumber}): a refusal names the rule.
 */
public final class WebhookSubscriptions {
  private static final Logger log = LoggerFactory.getLogger(WebhookSubscriptions.class);
  static final int MAX_LOG = 200;
  /** Why a replay of a {@code paused} delivery is refused: what the API answers. */
  public static final String PAUSED_REPLAY = "This delivery is paused because its subscription is turned off; turn"
      + " the subscription back on (PATCH with \"active\": true) and its paused deliveries are attempted at once, in"
      + " order.";
  /** Why a replay of a {@code superseded} delivery is refused: what the API answers. */
  public static final String SUPERSEDED_REPLAY = "This delivery is superseded: it is the ring of a call whose terminate"
      + " was sent to this subscription first, and a late ring would show a call that has ended. It is never sent.";

  /**
   * Why the API refuses a replay that left the delivery in {@code state} (what {@link #retry} returned):
   * paused and superseded deliveries are not replayed. @return empty when the replay was queued
   */
  public static Optional<String> refusedReplay(DeliveryState state) {
    return switch (state) {
      case PAUSED -> Optional.of(PAUSED_REPLAY);
      case SUPERSEDED -> Optional.of(SUPERSEDED_REPLAY);
      default -> Optional.empty();
    };
  }

  private final Router router;
  private final DeliveryEngine engine;
  private final RelayStore store;
  private final KeyService keys;
  private final TokenCipher cipher;
  private final EgressGuard guard;
  private final Clock clock;
  private final int maxPerNumber;

  WebhookSubscriptions(Router router, DeliveryEngine engine, RelayStore store, KeyService keys, TokenCipher cipher,
      EgressGuard guard, Clock clock, int maxPerNumber) {
    this.router = router;
    this.engine = engine;
    this.store = store;
    this.keys = keys;
    this.cipher = cipher;
    this.guard = guard;
    this.clock = clock;
    this.maxPerNumber = maxPerNumber;
  }

  public Outcome create(String phoneNumberId, Spec spec) {
    if (spec.name() == null || spec.url() == null || spec.events() == null) {
      return new Outcome.Invalid("name, url and events are required.");
    }
    Optional<String> invalid = validate(spec);
    if (invalid.isPresent()) {
      return new Outcome.Invalid(invalid.get());
    }
    Instant now = clock.instant();
    String id = router.newId("wh");
    byte[] sealed = spec.secret() == null ? null : cipher.seal(spec.secret(), id);
    Subscription s = new Subscription(id, phoneNumberId, spec.name().strip(), spec.url().strip(), events(spec.events()),
        spec.active() == null || spec.active(), Boolean.TRUE.equals(spec.chatwootTerminateReason()), sealed != null,
        now, now);
    // the count and the insert are one step in the store, across instances: the cap holds
    if (!store.insertSubscription(new StoredSubscription(s, sealed), maxPerNumber)) {
      return new Outcome.Invalid("Subscription cap: a number may have at most " + maxPerNumber
          + " subscriptions (LAYER_MAX_SUBSCRIPTIONS_PER_NUMBER).");
    }
    // A number removed meanwhile (on this instance or another) must not keep a subscription. Removal
    // deletes the number first (its keys stop), then its subscriptions (KeyService#removeNumber); this
    // inserts first, then reads the number afresh from the store (not a cache):
    //  - the removal deleted the number before this read: the read finds it gone, and this deletes what
    //    it inserted (the removal's own delete may have taken it already: both are idempotent);
    //  - this read came first: the number still existed, so the insert above committed before the
    //    removal deleted the number, hence before the removal deleted the number's subscriptions, which
    //    therefore takes this one too.
    // Either way no subscription outlives its number (a removal that failed half way is repeated, and
    // its repetition deletes the subscriptions again).
    if (!keys.isRegistered(phoneNumberId)) {
      store.deleteSubscription(id);
      log.info("Webhook subscription {} not kept: phone number ID {} was removed meanwhile", id, phoneNumberId);
      return new Outcome.Invalid("This number is not registered in the layer (it was removed): no subscription was"
          + " created.");
    }
    log.info("Created webhook subscription {} for phone number ID {} (events {})", id, phoneNumberId, s.events());
    return new Outcome.Saved(s);
  }

  public List<Subscription> list(String phoneNumberId) {
    return store.subscriptionsOf(phoneNumberId).stream().map(StoredSubscription::subscription).toList();
  }

  public Optional<Subscription> find(String phoneNumberId, String id) {
    return owned(phoneNumberId, id).map(StoredSubscription::subscription);
  }

  /**
   * Any subscription, for the operator (not scoped to a number; the caller has checked the operator's
   * credential). Its {@link Subscription#phoneNumberId()} then scopes the calls made for it.
   */
  public Optional<Subscription> findForOperator(String id) {
    return id == null ? Optional.empty() : store.findSubscription(id).map(StoredSubscription::subscription);
  }

  /** Changes only the fields the patch names (merge-safe). */
  public Outcome update(String phoneNumberId, String id, Spec patch) {
    Optional<StoredSubscription> found = owned(phoneNumberId, id);
    if (found.isEmpty()) {
      return new Outcome.NotFound();
    }
    Optional<String> invalid = validate(patch);
    if (invalid.isPresent()) {
      return new Outcome.Invalid(invalid.get());
    }
    Subscription old = found.get().subscription();
    byte[] sealed = patch.secret() == null ? found.get().sealedSecret() : cipher.seal(patch.secret(), id);
    Subscription s = new Subscription(id, old.phoneNumberId(),
        patch.name() == null ? old.name() : patch.name().strip(),
        patch.url() == null ? old.url() : patch.url().strip(),
        patch.events() == null ? old.events() : events(patch.events()),
        patch.active() == null ? old.active() : patch.active(),
        patch.chatwootTerminateReason() == null ? old.chatwootTerminateReason() : patch.chatwootTerminateReason(),
        sealed != null, old.createdAt(), clock.instant());
    // turning it off pauses its pending deliveries, turning it on resumes them, in the same write
    if (!store.updateSubscription(new StoredSubscription(s, sealed))) {
      return new Outcome.NotFound();
    }
    if (s.active() && !old.active()) {
      resumed(id);
    } else if (!s.active() && old.active()) {
      log.info("Webhook subscription {} turned off: its pending deliveries are paused", id);
    }
    return new Outcome.Saved(s);
  }

  /**
   * The backlog of a subscription turned back on is pending, due now: both lanes are woken at once
   * (this instance's engine; other instances are told through the store's wake-ups, if it has them).
   */
  private void resumed(String id) {
    for (Lane lane : Lane.values()) {
      engine.wake(lane);
    }
    log.info("Webhook subscription {} turned on: its paused deliveries are pending again", id);
  }

  /** Removes the subscription and its delivery log. @return false when not found for this number */
  public boolean delete(String phoneNumberId, String id) {
    return owned(phoneNumberId, id).isPresent() && store.deleteSubscription(id);
  }

  /**
   * Removes every subscription of a number with its deliveries, pending ones included (they are never
   * sent; an attempt already in flight still completes, and its outcome is dropped). Called when the
   * number itself is removed. Idempotent. @return how many subscriptions were removed
   */
  public int deleteAll(String phoneNumberId) {
    int removed = store.deleteSubscriptionsOf(phoneNumberId);
    if (removed > 0) {
      log.info("Removed {} webhook subscription(s) of phone number ID {} with their deliveries", removed, phoneNumberId);
    }
    return removed;
  }

  /**
   * The delivery log of a subscription, newest first, each with its attempts.
   *
   * @param limit 1–200
   * @return empty when the subscription is not found for this number
   */
  public Optional<List<Delivery>> deliveries(String phoneNumberId, String id, Optional<DeliveryState> state, int limit) {
    if (owned(phoneNumberId, id).isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(store.deliveries(id, state, Math.max(1, Math.min(MAX_LOG, limit))));
  }

  /**
   * The delivery log of any subscription, for the operator (not scoped to a number; the caller has
   * checked the operator's credential). @return empty when there is no such subscription
   */
  public Optional<List<Delivery>> deliveriesForOperator(String id, Optional<DeliveryState> state, int limit) {
    if (id == null || store.findSubscription(id).isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(store.deliveries(id, state, Math.max(1, Math.min(MAX_LOG, limit))));
  }

  /**
   * Queues one more attempt of a finished delivery, at once and without expiry: dead and expired
   * deliveries included (a replay). A pending delivery is attempted at once and keeps its remaining
   * attempts and expiry. A delivery being attempted right now is left as it is, and so are a
   * {@code paused} one (its subscription is off) and a {@code superseded} one (a ring of a call that has
   * ended): the caller answers {@link #refusedReplay}.
   *
   * @return the delivery after the request; empty when not found for this subscription and number
   */
  public Optional<Delivery> retry(String phoneNumberId, String id, String deliveryId) {
    if (owned(phoneNumberId, id).isEmpty()) {
      return Optional.empty();
    }
    Optional<Delivery> d = store.findDelivery(deliveryId).filter(x -> x.subscriptionId().equals(id));
    if (d.isEmpty()) {
      return Optional.empty();
    }
    if (store.replay(deliveryId, clock.instant())) {
      engine.wake(d.get().lane());
      log.info("Replay of delivery {} requested", deliveryId);
    }
    return store.findDelivery(deliveryId);
  }

  /**
   * Queues a synthetic {@code test} event for the subscription, routed and delivered like any change
   * (default lane, one attempt), to this subscription only, whatever events it asks for:
   * {@code {"object":"whatsapp_business_account","entry":[{"id":<waba>,"changes":[{"field":"test",
   * "value":{…,"metadata":{…},"test":{"id":<delivery id>,…}}}]}]}}.
   *
   * @return the queued delivery; empty when not found for this number
   */
  public Optional<Delivery> sendTest(String phoneNumberId, String id) {
    Optional<StoredSubscription> owned = owned(phoneNumberId, id);
    if (owned.isEmpty()) {
      return Optional.empty();
    }
    Optional<WhatsAppNumber> number = keys.findNumber(phoneNumberId);
    String waba = number.map(WhatsAppNumber::wabaId).orElse("0");
    String display = number.map(WhatsAppNumber::digits).orElse("");
    String deliveryId = router.newId("dlv");
    String body = "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + waba + "\",\"changes\":[{"
        + "\"field\":\"" + Events.TEST + "\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{"
        + "\"display_phone_number\":\"" + display + "\",\"phone_number_id\":\"" + phoneNumberId + "\"},\"test\":{"
        + "\"id\":\"" + deliveryId + "\",\"message\":\"Meta Layer test event\",\"sent_at\":\"" + clock.instant()
        + "\"}}}]}]}";
    router.routeTest(body.getBytes(StandardCharsets.UTF_8), owned.get().subscription(), deliveryId);
    return store.findDelivery(deliveryId);
  }

  /** How far back the operator's charts look, in whole minutes. */
  public static final int CHART_MINUTES = 60;

  /** The queue depth is counted up to this many deliveries per lane (a bounded read). */
  public static final long QUEUE_DEPTH_CAP = 100_000;

  /**
   * The operator's charts of one lane: its deliveries per minute over the last {@link #CHART_MINUTES}
   * minutes (oldest first, one entry per minute, empty minutes included) with their mean and maximum
   * ingest-to-delivery latency, and how many deliveries wait now.
   *
   * @param queueDepth counted up to {@link #QUEUE_DEPTH_CAP}; {@code queueDepthCapped} says it was reached
   */
  public record LaneChart(Lane lane, List<Minute> minutes, long queueDepth, boolean queueDepthCapped) {}

  /**
   * One minute of a {@link LaneChart}, from {@code start}: how many deliveries ended delivered, and their
   * mean and maximum latency (empty when none).
   */
  public record Minute(Instant start, long delivered, Optional<Long> meanLatencyMs, Optional<Long> maxLatencyMs) {}

  /**
   * The charts of every lane for the last {@link #CHART_MINUTES} minutes, ending with the current minute:
   * one bounded read of the deliveries that ended delivered since then (at most lanes × minutes rows), and
   * one bounded count per lane. Computed on each call.
   */
  public List<LaneChart> charts() {
    Instant now = clock.instant();
    Instant since = now.truncatedTo(java.time.temporal.ChronoUnit.MINUTES).minus(java.time.Duration.ofMinutes(CHART_MINUTES - 1));
    List<RelayStore.DeliveredMinute> delivered = store.deliveredSince(since);
    List<LaneChart> charts = new ArrayList<>();
    for (Lane lane : Lane.values()) {
      RelayStore.DeliveredMinute[] byMinute = new RelayStore.DeliveredMinute[CHART_MINUTES];
      for (RelayStore.DeliveredMinute m : delivered) {
        if (m.lane() == lane && m.minute() >= 0 && m.minute() < CHART_MINUTES) {
          byMinute[(int) m.minute()] = m;
        }
      }
      List<Minute> minutes = new ArrayList<>(CHART_MINUTES);
      for (int i = 0; i < CHART_MINUTES; i++) {
        RelayStore.DeliveredMinute m = byMinute[i];
        minutes.add(m == null || m.count() == 0
            ? new Minute(since.plus(java.time.Duration.ofMinutes(i)), 0, Optional.empty(), Optional.empty())
            : new Minute(since.plus(java.time.Duration.ofMinutes(i)), m.count(), Optional.of(m.latencySumMs() / m.count()),
                Optional.of(m.latencyMaxMs())));
      }
      long depth = store.queueDepth(lane, QUEUE_DEPTH_CAP);
      charts.add(new LaneChart(lane, List.copyOf(minutes), depth, depth >= QUEUE_DEPTH_CAP));
    }
    return List.copyOf(charts);
  }

  private Optional<StoredSubscription> owned(String phoneNumberId, String id) {
    if (id == null || phoneNumberId == null) {
      return Optional.empty();
    }
    return store.findSubscription(id).filter(s -> s.subscription().phoneNumberId().equals(phoneNumberId));
  }

  /** Checks the fields present in {@code spec}; null fields are not checked. */
  private Optional<String> validate(Spec spec) {
    if (spec.name() != null && (spec.name().isBlank() || spec.name().strip().length() > 100)) {
      return Optional.of("name must be 1 to 100 characters.");
    }
    if (spec.events() != null) {
      if (spec.events().isEmpty() || spec.events().size() > 50) {
        return Optional.of("events must list 1 to 50 event names.");
      }
      for (String e : spec.events()) {
        if (e == null || !Events.isKnown(e)) {
          return Optional.of("events may only hold known event names: " + String.join(", ", Events.known()) + ".");
        }
      }
    }
    if (spec.secret() != null) {
      String s = spec.secret();
      if (s.length() < 8 || s.length() > 200 || s.chars().anyMatch(Character::isISOControl) || !s.equals(s.strip())) {
        return Optional.of("secret must be 8 to 200 characters, without control characters or surrounding spaces.");
      }
    }
    if (spec.url() != null) {
      if (spec.url().length() > 2048) {
        return Optional.of("url must be at most 2048 characters.");
      }
      Optional<String> refused = guard.checkUrl(spec.url().strip());
      if (refused.isPresent()) {
        return refused;
      }
    }
    return Optional.empty();
  }

  private static List<String> events(List<String> requested) {
    Set<String> unique = new LinkedHashSet<>(requested);
    return new ArrayList<>(unique);
  }

  /** The outcome of creating or changing a subscription. */
  public sealed interface Outcome {

    record Saved(Subscription subscription) implements Outcome {
      public Saved {
        Objects.requireNonNull(subscription, "subscription");
      }
    }

    /** The request was refused; {@code message} is safe to show the client (it never echoes a secret). */
    record Invalid(String message) implements Outcome {
      public Invalid {
        Objects.requireNonNull(message, "message");
      }
    }

    /** No such subscription for this number (another number's subscriptions are not found either). */
    record NotFound() implements Outcome {}
  }

  /**
   * What a client asks for when it creates or changes a subscription. On create, {@code name},
   * {@code url} and {@code events} are required; on update, a null field is left as it is (merge-safe:
   * an update never replaces what it does not name).
   *
   * @param secret 8 to 200 characters; {@code whsec_<base64>} is used as Standard Webhooks key bytes
   */
  public record Spec(
      String name, String url, List<String> events, String secret, Boolean chatwootTerminateReason, Boolean active) {

    /** A client's JSON body read as a spec, or why it is not one. */
    public sealed interface Read {
      record Valid(Spec spec) implements Read {}

      /** @param message names the field and the type it must have; never quotes the body */
      record Invalid(String message) implements Read {}
    }

    /**
     * Reads the JSON object a client sends to create ({@code patch} false) or change a subscription:
     * {@code name}, {@code url} and {@code secret} strings, {@code events} an array of strings,
     * {@code chatwoot_terminate_reason} a boolean and, on a change only, {@code active} a boolean. A field
     * that is absent or null is not given; unknown fields are ignored. Only types are checked here;
     * {@link WebhookSubscriptions} checks the values.
     */
    public static Read read(JsonNode body, boolean patch) {
      try {
        List<String> events = null;
        JsonNode e = body.get("events");
        if (e != null && !e.isNull()) {
          if (!e.isArray()) {
            return new Read.Invalid("events must be an array of strings.");
          }
          events = new ArrayList<>();
          for (JsonNode x : e) {
            if (!x.isTextual()) {
              return new Read.Invalid("events must be an array of strings.");
            }
            events.add(x.asText());
          }
        }
        Boolean active = patch ? bool(body, "active") : null;
        return new Read.Valid(new Spec(text(body, "name"), text(body, "url"), events, text(body, "secret"),
            bool(body, "chatwoot_terminate_reason"), active));
      } catch (IllegalArgumentException ex) {
        return new Read.Invalid(ex.getMessage());
      }
    }

    private static String text(JsonNode node, String field) {
      JsonNode v = node.get(field);
      if (v == null || v.isNull()) {
        return null;
      }
      if (!v.isTextual()) {
        throw new IllegalArgumentException(field + " must be a string.");
      }
      return v.asText();
    }

    private static Boolean bool(JsonNode node, String field) {
      JsonNode v = node.get(field);
      if (v == null || v.isNull()) {
        return null;
      }
      if (!v.isBoolean()) {
        throw new IllegalArgumentException(field + " must be true or false.");
      }
      return v.asBoolean();
    }

    @Override
    public String toString() {
      return "Spec[name=" + name + ", url=" + url + ", events=" + events + ", secret="
          + (secret == null ? "null" : "<redacted>") + ", chatwootTerminateReason=" + chatwootTerminateReason
          + ", active=" + active + "]";
    }
  }
}

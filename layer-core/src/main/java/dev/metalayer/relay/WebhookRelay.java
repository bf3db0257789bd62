package dev.metalayer.relay;

import dev.metalayer.CallWebhookRelay;
import dev.metalayer.crypto.Secrets;
import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.graph.GraphError;
import dev.metalayer.keys.KeyService;
import dev.metalayer.keys.WhatsAppNumber;
import dev.metalayer.store.RelayStore;
import dev.metalayer.store.RelayStore.NewDelivery;
import dev.metalayer.store.RelayStore.StoredSubscription;
import dev.metalayer.store.StoreException;
import java.security.SecureRandom;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The layer's {@link CallWebhookRelay}: verification, splitting, routing and the queueing of
 * deliveries happen here, on the caller's thread; attempts run in the {@link DeliveryEngine}. Built
 * by {@link dev.metalayer.MetaLayer}. Thread-safe.
 *
 * <p>Routing: a change goes to the number whose phone number ID is
 * {@code value.metadata.phone_number_id} (for WABA-level fields without metadata, to every number of
 * the WABA {@code entry[].id}), then to each <i>active</i> subscription of that number that
 * {@linkplain Subscription#wants wants} its field.
 */
public final class WebhookRelay implements CallWebhookRelay {
  /** The longest {@code field} a change may have to be routed; the store's column holds 100 characters. */
  static final int MAX_FIELD = 100;

  private static final Logger log = LoggerFactory.getLogger(WebhookRelay.class);
  /** Meta's own payload limit. */
  public static final int MAX_BODY_BYTES = 3 * 1024 * 1024;
  static final String WABA_OBJECT = "whatsapp_business_account";

  /**
   * The relay's collaborators and settings (see {@link dev.metalayer.MetaLayer.Builder} for defaults).
   *
   * @param soleDeliverer whether this process is the only one delivering from the store, so that
   *     leases left by a crash are released at {@link #start()} instead of waiting for them to expire
   */
  public record Config(
      RelayStore store,
      KeyService keys,
      TokenCipher cipher,
      DeliveryTransport transport,
      EgressGuard guard,
      Clock clock,
      SecureRandom random,
      List<String> appSecrets,
      boolean allowUnsigned,
      Duration callTtl,
      Duration retention,
      int callsThreads,
      int defaultThreads,
      int perSubscription,
      boolean soleDeliverer) {
    public Config {
      Objects.requireNonNull(store, "store");
      Objects.requireNonNull(keys, "keys");
      Objects.requireNonNull(cipher, "cipher");
      Objects.requireNonNull(transport, "transport");
      Objects.requireNonNull(guard, "guard");
      Objects.requireNonNull(clock, "clock");
      Objects.requireNonNull(random, "random");
      appSecrets = List.copyOf(appSecrets);
      Objects.requireNonNull(callTtl, "callTtl");
      Objects.requireNonNull(retention, "retention");
    }

    @Override
    public String toString() {
      return "WebhookRelay.Config[appSecrets=" + appSecrets.size() + " configured, allowUnsigned=" + allowUnsigned
          + ", callTtl=" + callTtl + ", retention=" + retention + "]";
    }
  }

  private final Config config;
  private final RelayStore store;
  private final DeliveryPolicy policy;
  private final DeliveryEngine engine;
  private final WebhookSubscriptions subscriptions;

  public WebhookRelay(Config config) {
    this.config = Objects.requireNonNull(config, "config");
    this.store = config.store();
    this.policy = new DeliveryPolicy(config.callTtl(), config.random()::nextDouble);
    Attempter attempter = new Attempter(store, config.cipher(), config.transport(), policy, config.clock());
    this.engine = new DeliveryEngine(store, attempter, policy, config.clock(), config.callsThreads(),
        config.defaultThreads(), config.perSubscription(), config.retention());
    this.subscriptions = new WebhookSubscriptions(this, store, config.keys(), config.cipher(), config.guard(),
        config.clock(), config.random());
  }

  @Override
  public IngestResult ingest(byte[] body, String signatureHeader) {
    Objects.requireNonNull(body, "body");
    if (body.length > MAX_BODY_BYTES) {
      return refused(IngestResult.Reason.TOO_LARGE, GraphError.tooLarge("The webhook body is larger than 3 MB."));
    }
    Optional<IngestResult.Refused> early = refusalBeforeBody(signatureHeader);
    if (early.isPresent()) {
      return early.get();
    }
    if (signatureHeader != null && !signatureHeader.isBlank() && !config.appSecrets().isEmpty()
        && !Signatures.verifyMeta(signatureHeader, body, config.appSecrets())) {
      return refused(IngestResult.Reason.BAD_SIGNATURE, GraphError.invalidToken("Invalid X-Hub-Signature-256."));
    }
    EnvelopeSplitter.Split split = EnvelopeSplitter.split(body);
    if (split instanceof EnvelopeSplitter.Malformed m) {
      return refused(IngestResult.Reason.MALFORMED, GraphError.invalidParameter(m.reason()));
    }
    EnvelopeSplitter.Parsed parsed = (EnvelopeSplitter.Parsed) split;
    if (!WABA_OBJECT.equals(parsed.object())) {
      return refused(IngestResult.Reason.WRONG_OBJECT,
          GraphError.invalidParameter("The object must be whatsapp_business_account."));
    }
    Instant now = config.clock().instant();
    String envelopeId = newId("env");
    List<NewDelivery> deliveries = new ArrayList<>();
    Map<String, List<StoredSubscription>> subscriptionsByNumber = new HashMap<>();
    for (Change change : parsed.changes()) {
      if (change.field().length() > MAX_FIELD) {
        // No event has such a name; storing it would fail the whole batch (and Meta would retry it).
        log.warn("A change with a field name of {} characters was not routed", change.field().length());
        continue;
      }
      String webhookId = WebhookIds.of(change);
      Lane lane = Events.CALLS.equals(change.field()) ? Lane.CALLS : Lane.DEFAULT;
      Optional<Instant> expiresAt = policy.expiry(lane, now, change.eventTime());
      // a call event already past its TTL (Meta redelivered it late) is recorded, never sent
      boolean expired = expiresAt.isPresent() && !now.isBefore(expiresAt.get());
      if (expired) {
        log.info("A {} change of {} arrived after its TTL (event time {}): recorded as expired, not delivered",
            change.field(), change.callIds(), change.eventTime().map(Instant::toString).orElse("none"));
      }
      for (WhatsAppNumber number : numbersOf(change)) {
        List<StoredSubscription> subs =
            subscriptionsByNumber.computeIfAbsent(number.phoneNumberId(), store::subscriptionsOf);
        for (StoredSubscription stored : subs) {
          Subscription s = stored.subscription();
          if (!s.active() || !s.wants(change.field(), change.permissionReply())) {
            continue;
          }
          byte[] bytes = s.chatwootTerminateReason() ? TerminateReasons.enrich(change) : change.envelope();
          deliveries.add(new NewDelivery(newId("dlv"), s.id(), envelopeId, webhookId, change.field(), lane,
              lane == Lane.CALLS ? change.orderingKey().orElse(null) : null, bytes, policy.maxAttempts(lane),
              expired ? DeliveryState.EXPIRED : DeliveryState.PENDING, expired ? null : now, expiresAt.orElse(null),
              now));
        }
      }
    }
    RelayStore.Envelope envelope = new RelayStore.Envelope(envelopeId, body, now);
    List<String> inserted;
    try {
      inserted = store.ingest(envelope, deliveries);
    } catch (StoreException e) {
      if (!isUniqueViolation(e)) {
        throw e;
      }
      // the same change was ingested concurrently: once more, and the duplicates are skipped
      inserted = store.ingest(new RelayStore.Envelope(newId("env"), body, now), deliveries);
    }
    if (!inserted.isEmpty()) {
      for (Lane lane : Lane.values()) {
        if (deliveries.stream().anyMatch(d -> d.lane() == lane && d.state() == DeliveryState.PENDING)) {
          engine.wake(lane);
        }
      }
    }
    return new IngestResult.Accepted(parsed.changes().size(), inserted.size(), deliveries.size() - inserted.size());
  }

  private List<WhatsAppNumber> numbersOf(Change change) {
    if (change.phoneNumberId().isPresent()) {
      return config.keys().findNumber(change.phoneNumberId().get()).map(List::of).orElse(List.of());
    }
    return change.entryId().isEmpty() ? List.of() : config.keys().numbersOfWaba(change.entryId());
  }

  private static boolean isUniqueViolation(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException sql && "23505".equals(sql.getSQLState())) {
        return true;
      }
    }
    return false;
  }

  @Override
  public Optional<IngestResult.Refused> refusalBeforeBody(String signatureHeader) {
    if (signatureHeader == null || signatureHeader.isBlank()) {
      return config.allowUnsigned()
          ? Optional.empty()
          : Optional.of(new IngestResult.Refused(IngestResult.Reason.UNSIGNED, GraphError.invalidToken("Missing X-Hub-Signature-256.")));
    }
    if (config.appSecrets().isEmpty() && !config.allowUnsigned()) {
      return Optional.of(new IngestResult.Refused(IngestResult.Reason.BAD_SIGNATURE,
          GraphError.invalidToken("No app secret is configured: webhooks cannot be verified.")));
    }
    return Optional.empty();
  }

  private static IngestResult refused(IngestResult.Reason reason, GraphError error) {
    return new IngestResult.Refused(reason, error);
  }

  @Override
  public WebhookSubscriptions subscriptions() {
    return subscriptions;
  }

  @Override
  public void start() {
    if (engine.running()) {
      return;
    }
    if (config.allowUnsigned()) {
      log.warn("!!! LAYER_ALLOW_UNSIGNED_WEBHOOKS is on: webhooks without X-Hub-Signature-256 are ACCEPTED."
          + " Anyone who can reach /webhooks/meta can inject events. Use this for local trials only. !!!");
    } else if (config.appSecrets().isEmpty()) {
      log.warn("No Meta app secret is configured (META_APP_SECRET): every webhook from Meta will be refused.");
    }
    if (config.soleDeliverer()) {
      int released = store.releaseLeases(config.clock().instant());
      if (released > 0) {
        log.info("Resumed {} deliveries that were in flight when the layer last stopped", released);
      }
    }
    engine.start();
  }

  @Override
  public List<String> deadWorkers() {
    return engine.deadWorkers();
  }

  @Override
  public int runDueNow() {
    return engine.runDueNow();
  }

  @Override
  public RelayStore.Purged purge() {
    return engine.purge();
  }

  @Override
  public void close() {
    engine.close();
  }

  void wake(Lane lane) {
    engine.wake(lane);
  }

  String newId(String kind) {
    return Secrets.newId(kind, config.random(), 12);
  }

  DeliveryPolicy policy() {
    return policy;
  }
}

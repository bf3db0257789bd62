package dev.metalayer;

import dev.metalayer.calls.Calls;
import dev.metalayer.doctor.Doctor;
import dev.metalayer.relay.CallWebhookRelay;
import dev.metalayer.graph.GraphForwarder;
import dev.metalayer.keys.TokenResolver;
import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.keys.Grant;
import dev.metalayer.keys.KeyService;
import dev.metalayer.relay.DeliveryTransport;
import dev.metalayer.relay.EgressGuard;
import dev.metalayer.store.Stores;
import dev.metalayer.keys.KeyStore;
import dev.metalayer.calls.Calls;
import dev.metalayer.relay.RelayStore;
import dev.metalayer.graph.GraphProxy;
import dev.metalayer.graph.GraphSettings;
import dev.metalayer.graph.Surface;
import dev.metalayer.metrics.LayerMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * The one entry point an embedder needs: a configured layer, built once with {@link #builder()}.
 *
 * <p>Every collaborator (store, clock, randomness) comes in through the builder with a documented
 * default, so that tests drive time and hosts keep control of their threads and I/O. A built layer is
 * immutable and thread-safe.
 */
public final class MetaLayer {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(MetaLayer.class);
  private final Clock clock;
  private final SecureRandom random;
  private final KeyService keys;
  private final TokenResolver tokenResolver;
  private final GraphProxy graphProxy;
  private final CallWebhookRelay relay;
  private final Calls calls;
  private final Doctor doctor;
  private final LayerMetrics metrics;

  private MetaLayer(Builder b) {
    this.clock = b.clock;
    this.random = b.random;
    this.metrics = b.metrics;
    TokenCipher cipher = new TokenCipher(b.masterKey, b.random);
    // removing a number removes its webhook subscriptions first (keys stays free of the relay)
    this.keys = new KeyService(b.keyStore, cipher, b.clock, b.random, b.grantCacheTtl, this::removeSubscriptionsOf);
    // a layer whose key does not open its store's tokens could serve nothing: it does not start
    keys.verifyMasterKey();
    metrics.grantCache(keys, KeyService::grantCacheHits, KeyService::grantCacheMisses);
    this.tokenResolver = b.tokenResolver != null ? b.tokenResolver : keys;
    GraphSettings graph =
        new GraphSettings(
            b.graphUrl,
            b.graphPrefix,
            Optional.ofNullable(b.publicUrl),
            b.appSecrets.stream().findFirst(),
            b.mediaHosts,
            b.connectTimeout,
            b.idleTimeout,
            b.upstreamTimeout,
            b.mediaTimeout,
            b.maxBodyBytes,
            b.maxJsonAnswerBytes,
            b.mergeCallingSettings,
            b.mediaDownloadsPerKey,
            b.keyRate == 0 || b.keyBurst == 0 ? Grant.RateLimit.OFF : new Grant.RateLimit(b.keyRate, b.keyBurst));
    Predicate<String> registered = b.registeredObjects != null ? b.registeredObjects : keys::isRegisteredObject;
    Predicate<String> sharedWaba = b.sharedWabas != null ? b.sharedWabas : keys::isSharedWaba;
    GraphForwarder forwarder = b.graphForwarder != null ? b.graphForwarder : GraphForwarder.jdk(b.connectTimeout);
    // the call records live in the relay store's own call store, which shares its transactions
    RelayStore relayStore = b.relayStore != null ? b.relayStore : Stores.inMemoryRelay();
    this.calls = new Calls(relayStore.calls(), b.clock);
    this.graphProxy = GraphProxy.create(graph, tokenResolver, registry(registered, sharedWaba), b.surfaceWidening, cipher,
        b.clock, forwarder, calls);
    b.relay.egressGuard(b.egressGuard).clock(b.clock).random(b.random).appSecrets(b.appSecrets).metrics(b.metrics);
    if (b.deliveryTransport != null) {
      b.relay.transport(b.deliveryTransport);
    }
    this.relay = b.relay.build(relayStore, keys, cipher);
    Duration checkTimeout = b.upstreamTimeout.compareTo(Doctor.DEFAULT_CHECK_TIMEOUT) < 0
        ? b.upstreamTimeout : Doctor.DEFAULT_CHECK_TIMEOUT;
    this.doctor = Doctor.create(new Doctor.Setup(b.graphUrl, Optional.ofNullable(b.appId), b.appSecrets.stream().findFirst(),
        Optional.ofNullable(b.publicUrl), checkTimeout, b.doctorInterval, b.clock, forwarder, keys, relay.subscriptions(),
        relayStore::lastWebhook));
    metrics.doctorFailing(doctor, Doctor::failingChecks);
  }

  private static Surface.Registry registry(Predicate<String> registered, Predicate<String> sharedWaba) {
    return new Surface.Registry() {
      @Override
      public boolean registeredElsewhere(String id) {
        return registered.test(id);
      }

      @Override
      public boolean wabaShared(String wabaId) {
        return sharedWaba.test(wabaId);
      }
    };
  }

  public static Builder builder() {
    return new Builder();
  }

  private void removeSubscriptionsOf(String phoneNumberId) {
    relay.subscriptions().deleteAll(phoneNumberId);
  }

  public Clock clock() {
    return clock;
  }

  public SecureRandom random() {
    return random;
  }

  /**
   * Numbers and keys in the layer's store. {@link KeyService#removeNumber} also removes the number's
   * webhook subscriptions, with their deliveries, from the relay store.
   */
  public KeyService keys() {
    return keys;
  }

  /** How presented credentials become grants: the builder's resolver, or {@link #keys()} by default. */
  public TokenResolver tokenResolver() {
    return tokenResolver;
  }

  /** The Graph compatibility proxy: its settings, decisions and a whole-request {@code handle}. */
  public GraphProxy graphProxy() {
    return graphProxy;
  }

  /**
   * The call webhook relay: ingest of Meta's webhooks, subscriptions and delivery. Its workers run
   * only after {@link CallWebhookRelay#start()} (or the layer's {@link #start()}); the host closes it (or the
   * layer) before closing the stores.
   */
  public CallWebhookRelay relay() {
    return relay;
  }

  /**
   * The layer's knowledge of WhatsApp calls: the call records the relay writes with each ingest (in its
   * store, {@code RelayStore#calls()}), on the layer's clock.
   */
  public Calls calls() {
    return calls;
  }

  /**
   * The Meta doctor: checks of each number at Meta (with its own token, through the builder's
   * {@link GraphForwarder}) and in the layer; in the background every {@link Builder#doctorInterval}.
   */
  public Doctor doctor() {
    return doctor;
  }

  /**
   * What the layer counts (Graph requests, Meta's latency, webhooks, deliveries, backlog, grant cache),
   * into the builder's {@link Builder#meterRegistry registry}. An adapter reports its requests here.
   */
  public LayerMetrics metrics() {
    return metrics;
  }

  /**
   * Starts the layer's background work: the key service's upkeep ({@link KeyService#start}: changes made
   * by other instances, last-use times), the relay's workers ({@link CallWebhookRelay#start}) and the
   * background doctor ({@link Doctor#start}). Idempotent.
   */
  public void start() {
    keys.start();
    relay.start();
    doctor.start();
  }

  /**
   * Stops the background work: the relay's workers first (in-flight attempts finish), then the key
   * service's upkeep, which writes the last-use times it recorded. The host calls this before closing the
   * stores. Idempotent.
   */
  public void close() {
    try {
      doctor.close();
      relay.close();
    } finally {
      keys.close();
    }
  }

  /**
   * Stops the background work as {@link #close()} does, giving the relay's in-flight attempts up to
   * {@code grace} to finish; those still running then are released for another instance or the next
   * start ({@link CallWebhookRelay#close(Duration)}). A host that stops on a signal calls this once it
   * has stopped taking requests. Idempotent.
   */
  public void close(Duration grace) {
    try {
      relay.close(grace);
    } finally {
      keys.close();
    }
  }

  /** Collects the layer's collaborators; {@link #build()} checks them and fails fast. Not thread-safe. */
  public static final class Builder {
    private KeyStore keyStore;
    private byte[] masterKey;
    private Clock clock = Clock.systemUTC();
    private SecureRandom random = new SecureRandom();
    private Duration grantCacheTtl = Duration.ofSeconds(30);
    private TokenResolver tokenResolver;
    private URI graphUrl = URI.create("https://graph.facebook.com");
    private String graphPrefix = "/api/layer/meta";
    private URI publicUrl;
    private List<String> mediaHosts = GraphSettings.META_MEDIA_HOSTS;
    private Duration connectTimeout = Duration.ofSeconds(5);
    private Duration idleTimeout = Duration.ofSeconds(30);
    private Duration upstreamTimeout = Duration.ofSeconds(30);
    private Duration mediaTimeout = Duration.ofMinutes(5);
    private long maxBodyBytes = 100L * 1024 * 1024;
    private int maxJsonAnswerBytes = 8 * 1024 * 1024;
    private int mediaDownloadsPerKey = GraphSettings.DEFAULT_MEDIA_TRANSFERS_PER_KEY;
    private double keyRate = GraphSettings.DEFAULT_KEY_RATE_LIMIT.perSecond();
    private int keyBurst = GraphSettings.DEFAULT_KEY_RATE_LIMIT.burst();
    private boolean mergeCallingSettings = true;
    private GraphForwarder graphForwarder;
    private Predicate<String> registeredObjects;
    private Predicate<String> sharedWabas;
    private java.util.Map<String, java.util.Set<Surface.Group>> surfaceWidening = java.util.Map.of();
    private RelayStore relayStore;
    private DeliveryTransport deliveryTransport;
    private EgressGuard egressGuard = EgressGuard.publicOnly();
    private List<String> appSecrets = List.of();
    private String appId;
    private Duration doctorInterval = Duration.ofMinutes(15);
    private LayerMetrics metrics = LayerMetrics.none();
    /** The relay-only settings, with their defaults and ranges. */
    private final CallWebhookRelay.Builder relay = CallWebhookRelay.builder();

    private Builder() {}

    /** Default {@code https://graph.facebook.com}: the upstream Graph API base (http or https, may carry a path). */
    public Builder graphUrl(URI graphUrl) {
      requireHttpUrl(Objects.requireNonNull(graphUrl, "graphUrl"), "graphUrl");
      this.graphUrl = graphUrl;
      return this;
    }

    /** Default {@code /api/layer/meta}: the path the layer serves the Graph API under. */
    public Builder graphPrefix(String graphPrefix) {
      String prefix = Objects.requireNonNull(graphPrefix, "graphPrefix");
      while (prefix.endsWith("/")) {
        prefix = prefix.substring(0, prefix.length() - 1);
      }
      if (!prefix.startsWith("/") || prefix.contains("?") || prefix.contains("#")) {
        throw new IllegalArgumentException("graphPrefix must be a path starting with / (and not / alone)");
      }
      this.graphPrefix = prefix;
      return this;
    }

    /**
     * Default none: the public base URL of the layer (e.g. {@code https://layer.example.com}), the only
     * base of the URLs the layer writes into answers (media {@code url}, {@code paging.next} and
     * {@code previous}). When unset, {@link #build()} warns once, those URLs are path-absolute
     * ({@code /api/layer/meta/…}, resolved by the client against the URL it called) and paging URLs
     * carry no key. Never derived from a request's {@code Host}.
     */
    public Builder publicUrl(URI publicUrl) {
      requireHttpUrl(Objects.requireNonNull(publicUrl, "publicUrl"), "publicUrl");
      this.publicUrl = publicUrl;
      return this;
    }

    /**
     * Default none: the one Meta app secret; shorthand for {@code appSecrets(List.of(appSecret))}. It
     * computes {@code appsecret_proof} on every upstream request and verifies incoming webhooks.
     */
    public Builder appSecret(String appSecret) {
      return appSecrets(List.of(Objects.requireNonNull(appSecret, "appSecret")));
    }

    /** Default {@link GraphSettings#META_MEDIA_HOSTS}: hosts media is fetched from with the Meta token. */
    public Builder mediaHosts(List<String> mediaHosts) {
      if (mediaHosts.isEmpty()) {
        throw new IllegalArgumentException("mediaHosts must name at least one host");
      }
      this.mediaHosts = List.copyOf(mediaHosts);
      return this;
    }

    /** Default 5 seconds: time to open a connection to Graph or a media host. */
    public Builder upstreamConnectTimeout(Duration timeout) {
      this.connectTimeout = positive(timeout, "upstreamConnectTimeout");
      return this;
    }

    /** Default 30 seconds: the longest silence on an upstream connection during an exchange. */
    public Builder upstreamIdleTimeout(Duration timeout) {
      this.idleTimeout = positive(timeout, "upstreamIdleTimeout");
      return this;
    }

    /** Default 30 seconds: total time of one Graph exchange (a timeout is answered 504). */
    public Builder upstreamTimeout(Duration timeout) {
      this.upstreamTimeout = positive(timeout, "upstreamTimeout");
      return this;
    }

    /** Default 5 minutes: total time of one media download, bytes included. */
    public Builder mediaTimeout(Duration timeout) {
      this.mediaTimeout = positive(timeout, "mediaTimeout");
      return this;
    }

    /** Default 100 MiB (Meta's largest media): the largest request body accepted (larger is a 413). */
    public Builder maxBodyBytes(long maxBodyBytes) {
      if (maxBodyBytes < 1) {
        throw new IllegalArgumentException("maxBodyBytes must be at least 1");
      }
      this.maxBodyBytes = maxBodyBytes;
      return this;
    }

    /** Default 8 MiB: the largest JSON answer buffered for rewriting (larger is a 502). */
    public Builder maxJsonAnswerBytes(int maxJsonAnswerBytes) {
      if (maxJsonAnswerBytes < 1) {
        throw new IllegalArgumentException("maxJsonAnswerBytes must be at least 1");
      }
      this.maxJsonAnswerBytes = maxJsonAnswerBytes;
      return this;
    }

    /**
     * Default {@link GraphSettings#DEFAULT_MEDIA_TRANSFERS_PER_KEY}: media downloads (through the layer's media URLs)
     * one key may have in flight at once; one more is refused with a 429 and {@code Retry-After}.
     */
    public Builder mediaDownloadsPerKey(int mediaDownloadsPerKey) {
      if (mediaDownloadsPerKey < 1) {
        throw new IllegalArgumentException("mediaDownloadsPerKey must be at least 1");
      }
      this.mediaDownloadsPerKey = mediaDownloadsPerKey;
      return this;
    }

    /**
     * Default {@link GraphSettings#DEFAULT_KEY_RATE_LIMIT} (50): the Graph requests per second a key without
     * a rate limit of its own may send, on average (fractional allowed: 0.5 is one every 2 s); 0 sets no
     * default limit (a key's own still applies). Past it, a 429 with {@code Retry-After}.
     *
     * @throws IllegalArgumentException outside 0 and {@link Grant.RateLimit#MIN_PER_SECOND} to {@link Grant.RateLimit#MAX}
     */
    public Builder keyRate(double perSecond) {
      if (perSecond != 0) {
        new Grant.RateLimit(perSecond, 1); // the rule of a rate, said once
      }
      this.keyRate = perSecond;
      return this;
    }

    /**
     * Default {@link GraphSettings#DEFAULT_KEY_RATE_LIMIT} (100): the Graph requests a key without a rate limit of its
     * own may send at once before {@link #keyRate} paces it; 0 sets no default limit.
     *
     * @throws IllegalArgumentException outside 0 to {@link Grant.RateLimit#MAX}
     */
    public Builder keyBurst(int burst) {
      if (burst < 0 || burst > Grant.RateLimit.MAX) {
        throw new IllegalArgumentException("keyBurst must be from 0 (off) to " + Grant.RateLimit.MAX);
      }
      this.keyBurst = burst;
      return this;
    }

    /** {@link #keyRate} and {@link #keyBurst} at once; {@link Grant.RateLimit#OFF} for no default limit. */
    public Builder keyRateLimit(Grant.RateLimit limit) {
      this.keyRate = limit.perSecond();
      this.keyBurst = limit.burst();
      return this;
    }

    /**
     * Default on: a {@code POST /{phone-number-id}/settings} with a partial {@code calling} object is
     * merged into the current settings (read first, with the number's token) before it is written, so
     * that a helpdesk toggling calling never erases call hours or schedules set elsewhere. If the read
     * fails, the client gets that answer and nothing is written. Off: the body is forwarded as sent.
     */
    public Builder mergeCallingSettings(boolean merge) {
      this.mergeCallingSettings = merge;
      return this;
    }

    /** Default {@link GraphForwarder#jdk(Duration)}: how {@link GraphProxy#handle} sends requests upstream. */
    public Builder graphForwarder(GraphForwarder graphForwarder) {
      this.graphForwarder = Objects.requireNonNull(graphForwarder, "graphForwarder");
      return this;
    }

    /**
     * Default {@link KeyService#isRegisteredObject}: whether a Graph ID is a phone number, WABA or
     * business ID of a number known to the host. The Graph surface refuses such IDs unless they are the
     * grant's own phone number or WABA; embedders with their own {@link TokenResolver} supply theirs.
     */
    public Builder registeredObjects(Predicate<String> registeredObjects) {
      this.registeredObjects = Objects.requireNonNull(registeredObjects, "registeredObjects");
      return this;
    }

    /**
     * Default {@link KeyService#isSharedWaba}: a WABA is shared when more than one registered number uses it. On a
     * shared WABA the {@link Surface} refuses writes unless the number was granted
     * {@link Surface.Group#SHARED_WABA_WRITES}; embedders with their own {@link TokenResolver} supply
     * theirs (or every WABA counts as unshared).
     */
    public Builder sharedWabas(Predicate<String> sharedWabas) {
      this.sharedWabas = Objects.requireNonNull(sharedWabas, "sharedWabas");
      return this;
    }

    /**
     * Default none: the {@link Surface.Group}s granted per phone number ID, widening what its keys may
     * ask of Graph (see {@link Surface#parseWidening}). Configuration, never a request, widens.
     */
    public Builder surfaceWidening(java.util.Map<String, java.util.Set<Surface.Group>> widening) {
      this.surfaceWidening = java.util.Map.copyOf(Objects.requireNonNull(widening, "widening"));
      return this;
    }

    /**
     * Where the relay keeps envelopes, subscriptions and deliveries. Default: an
     * {@link dev.metalayer.store.Stores#inMemoryRelay()}, which loses pending deliveries when the process ends; use a
     * {@link dev.metalayer.store.Stores#relay} store for the durable, at-least-once relay.
     */
    public Builder relayStore(RelayStore relayStore) {
      this.relayStore = Objects.requireNonNull(relayStore, "relayStore");
      return this;
    }

    /**
     * How deliveries are sent. Default: {@link DeliveryTransport#jdk} with the {@link #egressGuard}.
     * A custom transport must apply the guard itself.
     */
    public Builder deliveryTransport(DeliveryTransport transport) {
      this.deliveryTransport = Objects.requireNonNull(transport, "transport");
      return this;
    }

    /** Which addresses subscriptions may point at. Default {@link EgressGuard#publicOnly()}. */
    public Builder egressGuard(EgressGuard guard) {
      this.egressGuard = Objects.requireNonNull(guard, "guard");
      return this;
    }

    /**
     * Meta app secrets that may sign incoming webhooks (several during a rotation); the first also
     * computes {@code appsecret_proof} on proxied requests. Default none: no proof is sent, and every
     * webhook is refused unless {@link #allowUnsignedWebhooks} is set.
     */
    public Builder appSecrets(List<String> secrets) {
      Objects.requireNonNull(secrets, "secrets");
      for (String s : secrets) {
        if (s == null || s.isBlank()) {
          throw new IllegalArgumentException("an app secret must not be blank");
        }
      }
      this.appSecrets = List.copyOf(secrets);
      return this;
    }

    /**
     * Default none: the Meta app's id (digits). With an app secret, the doctor checks a number's token with
     * the app's own token ({@code app_id|app_secret}) and recognises the app among those subscribed to a WABA.
     */
    public Builder appId(String appId) {
      Objects.requireNonNull(appId, "appId");
      if (!appId.matches("[0-9]{1,32}")) {
        throw new IllegalArgumentException("appId must be the Meta app's numeric id");
      }
      this.appId = appId;
      return this;
    }

    /**
     * Default 15 minutes: how often the background doctor examines every number ({@link Doctor}); zero
     * turns it off (the doctor still answers when asked). At least one minute otherwise.
     */
    public Builder doctorInterval(Duration interval) {
      Objects.requireNonNull(interval, "interval");
      if (interval.isNegative() || !interval.isZero() && interval.compareTo(Duration.ofMinutes(1)) < 0) {
        throw new IllegalArgumentException("doctorInterval must be 0 (off) or at least 1 minute");
      }
      this.doctorInterval = interval;
      return this;
    }

    /** See {@link CallWebhookRelay.Builder#allowUnsignedWebhooks}, where its default and range are. */
    public Builder allowUnsignedWebhooks(boolean allow) {
      relay.allowUnsignedWebhooks(allow);
      return this;
    }

    /** See {@link CallWebhookRelay.Builder#callTerminateHold}, where its default and range are. */
    public Builder callTerminateHold(Duration hold) {
      relay.callTerminateHold(hold);
      return this;
    }

    /** See {@link CallWebhookRelay.Builder#callTtl}, where its default and range are. */
    public Builder callTtl(Duration ttl) {
      relay.callTtl(ttl);
      return this;
    }

    /** See {@link CallWebhookRelay.Builder#retention}, where its default and range are. */
    public Builder retention(Duration retention) {
      relay.retention(retention);
      return this;
    }

    /** See {@link CallWebhookRelay.Builder#relayThreads}, where its default and range are. */
    public Builder relayThreads(int callsLane, int defaultLane) {
      relay.relayThreads(callsLane, defaultLane);
      return this;
    }

    /** See {@link CallWebhookRelay.Builder#concurrencyPerSubscription}, where its default and range are. */
    public Builder concurrencyPerSubscription(int max) {
      relay.concurrencyPerSubscription(max);
      return this;
    }

    /** See {@link CallWebhookRelay.Builder#concurrencyPerNumber}, where its default and range are. */
    public Builder concurrencyPerNumber(int max) {
      relay.concurrencyPerNumber(max);
      return this;
    }

    /** See {@link CallWebhookRelay.Builder#maxSubscriptionsPerNumber}, where its default and range are. */
    public Builder maxSubscriptionsPerNumber(int max) {
      relay.maxSubscriptionsPerNumber(max);
      return this;
    }

    /** See {@link CallWebhookRelay.Builder#soleDeliverer}, where its default and range are. */
    public Builder soleDeliverer(boolean sole) {
      relay.soleDeliverer(sole);
      return this;
    }

    /**
     * Default none (the layer counts into an empty Micrometer composite, which costs next to nothing):
     * the registry the layer's meters go to, as SLF4J takes the host's logger. Pass a Prometheus, OTLP or
     * any other Micrometer registry, or {@code io.micrometer.core.instrument.Metrics.globalRegistry} to
     * share the host's. The meters are listed in docs/operations.md; none carries a key, token, URL or
     * phone number.
     */
    public Builder meterRegistry(MeterRegistry registry) {
      this.metrics = LayerMetrics.of(Objects.requireNonNull(registry, "registry"));
      return this;
    }

    /** Required: where numbers and key hashes live. */
    public Builder keyStore(KeyStore keyStore) {
      this.keyStore = Objects.requireNonNull(keyStore, "keyStore");
      return this;
    }

    /** Required: the 32-byte key that seals Meta tokens and subscription secrets at rest. Copied. */
    public Builder masterKey(byte[] masterKey) {
      Objects.requireNonNull(masterKey, "masterKey");
      if (masterKey.length != 32) {
        throw new IllegalArgumentException("the master key must be 32 bytes, got " + masterKey.length);
      }
      this.masterKey = masterKey.clone();
      return this;
    }

    /** Default {@link Clock#systemUTC()}. Every time rule of the layer reads this clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Default a new {@link SecureRandom}: keys, ids, nonces and jitter come from it. */
    public Builder random(SecureRandom random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /**
     * Default 30 seconds: how long a resolved key is trusted before the store is read again. Changes
     * made through this layer apply at once; other instances' changes apply within this time.
     */
    public Builder grantCacheTtl(Duration ttl) {
      Objects.requireNonNull(ttl, "ttl");
      if (ttl.isNegative()) {
        throw new IllegalArgumentException("grantCacheTtl must not be negative");
      }
      this.grantCacheTtl = ttl;
      return this;
    }

    /** Optional: resolve credentials with the host's own rules instead of the layer's key store. */
    public Builder tokenResolver(TokenResolver tokenResolver) {
      this.tokenResolver = Objects.requireNonNull(tokenResolver, "tokenResolver");
      return this;
    }

    /**
     * Checks the settings and builds the layer. The master key is checked against the key store
     * ({@link KeyService#verifyMasterKey}): the first build on a store saves a check value sealed with
     * it, and every later build opens that value.
     *
     * @throws IllegalStateException when a required collaborator is missing
     * @throws dev.metalayer.keys.KeyService.WrongMasterKeyException when the master key does not open the tokens
     *     the key store holds (they were sealed with another key)
     */
    public MetaLayer build() {
      if (keyStore == null) {
        throw new IllegalStateException("keyStore is required (Stores.inMemoryKeys() or Stores.keys(database))");
      }
      if (masterKey == null) {
        throw new IllegalStateException("masterKey is required (32 bytes)");
      }
      if (publicUrl == null) {
        log.warn("No publicUrl set: media and paging URLs in answers are relative"
            + " to the Graph prefix and paging URLs carry no key");
      }
      return new MetaLayer(this);
    }

    private static void requireHttpUrl(URI uri, String name) {
      String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      if (!(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null || uri.getRawQuery() != null) {
        throw new IllegalArgumentException(name + " must be an absolute http(s) URL without a query");
      }
    }

    private static Duration positive(Duration d, String name) {
      Objects.requireNonNull(d, name);
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(name + " must be positive");
      }
      return d;
    }
  }
}

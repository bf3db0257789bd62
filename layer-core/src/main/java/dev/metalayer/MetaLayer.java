package dev.metalayer;

import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.keys.KeyService;
import dev.metalayer.relay.DeliveryTransport;
import dev.metalayer.relay.EgressGuard;
import dev.metalayer.relay.WebhookRelay;
import dev.metalayer.store.InMemoryRelayStore;
import dev.metalayer.store.KeyStore;
import dev.metalayer.store.RelayStore;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The one entry point an embedder needs: a configured layer, built once with {@link #builder()}.
 *
 * <p>Every collaborator (store, clock, randomness) comes in through the builder with a documented
 * default, so that tests drive time and hosts keep control of their threads and I/O. A built layer is
 * immutable and thread-safe.
 */
public final class MetaLayer {
  private final Clock clock;
  private final SecureRandom random;
  private final TokenCipher cipher;
  private final KeyService keys;
  private final TokenResolver tokenResolver;
  private final CallWebhookRelay relay;

  private MetaLayer(Builder b) {
    this.clock = b.clock;
    this.random = b.random;
    this.cipher = new TokenCipher(b.masterKey, b.random);
    this.keys = new KeyService(b.keyStore, cipher, b.clock, b.random, b.grantCacheTtl);
    this.tokenResolver = b.tokenResolver != null ? b.tokenResolver : keys;
    this.relay =
        new WebhookRelay(
            new WebhookRelay.Config(
                b.relayStore != null ? b.relayStore : new InMemoryRelayStore(),
                keys,
                cipher,
                b.deliveryTransport != null ? b.deliveryTransport : DeliveryTransport.jdk(b.egressGuard),
                b.egressGuard,
                b.clock,
                b.random,
                b.appSecrets,
                b.allowUnsignedWebhooks,
                b.callTtl,
                b.callsThreads,
                b.defaultThreads,
                b.concurrencyPerSubscription,
                b.soleDeliverer));
  }

  public static Builder builder() {
    return new Builder();
  }

  public Clock clock() {
    return clock;
  }

  public SecureRandom random() {
    return random;
  }

  /** Seals and opens secrets at rest with the master key. */
  public TokenCipher cipher() {
    return cipher;
  }

  /** Numbers and keys in the layer's store. */
  public KeyService keys() {
    return keys;
  }

  /** How presented credentials become grants: the builder's resolver, or {@link #keys()} by default. */
  public TokenResolver tokenResolver() {
    return tokenResolver;
  }

  /**
   * The call webhook relay: ingest of Meta's webhooks, subscriptions and delivery. Its workers run
   * only after {@link CallWebhookRelay#start()}; the host closes it before closing the stores.
   */
  public CallWebhookRelay relay() {
    return relay;
  }

  /** Collects the layer's collaborators; {@link #build()} checks them and fails fast. Not thread-safe. */
  public static final class Builder {
    private KeyStore keyStore;
    private byte[] masterKey;
    private Clock clock = Clock.systemUTC();
    private SecureRandom random = new SecureRandom();
    private Duration grantCacheTtl = Duration.ofSeconds(30);
    private TokenResolver tokenResolver;
    private RelayStore relayStore;
    private DeliveryTransport deliveryTransport;
    private EgressGuard egressGuard = EgressGuard.publicOnly();
    private List<String> appSecrets = List.of();
    private boolean allowUnsignedWebhooks;
    private Duration callTtl = Duration.ofSeconds(45);
    private int callsThreads = 16;
    private int defaultThreads = 16;
    private int concurrencyPerSubscription = 4;
    private boolean soleDeliverer;

    private Builder() {}

    /**
     * Where the relay keeps envelopes, subscriptions and deliveries. Default: an
     * {@link InMemoryRelayStore}, which loses pending deliveries when the process ends; use a
     * {@link dev.metalayer.store.JdbcRelayStore} for the durable, at-least-once relay.
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
     * Meta app secrets that may sign incoming webhooks (several during a rotation). Default none, in
     * which case every webhook is refused unless {@link #allowUnsignedWebhooks} is set.
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

    /** Default false. When true, webhooks without a signature are accepted: for local trials only. */
    public Builder allowUnsignedWebhooks(boolean allow) {
      this.allowUnsignedWebhooks = allow;
      return this;
    }

    /**
     * Default 45 seconds: how long after receipt a {@code calls} event may still be delivered. An event
     * not delivered by then is recorded as expired and never sent. Between 1 second and 1 hour.
     */
    public Builder callTtl(Duration ttl) {
      Objects.requireNonNull(ttl, "ttl");
      if (ttl.compareTo(Duration.ofSeconds(1)) < 0 || ttl.compareTo(Duration.ofHours(1)) > 0) {
        throw new IllegalArgumentException("callTtl must be between 1 second and 1 hour, got " + ttl);
      }
      this.callTtl = ttl;
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
     * Default false. True when this process is the only one delivering from the relay store (the
     * embedded H2 store): deliveries left in flight by a crash are resumed at start instead of after
     * their lease expires. Never set it when several instances share a database.
     */
    public Builder soleDeliverer(boolean sole) {
      this.soleDeliverer = sole;
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

    /** @throws IllegalStateException when a required collaborator is missing */
    public MetaLayer build() {
      if (keyStore == null) {
        throw new IllegalStateException("keyStore is required (InMemoryKeyStore or JdbcKeyStore)");
      }
      if (masterKey == null) {
        throw new IllegalStateException("masterKey is required (32 bytes)");
      }
      return new MetaLayer(this);
    }
  }
}

package dev.metalayer;

import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.keys.KeyService;
import dev.metalayer.store.KeyStore;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
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

  private MetaLayer(Builder b) {
    this.clock = b.clock;
    this.random = b.random;
    this.cipher = new TokenCipher(b.masterKey, b.random);
    this.keys = new KeyService(b.keyStore, cipher, b.clock, b.random, b.grantCacheTtl);
    this.tokenResolver = b.tokenResolver != null ? b.tokenResolver : keys;
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

  /** Collects the layer's collaborators; {@link #build()} checks them and fails fast. Not thread-safe. */
  public static final class Builder {
    private KeyStore keyStore;
    private byte[] masterKey;
    private Clock clock = Clock.systemUTC();
    private SecureRandom random = new SecureRandom();
    private Duration grantCacheTtl = Duration.ofSeconds(30);
    private TokenResolver tokenResolver;

    private Builder() {}

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

package dev.metalayer;

import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.keys.KeyService;
import dev.metalayer.store.KeyStore;
import dev.metalayer.graph.GraphProxy;
import dev.metalayer.graph.GraphSettings;
import dev.metalayer.graph.MediaHosts;
import dev.metalayer.graph.MediaLinks;
import dev.metalayer.graph.Scope;
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
  private final Clock clock;
  private final SecureRandom random;
  private final TokenCipher cipher;
  private final KeyService keys;
  private final TokenResolver tokenResolver;
  private final GraphProxy graphProxy;

  private MetaLayer(Builder b) {
    this.clock = b.clock;
    this.random = b.random;
    this.cipher = new TokenCipher(b.masterKey, b.random);
    this.keys = new KeyService(b.keyStore, cipher, b.clock, b.random, b.grantCacheTtl);
    this.tokenResolver = b.tokenResolver != null ? b.tokenResolver : keys;
    GraphSettings graph =
        new GraphSettings(
            b.graphUrl,
            b.graphPrefix,
            Optional.ofNullable(b.publicUrl),
            Optional.ofNullable(b.appSecret),
            new MediaHosts(b.mediaHosts),
            b.connectTimeout,
            b.idleTimeout,
            b.upstreamTimeout,
            b.mediaTimeout,
            b.maxBodyBytes,
            b.maxJsonAnswerBytes);
    Predicate<String> registered = b.registeredObjects != null ? b.registeredObjects : keys::isRegisteredObject;
    GraphForwarder forwarder = b.graphForwarder != null ? b.graphForwarder : GraphForwarder.jdk(b.connectTimeout);
    this.graphProxy =
        new GraphProxy(graph, tokenResolver, new Scope(registered), new MediaLinks(cipher, b.clock), forwarder);
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

  /** The Graph compatibility proxy: its settings, decisions and a whole-request {@code handle}. */
  public GraphProxy graphProxy() {
    return graphProxy;
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
    private String appSecret;
    private List<String> mediaHosts = MediaHosts.META_DEFAULTS;
    private Duration connectTimeout = Duration.ofSeconds(5);
    private Duration idleTimeout = Duration.ofSeconds(30);
    private Duration upstreamTimeout = Duration.ofSeconds(30);
    private Duration mediaTimeout = Duration.ofMinutes(5);
    private long maxBodyBytes = 100L * 1024 * 1024;
    private int maxJsonAnswerBytes = 8 * 1024 * 1024;
    private GraphForwarder graphForwarder;
    private Predicate<String> registeredObjects;

    private Builder() {}

    /** Default {@code https://graph.facebook.com}: the upstream Graph API base (http or https, may carry a path). */
    public Builder graphUrl(URI graphUrl) {
      this.graphUrl = Objects.requireNonNull(graphUrl, "graphUrl");
      return this;
    }

    /** Default {@code /api/layer/meta}: the path the layer serves the Graph API under. */
    public Builder graphPrefix(String graphPrefix) {
      this.graphPrefix = Objects.requireNonNull(graphPrefix, "graphPrefix");
      return this;
    }

    /**
     * Default none: the public base URL of the layer (e.g. {@code https://layer.example.com}) for rewritten
     * media and paging URLs; when unset, each request's own scheme and host are used.
     */
    public Builder publicUrl(URI publicUrl) {
      this.publicUrl = Objects.requireNonNull(publicUrl, "publicUrl");
      return this;
    }

    /** Default none: the Meta app secret that computes {@code appsecret_proof} on every upstream request. */
    public Builder appSecret(String appSecret) {
      this.appSecret = Objects.requireNonNull(appSecret, "appSecret");
      return this;
    }

    /** Default {@link MediaHosts#META_DEFAULTS}: hosts media is fetched from with the Meta token. */
    public Builder mediaHosts(List<String> mediaHosts) {
      this.mediaHosts = List.copyOf(mediaHosts);
      return this;
    }

    /** Default 5 seconds: time to open a connection to Graph or a media host. */
    public Builder upstreamConnectTimeout(Duration timeout) {
      this.connectTimeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    /** Default 30 seconds: the longest silence on an upstream connection during an exchange. */
    public Builder upstreamIdleTimeout(Duration timeout) {
      this.idleTimeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    /** Default 30 seconds: total time of one Graph exchange (a timeout is answered 504). */
    public Builder upstreamTimeout(Duration timeout) {
      this.upstreamTimeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    /** Default 5 minutes: total time of one media download, bytes included. */
    public Builder mediaTimeout(Duration timeout) {
      this.mediaTimeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    /** Default 100 MiB (Meta's largest media): the largest request body accepted (larger is a 413). */
    public Builder maxBodyBytes(long maxBodyBytes) {
      this.maxBodyBytes = maxBodyBytes;
      return this;
    }

    /** Default 8 MiB: the largest JSON answer buffered for rewriting (larger is a 502). */
    public Builder maxJsonAnswerBytes(int maxJsonAnswerBytes) {
      this.maxJsonAnswerBytes = maxJsonAnswerBytes;
      return this;
    }

    /** Default {@link GraphForwarder#jdk(Duration)}: how {@link GraphProxy#handle} sends requests upstream. */
    public Builder graphForwarder(GraphForwarder graphForwarder) {
      this.graphForwarder = Objects.requireNonNull(graphForwarder, "graphForwarder");
      return this;
    }

    /**
     * Default {@link KeyService#isRegisteredObject}: whether a Graph ID is a phone number, WABA or
     * business ID of a number known to the host. The scope check refuses such IDs unless they are the
     * grant's own phone number or WABA; embedders with their own {@link TokenResolver} supply theirs.
     */
    public Builder registeredObjects(Predicate<String> registeredObjects) {
      this.registeredObjects = Objects.requireNonNull(registeredObjects, "registeredObjects");
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
      requireHttpUrl(graphUrl, "graphUrl");
      if (publicUrl != null) {
        requireHttpUrl(publicUrl, "publicUrl");
      }
      while (graphPrefix.endsWith("/")) {
        graphPrefix = graphPrefix.substring(0, graphPrefix.length() - 1);
      }
      if (!graphPrefix.startsWith("/") || graphPrefix.contains("?") || graphPrefix.contains("#")) {
        throw new IllegalStateException("graphPrefix must be a path starting with /, got '" + graphPrefix + "'");
      }
      if (appSecret != null && appSecret.isBlank()) {
        throw new IllegalStateException("appSecret must not be blank");
      }
      if (mediaHosts.isEmpty()) {
        throw new IllegalStateException("mediaHosts must name at least one host");
      }
      for (Duration d : List.of(connectTimeout, idleTimeout, upstreamTimeout, mediaTimeout)) {
        if (d.isNegative() || d.isZero()) {
          throw new IllegalStateException("upstream timeouts must be positive, got " + d);
        }
      }
      if (maxBodyBytes < 1 || maxJsonAnswerBytes < 1) {
        throw new IllegalStateException("body size limits must be positive");
      }
      return new MetaLayer(this);
    }

    private static void requireHttpUrl(URI uri, String name) {
      String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      if (!(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null || uri.getRawQuery() != null) {
        throw new IllegalStateException(name + " must be an absolute http(s) URL without a query, got '" + uri + "'");
      }
    }
  }
}

package dev.metalayer.keys;

import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.keys.KeyStore.StoredKey;
import dev.metalayer.keys.KeyStore.StoredNumber;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The rules of numbers and keys over a {@link KeyStore}: registration, key creation (shown once),
 * revocation, and resolution of a presented key into a {@link Grant} (this is the layer's default
 * {@link TokenResolver}).
 *
 * <p>Resolved grants are cached for {@code grantCacheTtl} (the Meta token is decrypted once per key per
 * period, not per request); a key not cached costs one read of the store ({@link KeyStore#findKeyWithNumber})
 * and no write. A revocation, a number removal or a token change made through this service takes effect
 * at once on this instance, also for a request resolving the key at that very moment (it is not cached).
 * One made by another instance sharing the store takes effect here within {@link #POLL_INTERVAL} once
 * {@link #start() started} (the background upkeep reads the store's {@linkplain KeyStore#keyChanges change
 * counter} every second and forgets what it cached when it moved), plus a request already under way;
 * without the upkeep, within {@code grantCacheTtl}.
 *
 * <p>{@code last_used_at} is recorded at most once a minute per key, in memory; the upkeep writes what
 * was recorded every {@link #TOUCH_FLUSH_EVERY} in one batched statement, and {@link #close()} writes the
 * rest. {@link #listKeys()} shows this instance's uses not written yet.
 *
 * <p>When the store fails (unreachable, timed out), a key whose grant is cached keeps working past
 * {@code grantCacheTtl}, for at most {@link #STALE_IF_ERROR} after its grant would have expired, and so do
 * the numbers' directory lookups; a key not cached fails with a {@link StoreUnavailableException}. After a failure, the
 * store is asked again only once {@link #POLL_INTERVAL} has passed (on the service's clock), so that a cached
 * key does not wait for the store's timeout on every request. One WARN is logged
 * when the store first fails and one INFO when it answers again, not one per request. Thread-safe.
 */
public final class KeyService implements TokenResolver, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(KeyService.class);
  private static final Duration TOUCH_INTERVAL = Duration.ofMinutes(1);
  private static final int MAX_CACHED_GRANTS = 200_000;
  /** How often the upkeep reads the store's change counter: the bound of a change made by another instance. */
  public static final Duration POLL_INTERVAL = Duration.ofSeconds(1);
  /** How often the upkeep writes the recorded {@code last_used_at} times. */
  public static final Duration TOUCH_FLUSH_EVERY = Duration.ofSeconds(5);
  /** How long past its cache time a cached grant still serves while the store fails. */
  public static final Duration STALE_IF_ERROR = Duration.ofHours(1);
  /** The change counter not read yet. */
  private static final long UNSEEN = Long.MIN_VALUE;

  private final KeyStore store;
  private final TokenCipher cipher;
  private final Clock clock;
  private final SecureRandom random;
  private final Duration grantCacheTtl;
  private final Consumer<String> removalListener;
  private final Map<String, CachedGrant> grants = new ConcurrentHashMap<>();
  private final java.util.concurrent.atomic.LongAdder grantHits = new java.util.concurrent.atomic.LongAdder();
  private final java.util.concurrent.atomic.LongAdder grantMisses = new java.util.concurrent.atomic.LongAdder();
  /** Counts revocations, removals and token changes, so a resolution racing one never caches a stale grant. */
  private final java.util.concurrent.atomic.AtomicLong changes = new java.util.concurrent.atomic.AtomicLong();
  private volatile Directory directory;
  /** Last uses recorded and not written yet: key id to time. */
  private final Map<String, Instant> pendingTouches = new ConcurrentHashMap<>();
  /** The store's change counter as last read by {@link #refresh}. */
  private volatile long seenChanges = UNSEEN;
  /** Whether the store is failing now (one WARN when it starts, one INFO when it ends). */
  private final java.util.concurrent.atomic.AtomicBoolean storeFailing = new java.util.concurrent.atomic.AtomicBoolean();
  /**
   * While the store fails: until then, what is cached serves without asking the store again (so that a
   * request does not wait for the store's timeout each time); moved {@link #POLL_INTERVAL} past each failure.
   */
  private volatile Instant storeRetryAt = Instant.MIN;
  /** The background upkeep while started; null otherwise. */
  private java.util.concurrent.ScheduledExecutorService upkeep;

  private record CachedGrant(Grant grant, Instant expiresAt, Instant touchedAt) {}

  /** Numbers by their object ids, rebuilt after every change and at most every {@code grantCacheTtl}. */
  private record Directory(
      Map<String, WhatsAppNumber> byPhoneNumberId,
      Map<String, List<WhatsAppNumber>> byWabaId,
      Set<String> objectIds,
      Instant loadedAt) {}

  /** A service whose number removals touch nothing outside its key store. */
  public KeyService(KeyStore store, TokenCipher cipher, Clock clock, SecureRandom random, Duration grantCacheTtl) {
    this(store, cipher, clock, random, grantCacheTtl, phoneNumberId -> {});
  }

  /**
   * @param removalListener what else must go when a number goes: {@link #removeNumber} calls it with the
   *     phone number ID <i>after</i> deleting the number and its keys (so that nothing can be created for
   *     the number once it has run), on the removing thread, also when the number was already gone, so
   *     that a removal whose listener failed is completed by repeating it (it must be idempotent; an
   *     exception reaches the caller).
   *     {@link dev.metalayer.MetaLayer} installs one that removes the number's webhook subscriptions with
   *     their deliveries; the package stays free of the relay.
   */
  public KeyService(KeyStore store, TokenCipher cipher, Clock clock, SecureRandom random, Duration grantCacheTtl,
      Consumer<String> removalListener) {
    this.store = Objects.requireNonNull(store, "store");
    this.cipher = Objects.requireNonNull(cipher, "cipher");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.random = Objects.requireNonNull(random, "random");
    this.grantCacheTtl = Objects.requireNonNull(grantCacheTtl, "grantCacheTtl");
    this.removalListener = Objects.requireNonNull(removalListener, "removalListener");
  }

  // ---- numbers

  /** Registers a number with its Meta token (sealed before it is stored). */
  public Registration addNumber(
      String phone, String phoneNumberId, String wabaId, String businessId, String metaToken) {
    Optional<String> tokenProblem = metaTokenProblem(metaToken);
    if (tokenProblem.isPresent()) {
      return new Registration.Invalid(tokenProblem.get());
    }
    WhatsAppNumber number;
    try {
      number = new WhatsAppNumber(phone, phoneNumberId, wabaId, businessId, clock.instant());
    } catch (IllegalArgumentException e) {
      return new Registration.Invalid(e.getMessage());
    }
    byte[] sealed = cipher.seal(metaToken.strip(), phoneNumberId);
    if (!store.insertNumber(new StoredNumber(number, sealed))) {
      return new Registration.Duplicate(phoneNumberId);
    }
    directory = null;
    log.info("Registered number {} (phone number ID {})", number.phone(), number.phoneNumberId());
    return new Registration.Added(number);
  }

  /**
   * Replaces the Meta token of a number (token rotation).
   *
   * @return false when there is no such number
   * @throws IllegalArgumentException when the token breaks {@link #metaTokenProblem the token rule}
   */
  public boolean updateToken(String phoneNumberId, String metaToken) {
    Optional<String> tokenProblem = metaTokenProblem(metaToken);
    if (tokenProblem.isPresent()) {
      throw new IllegalArgumentException(tokenProblem.get());
    }
    boolean updated = store.updateToken(phoneNumberId, cipher.seal(metaToken.strip(), phoneNumberId));
    if (updated) {
      changes.incrementAndGet();
      grants.values().removeIf(g -> g.grant().number().phoneNumberId().equals(phoneNumberId));
    }
    return updated;
  }

  private static final int MAX_META_TOKEN_CHARS = 4096;

  /**
   * The rule for a Meta token the layer accepts, leading and trailing whitespace aside (removed): 1 to
   * 4096 characters of plain visible ASCII ({@code !} to {@code ~}), as Meta issues them. Anything else
   * (a {@code …} from a placeholder, an inner space, a control character) would reach Meta changed or be
   * refused by it, so it is refused here with a message that names the rule and never the token.
   *
   * @return why the token is refused, or empty when it is accepted
   */
  public static Optional<String> metaTokenProblem(String metaToken) {
    if (metaToken == null || metaToken.isBlank()) {
      return Optional.of("meta_token must be a non-empty Meta access token");
    }
    String token = metaToken.strip();
    if (token.length() > MAX_META_TOKEN_CHARS) {
      return Optional.of("meta_token is longer than " + MAX_META_TOKEN_CHARS + " characters; paste only the access token");
    }
    if (!isPlainMetaToken(token)) {
      return Optional.of("meta_token must be plain visible ASCII (letters, digits and punctuation; no spaces, control"
          + " characters or characters such as '\u2026'); paste the token exactly as Meta shows it");
    }
    return Optional.empty();
  }

  /** Whether {@code token} is 1 to 4096 characters of plain visible ASCII ({@code !} to {@code ~}), and nothing else. */
  public static boolean isPlainMetaToken(String token) {
    if (token == null || token.isEmpty() || token.length() > MAX_META_TOKEN_CHARS) {
      return false;
    }
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      if (c < 0x21 || c > 0x7E) {
        return false;
      }
    }
    return true;
  }

  public List<WhatsAppNumber> listNumbers() {
    return store.listNumbers().stream().map(StoredNumber::number).toList();
  }

  public Optional<WhatsAppNumber> findNumber(String phoneNumberId) {
    return Optional.ofNullable(directory().byPhoneNumberId().get(phoneNumberId));
  }

  /** The numbers of one WhatsApp Business Account (several numbers may share a WABA). */
  public List<WhatsAppNumber> numbersOfWaba(String wabaId) {
    return directory().byWabaId().getOrDefault(wabaId, List.of());
  }

  /**
   * Whether {@code id} is the phone number, WABA or business ID of any registered number, IDs compared
   * in {@linkplain WhatsAppNumber#canonicalId canonical form}.
   */
  public boolean isRegisteredObject(String id) {
    return directory().objectIds().contains(WhatsAppNumber.canonicalId(id));
  }

  /** Whether more than one registered number uses the WABA {@code wabaId} (IDs compared in canonical form). */
  public boolean isSharedWaba(String wabaId) {
    String waba = WhatsAppNumber.canonicalId(wabaId);
    return directory().byPhoneNumberId().values().stream()
        .filter(n -> WhatsAppNumber.canonicalId(n.wabaId()).equals(waba))
        .limit(2)
        .count() > 1;
  }

  /**
   * Removes a number and its keys; they stop working at once on this instance. Then the removal
   * listener removes what belongs to the number elsewhere (in the layer: its webhook subscriptions and
   * their deliveries); it runs whether or not the number was still registered, so that repeating a
   * removal whose listener failed (the exception reaches the caller) completes it. Idempotent.
   *
   * @return false when there was no such number
   */
  public boolean removeNumber(String phoneNumberId) {
    // The number first (its keys stop), then what belongs to it: a subscription created for it on
    // another instance meanwhile is then either deleted by the listener below, or finds the number gone
    // when it checks afterwards (see WebhookSubscriptions#create). The listener runs even when the
    // number is gone already, so that repeating a removal whose listener failed cleans up.
    boolean removed = store.deleteNumber(phoneNumberId);
    if (removed) {
      changes.incrementAndGet();
      grants.values().removeIf(g -> g.grant().number().phoneNumberId().equals(phoneNumberId));
      directory = null;
      log.info("Removed number with phone number ID {} and its keys", phoneNumberId);
    }
    removalListener.accept(phoneNumberId);
    return removed;
  }

  /**
   * The Meta token of a registered number, opened from the store now: for the layer's own calls to Meta
   * on the number's behalf (the Meta doctor). The caller puts it in an upstream request and nowhere else
   * (no log, no answer, no exception message). Empty when there is no such number.
   *
   * @throws dev.metalayer.crypto.TokenCipher.SecretUnreadableException when the stored token does not open
   */
  public Optional<String> metaTokenOf(String phoneNumberId) {
    return store.findNumber(phoneNumberId).map(n -> cipher.open(n.sealedToken(), n.number().phoneNumberId()));
  }

  /** Whether the number is registered, read from the store now (not from this instance's cache). */
  public boolean isRegistered(String phoneNumberId) {
    return store.findNumber(phoneNumberId).isPresent();
  }

  // ---- keys

  /** Creates a key with every {@link Grant.Scope} for a number. @return empty when there is no such number */
  public Optional<CreatedKey> createKey(String phoneNumberId) {
    return createKey(phoneNumberId, Grant.Scope.ALL);
  }

  /**
   * Creates a key for a number that may do only what {@code scopes} name.
   *
   * @return empty when there is no such number
   * @throws IllegalArgumentException when {@code scopes} is empty
   */
  public Optional<CreatedKey> createKey(String phoneNumberId, Set<Grant.Scope> scopes) {
    return createKey(phoneNumberId, scopes, Optional.empty());
  }

  /**
   * Creates a key for a number that may do only what {@code scopes} name, with its own rate limit
   * ({@code rateLimit}, empty for the layer's default; {@link Grant.RateLimit#OFF} for none).
   *
   * @return empty when there is no such number
   * @throws IllegalArgumentException when {@code scopes} is empty
   */
  public Optional<CreatedKey> createKey(String phoneNumberId, Set<Grant.Scope> scopes,
      Optional<Grant.RateLimit> rateLimit) {
    Objects.requireNonNull(rateLimit, "rateLimit");
    if (scopes.isEmpty()) {
      throw new IllegalArgumentException("a key needs at least one scope");
    }
    if (store.findNumber(phoneNumberId).isEmpty()) {
      return Optional.empty();
    }
    String key = ApiKeys.generate(random);
    KeyRecord record =
        new KeyRecord(
            ApiKeys.newId("key", random),
            ApiKeys.displayPrefix(key),
            phoneNumberId,
            clock.instant(),
            Optional.empty(),
            Optional.empty(),
            scopes,
            rateLimit);
    store.insertKey(new StoredKey(record, ApiKeys.hash(key)));
    log.info("Created key {} ({}…) for phone number ID {} with the scopes {} and the rate limit {}", record.id(),
        record.prefix(), phoneNumberId, Grant.Scope.names(record.scopes()), rateLimit.map(Object::toString).orElse("default"));
    return Optional.of(new CreatedKey(record, key));
  }

  /** Every key, with its last use as this instance knows it (also one not written to the store yet). */
  public List<KeyRecord> listKeys() {
    return store.listKeys().stream().map(r -> {
      Instant pending = pendingTouches.get(r.id());
      if (pending == null || r.lastUsedAt().filter(t -> !t.isBefore(pending)).isPresent()) {
        return r;
      }
      return r.withLastUsedAt(Optional.of(pending));
    }).toList();
  }

  /** Revokes a key; it stops working at once on this instance. @return false if unknown or already revoked */
  public boolean revokeKey(String id) {
    boolean revoked = store.revokeKey(id, clock.instant());
    changes.incrementAndGet();
    grants.values().removeIf(g -> g.grant().keyId().equals(id));
    if (revoked) {
      log.info("Revoked key {}", id);
    }
    return revoked;
  }

  /**
   * Sets a key's own rate limit ({@code limit}; empty: the layer's default again), revoked or not. It
   * holds at once on this instance (the key's cached grant is dropped), on others within their next
   * poll ({@link #POLL_INTERVAL}).
   *
   * @return false when there is no such key
   */
  public boolean setRateLimit(String id, Optional<Grant.RateLimit> limit) {
    Objects.requireNonNull(limit, "limit");
    boolean updated = store.updateRateLimit(id, limit);
    changes.incrementAndGet();
    grants.values().removeIf(g -> g.grant().keyId().equals(id));
    if (updated) {
      log.info("Set the rate limit of key {} to {}", id, limit.map(Object::toString).orElse("the default"));
    }
    return updated;
  }

  /**
   * Checks that this service's master key is the one that sealed the store's tokens: it opens the
   * store's {@linkplain KeyStore#masterKeyCheck check value}; a store without one (new, or from before
   * the check existed) has one of its sealed tokens opened instead, and the check value is saved once
   * the key is known to be right (at once for an empty store).
   *
   * @throws WrongMasterKeyException when the key does not open them: nothing is saved then
   */
  public void verifyMasterKey() {
    Optional<byte[]> check = store.masterKeyCheck();
    if (check.isEmpty()) {
      Optional<StoredNumber> any = store.listNumbers().stream().findFirst();
      if (any.isPresent()) {
        try {
          cipher.open(any.get().sealedToken(), any.get().number().phoneNumberId());
        } catch (TokenCipher.SecretUnreadableException e) {
          throw new WrongMasterKeyException();
        }
      }
      if (store.saveMasterKeyCheck(MasterKeyCheck.seal(cipher))) {
        log.info("Saved the master key check value: a layer started with another master key will refuse to start");
        return;
      }
      // another instance saved one meanwhile (or the store keeps none): it decides
      check = store.masterKeyCheck();
    }
    if (check.isPresent() && !MasterKeyCheck.opens(cipher, check.get())) {
      throw new WrongMasterKeyException();
    }
  }

  /** Whether the store answers (readiness). */
  public boolean storeReachable() {
    return store.ping();
  }

  // ---- resolution

  /** Well-formed keys resolved from the grant cache so far (for metrics). */
  public long grantCacheHits() {
    return grantHits.sum();
  }

  /** Well-formed keys that were looked up in the store so far (not cached, or cached too long ago; for metrics). */
  public long grantCacheMisses() {
    return grantMisses.sum();
  }

  @Override
  public Resolution resolve(String credential) {
    if (credential == null || credential.isEmpty()) {
      return Resolution.refused(Resolution.Reason.MISSING);
    }
    if (!ApiKeys.looksLikeKey(credential)) {
      return Resolution.refused(Resolution.Reason.MALFORMED);
    }
    String hash = ApiKeys.hash(credential);
    Instant now = clock.instant();
    long changesSeen = changes.get();
    CachedGrant cached = grants.get(hash);
    if (cached != null && now.isBefore(cached.expiresAt())) {
      grantHits.increment();
      return new Resolution.Granted(touch(hash, cached, now).grant());
    }
    if (cached != null && staleServes(cached.expiresAt(), now) && now.isBefore(storeRetryAt)) {
      grantHits.increment();
      return new Resolution.Granted(touch(hash, cached, now).grant()); // the store failed a moment ago
    }
    grantMisses.increment();
    Optional<KeyStore.KeyWithNumber> found;
    try {
      found = store.findKeyWithNumber(hash);
    } catch (RuntimeException e) {
      storeFailed(e);
      if (cached != null && staleServes(cached.expiresAt(), now)) {
        // stale-if-error: the store cannot say otherwise now, and a change made meanwhile needs the store
        return new Resolution.Granted(touch(hash, cached, now).grant());
      }
      throw new StoreUnavailableException(e);
    }
    storeAnswered();
    if (found.isEmpty()) {
      grants.remove(hash);
      return Resolution.refused(Resolution.Reason.UNKNOWN);
    }
    KeyRecord record = found.get().key().record();
    if (record.revoked()) {
      grants.remove(hash);
      return Resolution.refused(Resolution.Reason.REVOKED);
    }
    StoredNumber number = found.get().number();
    String token = cipher.open(number.sealedToken(), record.phoneNumberId());
    Grant grant = new Grant(record.id(), number.number(), token, record.scopes(), record.rateLimit());
    if (grants.size() >= MAX_CACHED_GRANTS) {
      grants.clear();
    }
    // a key used less than a minute ago (its grant just expired) is not recorded again
    Instant touchedAt = cached != null && cached.grant().keyId().equals(record.id())
        && now.isBefore(cached.touchedAt().plus(TOUCH_INTERVAL)) ? cached.touchedAt() : recordUse(record.id(), now);
    CachedGrant fresh = new CachedGrant(grant, now.plus(grantCacheTtl), touchedAt);
    grants.put(hash, fresh);
    if (changes.get() != changesSeen) {
      // a revocation (or removal, or new token) ran while this key was read: its clearing of the cache
      // may have come before this put, so the grant is not kept (this one request still passes, as any
      // request already under way when a key is revoked)
      grants.remove(hash, fresh);
    }
    return new Resolution.Granted(grant);
  }

  /** Whether something cached until {@code expiresAt} may still serve while the store fails. */
  private static boolean staleServes(Instant expiresAt, Instant now) {
    return now.isBefore(expiresAt.plus(STALE_IF_ERROR));
  }

  /** The cached grant, its use recorded when the last one recorded is a minute old. */
  private CachedGrant touch(String hash, CachedGrant cached, Instant now) {
    if (now.isBefore(cached.touchedAt().plus(TOUCH_INTERVAL))) {
      return cached;
    }
    CachedGrant touched = new CachedGrant(cached.grant(), cached.expiresAt(), now);
    // replace, not put: a grant revoked meanwhile must not come back
    if (grants.replace(hash, cached, touched)) {
      recordUse(cached.grant().keyId(), now);
    }
    return touched;
  }

  /** Records a use of the key, written by the next {@link #flushTouches}. @return {@code at} */
  private Instant recordUse(String keyId, Instant at) {
    pendingTouches.merge(keyId, at, (a, b) -> a.isAfter(b) ? a : b);
    return at;
  }

  // ---- background upkeep

  /**
   * Starts the background upkeep (one daemon thread, {@code layer-keys}): every {@link #POLL_INTERVAL} it
   * {@linkplain #refresh reads the store's change counter}, and every {@link #TOUCH_FLUSH_EVERY} it
   * {@linkplain #flushTouches writes the recorded last uses}. Idempotent.
   */
  public synchronized void start() {
    if (upkeep != null) {
      return;
    }
    upkeep = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "layer-keys");
      t.setDaemon(true);
      return t;
    });
    long every = POLL_INTERVAL.toMillis();
    long flushEvery = Math.max(1, TOUCH_FLUSH_EVERY.toMillis() / every);
    java.util.concurrent.atomic.AtomicLong ticks = new java.util.concurrent.atomic.AtomicLong();
    upkeep.scheduleWithFixedDelay(() -> {
      try {
        refresh();
        if (ticks.incrementAndGet() % flushEvery == 0) {
          flushTouches();
        }
      } catch (RuntimeException e) {
        // already said by storeFailed; the upkeep goes on (an exception would end the schedule)
        log.debug("Key upkeep failed: {}", e.getClass().getName());
      }
    }, every, every, java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  /**
   * Stops the upkeep, then writes the last uses recorded and not written yet (if the store fails then, they
   * are lost and said in one WARN). The service still resolves keys afterwards. Idempotent.
   */
  @Override
  public void close() {
    java.util.concurrent.ScheduledExecutorService stopping;
    synchronized (this) {
      stopping = upkeep;
      upkeep = null;
    }
    if (stopping != null) {
      stopping.shutdown();
      try {
        if (!stopping.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS)) {
          stopping.shutdownNow();
        }
      } catch (InterruptedException e) {
        stopping.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
    try {
      flushTouches();
    } catch (RuntimeException e) {
      log.warn("The last use of {} key(s) was not written: the key store failed ({})", pendingTouches.size(),
          e.getClass().getName());
    }
  }

  /**
   * Reads the store's {@linkplain KeyStore#keyChanges change counter} and, when it moved since the last
   * read (a key revoked, a number added or removed, a token changed, by any instance), forgets every cached
   * grant and the numbers' directory. A failing store changes nothing cached (stale-if-error). The
   * upkeep runs this every {@link #POLL_INTERVAL}; tests call it to drive the poll.
   */
  void refresh() {
    long now;
    try {
      now = store.keyChanges();
    } catch (RuntimeException e) {
      storeFailed(e);
      throw e;
    }
    storeAnswered();
    if (now != seenChanges) {
      boolean first = seenChanges == UNSEEN;
      seenChanges = now;
      changes.incrementAndGet();
      if (!first || !grants.isEmpty()) {
        grants.clear();
        directory = null;
        log.debug("Key store changed: cached grants and numbers forgotten");
      }
    }
  }

  /**
   * Writes the recorded last uses in one {@link KeyStore#touchKeys} call; when the store fails they stay
   * recorded for the next call (and the failure is thrown).
   */
  void flushTouches() {
    if (pendingTouches.isEmpty()) {
      return;
    }
    Map<String, Instant> batch = new HashMap<>();
    for (Map.Entry<String, Instant> e : pendingTouches.entrySet()) {
      if (pendingTouches.remove(e.getKey(), e.getValue())) {
        batch.put(e.getKey(), e.getValue());
      }
    }
    if (batch.isEmpty()) {
      return;
    }
    try {
      store.touchKeys(batch);
    } catch (RuntimeException e) {
      storeFailed(e);
      batch.forEach(this::recordUse);
      throw e;
    }
    storeAnswered();
  }

  /** The store failed: one WARN when it starts failing. */
  private void storeFailed(RuntimeException e) {
    storeRetryAt = clock.instant().plus(POLL_INTERVAL);
    if (storeFailing.compareAndSet(false, true)) {
      log.warn("The key store does not answer ({}): keys whose grants are cached keep working for up to {} min past"
              + " their cache time, other keys fail until it answers again", describe(e), STALE_IF_ERROR.toMinutes());
    }
  }

  /** The store answered: one INFO when it had failed. */
  private void storeAnswered() {
    storeRetryAt = Instant.MIN;
    if (storeFailing.compareAndSet(true, false)) {
      log.info("The key store answers again");
    }
  }

  /** The deepest cause's class and message (a connection error: no key material), at most 200 characters. */
  private static String describe(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String text = root.getClass().getSimpleName() + (root.getMessage() == null ? "" : ": " + root.getMessage());
    return text.length() > 200 ? text.substring(0, 200) + "…" : text;
  }

  private Directory directory() {
    Directory d = directory;
    Instant now = clock.instant();
    if (d != null && !now.isBefore(d.loadedAt().plus(grantCacheTtl)) && now.isBefore(storeRetryAt)
        && staleServes(d.loadedAt().plus(grantCacheTtl), now)) {
      return d; // the store failed a moment ago
    }
    if (d == null || !now.isBefore(d.loadedAt().plus(grantCacheTtl))) {
      List<StoredNumber> numbers;
      try {
        numbers = store.listNumbers();
      } catch (RuntimeException e) {
        storeFailed(e);
        if (d != null && staleServes(d.loadedAt().plus(grantCacheTtl), now)) {
          return d; // stale-if-error, as for grants
        }
        throw e;
      }
      storeAnswered();
      Map<String, WhatsAppNumber> byId = new HashMap<>();
      Map<String, List<WhatsAppNumber>> byWaba = new HashMap<>();
      Set<String> ids = new HashSet<>();
      for (StoredNumber s : numbers) {
        WhatsAppNumber n = s.number();
        byId.put(n.phoneNumberId(), n);
        byWaba.computeIfAbsent(n.wabaId(), k -> new ArrayList<>()).add(n);
        ids.add(WhatsAppNumber.canonicalId(n.phoneNumberId()));
        ids.add(WhatsAppNumber.canonicalId(n.wabaId()));
        ids.add(WhatsAppNumber.canonicalId(n.businessId()));
      }
      byWaba.replaceAll((k, v) -> List.copyOf(v));
      d = new Directory(Map.copyOf(byId), Map.copyOf(byWaba), Set.copyOf(ids), now);
      directory = d;
    }
    return d;
  }

  /**
   * The key store failed (unreachable, timed out) and nothing cached answers for the presented key: it can
   * be neither granted nor refused now. The Graph proxy answers it with a 503; a retry once the store
   * answers again resolves it. Keeps the store's exception as its cause; names no key.
   */
  public static final class StoreUnavailableException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public StoreUnavailableException(Throwable cause) {
      super("the key store does not answer: the key cannot be checked now", cause);
    }
  }

  /** A key just created: the only moment the layer holds the key itself. {@link #toString()} hides it. */
  public record CreatedKey(KeyRecord record, String key) {
    public CreatedKey {
      Objects.requireNonNull(record, "record");
      Objects.requireNonNull(key, "key");
    }

    @Override
    public String toString() {
      return "CreatedKey[id=" + record.id() + ", prefix=" + record.prefix() + ", key=<redacted>]";
    }
  }

  /** The outcome of registering a number. */
  public sealed interface Registration {
    record Added(WhatsAppNumber number) implements Registration {}

    /** The phone number ID or the phone is already registered; nothing changed. */
    record Duplicate(String phoneNumberId) implements Registration {}

    /** The input is invalid; {@code reason} is safe to show (it never contains the token). */
    record Invalid(String reason) implements Registration {}
  }

  /**
   * The master key given to the layer does not open the secrets its store holds: they were sealed with
   * another key. Thrown by {@link dev.metalayer.MetaLayer.Builder#build()} so that a layer with the wrong
   * key never starts (it could serve nothing: every proxied request would fail to open its Meta token).
   * The message names no key material.
   */
  public static final class WrongMasterKeyException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public WrongMasterKeyException() {
      super("the master key does not open the tokens sealed in this store: build with the masterKey that sealed"
          + " them, or with an empty store");
    }
  }
}

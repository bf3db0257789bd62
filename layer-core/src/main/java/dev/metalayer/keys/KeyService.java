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
 * period, not per request). A revocation or a number removal made through this service takes effect
 * at once on this instance, also for a request resolving the key at that very moment (it is not cached);
 * one made by another instance takes effect within {@code grantCacheTtl}.
 * {@code last_used_at} is written at most once a minute per key. Thread-safe.
 */
public final class KeyService implements TokenResolver {
  private static final Logger log = LoggerFactory.getLogger(KeyService.class);
  private static final Duration TOUCH_INTERVAL = Duration.ofMinutes(1);
  private static final int MAX_CACHED_GRANTS = 200_000;

  private final KeyStore store;
  private final TokenCipher cipher;
  private final Clock clock;
  private final SecureRandom random;
  private final Duration grantCacheTtl;
  private final Consumer<String> removalListener;
  private final Map<String, CachedGrant> grants = new ConcurrentHashMap<>();
  /** Counts revocations, removals and token changes, so a resolution racing one never caches a stale grant. */
  private final java.util.concurrent.atomic.AtomicLong changes = new java.util.concurrent.atomic.AtomicLong();
  private volatile Directory directory;

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

  /** Whether the number is registered, read from the store now (not from this instance's cache). */
  public boolean isRegistered(String phoneNumberId) {
    return store.findNumber(phoneNumberId).isPresent();
  }

  // ---- keys

  /** Creates a key for a number. @return empty when there is no such number */
  public Optional<CreatedKey> createKey(String phoneNumberId) {
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
            Optional.empty());
    store.insertKey(new StoredKey(record, ApiKeys.hash(key)));
    log.info("Created key {} ({}…) for phone number ID {}", record.id(), record.prefix(), phoneNumberId);
    return Optional.of(new CreatedKey(record, key));
  }

  public List<KeyRecord> listKeys() {
    return store.listKeys();
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
      if (!now.isBefore(cached.touchedAt().plus(TOUCH_INTERVAL))) {
        store.touchKey(cached.grant().keyId(), now);
        // replace, not put: a grant revoked meanwhile must not come back
        grants.replace(hash, cached, new CachedGrant(cached.grant(), cached.expiresAt(), now));
      }
      return new Resolution.Granted(cached.grant());
    }
    Optional<StoredKey> stored = store.findKeyByHash(hash);
    if (stored.isEmpty()) {
      return Resolution.refused(Resolution.Reason.UNKNOWN);
    }
    KeyRecord record = stored.get().record();
    if (record.revoked()) {
      return Resolution.refused(Resolution.Reason.REVOKED);
    }
    Optional<StoredNumber> number = store.findNumber(record.phoneNumberId());
    if (number.isEmpty()) {
      return Resolution.refused(Resolution.Reason.UNKNOWN);
    }
    String token = cipher.open(number.get().sealedToken(), record.phoneNumberId());
    Grant grant = new Grant(record.id(), number.get().number(), token);
    if (grants.size() >= MAX_CACHED_GRANTS) {
      grants.clear();
    }
    store.touchKey(record.id(), now);
    CachedGrant fresh = new CachedGrant(grant, now.plus(grantCacheTtl), now);
    grants.put(hash, fresh);
    if (changes.get() != changesSeen) {
      // a revocation (or removal, or new token) ran while this key was read: its clearing of the cache
      // may have come before this put, so the grant is not kept (this one request still passes, as any
      // request already under way when a key is revoked)
      grants.remove(hash, fresh);
    }
    return new Resolution.Granted(grant);
  }

  private Directory directory() {
    Directory d = directory;
    Instant now = clock.instant();
    if (d == null || !now.isBefore(d.loadedAt().plus(grantCacheTtl))) {
      Map<String, WhatsAppNumber> byId = new HashMap<>();
      Map<String, List<WhatsAppNumber>> byWaba = new HashMap<>();
      Set<String> ids = new HashSet<>();
      for (StoredNumber s : store.listNumbers()) {
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

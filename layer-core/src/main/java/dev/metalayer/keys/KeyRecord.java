package dev.metalayer.keys;

import dev.metalayer.keys.Grant.Scope;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * What the layer knows of a key after it was shown: never the key itself, only its id, a short display
 * prefix, the number it is scoped to, its life cycle, its {@link Scope}s and its own rate limit.
 *
 * @param scopes what the key may do; never empty
 * @param rateLimit the key's own {@link Grant.RateLimit}, replacing the layer's default for it; empty: the default
 */
public record KeyRecord(
    String id,
    String prefix,
    String phoneNumberId,
    Instant createdAt,
    Optional<Instant> lastUsedAt,
    Optional<Instant> revokedAt,
    Set<Scope> scopes,
    Optional<Grant.RateLimit> rateLimit) {

  public KeyRecord {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(prefix, "prefix");
    Objects.requireNonNull(phoneNumberId, "phoneNumberId");
    Objects.requireNonNull(createdAt, "createdAt");
    Objects.requireNonNull(lastUsedAt, "lastUsedAt");
    Objects.requireNonNull(revokedAt, "revokedAt");
    scopes = Scope.copyOf(scopes);
    Objects.requireNonNull(rateLimit, "rateLimit");
  }

  /** A key with the layer's default rate limit. */
  public KeyRecord(String id, String prefix, String phoneNumberId, Instant createdAt, Optional<Instant> lastUsedAt,
      Optional<Instant> revokedAt, Set<Scope> scopes) {
    this(id, prefix, phoneNumberId, createdAt, lastUsedAt, revokedAt, scopes, Optional.empty());
  }

  /** A key with every scope. */
  public KeyRecord(String id, String prefix, String phoneNumberId, Instant createdAt, Optional<Instant> lastUsedAt,
      Optional<Instant> revokedAt) {
    this(id, prefix, phoneNumberId, createdAt, lastUsedAt, revokedAt, Scope.ALL);
  }

  public boolean revoked() {
    return revokedAt.isPresent();
  }

  /** This record with another last use. */
  public KeyRecord withLastUsedAt(Optional<Instant> at) {
    return new KeyRecord(id, prefix, phoneNumberId, createdAt, at, revokedAt, scopes, rateLimit);
  }

  /** This record revoked at {@code at}. */
  public KeyRecord withRevokedAt(Optional<Instant> at) {
    return new KeyRecord(id, prefix, phoneNumberId, createdAt, lastUsedAt, at, scopes, rateLimit);
  }

  /** This record with another rate limit of its own (empty: the layer's default). */
  public KeyRecord withRateLimit(Optional<Grant.RateLimit> limit) {
    return new KeyRecord(id, prefix, phoneNumberId, createdAt, lastUsedAt, revokedAt, scopes, limit);
  }
}

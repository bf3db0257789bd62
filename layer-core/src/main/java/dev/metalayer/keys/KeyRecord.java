package dev.metalayer.keys;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * What the layer knows of a key after it was shown: never the key itself, only its id, a short display
 * prefix, the number it is scoped to and its life cycle.
 */
public record KeyRecord(
    String id,
    String prefix,
    String phoneNumberId,
    Instant createdAt,
    Optional<Instant> lastUsedAt,
    Optional<Instant> revokedAt) {

  public KeyRecord {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(prefix, "prefix");
    Objects.requireNonNull(phoneNumberId, "phoneNumberId");
    Objects.requireNonNull(createdAt, "createdAt");
    Objects.requireNonNull(lastUsedAt, "lastUsedAt");
    Objects.requireNonNull(revokedAt, "revokedAt");
  }

  public boolean revoked() {
    return revokedAt.isPresent();
  }
}

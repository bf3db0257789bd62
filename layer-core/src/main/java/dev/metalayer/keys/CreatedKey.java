package dev.metalayer.keys;

import java.util.Objects;

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

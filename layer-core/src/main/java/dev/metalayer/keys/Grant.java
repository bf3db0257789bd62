package dev.metalayer.keys;

import java.util.Objects;

/**
 * A credential that was accepted: the key's id, the number it is scoped to and the Meta token to use
 * upstream. The token is the one secret this value carries; {@link #toString()} never shows it.
 */
public record Grant(String keyId, WhatsAppNumber number, String metaToken) {
  public Grant {
    Objects.requireNonNull(keyId, "keyId");
    Objects.requireNonNull(number, "number");
    Objects.requireNonNull(metaToken, "metaToken");
  }

  @Override
  public String toString() {
    return "Grant[keyId=" + keyId + ", phoneNumberId=" + number.phoneNumberId() + ", metaToken=<redacted>]";
  }
}

package dev.metalayer.relay;

import java.util.List;

/**
 * What a client asks for when it creates or changes a subscription. On create, {@code name},
 * {@code url} and {@code events} are required; on update, a null field is left as it is (merge-safe:
 * an update never replaces what it does not name).
 *
 * @param secret 8 to 200 characters; {@code whsec_<base64>} is used as Standard Webhooks key bytes
 */
public record SubscriptionSpec(
    String name, String url, List<String> events, String secret, Boolean chatwootTerminateReason, Boolean active) {

  @Override
  public String toString() {
    return "SubscriptionSpec[name=" + name + ", url=" + url + ", events=" + events + ", secret="
        + (secret == null ? "null" : "<redacted>") + ", chatwootTerminateReason=" + chatwootTerminateReason
        + ", active=" + active + "]";
  }
}

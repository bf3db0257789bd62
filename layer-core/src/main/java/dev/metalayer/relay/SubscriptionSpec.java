package dev.metalayer.relay;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
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

  /** A client's JSON body read as a spec, or why it is not one. */
  public sealed interface Read {
    record Valid(SubscriptionSpec spec) implements Read {}

    /** @param message names the field and the type it must have; never quotes the body */
    record Invalid(String message) implements Read {}
  }

  /**
   * Reads the JSON object a client sends to create ({@code patch} false) or change a subscription:
   * {@code name}, {@code url} and {@code secret} strings, {@code events} an array of strings,
   * {@code chatwoot_terminate_reason} a boolean and, on a change only, {@code active} a boolean. A field
   * that is absent or null is not given; unknown fields are ignored. Only types are checked here;
   * {@link WebhookSubscriptions} checks the values.
   */
  public static Read read(JsonNode body, boolean patch) {
    try {
      List<String> events = null;
      JsonNode e = body.get("events");
      if (e != null && !e.isNull()) {
        if (!e.isArray()) {
          return new Read.Invalid("events must be an array of strings.");
        }
        events = new ArrayList<>();
        for (JsonNode x : e) {
          if (!x.isTextual()) {
            return new Read.Invalid("events must be an array of strings.");
          }
          events.add(x.asText());
        }
      }
      Boolean active = patch ? bool(body, "active") : null;
      return new Read.Valid(new SubscriptionSpec(text(body, "name"), text(body, "url"), events, text(body, "secret"),
          bool(body, "chatwoot_terminate_reason"), active));
    } catch (IllegalArgumentException ex) {
      return new Read.Invalid(ex.getMessage());
    }
  }

  private static String text(JsonNode node, String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isTextual()) {
      throw new IllegalArgumentException(field + " must be a string.");
    }
    return v.asText();
  }

  private static Boolean bool(JsonNode node, String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isBoolean()) {
      throw new IllegalArgumentException(field + " must be true or false.");
    }
    return v.asBoolean();
  }

  @Override
  public String toString() {
    return "SubscriptionSpec[name=" + name + ", url=" + url + ", events=" + events + ", secret="
        + (secret == null ? "null" : "<redacted>") + ", chatwootTerminateReason=" + chatwootTerminateReason
        + ", active=" + active + "]";
  }
}

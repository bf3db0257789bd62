package dev.metalayer.relay;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The opt-in Chatwoot enrichment: Chatwoot decides whether a call failed from a
 * {@code terminate_reason} field that Meta never sends (it ignores Meta's {@code status}). For each
 * {@code value.calls[]} item with {@code "event":"terminate"} and no {@code terminate_reason} of its
 * own, the relay inserts one, derived from Meta's {@code status} and {@code errors}:
 *
 * <ul>
 *   <li>{@code COMPLETED} → {@code completed}; {@code REJECTED} → {@code rejected};
 *   <li>{@code FAILED} → {@code failed}, or {@code failed_<code>} with the first error's code (the
 *       call's own {@code errors}, else the change's {@code value.errors});
 *   <li>any other status → its lower-case text (letters, digits and {@code _} only); no status → none.
 * </ul>
 *
 * The field is inserted by bytes before the call object's closing brace: nothing else is re-written.
 */
final class TerminateReasons {
  private static final JsonFactory FACTORY = new JsonFactory();

  private TerminateReasons() {}

  static Optional<String> derive(JsonNode call, JsonNode value) {
    if (!"terminate".equals(call.path("event").asText()) || call.has("terminate_reason")) {
      return Optional.empty();
    }
    String status = call.path("status").asText("").toUpperCase(Locale.ROOT);
    switch (status) {
      case "":
        return Optional.empty();
      case "COMPLETED":
        return Optional.of("completed");
      case "REJECTED":
        return Optional.of("rejected");
      case "FAILED":
        JsonNode errors = call.path("errors").isArray() ? call.path("errors") : value.path("errors");
        JsonNode code = errors.path(0).path("code");
        return Optional.of(code.canConvertToLong() ? "failed_" + code.asLong() : "failed");
      default:
        String cleaned = status.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "");
        return cleaned.isEmpty() ? Optional.empty() : Optional.of(cleaned);
    }
  }

  /** The change's envelope with the reasons inserted; the same array when there is nothing to add. */
  static byte[] enrich(Change change) {
    if (!change.hasTerminateReasons()) {
      return change.envelope();
    }
    byte[] env = change.envelope();
    List<Integer> closes = callObjectCloses(Arrays.copyOfRange(env, change.changeOffset(), change.changeOffset() + change.changeLength()));
    ByteArrayOutputStream out = new ByteArrayOutputStream(env.length + 64);
    int copied = 0;
    for (int i = 0; i < closes.size() && i < change.terminateReasons().size(); i++) {
      Optional<String> reason = change.terminateReasons().get(i);
      Integer close = closes.get(i);
      if (reason.isEmpty() || close == null) {
        continue;
      }
      int at = change.changeOffset() + close;
      out.write(env, copied, at - copied);
      // a reason comes from the item's own non-empty "status", so the item is never an empty object
      String field = ",\"terminate_reason\":\"" + reason.get() + "\"";
      out.writeBytes(field.getBytes(StandardCharsets.US_ASCII));
      copied = at;
    }
    out.write(env, copied, env.length - copied);
    return out.toByteArray();
  }

  /** Offsets of the closing brace of each {@code value.calls[]} item (null for a non-object item). */
  static List<Integer> callObjectCloses(byte[] change) {
    List<Integer> closes = new ArrayList<>();
    try (JsonParser p = FACTORY.createParser(change)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return closes;
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken t = p.nextToken();
        if (!"value".equals(name) || t != JsonToken.START_OBJECT) {
          p.skipChildren();
          continue;
        }
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String inner = p.currentName();
          t = p.nextToken();
          if ("calls".equals(inner) && t == JsonToken.START_ARRAY) {
            while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
              if (t == JsonToken.START_OBJECT) {
                p.skipChildren();
                closes.add((int) p.currentTokenLocation().getByteOffset());
              } else {
                p.skipChildren();
                closes.add(null);
              }
            }
            return closes;
          }
          p.skipChildren();
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException("a validated change failed to parse", e);
    }
    return closes;
  }
}

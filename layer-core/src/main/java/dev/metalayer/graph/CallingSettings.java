package dev.metalayer.graph;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.metalayer.json.Json;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Merges a client's partial calling settings into the current ones, so that a helpdesk that writes
 * only {@code {"calling":{"status":"ENABLED"}}} never erases call hours, holiday schedules or SIP
 * settings made elsewhere: Meta treats an omitted part of {@code calling} as a replacement (an omitted
 * {@code holiday_schedule} deletes the schedule).
 *
 * <p>Objects merge recursively; scalars and arrays given by the client replace the current ones. Parts
 * Meta only reports and never accepts ({@code restrictions}) are dropped from the write. Pure functions.
 */
final class CallingSettings {
  /** Read-only parts of {@code calling} that {@code GET …/settings} returns and a write must not carry. */
  private static final Set<String> READ_ONLY = Set.of("restrictions");

  private CallingSettings() {}

  /**
   * Whether a {@code POST /{phone-number-id}/settings} body is a partial {@code calling} update that
   * the layer should merge: a JSON object with a {@code calling} object.
   */
  public static boolean isCallingUpdate(byte[] clientBody) {
    return parseObject(clientBody).map(b -> b.path("calling").isObject()).orElse(false);
  }

  /**
   * @param clientBody the client's JSON object with a partial {@code calling}
   * @param currentAnswer the answer of {@code GET /{phone-number-id}/settings} (a JSON object, with or
   *     without a {@code calling} object)
   * @return the body to write: the client's body with {@code calling} merged into the current
   *     settings; empty when either input is not a JSON object
   */
  public static Optional<byte[]> merge(byte[] clientBody, byte[] currentAnswer) {
    Optional<ObjectNode> client = parseObject(clientBody);
    Optional<ObjectNode> current = parseObject(currentAnswer);
    if (client.isEmpty() || current.isEmpty() || !client.get().path("calling").isObject()) {
      return Optional.empty();
    }
    ObjectNode merged = current.get().path("calling").isObject()
        ? ((ObjectNode) current.get().get("calling")).deepCopy()
        : Json.mapper().createObjectNode();
    READ_ONLY.forEach(merged::remove);
    mergeInto(merged, (ObjectNode) client.get().get("calling"));
    ObjectNode out = client.get().deepCopy();
    out.set("calling", merged);
    return Optional.of(Json.bytes(out));
  }

  private static void mergeInto(ObjectNode target, ObjectNode patch) {
    for (Map.Entry<String, JsonNode> f : patch.properties()) {
      JsonNode existing = target.get(f.getKey());
      if (existing != null && existing.isObject() && f.getValue().isObject()) {
        mergeInto((ObjectNode) existing, (ObjectNode) f.getValue());
      } else {
        target.set(f.getKey(), f.getValue().deepCopy());
      }
    }
  }

  private static Optional<ObjectNode> parseObject(byte[] body) {
    if (body == null || body.length == 0) {
      return Optional.empty();
    }
    try {
      JsonNode node = Json.mapper().readTree(body);
      return node instanceof ObjectNode o ? Optional.of(o) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }
}

package dev.metalayer.graph;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.metalayer.json.Json;
import java.io.IOException;
import java.util.List;
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
   * Whether a {@code POST /{phone-number-id}/settings} would turn SIP on: a {@code calling.sip.status} of
   * {@code ENABLED} (in any case) anywhere Graph may read it, that is in a JSON body
   * ({@code {"calling":{"sip":{"status":"ENABLED"}}}}), or in a parameter {@code calling} of the query, of
   * a form or of a body read as a form, whose value is that object as JSON ({@code calling={"sip":…}}) or
   * written with brackets ({@code calling[sip][status]=ENABLED}). Every occurrence counts (a JSON object
   * naming {@code calling} twice, a repeated parameter): this decides an operator's log line, so a write
   * that might turn SIP on counts. Never throws; reads nothing but these bytes.
   *
   * @param rawQuery the query as received
   * @param body the form or other non-multipart body as received, if any
   */
  static boolean turnsSipOn(String rawQuery, Optional<byte[]> body) {
    try {
      if (formTurnsSipOn(rawQuery.getBytes(java.nio.charset.StandardCharsets.UTF_8))) {
        return true;
      }
      return body.isPresent() && (jsonTurnsSipOn(body.get(), List.of()) || formTurnsSipOn(body.get()));
    } catch (RuntimeException e) {
      return false; // bytes no reader makes sense of: Graph will refuse them as well
    }
  }

  /** The path of {@code calling.sip.status} from the top of a settings write. */
  private static final List<String> SIP_STATUS = List.of("calling", "sip", "status");

  /**
   * Whether JSON {@code bytes} set {@code calling.sip.status} to {@code ENABLED}, {@code prefix} being the
   * path the bytes stand at (empty for a whole body; {@code [calling]} for a parameter's value). Read with
   * the streaming parser: every duplicate name is seen.
   */
  private static boolean jsonTurnsSipOn(byte[] bytes, List<String> prefix) {
    try (JsonParser p = Json.mapper().getFactory().createParser(bytes)) {
      java.util.ArrayDeque<String> names = new java.util.ArrayDeque<>(); // names of the open objects, innermost last
      JsonToken t = p.nextToken();
      if (t != JsonToken.START_OBJECT) {
        return false;
      }
      int depth = 1;
      boolean found = false;
      while (depth > 0 && (t = p.nextToken()) != null) {
        switch (t) {
          case FIELD_NAME -> {
            String name = p.currentName().strip().toLowerCase(java.util.Locale.ROOT);
            JsonToken value = p.nextToken();
            List<String> path = new java.util.ArrayList<>(prefix);
            path.addAll(names);
            path.add(name);
            if (value == JsonToken.START_OBJECT) {
              if (path.size() < SIP_STATUS.size() && SIP_STATUS.subList(0, path.size()).equals(path)) {
                names.addLast(name);
                depth++;
              } else {
                p.skipChildren();
              }
            } else if (value == JsonToken.START_ARRAY) {
              p.skipChildren();
            } else if (path.equals(SIP_STATUS) && value == JsonToken.VALUE_STRING && enabled(p.getText())) {
              found = true;
            } else if (value == JsonToken.VALUE_STRING && path.size() < SIP_STATUS.size()
                && SIP_STATUS.subList(0, path.size()).equals(path)
                && jsonTurnsSipOn(p.getText().getBytes(java.nio.charset.StandardCharsets.UTF_8), path)) {
              found = true; // an object given as JSON text, as Graph reads it (each level is shorter: the path ends it)
            }
          }
          case END_OBJECT -> {
            depth--;
            names.pollLast();
          }
          default -> {
            return false;
          }
        }
      }
      // only a whole JSON value counts: Graph refuses a broken one (and so does the surface, rule json-body)
      return found && depth == 0 && p.nextToken() == null;
    } catch (IOException e) {
      return false;
    }
  }

  /** Whether a query or form sets {@code calling.sip.status} to {@code ENABLED}, as JSON or with brackets. */
  private static boolean formTurnsSipOn(byte[] raw) {
    int start = 0;
    while (start < raw.length) {
      int end = start;
      while (end < raw.length && raw[end] != '&') {
        end++;
      }
      int eq = start;
      while (eq < end && raw[eq] != '=') {
        eq++;
      }
      String name = Credentials.decode(raw, start, eq);
      if (Credentials.canonicalName(name).equals("calling") && eq < end) {
        String value = Credentials.decode(raw, eq + 1, end);
        List<String> path = bracketPath(name);
        if (path.equals(SIP_STATUS) && enabled(value)) {
          return true;
        }
        if (path.size() < SIP_STATUS.size() && SIP_STATUS.subList(0, path.size()).equals(path)
            && jsonTurnsSipOn(value.getBytes(java.nio.charset.StandardCharsets.UTF_8), path)) {
          return true;
        }
      }
      start = end + 1;
    }
    return false;
  }

  /** {@code calling[sip][status]} as {@code [calling, sip, status]}: names lower-cased and trimmed as Graph may read them. */
  private static List<String> bracketPath(String name) {
    List<String> path = new java.util.ArrayList<>();
    int open = name.indexOf('[');
    path.add(Credentials.canonicalName(open < 0 ? name : name.substring(0, open)));
    while (open >= 0) {
      int close = name.indexOf(']', open);
      if (close < 0) {
        break;
      }
      path.add(name.substring(open + 1, close).trim().toLowerCase(java.util.Locale.ROOT));
      open = name.indexOf('[', close);
    }
    return path;
  }

  private static boolean enabled(String status) {
    return status.strip().equalsIgnoreCase("ENABLED");
  }

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

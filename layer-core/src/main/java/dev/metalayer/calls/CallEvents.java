package dev.metalayer.calls;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.metalayer.calls.CallStore.Direction;
import dev.metalayer.calls.CallStore.Event;
import dev.metalayer.calls.CallStore.Source;
import dev.metalayer.crypto.Secrets;
import dev.metalayer.json.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The call events of one verified webhook change ({@link Calls#eventsOf}), and the ordering key of a
 * call's deliveries. What is kept of a change is bounded whatever its size: at most
 * {@link #MAX_EVENTS_PER_CHANGE} events, each detail at most {@link #MAX_DETAIL} characters, ids of
 * sane length; SDPs, contacts' profiles and {@code biz_opaque_callback_data} are never kept. Pure and
 * thread-safe.
 *
 * <ul>
 *   <li>{@code field: calls}: each {@code value.calls[]} item is an event named by its {@code event}
 *       ({@code connect}, {@code terminate}, {@code call_created}, …); each {@code value.statuses[]} item
 *       of {@code type: call} an event named by its {@code status} ({@code RINGING}, {@code ACCEPTED},
 *       {@code REJECTED}). A terminate's detail holds {@code status}, {@code duration},
 *       {@code start_time}, {@code end_time} and the change's {@code errors} (code, title, message and
 *       details, each shortened).
 *   <li>{@code field: messages}: an {@code audio} message whose id is a {@code wacid.} is the voicemail
 *       of that call (Meta's naming is unconfirmed): event {@code voicemail} with the audio's media id.
 * </ul>
 *
 * <p>An event's time is Meta's {@code timestamp} when it has a readable one no later than the receipt
 * and at most {@link #OLDEST} before it (a redelivery is then the same event, which the stores keep
 * once); otherwise the time the layer received it.
 */
final class CallEvents {
  /** Events one change may yield; Meta batches at most 1,000 updates in a whole envelope. */
  static final int MAX_EVENTS_PER_CHANGE = 100;
  /** The longest detail kept, in characters. */
  static final int MAX_DETAIL = 2_048;
  /** The longest call id kept (Meta's are about 60 characters); the stores' column holds 200. */
  static final int MAX_WACID = 200;
  /** The longest user or number id kept. */
  static final int MAX_ID = 64;
  /** The longest text of an error message or detail kept. */
  private static final int MAX_TEXT = 300;
  /** Errors of one change kept. */
  private static final int MAX_ERRORS = 5;
  /** How far back a Meta timestamp is believed: Meta redelivers for up to 7 days. */
  static final Duration OLDEST = Duration.ofDays(8);
  /** The longest ordering key stored as it is; the deliveries' column holds 200 characters. */
  static final int MAX_ORDERING_KEY = 120;
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private CallEvents() {}

  /** A permission reply of a {@code messages} change: the user and whether they granted. */
  record Reply(String userWaId, boolean accepted) {}

  /** Whether a {@code messages} change may hold a voicemail: its bytes mention a {@code wacid.} id. */
  static boolean voicemailCandidate(byte[] bytes, int offset, int length) {
    return indexOf(bytes, offset, length, WACID) >= 0;
  }

  /** Whether a {@code messages} change may hold a permission reply. */
  static boolean permissionReplyCandidate(byte[] bytes, int offset, int length) {
    return indexOf(bytes, offset, length, PERMISSION_REPLY) >= 0;
  }

  private static final byte[] WACID = "\"wacid.".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] PERMISSION_REPLY = "call_permission_reply".getBytes(StandardCharsets.US_ASCII);

  private static int indexOf(byte[] bytes, int offset, int length, byte[] needle) {
    int end = offset + length - needle.length;
    outer:
    for (int i = offset; i <= end; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (bytes[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  static List<Event> of(String phoneNumberId, byte[] change, int offset, int length, Instant receivedAt) {
    JsonNode root = tree(change, offset, length);
    if (root == null) {
      return List.of();
    }
    String field = root.path("field").asText("");
    JsonNode value = root.path("value");
    List<Event> out = new ArrayList<>();
    if ("calls".equals(field)) {
      Optional<String> contact = id(value.path("contacts").path(0).path("wa_id"));
      for (JsonNode call : value.path("calls")) {
        if (out.size() >= MAX_EVENTS_PER_CHANGE) {
          break;
        }
        call(phoneNumberId, call, value, contact, receivedAt).ifPresent(out::add);
      }
      for (JsonNode status : value.path("statuses")) {
        if (out.size() >= MAX_EVENTS_PER_CHANGE) {
          break;
        }
        if ("call".equals(status.path("type").asText())) {
          status(phoneNumberId, status, receivedAt).ifPresent(out::add);
        }
      }
    } else if ("messages".equals(field)) {
      for (JsonNode message : value.path("messages")) {
        if (out.size() >= MAX_EVENTS_PER_CHANGE) {
          break;
        }
        voicemail(phoneNumberId, message, receivedAt).ifPresent(out::add);
      }
    }
    return out;
  }

  static List<Reply> permissionReplies(byte[] change, int offset, int length) {
    JsonNode root = tree(change, offset, length);
    if (root == null || !"messages".equals(root.path("field").asText())) {
      return List.of();
    }
    List<Reply> out = new ArrayList<>();
    for (JsonNode m : root.path("value").path("messages")) {
      JsonNode interactive = m.path("interactive");
      if (out.size() < MAX_EVENTS_PER_CHANGE && "call_permission_reply".equals(interactive.path("type").asText())) {
        String response = interactive.path("call_permission_reply").path("response").asText();
        id(m.path("from")).ifPresent(user -> out.add(new Reply(user, "accept".equals(response))));
      }
    }
    return out;
  }

  private static JsonNode tree(byte[] change, int offset, int length) {
    try {
      JsonNode root = Json.mapper().readTree(change, offset, length);
      return root != null && root.isObject() ? root : null;
    } catch (IOException e) {
      return null; // verified changes parse; a slice that does not yields no call event
    }
  }

  private static Optional<Event> call(String pnid, JsonNode call, JsonNode value, Optional<String> contact,
      Instant receivedAt) {
    Optional<String> wacid = wacid(call.path("id"));
    String name = call.path("event").asText("");
    if (wacid.isEmpty() || name.isEmpty() || name.length() > 64) {
      return Optional.empty();
    }
    Optional<Direction> direction = CallStates.direction(call.path("direction").asText(""));
    Optional<String> user = direction.isPresent() && direction.get() == Direction.BUSINESS_INITIATED
        ? id(call.path("to")) : id(call.path("from"));
    ObjectNode detail = NODES.objectNode();
    if ("terminate".equals(name)) {
      copyText(call, detail, "status");
      copyWhole(call, detail, "duration");
      copyWhole(call, detail, "start_time");
      copyWhole(call, detail, "end_time");
      errors(value.path("errors"), detail);
      errors(call.path("errors"), detail);
    }
    return Optional.of(event(pnid, wacid.get(), at(call, receivedAt), name, direction, user.or(() -> contact), detail));
  }

  private static Optional<Event> status(String pnid, JsonNode status, Instant receivedAt) {
    Optional<String> wacid = wacid(status.path("id"));
    String name = status.path("status").asText("");
    if (wacid.isEmpty() || name.isEmpty() || name.length() > 64) {
      return Optional.empty();
    }
    ObjectNode detail = NODES.objectNode();
    errors(status.path("errors"), detail);
    // call statuses are sent for business-initiated calls only
    return Optional.of(event(pnid, wacid.get(), at(status, receivedAt), name,
        Optional.of(Direction.BUSINESS_INITIATED), id(status.path("recipient_id")), detail));
  }

  private static Optional<Event> voicemail(String pnid, JsonNode message, Instant receivedAt) {
    Optional<String> wacid = wacid(message.path("id"));
    if (wacid.isEmpty() || !wacid.get().startsWith("wacid.") || !"audio".equals(message.path("type").asText())) {
      return Optional.empty();
    }
    ObjectNode detail = NODES.objectNode();
    JsonNode audio = message.path("audio");
    id(audio.path("id")).ifPresent(id -> detail.put("media_id", id));
    if (audio.path("mime_type").isTextual()) {
      detail.put("mime_type", shorten(audio.path("mime_type").asText(), MAX_ID));
    }
    return Optional.of(event(pnid, wacid.get(), at(message, receivedAt), "voicemail",
        Optional.of(Direction.USER_INITIATED), id(message.path("from")), detail));
  }

  private static Event event(String pnid, String wacid, Instant at, String name, Optional<Direction> direction,
      Optional<String> user, ObjectNode detail) {
    return new Event(pnid, wacid, at, Source.WEBHOOK, "meta", name, direction, user, OptionalInt.empty(),
        detail.isEmpty() ? Optional.empty() : Optional.of(bounded(detail)));
  }

  /** The detail as JSON, within {@link #MAX_DETAIL}: errors are dropped to their codes, then entirely. */
  static String bounded(ObjectNode detail) {
    String text = detail.toString();
    if (text.length() <= MAX_DETAIL) {
      return text;
    }
    if (detail.get("errors") instanceof ArrayNode errors) {
      ArrayNode codes = NODES.arrayNode();
      errors.forEach(e -> codes.addObject().set("code", e.path("code")));
      detail.set("errors", codes);
      text = detail.toString();
      if (text.length() <= MAX_DETAIL) {
        return text;
      }
      detail.remove("errors");
    }
    text = detail.toString();
    return text.length() <= MAX_DETAIL ? text : "{\"truncated\":true}";
  }

  /** Meta's errors, each shortened: code, title, message and {@code error_data.details}. */
  private static void errors(JsonNode errors, ObjectNode detail) {
    if (!errors.isArray() || errors.isEmpty()) {
      return;
    }
    ArrayNode kept = detail.has("errors") ? (ArrayNode) detail.get("errors") : detail.putArray("errors");
    for (JsonNode e : errors) {
      if (kept.size() >= MAX_ERRORS) {
        break;
      }
      ObjectNode k = kept.addObject();
      if (e.path("code").isIntegralNumber()) {
        k.put("code", e.path("code").asLong());
      }
      for (String text : List.of("title", "message")) {
        if (e.path(text).isTextual()) {
          k.put(text, shorten(e.path(text).asText(), MAX_TEXT));
        }
      }
      if (e.path("error_data").path("details").isTextual()) {
        k.putObject("error_data").put("details", shorten(e.path("error_data").path("details").asText(), MAX_TEXT));
      }
    }
  }

  private static void copyText(JsonNode from, ObjectNode to, String name) {
    if (from.path(name).isTextual()) {
      to.put(name, shorten(from.path(name).asText(), MAX_ID));
    }
  }

  private static void copyWhole(JsonNode from, ObjectNode to, String name) {
    CallStates.whole(from.path(name)).ifPresent(n -> to.put(name, n));
  }

  /** Meta's timestamp, when believable (see the class description); else the receipt. */
  private static Instant at(JsonNode item, Instant receivedAt) {
    Optional<Long> seconds = CallStates.whole(item.path("timestamp"));
    if (seconds.isEmpty()) {
      return receivedAt;
    }
    Instant at = Instant.ofEpochSecond(seconds.get());
    return at.isAfter(receivedAt) || at.isBefore(receivedAt.minus(OLDEST)) ? receivedAt : at;
  }

  private static Optional<String> wacid(JsonNode node) {
    if (!node.isTextual()) {
      return Optional.empty();
    }
    String id = node.asText();
    return id.isEmpty() || id.length() > MAX_WACID ? Optional.empty() : Optional.of(id);
  }

  private static Optional<String> id(JsonNode node) {
    String text = node.isTextual() || node.isIntegralNumber() ? node.asText() : "";
    return text.isEmpty() || text.length() > MAX_ID ? Optional.empty() : Optional.of(text);
  }

  private static String shorten(String text, int max) {
    return text.length() <= max ? text : text.substring(0, max);
  }

  /**
   * The ordering key of a call's deliveries: its id, or, for an id longer than {@link #MAX_ORDERING_KEY}
   * (Meta's are about 60 characters), {@code sha256:} and its SHA-256, so that an odd one can never make
   * a whole batch fail to store.
   */
  static String orderingKey(String wacid) {
    return wacid.length() <= MAX_ORDERING_KEY ? wacid : "sha256:" + Secrets.sha256Hex(wacid);
  }

  /** Whether a store can keep the event: ids within their columns. */
  static boolean storable(Event event) {
    return !event.wacid().isEmpty() && event.wacid().length() <= MAX_WACID
        && !event.phoneNumberId().isEmpty() && event.phoneNumberId().length() <= MAX_ID
        && event.actor().length() <= 100 && event.name().length() <= 64
        && event.userWaId().map(u -> u.length() <= MAX_ID).orElse(true);
  }
}

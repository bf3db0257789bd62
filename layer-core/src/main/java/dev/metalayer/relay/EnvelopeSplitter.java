package dev.metalayer.relay;

import dev.metalayer.graph.GraphError;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Splits a Meta webhook envelope into single-change envelopes without ever re-serialising what Meta
 * sent: Jackson's streaming parser finds each change's byte offsets and the change is copied as a
 * slice, so Meta's escaping ({@code \/}, {@code \u00e9}), key order and number text survive. The
 * {@code object}, entry {@code id} and {@code time} values are copied as raw slices too.
 *
 * <p>An envelope with exactly one entry holding exactly one change is returned as the identical
 * original bytes. Unknown fields anywhere are tolerated (and dropped from rebuilt envelopes only at the
 * envelope and entry level; a change is always whole). Stateless and thread-safe.
 */
final class EnvelopeSplitter {
  private static final JsonFactory FACTORY = new JsonFactory();
  private static final ObjectMapper TREES = new ObjectMapper();
  /** The largest Unix time read as a timestamp: 12 digits, beyond the year 30000. */
  private static final long MAX_TIMESTAMP = 999_999_999_999L;

  /** The outcome of a split. */
  sealed interface Split {}

  /** @param object the text of {@code object}; @param changes in envelope order */
  record Parsed(String object, List<Change> changes) implements Split {}

  /** @param reason a fixed text, safe to answer (it never quotes the input) */
  record Malformed(String reason) implements Split {}

  private record Slice(int start, int end) {}

  private record RawEntry(Slice id, String idText, Slice time, List<Slice> changes) {}

  private EnvelopeSplitter() {}

  /**
   * Whether {@code raw} starts, after JSON whitespace, with a {@code '{'} that is not followed by a zero
   * byte: so it is not UTF-16 or UTF-32 (whose ASCII characters come with zero bytes) nor has a byte
   * order mark. Meta sends UTF-8.
   */
  private static boolean startsAsUtf8Object(byte[] raw) {
    int i = 0;
    while (i < raw.length && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r')) {
      i++;
    }
    return i < raw.length && raw[i] == '{' && (i + 1 == raw.length || raw[i + 1] != 0);
  }

  static Split split(byte[] raw) {
    if (!startsAsUtf8Object(raw)) {
      // Jackson would detect UTF-16 or UTF-32 by itself, and then report no byte offsets to slice by.
      return new Malformed("The body must be a JSON object in UTF-8.");
    }
    RawEnvelope envelope;
    try {
      envelope = read(raw);
    } catch (NotAnEnvelope e) {
      return new Malformed(e.getMessage());
    }
    List<RawEntry> entries = envelope.entries();
    int total = entries.stream().mapToInt(e -> e.changes().size()).sum();
    List<Change> changes = new ArrayList<>(total);
    for (RawEntry entry : entries) {
      for (Slice change : entry.changes()) {
        int length = change.end() - change.start();
        if (total == 1 && entries.size() == 1) {
          changes.add(describe(raw, change.start(), length, entry.idText()));
        } else {
          byte[] single = singleChange(raw, envelope.objectSlice(), entry, change);
          changes.add(describe(single, single.length - length - 4, length, entry.idText()));
        }
      }
    }
    return new Parsed(envelope.object(), List.copyOf(changes));
  }

  /** The top level of an envelope: its {@code object} (text and bytes) and its entries. */
  private record RawEnvelope(String object, Slice objectSlice, List<RawEntry> entries) {}

  /** Why a body is no envelope: the message is the {@link Malformed} reason. Carries no stack trace. */
  private static final class NotAnEnvelope extends Exception {
    private static final long serialVersionUID = 1L;

    NotAnEnvelope(String reason) {
      super(reason, null, false, false);
    }
  }

  /** Reads the top level of {@code raw}. */
  private static RawEnvelope read(byte[] raw) throws NotAnEnvelope {
    String object = null;
    Slice objectSlice = null;
    List<RawEntry> entries = null;
    try (JsonParser p = FACTORY.createParser(raw)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new NotAnEnvelope(GraphError.notJsonObject().message());
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken t = p.nextToken();
        if ("object".equals(name) && object == null) {
          if (t != JsonToken.VALUE_STRING) {
            throw new NotAnEnvelope("The field object must be a string.");
          }
          object = p.getText();
          objectSlice = scalar(raw, p);
        } else if ("entry".equals(name) && entries == null) {
          if (t != JsonToken.START_ARRAY) {
            throw new NotAnEnvelope("The field entry must be an array.");
          }
          entries = new ArrayList<>();
          while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.START_OBJECT) {
              throw new NotAnEnvelope("Each entry must be an object.");
            }
            RawEntry entry = entry(raw, p);
            if (entry == null) {
              throw new NotAnEnvelope("Each change must be an object, in a changes array.");
            }
            entries.add(entry);
          }
        } else {
          p.skipChildren();
        }
      }
      if (p.nextToken() != null) {
        throw new NotAnEnvelope("The body must hold one JSON object only.");
      }
    } catch (JsonProcessingException e) {
      throw new NotAnEnvelope("The body is not valid JSON.");
    } catch (IOException e) {
      throw new IllegalStateException("reading a byte array failed", e);
    }
    if (object == null || entries == null) {
      throw new NotAnEnvelope("The envelope must have object and entry.");
    }
    return new RawEnvelope(object, objectSlice, entries);
  }

  /**
   * The envelope of one change, from the original bytes: {@code {"object":…,"entry":[{"id":…,"time":…,
   * "changes":[<change>]}]}}, the change last but for the 4 closing bytes {@code ]}]}}.
   */
  private static byte[] singleChange(byte[] raw, Slice object, RawEntry entry, Slice change) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(change.end() - change.start() + 128);
    write(out, "{\"object\":");
    out.write(raw, object.start(), object.end() - object.start());
    write(out, ",\"entry\":[{");
    if (entry.id() != null) {
      write(out, "\"id\":");
      out.write(raw, entry.id().start(), entry.id().end() - entry.id().start());
      write(out, ",");
    }
    if (entry.time() != null) {
      write(out, "\"time\":");
      out.write(raw, entry.time().start(), entry.time().end() - entry.time().start());
      write(out, ",");
    }
    write(out, "\"changes\":[");
    out.write(raw, change.start(), change.end() - change.start());
    write(out, "]}]}");
    return out.toByteArray();
  }

  /** Reads one entry object; the parser is on its START_OBJECT. @return null when a change is not an object */
  private static RawEntry entry(byte[] raw, JsonParser p) throws IOException {
    Slice id = null;
    String idText = "";
    Slice time = null;
    List<Slice> changes = new ArrayList<>();
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String name = p.currentName();
      JsonToken t = p.nextToken();
      if ("id".equals(name) && id == null && t.isScalarValue()) {
        idText = p.getText();
        id = scalar(raw, p);
      } else if ("time".equals(name) && time == null && t.isScalarValue()) {
        p.getText();
        time = scalar(raw, p);
      } else if ("changes".equals(name) && t == JsonToken.START_ARRAY) {
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
          if (t != JsonToken.START_OBJECT) {
            return null;
          }
          int start = (int) p.currentTokenLocation().getByteOffset();
          p.skipChildren();
          int end = (int) p.currentTokenLocation().getByteOffset() + 1;
          changes.add(new Slice(start, end));
        }
      } else if ("changes".equals(name)) {
        return null;
      } else {
        p.skipChildren();
      }
    }
    return new RawEntry(id, idText, time, changes);
  }

  /**
   * The bytes of the scalar token the parser is on. Strings end at their closing unescaped quote;
   * other scalars at the first delimiter. The parser has already validated the token.
   */
  private static Slice scalar(byte[] raw, JsonParser p) {
    int start = (int) p.currentTokenLocation().getByteOffset();
    int i = start;
    if (raw[i] == '"') {
      i++;
      while (raw[i] != '"') {
        i += raw[i] == '\\' ? 2 : 1;
      }
      return new Slice(start, i + 1);
    }
    while (i < raw.length && ",}] \t\r\n".indexOf(raw[i]) < 0) {
      i++;
    }
    return new Slice(start, i);
  }

  private static void write(ByteArrayOutputStream out, String ascii) {
    out.writeBytes(ascii.getBytes(StandardCharsets.US_ASCII));
  }

  /** Reads what routing, ordering and enrichment need from the change (a tree over the slice only). */
  private static Change describe(byte[] envelope, int offset, int length, String entryId) {
    JsonNode change;
    try {
      change = TREES.readTree(Arrays.copyOfRange(envelope, offset, offset + length));
    } catch (IOException e) {
      throw new IllegalStateException("a validated slice failed to parse", e);
    }
    String field = change.path("field").isTextual() ? change.path("field").asText() : "";
    JsonNode value = change.path("value");
    JsonNode pnid = value.path("metadata").path("phone_number_id");
    Optional<String> phoneNumberId =
        pnid.isTextual() || pnid.isNumber() ? Optional.of(pnid.asText()).filter(s -> !s.isEmpty()) : Optional.empty();
    List<String> namedPhones = new ArrayList<>(2);
    named(value.path("display_phone_number"), namedPhones);
    named(value.path("phone_number"), namedPhones);
    List<String> namedIds = new ArrayList<>(2);
    named(value.path("phone_number_id"), namedIds);
    named(value.path("phone_number_settings").path("phone_number_id"), namedIds);
    if ("PHONE_NUMBER".equals(value.path("entity_type").asText())) {
      named(value.path("entity_id"), namedIds); // an account_alerts change about one number
    }
    List<String> callIds = new ArrayList<>();
    List<Optional<String>> reasons = new ArrayList<>();
    Optional<Instant> eventTime = Optional.empty();
    for (JsonNode call : value.path("calls")) {
      if (call.path("id").isTextual()) {
        callIds.add(call.path("id").asText());
      }
      reasons.add(TerminateReasons.derive(call, value));
      if ("connect".equals(call.path("event").asText())) {
        eventTime = earliest(eventTime, timestamp(call)); // only a ring goes stale
      }
    }
    for (JsonNode status : value.path("statuses")) {
      if ("call".equals(status.path("type").asText()) && status.path("id").isTextual()) {
        callIds.add(status.path("id").asText());
      }
    }
    boolean permissionReply = false;
    JsonNode messages = value.path("messages");
    if (Events.MESSAGES.equals(field) && messages.isArray() && messages.size() > 0) {
      permissionReply = true;
      for (JsonNode m : messages) {
        permissionReply &=
            "interactive".equals(m.path("type").asText())
                && "call_permission_reply".equals(m.path("interactive").path("type").asText());
      }
    }
    Optional<RelayStore.CallEvent> callEvent = Optional.empty();
    Optional<String> messageCallKey = Optional.empty();
    if (Events.CALLS.equals(field)) {
      callEvent = callEvent(value);
    } else if (permissionReply) {
      callEvent = Optional.of(RelayStore.CallEvent.OTHER);
      JsonNode from = messages.get(0).path("from");
      messageCallKey = Optional.of("user:" + (from.isTextual() || from.isNumber() ? from.asText() : ""));
    } else if (Events.MESSAGES.equals(field) && messages.isArray() && messages.size() == 1
        && "audio".equals(messages.get(0).path("type").asText()) && messages.get(0).path("id").isTextual()
        && messages.get(0).path("id").asText().startsWith("wacid.")) {
      callEvent = Optional.of(RelayStore.CallEvent.OTHER); // a voicemail: its id is its call's
      messageCallKey = Optional.of(messages.get(0).path("id").asText());
    }
    return new Change(
        envelope, offset, length, entryId, field, phoneNumberId, List.copyOf(namedPhones), List.copyOf(namedIds),
        List.copyOf(callIds), permissionReply, List.copyOf(reasons),
        eventTime, callEvent, messageCallKey);
  }

  /**
   * What a {@code calls} change is to its call: its first {@code calls[]} item's {@code event}, else a
   * status when it has a call status; empty when it has neither (it then has no ordering key either).
   */
  private static Optional<RelayStore.CallEvent> callEvent(JsonNode value) {
    for (JsonNode call : value.path("calls")) {
      return Optional.of(switch (call.path("event").asText()) {
        case "connect", "call_created" -> RelayStore.CallEvent.CONNECT;
        case "terminate" -> RelayStore.CallEvent.TERMINATE;
        default -> RelayStore.CallEvent.OTHER;
      });
    }
    for (JsonNode status : value.path("statuses")) {
      if ("call".equals(status.path("type").asText())) {
        return Optional.of(RelayStore.CallEvent.STATUS);
      }
    }
    return Optional.empty();
  }

  /**
   * Adds the text of a field that names a number: a string or number as written, anything else present
   * (an object, an array, a boolean) as empty text, which names no registered number. Absent and
   * {@code null} add nothing.
   */
  private static void named(JsonNode node, List<String> out) {
    if (node.isMissingNode() || node.isNull()) {
      return;
    }
    out.add(node.isTextual() || node.isNumber() ? node.asText() : "");
  }

  /**
   * An item's {@code timestamp}: Unix seconds as a string of 1–12 digits or a whole JSON number; empty
   * when missing or anything else (a fraction, a sign, an ISO date).
   */
  static Optional<Instant> timestamp(JsonNode item) {
    JsonNode t = item.path("timestamp");
    long seconds;
    if (t.isTextual() && t.asText().matches("[0-9]{1,12}")) {
      seconds = Long.parseLong(t.asText());
    } else if (t.isIntegralNumber() && t.canConvertToLong() && t.asLong() >= 0 && t.asLong() <= MAX_TIMESTAMP) {
      seconds = t.asLong();
    } else {
      return Optional.empty();
    }
    return Optional.of(Instant.ofEpochSecond(seconds));
  }

  private static Optional<Instant> earliest(Optional<Instant> a, Optional<Instant> b) {
    if (a.isEmpty()) {
      return b;
    }
    return b.isPresent() && b.get().isBefore(a.get()) ? b : a;
  }
}

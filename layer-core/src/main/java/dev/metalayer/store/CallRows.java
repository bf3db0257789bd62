package dev.metalayer.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.metalayer.calls.CallStore;
import dev.metalayer.calls.CallStore.CallRecord;
import dev.metalayer.calls.CallStore.Event;
import dev.metalayer.calls.CallStore.State;
import dev.metalayer.calls.CallStore.Transition;
import dev.metalayer.crypto.Secrets;
import dev.metalayer.json.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/** What both call stores say alike: an event's identity, the stored forms of transitions and cursors. */
final class CallRows {
  /** The longest page of {@link CallStore#list}. */
  static final int MAX_PAGE = 500;
  /** The longest remembered answer kept. */
  static final int MAX_ANSWER = 65_536;

  /** Newest first: creation time, number, call id, all descending. */
  static final Comparator<CallRecord> NEWEST_FIRST = Comparator.comparing(CallRecord::createdAt)
      .thenComparing(CallRecord::phoneNumberId).thenComparing(CallRecord::wacid).reversed();

  private CallRows() {}

  /** The event as stored: its detail within {@link CallStore#MAX_DETAIL}. */
  static Event bounded(Event e) {
    if (e.detail().isEmpty() || e.detail().get().length() <= CallStore.MAX_DETAIL) {
      return e;
    }
    return new Event(e.phoneNumberId(), e.wacid(), e.at(), e.source(), e.actor(), e.name(), e.direction(), e.userWaId(),
        e.httpStatus(), Optional.of("{\"truncated\":true}"));
  }

  /** What makes two events of a call the same one (a redelivery): SHA-256 of their facts. */
  static String key(Event e) {
    String facts = String.join("\n", e.source().wire(), e.actor(), e.name(), Long.toString(e.at().toEpochMilli()),
        e.httpStatus().isPresent() ? Integer.toString(e.httpStatus().getAsInt()) : "", e.detail().orElse(""));
    return Secrets.sha256Hex(facts);
  }

  /**
   * The record {@link CallStore#claimAnswering} creates for a call the layer has not seen yet: ringing
   * since {@code now}, by the layer's word.
   */
  static CallRecord created(String phoneNumberId, String wacid, Instant now) {
    return new CallRecord(phoneNumberId, wacid, Optional.empty(), Optional.empty(), State.RINGING,
        List.of(new Transition(State.RINGING, now, "layer")), Optional.empty(), Optional.empty(), Optional.empty(),
        Optional.empty(), Optional.empty(), Optional.empty(), now, now);
  }

  static CallRecord answeredBy(CallRecord c, String keyId) {
    return answeredBy(c, Optional.of(keyId));
  }

  static CallRecord answeredBy(CallRecord c, Optional<String> keyId) {
    return new CallRecord(c.phoneNumberId(), c.wacid(), c.direction(), c.userWaId(), c.state(), c.stateChanges(),
        keyId, c.terminateStatus(), c.durationSeconds(), c.startTime(), c.endTime(), c.lastError(),
        c.createdAt(), c.updatedAt());
  }

  static String transitions(List<Transition> changes) {
    ArrayNode a = JsonNodeFactory.instance.arrayNode();
    for (Transition t : changes) {
      a.addObject().put("state", t.state().wire()).put("at", t.at().toEpochMilli()).put("actor", t.actor());
    }
    return a.toString();
  }

  static List<Transition> transitions(String json) {
    List<Transition> out = new ArrayList<>();
    try {
      for (JsonNode t : Json.mapper().readTree(json)) {
        out.add(new Transition(State.fromWire(t.path("state").asText()), Instant.ofEpochMilli(t.path("at").asLong()),
            t.path("actor").asText()));
      }
    } catch (IOException e) {
      throw new IllegalStateException("a stored call's transitions do not parse", e);
    }
    return out;
  }

  /** The cursor after {@code last}. */
  static String cursor(CallRecord last) {
    String text = last.createdAt().toEpochMilli() + "\n" + last.phoneNumberId() + "\n" + last.wacid();
    return Base64.getUrlEncoder().withoutPadding().encodeToString(text.getBytes(StandardCharsets.UTF_8));
  }

  /** A cursor's position: creation millis, number, call id. */
  record Position(long createdAt, String phoneNumberId, String wacid) {
    /** Whether {@code call} comes after this position, newest first. */
    boolean before(CallRecord call) {
      long at = call.createdAt().toEpochMilli();
      if (at != createdAt) {
        return at < createdAt;
      }
      int n = call.phoneNumberId().compareTo(phoneNumberId);
      return n != 0 ? n < 0 : call.wacid().compareTo(wacid) < 0;
    }
  }

  static Position position(String cursor) {
    try {
      String[] parts = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8).split("\n", -1);
      if (parts.length != 3) {
        throw new IllegalArgumentException("not a cursor of calls");
      }
      return new Position(Long.parseLong(parts[0]), parts[1], parts[2]);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not a cursor of calls: " + (cursor.length() > 40 ? cursor.substring(0, 40) + "…" : cursor), e);
    }
  }

  static int limit(int asked) {
    return Math.max(1, Math.min(MAX_PAGE, asked));
  }

  /** The page of {@link CallStore#list} from up to {@code limit + 1} calls, newest first: the next cursor when there are more. */
  static CallStore.Page page(List<CallRecord> calls, int limit) {
    return calls.size() > limit
        ? new CallStore.Page(calls.subList(0, limit), Optional.of(cursor(calls.get(limit - 1))))
        : new CallStore.Page(calls, Optional.empty());
  }

  static void checkAnswer(CallStore.Limit limit) {
    if (limit.answer().length() > MAX_ANSWER) {
      throw new IllegalArgumentException("a remembered answer is at most " + MAX_ANSWER + " characters");
    }
  }
}

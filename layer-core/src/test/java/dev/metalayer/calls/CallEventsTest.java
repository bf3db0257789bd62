package dev.metalayer.calls;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.calls.CallStore.Direction;
import dev.metalayer.calls.CallStore.Event;
import dev.metalayer.calls.CallStore.Source;
import dev.metalayer.calls.CallStore.State;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.MutableClock;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/** {@link Calls#eventsOf} on Meta's payload shapes (meta-wire §3.5, Chatwoot's §8.6), and hostile ones. */
class CallEventsTest {
  static final String PNID = "436666719526789";
  static final Instant RECEIVED = Instant.parse("2026-06-01T10:00:00Z");
  final MutableClock clock = new MutableClock(RECEIVED);
  final Calls calls = new Calls(dev.metalayer.store.Stores.inMemoryCalls(), clock);

  static String change(String field, String value) {
    return "{\"field\":\"" + field + "\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":"
        + "{\"display_phone_number\":\"13175551399\",\"phone_number_id\":\"" + PNID + "\"}," + value + "}}";
  }

  List<Event> events(String change) {
    byte[] b = change.getBytes(StandardCharsets.UTF_8);
    return calls.eventsOf(PNID, b, 0, b.length, RECEIVED);
  }

  static long seconds(Instant at) {
    return at.getEpochSecond();
  }

  @Test
  void aUserInitiatedConnectIsOneEventWithoutItsSdp() {
    long ts = seconds(RECEIVED.minusSeconds(1));
    List<Event> e = events(change("calls", "\"contacts\":[{\"profile\":{\"name\":\"Jane Doe\",\"username\":\"jane\"},"
        + "\"wa_id\":\"16315553602\",\"user_id\":\"US.13491208655302741918\"}],\"calls\":[{\"id\":"
        + "\"wacid.ABGGFjFVU2AfAgo6V-Hc5eCgK5Gh\",\"from\":\"16315553602\",\"to\":\"13175551399\",\"from_user_id\":"
        + "\"US.13491208655302741918\",\"event\":\"connect\",\"timestamp\":\"" + ts + "\",\"direction\":"
        + "\"USER_INITIATED\",\"session\":{\"sdp_type\":\"offer\",\"sdp\":\"v=0\\r\\no=- 4611731400430051336 2 IN IP4"
        + " 127.0.0.1\\r\\n...\"}}]"));

    assertThat(e).containsExactly(new Event(PNID, "wacid.ABGGFjFVU2AfAgo6V-Hc5eCgK5Gh", Instant.ofEpochSecond(ts),
        Source.WEBHOOK, "meta", "connect", Optional.of(Direction.USER_INITIATED), Optional.of("16315553602"),
        OptionalInt.empty(), Optional.empty()));
  }

  @Test
  void aFailedTerminateCarriesItsStatusAndMetasErrorsShortenedAndNoCallbackData() {
    byte[] envelope = MetaFixtures.bytes("terminate-failed.json");
    String text = new String(envelope, StandardCharsets.UTF_8);
    int start = text.indexOf("{\"field\"");
    int end = envelope.length - "]}]}".length();
    // Meta's 2022 timestamp is older than it redelivers: the receipt is the event's time
    List<Event> e = calls.eventsOf(PNID, envelope, start, end - start, RECEIVED);

    assertThat(e).hasSize(1);
    Event t = e.get(0);
    assertThat(t.name()).isEqualTo("terminate");
    assertThat(t.at()).isEqualTo(RECEIVED);
    assertThat(t.userWaId()).contains("16315553602");
    assertThat(t.detail().orElseThrow()).isEqualTo("{\"status\":\"FAILED\",\"errors\":[{\"code\":138021,\"message\":"
        + "\"Media receive timeout\",\"error_data\":{\"details\":\"The WhatsApp client terminated the call due to not"
        + " receiving any media for a long time.\"}}]}");
    assertThat(t.detail().orElseThrow()).doesNotContain("random_string");

    var record = Calls.apply(Optional.empty(), t);
    assertThat(record.state()).isEqualTo(State.TERMINATED);
    assertThat(record.terminateStatus()).contains("FAILED");
    assertThat(record.lastError().orElseThrow()).contains("138021");
  }

  @Test
  void aCompletedTerminateAsChatwootSeesItFoldsItsDurationAndTimes() {
    long ts = seconds(RECEIVED.minusSeconds(5));
    List<Event> e = events(change("calls", "\"calls\":[{\"id\":\"wacid.HBgLMTU1NTEyMzQ1NjcVAgARGCA5QkI3\",\"from\":"
        + "\"15551234567\",\"to\":\"15550783881\",\"event\":\"terminate\",\"direction\":\"USER_INITIATED\",\"timestamp\":"
        + "\"" + ts + "\",\"status\":\"COMPLETED\",\"start_time\":\"" + (ts - 80) + "\",\"end_time\":\"" + ts + "\","
        + "\"duration\":80}]"));

    var record = Calls.apply(Optional.empty(), e.get(0));
    assertThat(record.durationSeconds()).contains(80L);
    assertThat(record.startTime()).contains(Instant.ofEpochSecond(ts - 80));
    assertThat(record.endTime()).contains(Instant.ofEpochSecond(ts));
    assertThat(record.terminateStatus()).contains("COMPLETED");
  }

  @Test
  void callStatusesAreEventsOfBusinessInitiatedCallsAndMessageStatusesAreNot() {
    long ts = seconds(RECEIVED.minusSeconds(2));
    List<Event> e = events(change("calls", "\"statuses\":[{\"id\":\"wacid.HBgLMTIxODU1NTI4MjgVAgARGCAyODRQIAFRoA\","
        + "\"type\":\"call\",\"status\":\"RINGING\",\"timestamp\":\"" + ts + "\",\"recipient_id\":\"12185552828\","
        + "\"biz_opaque_callback_data\":\"TRx334DUDFTI4Mj\"},{\"id\":\"wamid.x\",\"status\":\"delivered\"}]"));

    assertThat(e).containsExactly(new Event(PNID, "wacid.HBgLMTIxODU1NTI4MjgVAgARGCAyODRQIAFRoA",
        Instant.ofEpochSecond(ts), Source.WEBHOOK, "meta", "RINGING", Optional.of(Direction.BUSINESS_INITIATED),
        Optional.of("12185552828"), OptionalInt.empty(), Optional.empty()));
  }

  @Test
  void eventsOfAnyNameAreKeptByName() {
    List<Event> e = events(change("calls", "\"calls\":[{\"id\":\"wacid.S1\",\"event\":\"call_created\"},"
        + "{\"id\":\"wacid.S1\",\"event\":\"call_recording_available\",\"recording\":{\"url\":\"https://x\"}},"
        + "{\"event\":\"connect\"},{\"id\":42,\"event\":\"connect\"},{\"id\":\"wacid.S2\"}]"));
    assertThat(e).extracting(Event::name).containsExactly("call_created", "call_recording_available");
    assertThat(e).allSatisfy(x -> assertThat(x.detail()).isEmpty());
  }

  @Test
  void aVoicemailIsAnAudioMessageOfACallsIdAndOtherMessagesAreNotCallEvents() {
    List<Event> e = events(change("messages", "\"messages\":[{\"from\":\"16315553602\",\"id\":\"wacid.VM1\","
        + "\"timestamp\":\"" + seconds(RECEIVED) + "\",\"type\":\"audio\",\"audio\":{\"id\":\"1234567890\",\"mime_type\":"
        + "\"audio/ogg; codecs=opus\",\"voice\":true}},{\"from\":\"16315553602\",\"id\":\"wamid.A\",\"type\":\"audio\","
        + "\"audio\":{\"id\":\"1\"}},{\"from\":\"1\",\"id\":\"wacid.T\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}]"));

    assertThat(e).containsExactly(new Event(PNID, "wacid.VM1", RECEIVED, Source.WEBHOOK, "meta", "voicemail",
        Optional.of(Direction.USER_INITIATED), Optional.of("16315553602"), OptionalInt.empty(),
        Optional.of("{\"media_id\":\"1234567890\",\"mime_type\":\"audio/ogg; codecs=opus\"}")));
    assertThat(events(change("account_update", "\"calls\":[{\"id\":\"wacid.X\",\"event\":\"connect\"}]"))).isEmpty();
  }

  @Test
  void aPermissionReplyIsNoCallRecordButGrantsForgetTheRefusalsItEnds() {
    String reply = change("messages", "\"messages\":[{\"from\":\"12185552828\",\"id\":\"wamid.sH0k\",\"timestamp\":"
        + "\"1749196800\",\"type\":\"interactive\",\"interactive\":{\"type\":\"call_permission_reply\","
        + "\"call_permission_reply\":{\"response\":\"accept\",\"is_permanent\":false,\"expiration_timestamp\":"
        + "\"1749801600\",\"response_source\":\"user_action\"}}}]");
    byte[] b = reply.getBytes(StandardCharsets.UTF_8);
    assertThat(Calls.mayConcernCalls("messages", false, b, 0, b.length)).isTrue();
    assertThat(events(reply)).isEmpty();

    CallStore store = calls.store();
    Instant until = RECEIVED.plus(Duration.ofDays(1));
    store.remember(new CallStore.Limit(PNID, "12185552828", Calls.PERMISSION_REQUEST, 138009, 400, "{}", RECEIVED, until));
    store.remember(new CallStore.Limit(PNID, "12185552828", Calls.CONNECT, 138006, 401, "{}", RECEIVED, until));
    store.remember(new CallStore.Limit(PNID, "16315553602", Calls.CONNECT, 138012, 400, "{}", RECEIVED, until));

    assertThat(calls.permissionReplies(PNID, b, 0, b.length, RECEIVED)).isEqualTo(1);
    assertThat(store.rememberedFor(PNID, "12185552828", RECEIVED)).isEmpty();

    // a connect refused for another limit stays; a refusal of the request changes nothing
    calls.permissionReply(PNID, "16315553602", true, RECEIVED);
    assertThat(store.rememberedFor(PNID, "16315553602", RECEIVED)).hasSize(1);
    store.remember(new CallStore.Limit(PNID, "1", Calls.PERMISSION_REQUEST, 138009, 400, "{}", RECEIVED, until));
    calls.permissionReply(PNID, "1", false, RECEIVED);
    assertThat(store.rememberedFor(PNID, "1", RECEIVED)).hasSize(1);
  }

  @Test
  void timesAreMetasWhenBelievableElseTheReceipt() {
    String template = "\"calls\":[{\"id\":\"wacid.T\",\"event\":\"connect\",\"timestamp\":%s}]";
    assertThat(events(change("calls", String.format(template, seconds(RECEIVED) - 60))).get(0).at())
        .isEqualTo(RECEIVED.minusSeconds(60));
    assertThat(events(change("calls", String.format(template, "\"" + (seconds(RECEIVED) + 3600) + "\""))).get(0).at())
        .as("in the future").isEqualTo(RECEIVED);
    assertThat(events(change("calls", String.format(template, "\"-5\""))).get(0).at()).isEqualTo(RECEIVED);
    assertThat(events(change("calls", String.format(template, "1e400"))).get(0).at()).isEqualTo(RECEIVED);
    assertThat(events(change("calls", String.format(template, "\"99999999999999999999\""))).get(0).at())
        .isEqualTo(RECEIVED);
  }

  @Test
  void aHostileChangeMakesBoundedEvents() {
    StringBuilder huge = new StringBuilder("\"calls\":[");
    String longText = "x".repeat(20_000);
    for (int i = 0; i < 5_000; i++) {
      huge.append(i == 0 ? "" : ",").append("{\"id\":\"wacid.").append(i).append("\",\"event\":\"terminate\",\"status\":\"")
          .append(i == 0 ? longText : "FAILED").append("\"}");
    }
    huge.append("],\"errors\":[");
    for (int i = 0; i < 50; i++) {
      huge.append(i == 0 ? "" : ",").append("{\"code\":").append(138000 + i).append(",\"message\":\"").append(longText)
          .append("\",\"error_data\":{\"details\":\"").append(longText).append("\"}}");
    }
    huge.append("]");
    String change = change("calls", huge.toString());
    assertThat(change.length()).isGreaterThan(2_000_000);

    List<Event> e = events(change);

    assertThat(e).hasSize(100);
    assertThat(e).allSatisfy(x -> assertThat(x.detail().orElse("").length()).isLessThanOrEqualTo(2_048));
    assertThat(e.get(1).detail().orElseThrow()).contains("138000").contains("138004").doesNotContain("138005");

    String longId = change("calls", "\"calls\":[{\"id\":\"wacid." + "y".repeat(500) + "\",\"event\":\"connect\","
        + "\"from\":\"" + "9".repeat(500) + "\"}]");
    assertThat(events(longId)).isEmpty();
    assertThat(events("not json")).isEmpty();
    assertThat(events("[1,2]")).isEmpty();
  }

  @Test
  void orderingKeysAreTheCallIdOrItsDigest() {
    assertThat(Calls.orderingKey("wacid.ABC")).isEqualTo("wacid.ABC");
    String odd = "wacid." + "z".repeat(200);
    assertThat(Calls.orderingKey(odd)).startsWith("sha256:").hasSize(7 + 64);
  }

  @Test
  void onlyChangesThatMayConcernACallAreParsed() {
    byte[] message = change("messages", "\"messages\":[{\"id\":\"wamid.1\",\"type\":\"text\"}]")
        .getBytes(StandardCharsets.UTF_8);
    assertThat(Calls.mayConcernCalls("messages", false, message, 0, message.length)).isFalse();
    assertThat(Calls.mayConcernCalls("calls", false, message, 0, message.length)).isFalse();
    assertThat(Calls.mayConcernCalls("calls", true, message, 0, message.length)).isTrue();
    byte[] voicemail = change("messages", "\"messages\":[{\"id\":\"wacid.1\",\"type\":\"audio\"}]")
        .getBytes(StandardCharsets.UTF_8);
    assertThat(Calls.mayConcernCalls("messages", false, voicemail, 0, voicemail.length)).isTrue();
    assertThat(Calls.mayConcernCalls("messages", false, voicemail, 0, 10)).as("only the change's own bytes").isFalse();
  }

  @Test
  void idsAndKeysAtTheirLongestAreKeptAndOneLongerIsNot() {
    String id120 = "w".repeat(120);
    assertThat(Calls.orderingKey(id120)).isEqualTo(id120);
    assertThat(Calls.orderingKey(id120 + "w")).startsWith("sha256:");
    Event ok = new Event(PNID, "w".repeat(200), RECEIVED, CallStore.Source.WEBHOOK, "a".repeat(100), "n".repeat(64),
        java.util.Optional.empty(), java.util.Optional.of("1".repeat(64)), java.util.OptionalInt.empty(),
        java.util.Optional.empty());
    assertThat(Calls.dropped(java.util.Optional.empty(), ok)).as("every id at its longest").isFalse();
    assertThat(Calls.dropped(java.util.Optional.empty(), new Event(PNID, "w".repeat(201), ok.at(), ok.source(),
        ok.actor(), ok.name(), ok.direction(), ok.userWaId(), ok.httpStatus(), ok.detail()))).isTrue();
    assertThat(Calls.dropped(java.util.Optional.empty(), new Event(PNID, "", ok.at(), ok.source(),
        ok.actor(), ok.name(), ok.direction(), ok.userWaId(), ok.httpStatus(), ok.detail()))).isTrue();
    assertThat(Calls.dropped(java.util.Optional.empty(), new Event("1".repeat(65), ok.wacid(), ok.at(), ok.source(),
        ok.actor(), ok.name(), ok.direction(), ok.userWaId(), ok.httpStatus(), ok.detail()))).isTrue();
    assertThat(Calls.dropped(java.util.Optional.empty(), new Event("", ok.wacid(), ok.at(), ok.source(),
        ok.actor(), ok.name(), ok.direction(), ok.userWaId(), ok.httpStatus(), ok.detail()))).isTrue();
    assertThat(Calls.dropped(java.util.Optional.empty(), new Event(PNID, ok.wacid(), ok.at(), ok.source(),
        "a".repeat(101), ok.name(), ok.direction(), ok.userWaId(), ok.httpStatus(), ok.detail()))).isTrue();
    assertThat(Calls.dropped(java.util.Optional.empty(), new Event(PNID, ok.wacid(), ok.at(), ok.source(),
        ok.actor(), "n".repeat(65), ok.direction(), ok.userWaId(), ok.httpStatus(), ok.detail()))).isTrue();
    assertThat(Calls.dropped(java.util.Optional.empty(), new Event(PNID, ok.wacid(), ok.at(), ok.source(),
        ok.actor(), ok.name(), ok.direction(), java.util.Optional.of("1".repeat(65)), ok.httpStatus(), ok.detail())))
        .isTrue();
  }

  @Test
  void aCandidateIsFoundAtTheVeryEndOfTheChangesBytes() {
    byte[] tail = "xx\"wacid.".getBytes(StandardCharsets.UTF_8);
    assertThat(Calls.mayConcernCalls("messages", false, tail, 0, tail.length)).isTrue();
    assertThat(Calls.mayConcernCalls("messages", false, tail, 0, tail.length - 1)).isFalse();
    assertThat(Calls.mayConcernCalls("messages", false, tail, 2, tail.length - 2)).isTrue();
    byte[] reply = "call_permission_reply".getBytes(StandardCharsets.UTF_8);
    assertThat(Calls.mayConcernCalls("messages", false, reply, 0, reply.length)).isTrue();
    assertThat(Calls.mayConcernCalls("statuses", true, reply, 0, reply.length)).isFalse();
  }

  @Test
  void aCallsOwnErrorsAndAStatusesErrorsAreKeptAndTheUserIsTheContactWhenTheCallNamesNone() {
    List<Event> e = events(change("calls", "\"contacts\":[{\"wa_id\":\"16315553602\"}],\"calls\":[{\"id\":\"wacid.E1\","
        + "\"event\":\"terminate\",\"status\":\"FAILED\",\"errors\":[{\"code\":138021,\"title\":\"Media timeout\"}]}],"
        + "\"statuses\":[{\"id\":\"wacid.E2\",\"type\":\"call\",\"status\":\"FAILED\",\"recipient_id\":12185552828,"
        + "\"errors\":[{\"code\":131000,\"message\":\"Something went wrong\"}]}]"));

    assertThat(e).hasSize(2);
    assertThat(e.get(0).userWaId()).as("the change's contact").contains("16315553602");
    assertThat(e.get(0).detail()).contains("{\"status\":\"FAILED\",\"errors\":[{\"code\":138021,\"title\":\"Media timeout\"}]}");
    assertThat(e.get(1).userWaId()).as("an id written as a number").contains("12185552828");
    assertThat(e.get(1).detail()).contains("{\"errors\":[{\"code\":131000,\"message\":\"Something went wrong\"}]}");
  }

  @Test
  void namesAndIdsAtTheirLongestAreKeptAndOneLongerIsNot() {
    String name64 = "n".repeat(64);
    String wacid200 = "w".repeat(200);
    String user64 = "1".repeat(64);
    List<Event> e = events(change("calls", "\"calls\":[{\"id\":\"" + wacid200 + "\",\"event\":\"" + name64 + "\","
        + "\"from\":\"" + user64 + "\"},{\"id\":\"wacid.L\",\"event\":\"" + name64 + "n\"},"
        + "{\"id\":\"" + wacid200 + "w\",\"event\":\"connect\"},{\"id\":\"wacid.U\",\"event\":\"connect\",\"from\":\""
        + user64 + "1\"}],\"statuses\":[{\"id\":\"wacid.S\",\"type\":\"call\",\"status\":\"" + name64 + "\"},"
        + "{\"id\":\"wacid.S\",\"type\":\"call\",\"status\":\"" + name64 + "S\"}]"));
    assertThat(e).extracting(Event::wacid).containsExactly(wacid200, "wacid.U", "wacid.S");
    assertThat(e.get(0).name()).isEqualTo(name64);
    assertThat(e.get(0).userWaId()).contains(user64);
    assertThat(e.get(1).userWaId()).as("a user id over 64 characters").isEmpty();
    assertThat(e.get(2).name()).isEqualTo(name64);

    Event longestNumber = new Event("1".repeat(64), "wacid.N", RECEIVED, Source.WEBHOOK, "meta", "connect",
        Optional.empty(), Optional.empty(), OptionalInt.empty(), Optional.empty());
    assertThat(Calls.dropped(Optional.empty(), longestNumber)).isFalse();
  }

  @Test
  void aChangeOfManyStatusesVoicemailsOrRepliesYieldsAtMostAHundred() {
    StringBuilder statuses = new StringBuilder("\"statuses\":[");
    StringBuilder voicemails = new StringBuilder("\"messages\":[");
    StringBuilder replies = new StringBuilder("\"messages\":[");
    for (int i = 0; i < 150; i++) {
      String sep = i == 0 ? "" : ",";
      statuses.append(sep).append("{\"id\":\"wacid.S").append(i).append("\",\"type\":\"call\",\"status\":\"RINGING\"}");
      voicemails.append(sep).append("{\"id\":\"wacid.V").append(i).append("\",\"type\":\"audio\",\"audio\":{\"id\":\"")
          .append(i).append("\"}}");
      replies.append(sep).append("{\"from\":\"").append(15550000000L + i).append("\",\"type\":\"interactive\",")
          .append("\"interactive\":{\"type\":\"call_permission_reply\",\"call_permission_reply\":{\"response\":")
          .append("\"accept\"}}}");
    }
    assertThat(events(change("calls", statuses + "]"))).hasSize(CallEvents.MAX_EVENTS_PER_CHANGE);
    assertThat(events(change("messages", voicemails + "]"))).hasSize(CallEvents.MAX_EVENTS_PER_CHANGE);
    byte[] r = change("messages", replies + "]").getBytes(StandardCharsets.UTF_8);
    assertThat(CallEvents.permissionReplies(r, 0, r.length)).hasSize(CallEvents.MAX_EVENTS_PER_CHANGE);
    assertThat(calls.permissionReplies(PNID, r, 0, r.length, RECEIVED)).isEqualTo(CallEvents.MAX_EVENTS_PER_CHANGE);
  }

  @Test
  void aCallIdAtTheVeryStartOfTheBytesIsACandidate() {
    byte[] head = "\"wacid.X\"".getBytes(StandardCharsets.UTF_8);
    assertThat(Calls.mayConcernCalls("messages", false, head, 0, head.length)).isTrue();
    assertThat(Calls.mayConcernCalls("messages", false, head, 1, head.length - 1)).isFalse();
  }

  @Test
  void aDetailOfExactlyTheLimitIsKeptWholeAndOneOverLosesItsErrorsFirst() {
    com.fasterxml.jackson.databind.node.ObjectNode detail = detail(CallEvents.MAX_DETAIL, false);
    String whole = detail.toString();
    assertThat(whole).hasSize(CallEvents.MAX_DETAIL);
    assertThat(CallEvents.bounded(detail)).isEqualTo(whole);

    String over = detail(CallEvents.MAX_DETAIL + 1, false).toString();
    assertThat(CallEvents.bounded(detail(CallEvents.MAX_DETAIL + 1, false))).isEqualTo(
        over.replace(",\"message\":\"" + "m".repeat(100) + "\"", ""));

    // the codes alone at exactly the limit: kept; one more character and the errors go
    com.fasterxml.jackson.databind.node.ObjectNode codes = detail(CallEvents.MAX_DETAIL, true);
    String codesOnly = CallEvents.bounded(codes.deepCopy());
    assertThat(codesOnly).hasSize(CallEvents.MAX_DETAIL).contains("\"errors\":[{\"code\":138021}]");
    assertThat(CallEvents.bounded(detail(CallEvents.MAX_DETAIL + 1, true))).doesNotContain("errors")
        .startsWith("{\"status\":\"");

    // without its errors at exactly the limit: kept; one character more and nothing of it is
    com.fasterxml.jackson.databind.node.ObjectNode bare = detail(CallEvents.MAX_DETAIL, true);
    int codesLength = ",\"errors\":[{\"code\":138021}]".length();
    String status = bare.path("status").asText() + "s".repeat(codesLength);
    bare.put("status", status);
    assertThat(CallEvents.bounded(bare.deepCopy())).isEqualTo("{\"status\":\"" + status + "\"}")
        .hasSize(CallEvents.MAX_DETAIL);
    bare.put("status", status + "s");
    assertThat(CallEvents.bounded(bare)).isEqualTo("{\"truncated\":true}");
  }

  /**
   * A detail with one error, {@code length} characters long: whole, or (with {@code codesOnly}) once its
   * error is cut to its code.
   */
  static com.fasterxml.jackson.databind.node.ObjectNode detail(int length, boolean codesOnly) {
    com.fasterxml.jackson.databind.node.JsonNodeFactory f = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance;
    com.fasterxml.jackson.databind.node.ObjectNode d = f.objectNode();
    d.put("status", "");
    d.putArray("errors").addObject().put("code", 138021).put("message", "m".repeat(100));
    int size = codesOnly ? d.toString().length() - (",\"message\":\"" + "m".repeat(100) + "\"").length() : d.toString().length();
    d.put("status", "s".repeat(length - size));
    return d;
  }
}

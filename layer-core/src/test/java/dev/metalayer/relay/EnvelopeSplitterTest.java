package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.metalayer.testing.MetaFixtures;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class EnvelopeSplitterTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The changes of an envelope as byte slices, found by a scanner independent of the splitter. */
  static List<byte[]> originalChanges(byte[] raw) {
    List<byte[]> out = new ArrayList<>();
    byte[] marker = "\"changes\":[".getBytes(StandardCharsets.US_ASCII);
    int from = 0;
    while (true) {
      int at = indexFrom(raw, marker, from);
      if (at < 0) {
        return out;
      }
      int i = at + marker.length;
      while (raw[i] == '{') {
        int depth = 0;
        int start = i;
        boolean inString = false;
        do {
          byte b = raw[i];
          if (inString) {
            if (b == '\\') {
              i++;
            } else if (b == '"') {
              inString = false;
            }
          } else if (b == '"') {
            inString = true;
          } else if (b == '{' || b == '[') {
            depth++;
          } else if (b == '}' || b == ']') {
            depth--;
          }
          i++;
        } while (depth > 0);
        out.add(Arrays.copyOfRange(raw, start, i));
        if (raw[i] == ',') {
          i++;
        }
      }
      from = i;
    }
  }

  private static int indexFrom(byte[] raw, byte[] marker, int from) {
    int found = MetaFixtures.indexOf(Arrays.copyOfRange(raw, from, raw.length), marker);
    return found < 0 ? -1 : found + from;
  }

  private static List<Change> split(byte[] raw) {
    EnvelopeSplitter.Split s = EnvelopeSplitter.split(raw);
    assertThat(s).isInstanceOf(EnvelopeSplitter.Parsed.class);
    return ((EnvelopeSplitter.Parsed) s).changes();
  }

  private static byte[] slice(Change c) {
    return Arrays.copyOfRange(c.envelope(), c.changeOffset(), c.changeOffset() + c.changeLength());
  }

  @Test
  void multiEntryEnvelopeSplitsIntoSingleChangeEnvelopesWithByteExactChanges() throws Exception {
    byte[] raw = MetaFixtures.bytes("multi-entry.json");
    List<byte[]> originals = originalChanges(raw);
    assertThat(originals).hasSize(5);

    List<Change> changes = split(raw);

    assertThat(changes).hasSize(5);
    for (int i = 0; i < 5; i++) {
      Change c = changes.get(i);
      assertThat(slice(c)).as("change %d", i).isEqualTo(originals.get(i));
      String envelope = new String(c.envelope(), StandardCharsets.UTF_8);
      String change = new String(originals.get(i), StandardCharsets.UTF_8);
      String entry = i < 3 ? "{\"id\":\"366634483210360\",\"time\":1749196900," : "{\"id\":\"102290129340398\",";
      assertThat(envelope)
          .isEqualTo("{\"object\":\"whatsapp_business_account\",\"entry\":[" + entry + "\"changes\":[" + change + "]}]}");
      JsonNode tree = JSON.readTree(c.envelope());
      assertThat(tree.path("entry")).hasSize(1);
      assertThat(tree.path("entry").path(0).path("changes")).hasSize(1);
    }
    // Meta's escaping survived: \/ and \u00e9 and the surrogate pair are still escapes, numbers keep their text
    String messages = new String(slice(changes.get(2)), StandardCharsets.UTF_8);
    assertThat(messages).contains("caf\\u00e9", "image\\/jpeg", "https:\\/\\/lookaside", "\\ud83d\\ude00", "[1,2.50,-0.0e0]");
    assertThat(new String(slice(changes.get(4)), StandardCharsets.UTF_8)).contains("Scam \\u0026 fraud");
  }

  @Test
  void extractsRoutingFacts() {
    List<Change> changes = split(MetaFixtures.bytes("multi-entry.json"));

    assertThat(changes).extracting(Change::field)
        .containsExactly("calls", "messages", "messages", "calls", "account_update");
    assertThat(changes).extracting(Change::entryId)
        .containsExactly("366634483210360", "366634483210360", "366634483210360", "102290129340398", "102290129340398");
    assertThat(changes).extracting(Change::phoneNumberId)
        .containsExactly(Optional.of("436666719526789"), Optional.of("436666719526789"), Optional.of("436666719526789"),
            Optional.of("106540352242922"), Optional.empty());
    assertThat(changes).extracting(Change::permissionReply).containsExactly(false, true, false, false, false);
    assertThat(changes.get(0).orderingKey()).contains("wacid.HBgLMTIxODU1NTI4MjgVAgARGCAyODRQIAFRoA");
    assertThat(changes.get(3).orderingKey()).contains("wacid.ABGGFjFVU2AfAgo6V");
    // permission replies name no call: one user's replies keep their order
    assertThat(changes.get(1).orderingKey()).contains("user:12185552828");
    assertThat(changes.get(2).orderingKey()).isEmpty();
    assertThat(changes).extracting(Change::callsLane).containsExactly(true, true, false, true, false);
    assertThat(changes).extracting(Change::callEvent).containsExactly(Optional.of(RelayStore.CallEvent.CONNECT),
        Optional.of(RelayStore.CallEvent.OTHER), Optional.empty(), Optional.of(RelayStore.CallEvent.STATUS),
        Optional.empty());
  }

  @Test
  void aSingleChangeEnvelopeIsDeliveredAsTheIdenticalBytes() {
    byte[] raw = MetaFixtures.bytes("terminate-failed.json");

    List<Change> changes = split(raw);

    assertThat(changes).hasSize(1);
    assertThat(changes.get(0).envelope()).isEqualTo(raw);
    assertThat(slice(changes.get(0))).isEqualTo(originalChanges(raw).get(0));
  }

  @Test
  void whitespaceAndUnknownFieldsAroundTheChangesAreTolerated() {
    String raw = "{ \"extra\" : [1, {\"a\":2}], \"object\" : \"whatsapp_business_account\" ,\n \"entry\" : [ { \"id\" : 42 ,"
        + " \"changes\" : [ {\"field\":\"calls\",\"value\":{}} , {\"field\" : \"messages\"} ], \"x\":null } ] }";

    List<Change> changes = split(raw.getBytes(StandardCharsets.UTF_8));

    assertThat(changes).hasSize(2);
    assertThat(new String(changes.get(0).envelope(), StandardCharsets.UTF_8))
        .isEqualTo("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":42,\"changes\":[{\"field\":\"calls\",\"value\":{}}]}]}");
    assertThat(new String(slice(changes.get(1)), StandardCharsets.UTF_8)).isEqualTo("{\"field\" : \"messages\"}");
    assertThat(changes.get(0).entryId()).isEqualTo("42");
  }

  @Test
  void malformedBodiesAreRefusedWithFixedReasons() {
    for (String bad : List.of("", "not json", "[]", "{\"object\":\"whatsapp_business_account\"}",
        "{\"object\":\"whatsapp_business_account\",\"entry\":{}}", "{\"object\":1,\"entry\":[]}",
        "{\"object\":\"whatsapp_business_account\",\"entry\":[1]}",
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[1]}]}",
        "{\"object\":\"whatsapp_business_account\",\"entry\":[]} {}",
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{\"field\":\"calls\"}]}]",
        // cut off right after a number: the slice of the id or time ends with the body
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":42",
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"time\":1749196900")) {
      assertThat(EnvelopeSplitter.split(bad.getBytes(StandardCharsets.UTF_8))).as(bad)
          .isInstanceOf(EnvelopeSplitter.Malformed.class);
    }
  }

  @Test
  void webhookIdsAreDeterministicPerChangeAndDistinctAcrossChanges() {
    byte[] raw = MetaFixtures.bytes("multi-entry.json");
    List<String> first = split(raw).stream().map(WebhookIds::of).toList();
    List<String> again = split(raw.clone()).stream().map(WebhookIds::of).toList();

    assertThat(first).isEqualTo(again).doesNotHaveDuplicates();
    assertThat(first).allMatch(id -> id.matches("msg_[0-9a-f]{32}"));
    // the same change sent alone (a Meta redelivery, unbatched) keeps its id
    Change alone = split(split(raw).get(3).envelope()).get(0);
    assertThat(WebhookIds.of(alone)).isEqualTo(first.get(3));
  }

  @Test
  void terminateReasonIsInsertedByBytesIntoTerminateCallsOnly() throws Exception {
    byte[] raw = MetaFixtures.bytes("terminate-failed.json");
    Change change = split(raw).get(0);

    byte[] enriched = TerminateReasons.enrich(change);

    String before = new String(raw, StandardCharsets.UTF_8);
    String expected = before.replace("\"status\":\"FAILED\"}", "\"status\":\"FAILED\",\"terminate_reason\":\"failed_138021\"}");
    assertThat(expected).isNotEqualTo(before);
    assertThat(new String(enriched, StandardCharsets.UTF_8)).isEqualTo(expected);
    assertThat(JSON.readTree(enriched).at("/entry/0/changes/0/value/calls/0/terminate_reason").asText())
        .isEqualTo("failed_138021");
    // a connect gets nothing: the very same bytes
    Change connect = split(MetaFixtures.bytes("multi-entry.json")).get(0);
    assertThat(TerminateReasons.enrich(connect)).isSameAs(connect.envelope());
  }

  @Test
  void terminateReasonsFollowMetaStatus() throws Exception {
    assertThat(reasonOf("{\"event\":\"terminate\",\"status\":\"COMPLETED\"}", "{}")).contains("completed");
    assertThat(reasonOf("{\"event\":\"terminate\",\"status\":\"REJECTED\"}", "{}")).contains("rejected");
    assertThat(reasonOf("{\"event\":\"terminate\",\"status\":\"FAILED\"}", "{}")).contains("failed");
    assertThat(reasonOf("{\"event\":\"terminate\",\"status\":\"FAILED\",\"errors\":[{\"code\":131}]}", "{}")).contains("failed_131");
    assertThat(reasonOf("{\"event\":\"terminate\",\"status\":\"BUSY\"}", "{}")).contains("busy");
    assertThat(reasonOf("{\"event\":\"terminate\"}", "{}")).isEmpty();
    assertThat(reasonOf("{\"event\":\"connect\",\"status\":\"FAILED\"}", "{}")).isEmpty();
    assertThat(reasonOf("{\"event\":\"terminate\",\"status\":\"FAILED\",\"terminate_reason\":\"x\"}", "{}")).isEmpty();
  }

  private static Optional<Instant> eventTimeOf(String value) {
    String raw = "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":[{\"field\":\"calls\","
        + "\"value\":" + value + "}]}]}";
    return split(raw.getBytes(StandardCharsets.UTF_8)).get(0).eventTime();
  }

  @Test
  void theEventTimeIsTheEarliestReadableTimestampOfTheRings() {
    assertThat(split(MetaFixtures.bytes("terminate-failed.json")).get(0).eventTime()).as("a terminate is no ring").isEmpty();
    assertThat(eventTimeOf("{\"calls\":[{\"event\":\"connect\",\"timestamp\":\"1749196895\"}]}"))
        .contains(Instant.ofEpochSecond(1749196895));
    assertThat(eventTimeOf("{\"calls\":[{\"event\":\"connect\",\"timestamp\":1749196895}]}")).as("a number")
        .contains(Instant.ofEpochSecond(1749196895));
    assertThat(eventTimeOf("{\"statuses\":[{\"type\":\"call\",\"timestamp\":\"1749197010\"}]}")).as("a status is no ring")
        .isEmpty();
    assertThat(eventTimeOf("{\"calls\":[{\"event\":\"connect\",\"timestamp\":\"1749196900\"},"
        + "{\"event\":\"connect\",\"timestamp\":\"1749196800\"},{\"event\":\"terminate\",\"timestamp\":\"1749196700\"}],"
        + "\"statuses\":[{\"timestamp\":\"1749196650\"}]}")).contains(Instant.ofEpochSecond(1749196800));
    // unreadable ones are skipped, not taken for zero
    assertThat(eventTimeOf("{\"calls\":[{\"event\":\"connect\",\"timestamp\":\"soon\"},{\"event\":\"connect\",\"timestamp\":\"1749196900\"}]}"))
        .contains(Instant.ofEpochSecond(1749196900));
    for (String unreadable : new String[] {"{}", "{\"calls\":[{\"event\":\"connect\",\"id\":\"wacid.1\"}]}", "{\"calls\":[{\"event\":\"connect\",\"timestamp\":null}]}",
        "{\"calls\":[{\"event\":\"connect\",\"timestamp\":\"\"}]}", "{\"calls\":[{\"event\":\"connect\",\"timestamp\":\"-5\"}]}", "{\"calls\":[{\"event\":\"connect\",\"timestamp\":-5}]}",
        "{\"calls\":[{\"event\":\"connect\",\"timestamp\":1749196895.5}]}", "{\"calls\":[{\"event\":\"connect\",\"timestamp\":\"2026-03-01T10:00:00Z\"}]}",
        "{\"calls\":[{\"event\":\"connect\",\"timestamp\":\"1234567890123\"}]}", "{\"calls\":[{\"event\":\"connect\",\"timestamp\":99999999999999999999}]}",
        "{\"calls\":[{\"event\":\"connect\",\"timestamp\":{\"s\":1}}]}", "{\"calls\":{\"event\":\"connect\",\"timestamp\":\"1749196895\"}}"}) {
      assertThat(eventTimeOf(unreadable)).as(unreadable).isEmpty();
    }
  }

  private static Optional<String> reasonOf(String call, String value) throws Exception {
    return TerminateReasons.derive(JSON.readTree(call), JSON.readTree(value));
  }

  /** Jackson reads UTF-16 and UTF-32 too, but then gives no byte offsets: such a body is malformed (400), not a crash. */
  @Test
  void aBodyInAnotherUnicodeEncodingIsMalformed() {
    String json = new String(MetaFixtures.bytes("multi-entry.json"), StandardCharsets.UTF_8);
    for (java.nio.charset.Charset cs : new java.nio.charset.Charset[] {StandardCharsets.UTF_16LE, StandardCharsets.UTF_16BE,
        StandardCharsets.UTF_16, java.nio.charset.Charset.forName("UTF-32LE"), java.nio.charset.Charset.forName("UTF-32BE")}) {
      assertThat(EnvelopeSplitter.split(json.getBytes(cs))).as(cs.name()).isInstanceOf(EnvelopeSplitter.Malformed.class);
      assertThat(EnvelopeSplitter.split((" \n" + json).getBytes(cs))).as(cs.name()).isInstanceOf(EnvelopeSplitter.Malformed.class);
    }
    byte[] bom = ("\uFEFF" + json).getBytes(StandardCharsets.UTF_8);
    assertThat(EnvelopeSplitter.split(bom)).isInstanceOf(EnvelopeSplitter.Malformed.class);
    assertThat(EnvelopeSplitter.split((" \n" + json).getBytes(StandardCharsets.UTF_8))).isInstanceOf(EnvelopeSplitter.Parsed.class);
  }

  private static Change onlyChange(String field, String value) {
    String raw = "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":[{\"field\":\""
        + field + "\",\"value\":" + value + "}]}]}";
    return split(raw.getBytes(StandardCharsets.UTF_8)).get(0);
  }

  @Test
  void aBodyThatIsOnlyAnOpeningBraceIsMalformedNotACrash() {
    for (String bad : List.of("{", " \t\r\n{")) {
      assertThat(EnvelopeSplitter.split(bad.getBytes(StandardCharsets.UTF_8))).as(bad)
          .isInstanceOf(EnvelopeSplitter.Malformed.class);
    }
    String json = new String(MetaFixtures.bytes("terminate-failed.json"), StandardCharsets.UTF_8);
    assertThat(split(("\t\r\n " + json).getBytes(StandardCharsets.UTF_8))).hasSize(1);
  }

  @Test
  void thePhoneNumberIdOfTheMetadataIsReadAsTextOrNumberAndAnEmptyOneIsNone() {
    assertThat(onlyChange("messages", "{\"metadata\":{\"phone_number_id\":\"436666719526789\"}}").phoneNumberId())
        .contains("436666719526789");
    assertThat(onlyChange("messages", "{\"metadata\":{\"phone_number_id\":436666719526789}}").phoneNumberId())
        .contains("436666719526789");
    for (String none : List.of("\"\"", "null", "{\"id\":\"436666719526789\"}", "[\"436666719526789\"]", "true")) {
      assertThat(onlyChange("messages", "{\"metadata\":{\"phone_number_id\":" + none + "}}").phoneNumberId()).as(none)
          .isEmpty();
    }
  }

  @Test
  void aMessagesChangeWithNoMessagesIsNoPermissionReplyAndNoCallEvent() {
    Change empty = onlyChange("messages", "{\"messages\":[]}");
    assertThat(empty.permissionReply()).isFalse();
    assertThat(empty.callEvent()).isEmpty();
    assertThat(empty.callsLane()).isFalse();
  }

  /** A voicemail (one audio message whose id is a call's wacid) rides the calls lane in the order of its call. */
  @Test
  void aVoicemailIsACallEventOrderedWithItsCall() {
    Change voicemail = onlyChange("messages",
        "{\"messages\":[{\"from\":\"447700900000\",\"id\":\"wacid.VM1\",\"type\":\"audio\",\"audio\":{\"id\":\"9\"}}]}");
    Change call = onlyChange("calls", "{\"calls\":[{\"id\":\"wacid.VM1\",\"event\":\"terminate\"}]}");
    assertThat(voicemail.callEvent()).contains(RelayStore.CallEvent.OTHER);
    assertThat(voicemail.callsLane()).isTrue();
    assertThat(voicemail.orderingKey()).isPresent().isEqualTo(call.orderingKey());

    for (String notVoicemail : List.of(
        "[{\"id\":\"wacid.VM1\",\"type\":\"text\"}]",
        "[{\"id\":\"wamid.VM1\",\"type\":\"audio\"}]",
        "[{\"id\":7,\"type\":\"audio\"}]",
        "[{\"type\":\"audio\"}]",
        "[{\"id\":\"wacid.VM1\",\"type\":\"audio\"},{\"id\":\"wacid.VM2\",\"type\":\"audio\"}]")) {
      Change c = onlyChange("messages", "{\"messages\":" + notVoicemail + "}");
      assertThat(c.callEvent()).as(notVoicemail).isEmpty();
      assertThat(c.callsLane()).as(notVoicemail).isFalse();
      assertThat(c.orderingKey()).as(notVoicemail).isEmpty();
    }
    Change otherField = onlyChange("message_echoes", "{\"messages\":[{\"id\":\"wacid.VM1\",\"type\":\"audio\"}]}");
    assertThat(otherField.callEvent()).isEmpty();
  }

  @Test
  void aNumericTimestampIsReadFromZeroUpToTwelveDigits() {
    assertThat(eventTimeOf("{\"calls\":[{\"event\":\"connect\",\"timestamp\":0}]}")).contains(Instant.EPOCH);
    assertThat(eventTimeOf("{\"calls\":[{\"event\":\"connect\",\"timestamp\":999999999999}]}"))
        .contains(Instant.ofEpochSecond(999_999_999_999L));
    assertThat(eventTimeOf("{\"calls\":[{\"event\":\"connect\",\"timestamp\":1000000000000}]}")).isEmpty();
  }

  /** One user's permission replies keep their order whether Meta writes their {@code from} as text or as a number. */
  @Test
  void aPermissionReplyIsOrderedByItsSenderWrittenAsTextOrNumber() {
    String reply = "\"type\":\"interactive\",\"interactive\":{\"type\":\"call_permission_reply\"}";
    Change text = onlyChange("messages", "{\"messages\":[{\"from\":\"12185552828\"," + reply + "}]}");
    Change number = onlyChange("messages", "{\"messages\":[{\"from\":12185552828," + reply + "}]}");
    Change other = onlyChange("messages", "{\"messages\":[{\"from\":\"447700900000\"," + reply + "}]}");
    Change noSender = onlyChange("messages", "{\"messages\":[{\"from\":{\"n\":12185552828}," + reply + "}]}");

    assertThat(number.permissionReply()).isTrue();
    assertThat(number.callEvent()).contains(RelayStore.CallEvent.OTHER);
    assertThat(number.orderingKey()).isPresent().isEqualTo(text.orderingKey()).isNotEqualTo(other.orderingKey());
    assertThat(noSender.orderingKey()).isPresent().isNotEqualTo(text.orderingKey());
  }
}

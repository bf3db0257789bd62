package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.testing.FuzzInputs;
import dev.metalayer.testing.FuzzRuns;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes the splitting of Meta's webhook envelopes, which anyone can post to {@code /webhooks/meta}
 * (the split runs after the signature check, but the signed bytes are Meta's, not ours to trust).
 * Invariant: a split reassembles to the original changes. Checked against an independent strict
 * reading of the same bytes: as many changes as the original holds, in order; each a byte-exact copy
 * of the original's change; each single-change envelope parses and carries the original's
 * {@code object}, entry id and time; a lone change keeps the original bytes; and the webhook id is a
 * deterministic function of the change.
 */
class EnvelopeSplitterFuzzTest {
  static final FuzzRuns RUNS = new FuzzRuns("EnvelopeSplitter");

  @AfterAll
  static void figures() {
    RUNS.report();
  }

  @FuzzTest(maxDuration = "10s")
  void aSplitReassemblesToTheOriginalChanges(FuzzedDataProvider data) {
    RUNS.executed();
    byte[] raw = data.consumeBoolean() ? FuzzInputs.envelope(data) : data.consumeRemainingAsBytes();
    EnvelopeSplitter.Split split = EnvelopeSplitter.split(raw);
    Optional<JsonNode> original = FuzzInputs.strictTree(raw).filter(t -> startsAsObject(raw));

    if (!(split instanceof EnvelopeSplitter.Parsed parsed)) {
      assertThat(split).isInstanceOf(EnvelopeSplitter.Malformed.class);
      assertThat(original.filter(EnvelopeSplitterFuzzTest::isEnvelope))
          .as("a well-formed envelope was refused: %s", ((EnvelopeSplitter.Malformed) split).reason())
          .isEmpty();
      return;
    }

    List<Change> changes = parsed.changes();
    int from = 0;
    for (Change c : changes) {
      byte[] slice = Arrays.copyOfRange(c.envelope(), c.changeOffset(), c.changeOffset() + c.changeLength());
      int at = indexOf(raw, slice, from);
      assertThat(at).as("each change is a byte-exact copy of the original's, in order").isGreaterThanOrEqualTo(0);
      from = at + slice.length;
      JsonNode single = FuzzInputs.strictTree(c.envelope()).orElse(null);
      if (original.isPresent()) {
        assertThat(single).as("a single-change envelope parses").isNotNull();
        assertThat(single.path("entry")).hasSize(1);
        assertThat(single.path("entry").get(0).path("changes")).hasSize(1);
        assertThat(FuzzInputs.strictTree(slice)).contains(single.path("entry").get(0).path("changes").get(0));
      }
      assertThat(WebhookIds.of(c)).matches("msg_[0-9a-f]{32}");
    }
    if (changes.size() == 1 && original.map(t -> t.path("entry").size() == 1).orElse(false)) {
      assertThat(changes.get(0).envelope()).as("a lone change keeps the original bytes").isSameAs(raw);
    }

    if (original.isEmpty()) {
      return; // duplicate keys: the strict reader gives no reference to compare with
    }
    JsonNode tree = original.get();
    assertThat(parsed.object()).isEqualTo(tree.path("object").asText());
    List<JsonNode> expected = new ArrayList<>();
    List<JsonNode> entryOf = new ArrayList<>();
    for (JsonNode entry : tree.path("entry")) {
      for (JsonNode change : entry.path("changes")) {
        expected.add(change);
        entryOf.add(entry);
      }
    }
    assertThat(changes).as("as many changes as the original holds").hasSize(expected.size());
    for (int i = 0; i < changes.size(); i++) {
      Change c = changes.get(i);
      JsonNode single = FuzzInputs.strictTree(c.envelope()).orElseThrow();
      JsonNode entry = single.path("entry").get(0);
      assertThat(entry.path("changes").get(0)).isEqualTo(expected.get(i));
      assertThat(single.path("object")).isEqualTo(tree.path("object"));
      for (String field : new String[] {"id", "time"}) {
        JsonNode was = entryOf.get(i).path(field);
        boolean kept = was.isValueNode() || c.envelope() == raw; // a rebuilt envelope copies scalars only
        assertThat(entry.path(field)).as(field).isEqualTo(kept ? was : entry.path("no such field"));
      }
      if (entryOf.get(i).path("id").isTextual()) {
        assertThat(c.entryId()).isEqualTo(entryOf.get(i).path("id").asText());
      }
      assertThat(c.field()).isEqualTo(expected.get(i).path("field").isTextual() ? expected.get(i).path("field").asText() : "");
    }

    EnvelopeSplitter.Parsed again = (EnvelopeSplitter.Parsed) EnvelopeSplitter.split(raw.clone());
    assertThat(again.changes().stream().map(WebhookIds::of).toList())
        .as("webhook ids are deterministic")
        .isEqualTo(changes.stream().map(WebhookIds::of).toList());
  }

  /** Envelope shape: object a string; entry an array of objects whose changes, if present, are arrays of objects. */
  private static boolean isEnvelope(JsonNode tree) {
    if (!tree.isObject() || !tree.path("object").isTextual() || !tree.path("entry").isArray()) {
      return false;
    }
    for (JsonNode entry : tree.path("entry")) {
      if (!entry.isObject()) {
        return false;
      }
      JsonNode changes = entry.path("changes");
      if (changes.isMissingNode()) {
        continue;
      }
      if (!changes.isArray()) {
        return false;
      }
      for (JsonNode change : changes) {
        if (!change.isObject()) {
          return false;
        }
      }
    }
    return true;
  }

  /** The splitter reads UTF-8 only (what Meta sends): a body that is not an object in UTF-8 is no reference. */
  private static boolean startsAsObject(byte[] raw) {
    int i = 0;
    while (i < raw.length && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r')) {
      i++;
    }
    return i < raw.length && raw[i] == '{' && (i + 1 == raw.length || raw[i + 1] != 0);
  }

  private static int indexOf(byte[] data, byte[] needle, int from) {
    outer:
    for (int i = from; i <= data.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (data[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}

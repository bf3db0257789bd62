package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.metalayer.testing.FuzzInputs;
import dev.metalayer.testing.FuzzRuns;
import java.util.Locale;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes the parsing of the Graph path a client sends after the prefix. Invariant: a parsed path's
 * upstream path is the client's path byte for byte (leading slashes collapsed, one trailing slash
 * dropped) and can never step out of the object the scope check sees: no empty, {@code .} or
 * {@code ..} segment, raw or once percent-decoded; no backslash, NUL or encoded separator; parsing it
 * again gives the same path. A refusal is a 400.
 */
class GraphPathFuzzTest {
  static final FuzzRuns RUNS = new FuzzRuns("GraphPath");

  @AfterAll
  static void figures() {
    RUNS.report();
  }

  @FuzzTest(maxDuration = "10s")
  void aParsedPathNeverEscapesItsObject(FuzzedDataProvider data) {
    RUNS.executed();
    String raw = data.consumeBoolean() ? FuzzInputs.graphPath(data) : data.consumeRemainingAsString();
    Outcome<GraphPath> parsed = GraphPath.parse(raw);
    if (parsed instanceof Outcome.Refused<GraphPath> refused) {
      assertThat(refused.error().status()).isEqualTo(400);
      return;
    }
    GraphPath path = ((Outcome.Ok<GraphPath>) parsed).value();
    String upstream = path.upstreamPath();

    String sent = raw.replaceFirst("^/+", "");
    sent = sent.endsWith("/") ? sent.substring(0, sent.length() - 1) : sent;
    assertThat(upstream).as("the client's path, byte for byte").isEqualTo("/" + sent);
    assertThat(upstream).doesNotContain("\\", "\0");
    assertThat(upstream.toLowerCase(Locale.ROOT)).doesNotContain("%2f", "%5c", "%2e", "%00");
    assertThat(path.object()).isNotEmpty();
    for (String segment : upstream.substring(1).split("/", -1)) {
      String decoded = FuzzInputs.lenientDecode(segment);
      assertThat(segment).isNotEmpty();
      assertThat(decoded).as("segment %s", segment).isNotIn(".", "..").doesNotContain("/", "\\", "\0");
    }
    assertThat(GraphPath.parse(upstream)).as("parsing is idempotent").isEqualTo(parsed);
  }
}

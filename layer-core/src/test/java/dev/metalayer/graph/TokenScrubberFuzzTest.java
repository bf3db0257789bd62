package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.metalayer.testing.FuzzInputs;
import dev.metalayer.testing.FuzzRuns;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes the scrubbing of streamed answers (media and other bodies the layer does not buffer), with the
 * Meta token planted in Graph's forms and the body cut into chunks at arbitrary places. Invariant: the
 * streamed output never contains the token in any form the scrubber knows, has exactly the input's
 * length (a {@code Content-Length} stays true) and changes nothing when there was no token; the whole
 * body scrubbed at once ({@code redact}) holds no token either.
 */
class TokenScrubberFuzzTest {
  static final FuzzRuns RUNS = new FuzzRuns("TokenScrubber");

  @AfterAll
  static void figures() {
    RUNS.report();
  }

  @FuzzTest(maxDuration = "10s")
  void aStreamedAnswerNeverCarriesTheTokenWhereverTheChunksSplitIt(FuzzedDataProvider data) {
    RUNS.executed();
    String token = FuzzInputs.token(data);
    TokenScrubber scrubber = new TokenScrubber(token);
    byte[] body = (FuzzInputs.graphAnswer(data, token) + FuzzInputs.inJsonString(data, token))
        .getBytes(StandardCharsets.UTF_8);

    TokenScrubber.Stream stream = scrubber.stream();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int at = 0;
    while (at < body.length) {
      // chunks about a token long, so that the cuts fall inside tokens often
      int length = data.remainingBytes() > 0 ? data.consumeInt(0, Math.min(body.length - at, token.length() + 8)) : body.length - at;
      out.writeBytes(stream.feed(body, at, length));
      at += length;
    }
    out.writeBytes(stream.finish());
    byte[] streamed = out.toByteArray();

    assertThat(streamed.length).as("the length stays true").isEqualTo(body.length);
    assertThat(scrubber.foundIn(streamed)).as("no form of the token remains").isFalse();
    String text = new String(streamed, StandardCharsets.UTF_8);
    assertThat(FuzzInputs.mentions(text, token)).isFalse();
    if (!scrubber.foundIn(body)) {
      assertThat(streamed).isEqualTo(body);
    }
    assertThat(FuzzInputs.mentions(new String(scrubber.redact(body), StandardCharsets.UTF_8), token)).isFalse();
  }
}

package dev.metalayer.calls;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.calls.CallStore.Limit;
import dev.metalayer.graph.GraphAnswer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Which refusals of Meta's are kept, until when, and the answer from memory: pure rules, no I/O. */
class RememberedLimitsTest {
  static final Instant NOW = Instant.parse("2026-03-02T10:00:00Z");

  static Optional<Limit> of(int status, String answer) {
    return RememberedLimits.of("106540352242922", "15551234567", RememberedLimits.CONNECT, status,
        answer.getBytes(StandardCharsets.UTF_8), NOW);
  }

  static String error(int code, String errorData) {
    return "{\"error\":{\"message\":\"m\",\"type\":\"OAuthException\",\"code\":" + code
        + (errorData == null ? "" : ",\"error_data\":" + errorData) + "}}";
  }

  @Test
  void eachRememberedCodeHasItsDefault() {
    assertThat(of(400, error(138009, null)).orElseThrow().until()).isEqualTo(NOW.plus(Duration.ofHours(24)));
    assertThat(of(400, error(138012, null)).orElseThrow().until()).isEqualTo(NOW.plus(Duration.ofHours(24)));
    assertThat(of(429, error(138005, null)).orElseThrow().until()).isEqualTo(NOW.plus(Duration.ofHours(1)));
    assertThat(of(401, error(138006, null)).orElseThrow().until()).isEqualTo(NOW.plus(Duration.ofMinutes(10)));
    assertThat(of(429, error(613, null)).orElseThrow().until()).isEqualTo(NOW.plus(Duration.ofMinutes(5)));
  }

  @Test
  void otherAnswersAreNotKept() {
    assertThat(of(400, error(131030, null))).isEmpty();
    assertThat(of(200, error(138009, null))).isEmpty();
    assertThat(of(400, "<html>138009</html>")).isEmpty();
    assertThat(of(400, "{\"error\":{\"code\":\"138009\"}}")).isEmpty();
    assertThat(of(400, "{\"error\":{\"code\":138009.5}}")).isEmpty();
    assertThat(of(400, "[1]")).isEmpty();
    assertThat(of(400, error(138009, "\"" + "x".repeat(RememberedLimits.MAX_ANSWER_BYTES) + "\""))).isEmpty();
  }

  @Test
  void theTimeMetaNamesIsReadInEveryShape() {
    assertThat(until("{\"details\":\"next allowed at 2026-03-02T12:00:00Z\"}")).isEqualTo("2026-03-02T12:00:00Z");
    assertThat(until("{\"details\":\"next allowed at 2026-03-02 13:00:00+0100\"}")).isEqualTo("2026-03-02T12:00:00Z");
    assertThat(until("{\"details\":\"until 2026-03-02T07:00-05:00\"}")).isEqualTo("2026-03-02T12:00:00Z");
    assertThat(until("{\"next\":1772452800}")).isEqualTo("2026-03-02T12:00:00Z");
    assertThat(until("{\"next\":1772452800000}")).isEqualTo("2026-03-02T12:00:00Z");
    assertThat(until("{\"details\":\"retry after 1772452800\"}")).isEqualTo("2026-03-02T12:00:00Z");
    assertThat(until("{\"limits\":[{\"limit_expiration_time\":\"1772452800\"}]}")).isEqualTo("2026-03-02T12:00:00Z");
    // the past, too far, or nothing: the default
    assertThat(until("{\"details\":\"since 2026-03-01T00:00:00Z\"}")).isEqualTo("2026-03-03T10:00:00Z");
    assertThat(until("{\"next\":4102444800}")).isEqualTo("2026-03-03T10:00:00Z");
    assertThat(until("{\"details\":\"2026-13-45T99:99:99Z\"}")).isEqualTo("2026-03-03T10:00:00Z");
    assertThat(until("\"no time here\"")).isEqualTo("2026-03-03T10:00:00Z");
  }

  static String until(String errorData) {
    return of(400, error(138012, errorData)).orElseThrow().until().toString();
  }

  @Test
  void theAnswerFromMemoryIsMetasMarked() {
    Limit limit = of(401, error(138006, null)).orElseThrow();
    GraphAnswer a = RememberedLimits.answer(limit, NOW.plus(Duration.ofMinutes(1)).plusMillis(1));
    assertThat(a.status()).isEqualTo(401);
    assertThat(a.text()).startsWith("{\"error\":{\"message\":\"m\",\"type\":\"OAuthException\",\"code\":138006,")
        .contains("\"layer_remembered\":{\"at\":\"2026-03-02T10:00:00Z\",\"until\":\"2026-03-02T10:10:00Z\"}");
    assertThat(a.header("retry-after")).isEqualTo("540");
    assertThat(a.header(RememberedLimits.HEADER)).isEqualTo("2026-03-02T10:10:00Z");
    assertThat(a.header("content-type")).startsWith("application/json");
  }

  @Test
  void theEdgesOfStatusSizeAndTimeAreKeptOrNotByTheRule() {
    assertThat(of(400, error(613, null))).isPresent();
    assertThat(of(399, error(613, null))).as("not an error status").isEmpty();
    assertThat(of(400, "")).isEmpty();
    String padded = error(613, "\"" + "x".repeat(RememberedLimits.MAX_ANSWER_BYTES) + "\"");
    String exact = error(613, "\"" + "x".repeat(RememberedLimits.MAX_ANSWER_BYTES - (padded.length()
        - RememberedLimits.MAX_ANSWER_BYTES)) + "\"");
    assertThat(exact).hasSize(RememberedLimits.MAX_ANSWER_BYTES);
    assertThat(of(400, exact)).as("exactly the largest answer kept").isPresent();
    // a time exactly LONGEST away is believed, one a second later is not
    Instant longest = NOW.plus(RememberedLimits.LONGEST);
    assertThat(until("{\"next\":" + longest.getEpochSecond() + "}")).isEqualTo(longest.toString());
    assertThat(until("{\"next\":" + (longest.getEpochSecond() + 1) + "}")).isEqualTo("2026-03-03T10:00:00Z");
    assertThat(until("{\"next\":" + NOW.getEpochSecond() + "}")).as("now is not later").isEqualTo("2026-03-03T10:00:00Z");
    // found four levels down, not five
    assertThat(until("{\"a\":{\"b\":{\"c\":{\"d\":1772452800}}}}")).isEqualTo("2026-03-02T12:00:00Z");
    assertThat(until("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1772452800}}}}}")).isEqualTo("2026-03-03T10:00:00Z");
    assertThat(until("{\"details\":\"at 2026-03-02T13:00:00+01:00\"}")).isEqualTo("2026-03-02T12:00:00Z");
  }

  @Test
  void theAnswerWaitsAtLeastOneSecondAndRoundsUp() {
    Limit limit = of(401, error(138006, null)).orElseThrow();
    assertThat(RememberedLimits.answer(limit, limit.until()).header("retry-after")).isEqualTo("1");
    assertThat(RememberedLimits.answer(limit, limit.until().minusMillis(1001)).header("retry-after")).isEqualTo("2");
    assertThat(RememberedLimits.answer(limit, limit.until().minusMillis(1000)).header("retry-after")).isEqualTo("1");
    assertThat(RememberedLimits.answer(limit, NOW).header("cache-control")).isEqualTo("no-store");
  }
}

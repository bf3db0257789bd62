package dev.metalayer.calls;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.calls.CallStore.Direction;
import dev.metalayer.calls.CallStore.Query;
import dev.metalayer.calls.CallStore.State;
import dev.metalayer.graph.Outcome;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The one reader of a calls list's parameters ({@link Calls#query}). Pure. */
class CallQueriesTest {
  static Outcome<Query> read(Map<String, List<String>> parameters) {
    return Calls.query(Optional.of("106540352242922"), parameters, Calls.LIST_PARAMETERS);
  }

  static String refusal(Map<String, List<String>> parameters) {
    assertThat(read(parameters)).isInstanceOf(Outcome.Refused.class);
    return new String(((Outcome.Refused<Query>) read(parameters)).error().toJson(), java.nio.charset.StandardCharsets.UTF_8);
  }

  @Test
  void everyParameterIsReadInEitherOfItsSpellings() {
    Query q = ((Outcome.Ok<Query>) read(Map.of("state", List.of("ringing,ACCEPTED", "expired"),
        "direction", List.of("business_initiated"), "since", List.of("1796117400"),
        "until", List.of("2026-12-01T10:30:00+01:00"), "limit", List.of("200"), "after", List.of("abc")))).value();
    assertThat(q.states()).containsExactlyInAnyOrder(State.RINGING, State.ACCEPTED, State.EXPIRED);
    assertThat(q.direction()).contains(Direction.BUSINESS_INITIATED);
    assertThat(q.since()).contains(Instant.ofEpochSecond(1796117400));
    assertThat(q.until()).contains(Instant.parse("2026-12-01T09:30:00Z"));
    assertThat(q.limit()).isEqualTo(200);
    assertThat(q.after()).contains("abc");
    assertThat(((Outcome.Ok<Query>) read(Map.of())).value().limit()).isEqualTo(50);
  }

  @Test
  void aBadParameterIsA400NamingItWithoutItsValue() {
    assertThat(refusal(Map.of("state", List.of("ringing,<b>")))).contains("state must be").doesNotContain("<b>");
    assertThat(refusal(Map.of("direction", List.of("sideways")))).contains("direction must be").doesNotContain("sideways");
    assertThat(refusal(Map.of("since", List.of("yesterday")))).contains("since must be");
    assertThat(refusal(Map.of("since", List.of("1796117400"), "until", List.of("1796117399")))).contains("not be after");
    assertThat(refusal(Map.of("limit", List.of("201")))).contains("limit must be");
    assertThat(refusal(Map.of("limit", List.of("1", "2")))).contains("limit is given more than once");
    assertThat(refusal(Map.of("after", List.of("a b")))).contains("after must be");
    assertThat(refusal(Map.of("phone_number_id", List.of("1")))).contains("Unknown parameter");
    assertThat(Calls.query(Optional.empty(), Map.of("phone_number_id", List.of("1")), Set.of("phone_number_id")))
        .isInstanceOf(Outcome.Ok.class);
  }

  @Test
  void theEdgesOfEachRangeAreTakenAndOnePastThemIsNot() {
    assertThat(((Outcome.Ok<Query>) read(Map.of("limit", List.of("1")))).value().limit()).isEqualTo(1);
    assertThat(refusal(Map.of("limit", List.of("0")))).contains("limit must be");
    assertThat(refusal(Map.of("limit", List.of("1000")))).contains("limit must be");
    Query same = ((Outcome.Ok<Query>) read(Map.of("since", List.of("1796117400"), "until", List.of("1796117400"))))
        .value();
    assertThat(same.since()).isEqualTo(same.until());
    assertThat(refusal(Map.of("until", List.of("tomorrow")))).contains("until must be");
    assertThat(((Outcome.Ok<Query>) read(Map.of("state", List.of("ringing", "pre_accepted")))).value().states())
        .as("state may be repeated").containsExactlyInAnyOrder(State.RINGING, State.PRE_ACCEPTED);
    assertThat(refusal(Map.of("direction", List.of("user_initiated", "user_initiated"))))
        .contains("direction is given more than once");
    assertThat(((Outcome.Ok<Query>) read(Map.of("direction", List.of(" USER_INITIATED ")))).value().direction())
        .contains(Direction.USER_INITIATED);
    assertThat(((Outcome.Ok<Query>) read(Map.of("after", List.of("x".repeat(512))))).value().after()).isPresent();
    assertThat(refusal(Map.of("after", List.of("x".repeat(513))))).contains("after must be");
    assertThat(CallQueries.time(" 2026-12-01T09:30:00.5Z ")).isEqualTo(Instant.parse("2026-12-01T09:30:00.500Z"));
  }

  @Test
  void aTimeOfFortyCharactersIsReadAndALongerOneIsNot() {
    String forty = "+10000-12-01T09:30:00.123456789+01:00:00";
    assertThat(forty).hasSize(40);
    assertThat(CallQueries.time(forty)).isEqualTo(java.time.OffsetDateTime.parse(forty).toInstant());
    String fortyOne = "+100000-12-01T09:30:00.123456789+01:00:00";
    assertThat(fortyOne).hasSize(41);
    assertThat(refusal(Map.of("since", List.of(fortyOne)))).contains("since must be");
  }
}

package dev.metalayer.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The checker of the mutation profile: what it lets through decides whether the list of reasons can be trusted. */
class MutationSurvivorsTest {
  private static final String A = "dev.metalayer.x.A";

  private static MutationSurvivors.Mutant mutant(String method, String description, String status) {
    return new MutationSurvivors.Mutant(A, method, description, 7, !status.equals("SURVIVED") && !status.equals("NO_COVERAGE"),
        status);
  }

  @Test
  void aMutantAliveWithoutAReasonIsReported(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("a.txt"), "# comment\ndev.metalayer.x.A#f | negated conditional | equivalent: because\n");
    List<String> problems = MutationSurvivors.check(List.of(
        mutant("f", "negated conditional", "SURVIVED"),
        mutant("f", "negated conditional", "NO_COVERAGE"),
        mutant("g", "changed conditional boundary", "KILLED")), MutationSurvivors.explained(dir));
    assertThat(problems).containsExactly(
        "alive, not explained: dev.metalayer.x.A#f | negated conditional | ?   (line 7, NO_COVERAGE)");
  }

  @Test
  void aReasonForAMutantNowKilledOrGoneIsStaleButATimeoutKeepsIt(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("a.txt"), String.join("\n",
        "dev.metalayer.x.A#f | negated conditional | equivalent: killed now",
        "dev.metalayer.x.A#g | negated conditional | equivalent: timed out on a loaded machine",
        "dev.metalayer.x.A#gone | negated conditional | equivalent: the method was removed",
        "dev.metalayer.y.B#h | negated conditional | equivalent: a class this run did not mutate", ""));
    List<String> problems = MutationSurvivors.check(List.of(
        mutant("f", "negated conditional", "KILLED"),
        mutant("g", "negated conditional", "TIMED_OUT")), MutationSurvivors.explained(dir));
    assertThat(problems).containsExactlyInAnyOrder(
        "explained, no longer alive (1 line(s) too many): dev.metalayer.x.A#f | negated conditional",
        "explained, no longer alive (1 line(s) too many): dev.metalayer.x.A#gone | negated conditional");
  }

  @Test
  void aLineWithoutAReasonIsRefused(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("a.txt"), "dev.metalayer.x.A#f | negated conditional |  \n");
    assertThatThrownBy(() -> MutationSurvivors.explained(dir)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("a.txt:1: expected 'class#method | description | reason'");
  }

  @Test
  void ofSeveralRunsEachClassCountsOnceFromTheLastRunThatMutatedIt() {
    MutationSurvivors.Mutant oldF = mutant("f", "negated conditional", "SURVIVED");
    MutationSurvivors.Mutant b = new MutationSurvivors.Mutant("dev.metalayer.y.B", "h", "negated conditional", 3, true,
        "KILLED");
    MutationSurvivors.Mutant newF = mutant("f", "negated conditional", "KILLED");
    MutationSurvivors.Mutant newG = mutant("g", "negated conditional", "KILLED");
    assertThat(MutationSurvivors.latest(List.of(List.of(oldF, b), List.of(newF, newG), List.of())))
        .containsExactlyInAnyOrder(newF, newG, b);
  }

  @Test
  void theSummaryCountsKilledSurvivedAndUncoveredPerPackage() {
    String summary = MutationSurvivors.summary(List.of(
        mutant("f", "negated conditional", "KILLED"),
        mutant("f", "negated conditional", "TIMED_OUT"),
        mutant("g", "negated conditional", "SURVIVED"),
        mutant("h", "negated conditional", "NO_COVERAGE")));
    assertThat(summary).contains(String.format("%-24s %8d %8d %9d %12d %6.1f%%", "dev.metalayer.x", 4, 2, 1, 1, 50.0));
  }
}

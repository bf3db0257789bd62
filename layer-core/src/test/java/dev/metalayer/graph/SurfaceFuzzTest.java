package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.metalayer.keys.Grant;
import dev.metalayer.testing.FuzzInputs;
import dev.metalayer.testing.FuzzRuns;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes the Graph surface's target check behind every proxied Graph call, with three registered numbers (A makes the
 * calls; B and C are other tenants, C in A's business). Invariant: a target the scope allows never
 * names another registered number's object, nor any business, read as Graph reads an id (decoded, and
 * an integer: leading zeros do not make another id); A's phone number and WABA are reached only as
 * themselves; media only by {@code GET} (or {@code HEAD}) or {@code DELETE} without edges. The media download route's
 * check ({@code mediaDownload}) keeps the same invariant.
 */
class SurfaceFuzzTest {
  static final FuzzRuns RUNS = new FuzzRuns("Surface");
  static final Surface SURFACE = new Surface(SurfaceTest.registry(FuzzInputs.registeredObjects(), Set.of()));
  static final Grant GRANT = FuzzInputs.grantA();

  @AfterAll
  static void figures() {
    RUNS.report();
  }

  @FuzzTest(maxDuration = "10s")
  void anAllowedTargetNeverNamesAnotherNumbersObject(FuzzedDataProvider data) {
    RUNS.executed();
    String method = FuzzInputs.method(data);
    if (GraphPath.parse(FuzzInputs.graphPath(data)) instanceof Outcome.Ok<GraphPath> parsed) {
      GraphPath path = parsed.value();
      Outcome<Surface.Allowed> outcome = SURFACE.check(GRANT, new Surface.Request(method, path, Parameters.NONE, false, List.of()));
      if (outcome instanceof Outcome.Ok<Surface.Allowed> ok) {
        Optional<String> id = FuzzInputs.canonicalId(path.object());
        assertThat(id).as("an allowed object is a Graph id").isPresent();
        assertThat(FuzzInputs.foreignObjects()).doesNotContain(id.get());
        switch (ok.value().target()) {
          case PHONE_NUMBER -> assertThat(path.object()).isEqualTo(FuzzInputs.A.phoneNumberId());
          case WABA -> assertThat(path.object()).isEqualTo(FuzzInputs.A.wabaId());
          case MEDIA -> {
            assertThat(method).isIn("GET", "HEAD", "DELETE"); // HEAD is checked as GET (docs/graph-api.md)
            assertThat(path.edges()).isEmpty();
          }
        }
      } else {
        assertThat(((Outcome.Refused<Surface.Allowed>) outcome).error().status()).isIn(400, 403);
      }
    }
    String media = data.consumeBoolean() ? data.consumeString(20) : data.pickValue(FuzzInputs.registeredObjects().toArray(String[]::new));
    if (SURFACE.mediaDownload(GRANT, media).isEmpty()) {
      Optional<String> id = FuzzInputs.canonicalId(media);
      assertThat(id).isPresent();
      assertThat(FuzzInputs.foreignObjects()).doesNotContain(id.get());
      assertThat(GRANT.number().owns(id.get())).isFalse();
    }
  }
}

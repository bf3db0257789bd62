package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class GraphPathTest {

  static GraphPath ok(String raw) {
    Outcome<GraphPath> o = GraphPath.parse(raw);
    assertThat(o).isInstanceOf(Outcome.Ok.class);
    return ((Outcome.Ok<GraphPath>) o).value();
  }

  static GraphError refused(String raw) {
    Outcome<GraphPath> o = GraphPath.parse(raw);
    assertThat(o).as(raw).isInstanceOf(Outcome.Refused.class);
    return ((Outcome.Refused<GraphPath>) o).error();
  }

  @ParameterizedTest
  @ValueSource(strings = {"v13.0", "v14.0", "v22.0", "v24.0", "v9.0", "v19"})
  void versionsAreRecognisedAndKept(String v) {
    GraphPath p = ok("/" + v + "/106540352242922/messages");
    assertThat(p.version()).contains(v);
    assertThat(p.object()).isEqualTo("106540352242922");
    assertThat(p.edges()).containsExactly("messages");
    assertThat(p.upstreamPath()).isEqualTo("/" + v + "/106540352242922/messages");
  }

  @Test
  void noVersionAtAll() {
    GraphPath p = ok("/1037543291543636");
    assertThat(p.version()).isEmpty();
    assertThat(p.object()).isEqualTo("1037543291543636");
    assertThat(p.edges()).isEmpty();
    assertThat(p.upstreamPath()).isEqualTo("/1037543291543636");
  }

  @Test
  void doubledSlashAfterThePrefixAndTrailingSlashAreTolerated() {
    assertThat(ok("//v13.0/123/messages").upstreamPath()).isEqualTo("/v13.0/123/messages");
    assertThat(ok("/v13.0/123/messages/").upstreamPath()).isEqualTo("/v13.0/123/messages");
  }

  @Test
  void encodedSegmentsAreKeptAsSent() {
    assertThat(ok("/v1.0/123/edge%20x").edges()).containsExactly("edge%20x");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "/v13.0/../111/messages", "/v13.0/./123", "/..", "/v13.0/123/..", "/v13.0/%2e%2e/111",
        "/v13.0/123%2F..%2F111", "/v13.0/123%2fmessages", "/v13.0/123%5Cx", "/v13.0/123\\x",
        "/v13.0/123%00", "/v13.0/123\0", "\\v13.0/123", "\0/v13.0/123", "/v13.0/123//messages", "", "/", "//", "/v13.0", "/v13.0/"
      })
  void traversalEncodedSeparatorsAndEmptyPathsAre400(String raw) {
    GraphError e = refused(raw);
    assertThat(e.status()).isEqualTo(400);
    assertThat(e.code()).isEqualTo(100);
  }

  @Test
  void recordNormalisesNullVersion() {
    assertThat(new GraphPath(null, "1", List.of()).version()).isEqualTo(Optional.empty());
  }
}

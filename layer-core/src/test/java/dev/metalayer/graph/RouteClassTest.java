package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The route class of a path, the {@code route} label of the metrics: an edge of the table, never client text. */
class RouteClassTest {

  @Test
  void anEdgeTheTableNamesIsItsOwnClassAndAnythingElseIsOneOfThreeWords() {
    assertThat(Surface.routeClass("/v23.0/106540352242922/messages")).isEqualTo("messages");
    assertThat(Surface.routeClass("//106540352242922/settings/")).isEqualTo("settings");
    assertThat(Surface.routeClass("/v23.0/102290129340398/message_templates")).isEqualTo("message_templates");
    assertThat(Surface.routeClass("/v23.0/106540352242922")).isEqualTo("node");
    assertThat(Surface.routeClass("/v23.0/106540352242922/secret-edge-of-a-client")).isEqualTo("other");
    assertThat(Surface.routeClass("/v23.0/106540352242922/messages/16315553602")).isEqualTo("other");
    assertThat(Surface.routeClass("/v23.0/106540352242922/MESSAGES")).isEqualTo("other");
    assertThat(Surface.routeClass("/v23.0/%2e%2e/me")).isEqualTo("invalid");
    assertThat(Surface.routeClass("")).isEqualTo("invalid");
  }
}

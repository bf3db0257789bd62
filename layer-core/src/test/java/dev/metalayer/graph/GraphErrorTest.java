package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.json.Json;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * The layer's own errors as a Graph client reads them: the status, Graph's code and type, and a trace
 * id of Graph's shape. Most are also checked where they are answered; these are the ones a client
 * tells apart by status and code alone.
 */
class GraphErrorTest {

  @Test
  void eachOfTheLayersErrorsHasItsStatusAndGraphsCode() {
    assertThat(GraphError.gatewayTimeout("late")).extracting(GraphError::status, GraphError::code, GraphError::type)
        .containsExactly(504, 2, GraphError.LAYER);
    assertThat(GraphError.notFound("Unknown path.")).extracting(GraphError::status, GraphError::code).containsExactly(404, 803);
    assertThat(GraphError.methodNotAllowed("GET only")).extracting(GraphError::status, GraphError::code).containsExactly(405, 100);
    assertThat(GraphError.bodyTooLarge()).extracting(GraphError::status, GraphError::code).containsExactly(413, 100);
    assertThat(GraphError.notJsonObject()).extracting(GraphError::status, GraphError::code, GraphError::type)
        .containsExactly(400, 100, GraphError.OAUTH);
    assertThat(GraphError.internal()).extracting(GraphError::status, GraphError::code).containsExactly(500, 1);
    GraphError elsewhere = GraphError.answeredElsewhere();
    assertThat(elsewhere).extracting(GraphError::status, GraphError::code).containsExactly(409, GraphError.ANSWERED_ELSEWHERE);
    assertThat(elsewhere.message()).startsWith("(#409001) ");
  }

  @Test
  void aTraceIdHasGraphsShapeAndDiffersFromTheNext() throws IOException {
    String id = GraphError.newTraceId();
    assertThat(id).matches("[A-Za-z0-9_-]{23}").isNotEqualTo(GraphError.newTraceId());
    JsonNode json = Json.mapper().readTree(GraphError.internal().toJson()).get("error");
    assertThat(json.get("fbtrace_id").asText()).matches("[A-Za-z0-9_-]{23}");
  }

  /** Graph's 401 carries a WWW-Authenticate challenge naming the error; its quotes cannot end the quoted string. */
  @Test
  void onlyA401CarriesAChallengeAndItsMessageCannotBreakOutOfTheQuotes() {
    assertThat(GraphError.invalidToken("Invalid \"OAuth\" access token.").wwwAuthenticate())
        .isEqualTo("OAuth \"Facebook Platform\" \"invalid_token\" \"Invalid 'OAuth' access token.\"");
    assertThat(GraphError.outOfScope("(#200) no").wwwAuthenticate()).isNull();
  }
}

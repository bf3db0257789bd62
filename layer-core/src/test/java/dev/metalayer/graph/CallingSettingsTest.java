package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.json.Json;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class CallingSettingsTest {
  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static final String CURRENT = "{\"calling\":{\"status\":\"DISABLED\",\"call_icon_visibility\":\"DEFAULT\","
      + "\"call_hours\":{\"status\":\"ENABLED\",\"timezone_id\":\"America/Sao_Paulo\","
      + "\"weekly_operating_hours\":[{\"day_of_week\":\"MONDAY\",\"open_time\":\"0900\",\"close_time\":\"1800\"}],"
      + "\"holiday_schedule\":[{\"date\":\"2026-12-25\",\"start_time\":\"0000\",\"end_time\":\"2359\"}]},"
      + "\"restrictions\":{\"restrictions_list\":[]}},\"id\":\"106540352242922\"}";

  @Test
  void chatwootsStatusToggleKeepsHoursAndSchedules() throws Exception {
    byte[] chatwoot = b("{\"calling\":{\"status\":\"ENABLED\"}}");
    assertThat(CallingSettings.isCallingUpdate(chatwoot)).isTrue();
    JsonNode merged = Json.mapper().readTree(CallingSettings.merge(chatwoot, b(CURRENT)).orElseThrow());
    assertThat(merged.at("/calling/status").asText()).isEqualTo("ENABLED");
    assertThat(merged.at("/calling/call_icon_visibility").asText()).isEqualTo("DEFAULT");
    assertThat(merged.at("/calling/call_hours/holiday_schedule/0/date").asText()).isEqualTo("2026-12-25");
    assertThat(merged.at("/calling/call_hours/weekly_operating_hours")).hasSize(1);
    assertThat(merged.at("/calling/restrictions").isMissingNode()).isTrue();
    assertThat(merged.has("id")).isFalse();
  }

  @Test
  void nestedObjectsMergeAndArraysReplace() throws Exception {
    byte[] patch = b("{\"calling\":{\"call_hours\":{\"timezone_id\":\"UTC\",\"holiday_schedule\":[]}}}");
    JsonNode merged = Json.mapper().readTree(CallingSettings.merge(patch, b(CURRENT)).orElseThrow());
    assertThat(merged.at("/calling/call_hours/timezone_id").asText()).isEqualTo("UTC");
    assertThat(merged.at("/calling/call_hours/status").asText()).isEqualTo("ENABLED");
    assertThat(merged.at("/calling/call_hours/holiday_schedule")).isEmpty();
    assertThat(merged.at("/calling/status").asText()).isEqualTo("DISABLED");
  }

  @Test
  void nothingToMergeWithoutACallingObjectOrValidJson() {
    assertThat(CallingSettings.isCallingUpdate(b("{\"other\":1}"))).isFalse();
    assertThat(CallingSettings.isCallingUpdate(b("not json"))).isFalse();
    assertThat(CallingSettings.merge(b("{\"calling\":{}}"), b("<html>"))).isEmpty();
    assertThat(CallingSettings.merge(b("[]"), b(CURRENT))).isEmpty();
    assertThat(CallingSettings.merge(b("{\"calling\":{\"status\":\"ENABLED\"}}"), b("{}"))).get()
        .satisfies(bytes -> assertThat(new String(bytes, StandardCharsets.UTF_8))
            .isEqualTo("{\"calling\":{\"status\":\"ENABLED\"}}"));
  }
}

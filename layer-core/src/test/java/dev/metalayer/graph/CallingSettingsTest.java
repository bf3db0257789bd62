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

  private static boolean sipOn(String query, String body) {
    return CallingSettings.turnsSipOn(query, java.util.Optional.ofNullable(body).map(CallingSettingsTest::b));
  }

  @Test
  void aWriteThatTurnsSipOnIsSeenWhereverGraphReadsIt() {
    assertThat(sipOn("", "{\"calling\":{\"sip\":{\"status\":\"ENABLED\",\"servers\":[{\"hostname\":\"sip.example\"}]}}}")).isTrue();
    assertThat(sipOn("", "{\"messaging_product\":\"whatsapp\",\"calling\":{\"status\":\"ENABLED\",\"sip\":{\"status\":\"enabled\"}}}")).isTrue();
    assertThat(sipOn("", "{ \"Calling\" : { \"SIP\" : { \"Status\" : \" Enabled \" } } }")).isTrue();
    // a form, its value JSON or written with brackets, and the query
    assertThat(sipOn("", "calling=" + java.net.URLEncoder.encode("{\"sip\":{\"status\":\"ENABLED\"}}", StandardCharsets.UTF_8))).isTrue();
    assertThat(sipOn("", "calling%5Bsip%5D%5Bstatus%5D=ENABLED")).isTrue();
    assertThat(sipOn("", "calling[sip]=" + java.net.URLEncoder.encode("{\"status\":\"ENABLED\"}", StandardCharsets.UTF_8))).isTrue();
    assertThat(sipOn("calling=%7B%22sip%22%3A%7B%22status%22%3A%22ENABLED%22%7D%7D", null)).isTrue();
    assertThat(sipOn("a=1&calling[sip][status]=ENABLED", null)).isTrue();
    // a name given twice: either may be the one Graph keeps, so the write counts
    assertThat(sipOn("", "{\"calling\":{\"sip\":{\"status\":\"ENABLED\"}},\"calling\":{\"status\":\"ENABLED\"}}")).isTrue();
    assertThat(sipOn("", "{\"calling\":{\"sip\":{\"status\":\"DISABLED\",\"status\":\"ENABLED\"}}}")).isTrue();
    // an object given as JSON text inside a JSON body, as Graph reads it (and as the layer reads call bodies)
    assertThat(sipOn("", "{\"calling\":\"{\\\"sip\\\":{\\\"status\\\":\\\"ENABLED\\\"}}\"}")).isTrue();
    assertThat(sipOn("", "{\"calling\":{\"sip\":\"{\\\"status\\\":\\\"ENABLED\\\"}\"}}")).isTrue();
    assertThat(sipOn("", "{\"calling\":\"{\\\"sip\\\":\\\"{\\\\\\\"status\\\\\\\":\\\\\\\"ENABLED\\\\\\\"}\\\"}\"}")).isTrue();
  }

  @Test
  void aWriteThatLeavesSipAloneOrTurnsItOffIsNot() {
    assertThat(sipOn("", "{\"calling\":{\"status\":\"ENABLED\"}}")).as("Chatwoot's toggle").isFalse();
    assertThat(sipOn("", "{\"calling\":{\"sip\":{\"status\":\"DISABLED\"}}}")).isFalse();
    assertThat(sipOn("", "{\"calling\":{\"sip\":{\"webhook_delivery\":\"ENABLED\"}}}")).isFalse();
    assertThat(sipOn("", "{\"sip\":{\"status\":\"ENABLED\"}}")).as("not under calling").isFalse();
    assertThat(sipOn("", "{\"calling\":{\"call_hours\":{\"sip\":{\"status\":\"ENABLED\"}}}}")).as("deeper").isFalse();
    assertThat(sipOn("", "{\"calling\":{\"sip\":{\"servers\":[{\"status\":\"ENABLED\"}]}}}")).isFalse();
    assertThat(sipOn("", "{\"calling\":{\"sip\":{\"status\":[\"ENABLED\"]}}}")).isFalse();
    assertThat(sipOn("calling[sip][status]=DISABLED&calling[status]=ENABLED", "")).isFalse();
    assertThat(sipOn("", null)).isFalse();
  }

  @Test
  void bytesNoReaderMakesSenseOfNeverThrow() {
    assertThat(sipOn("", "{\"calling\":{\"sip\":{\"status\":\"ENABLED\"")).as("cut short").isFalse();
    assertThat(sipOn("", "[".repeat(5000))).isFalse();
    assertThat(sipOn("", "{\"calling\":" + "{\"a\":".repeat(3000) + "1" + "}".repeat(3001))).isFalse();
    assertThat(sipOn("calling=%ZZ&calling[sip=1&calling]]=2&=&&", "\u0000\u00ff")).isFalse();
    assertThat(sipOn("calling=" + "%7B".repeat(3000), null)).isFalse();
  }

  @Test
  void aParameterWithoutAValueIsSkippedAndTheRestStillRead() {
    String on = "{\"calling\":{\"sip\":{\"status\":\"ENABLED\"}}}";
    assertThat(sipOn("calling&calling[sip][status]=ENABLED", null)).isTrue();
    assertThat(sipOn("a", on)).as("a query ending in a name alone").isTrue();
    assertThat(sipOn("x&calling", "calling[sip][status]=ENABLED&calling")).isTrue();
    assertThat(sipOn("calling", "calling")).isFalse();
  }
}

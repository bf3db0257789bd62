package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The Chatwoot {@code terminate_reason}: derived from Meta's status and errors, inserted by bytes into
 * each terminate of a change, and nowhere else.
 */
class TerminateReasonsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static Optional<String> reasonOf(String call, String value) throws Exception {
    return TerminateReasons.derive(JSON.readTree(call), JSON.readTree(value));
  }

  private static Change change(String value) {
    String raw = "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":[{\"field\":\"calls\","
        + "\"value\":" + value + "}]}]}";
    EnvelopeSplitter.Split s = EnvelopeSplitter.split(raw.getBytes(StandardCharsets.UTF_8));
    assertThat(s).isInstanceOf(EnvelopeSplitter.Parsed.class);
    return ((EnvelopeSplitter.Parsed) s).changes().get(0);
  }

  @Test
  void aFailedCallTakesTheFirstErrorCodeOfTheCallElseOfTheChange() throws Exception {
    assertThat(reasonOf("{\"event\":\"terminate\",\"status\":\"FAILED\"}", "{\"errors\":[{\"code\":138021}]}"))
        .contains("failed_138021");
    assertThat(reasonOf("{\"event\":\"terminate\",\"status\":\"FAILED\",\"errors\":[{\"code\":131},{\"code\":7}]}",
        "{\"errors\":[{\"code\":138021}]}")).contains("failed_131");
    assertThat(reasonOf("{\"event\":\"terminate\",\"status\":\"FAILED\",\"errors\":[{\"code\":\"oops\"}]}", "{}"))
        .contains("failed");
    assertThat(reasonOf("{\"event\":\"terminate\",\"status\":\"failed\"}", "{}")).as("any case").contains("failed");
    assertThat(reasonOf("{\"event\":\"terminate\",\"status\":\"completed\"}", "{}")).contains("completed");
  }

  @Test
  void anotherStatusKeepsOnlyLettersDigitsAndUnderscores() throws Exception {
    assertThat(reasonOf("{\"event\":\"terminate\",\"status\":\"No-Answer_2!\"}", "{}")).contains("noanswer_2");
    assertThat(reasonOf("{\"event\":\"terminate\",\"status\":\"\\\"},{\"}", "{}")).as("nothing to insert").isEmpty();
    assertThat(reasonOf("{\"event\":\"terminate\",\"status\":\"\"}", "{}")).isEmpty();
  }

  @Test
  void everyTerminateOfAChangeGetsItsOwnReasonAndTheOtherItemsAreUntouched() throws Exception {
    String value = "{\"calls\":[{\"event\":\"terminate\",\"status\":\"COMPLETED\"},7,{\"event\":\"connect\"},"
        + "{\"event\":\"terminate\",\"status\":\"FAILED\" }],\"errors\":[{\"code\":42}]}";
    Change change = change(value);

    byte[] enriched = TerminateReasons.enrich(change);

    String expected = new String(change.envelope(), StandardCharsets.UTF_8).replace(
        "{\"event\":\"terminate\",\"status\":\"COMPLETED\"}",
        "{\"event\":\"terminate\",\"status\":\"COMPLETED\",\"terminate_reason\":\"completed\"}").replace(
        "{\"event\":\"terminate\",\"status\":\"FAILED\" }",
        "{\"event\":\"terminate\",\"status\":\"FAILED\" ,\"terminate_reason\":\"failed_42\"}");
    assertThat(new String(enriched, StandardCharsets.UTF_8)).isEqualTo(expected);
    assertThat(JSON.readTree(enriched).at("/entry/0/changes/0/value/calls/3/terminate_reason").asText())
        .isEqualTo("failed_42");
  }

  @Test
  void aTerminateWithoutAReasonToGiveLeavesTheBytesAsTheyCame() {
    Change change = change("{\"calls\":[{\"event\":\"terminate\"},{\"event\":\"terminate\",\"status\":\"REJECTED\"}]}");

    String enriched = new String(TerminateReasons.enrich(change), StandardCharsets.UTF_8);

    assertThat(enriched).contains("[{\"event\":\"terminate\"},{\"event\":\"terminate\",\"status\":\"REJECTED\","
        + "\"terminate_reason\":\"rejected\"}]");
  }
}

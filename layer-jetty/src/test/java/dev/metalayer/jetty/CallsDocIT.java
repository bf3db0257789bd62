package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The curl walk-through of docs/calls.md ("The API"), run from the page against the built jar
 * ({@link DocCommands}): two numbers, a call made by Meta's signed {@code connect} and {@code terminate},
 * read with its key, listed and filtered, invisible to the other number's key, seen by the operator.
 */
class CallsDocIT {
  @Test
  void everyShellCommandOfTheCallsPageRunsAsWritten(@TempDir Path dir) throws Exception {
    DocCommands.Run run = DocCommands.run("docs/calls.md", dir);
    assertThat(run.exit()).as(run.output()).isZero();
    assertThat(run.output()).as(run.output()).contains("::all blocks ran");

    assertThat(run.block(1)).contains("{\"status\":\"ready\"");
    assertThat(run.block(2).split("\\{\"success\":true}", -1)).as(run.block(2)).hasSize(3);
    String call = run.block(3);
    assertThat(call).contains("\"wacid\":\"wacid.HBgLMTU1NTEyMzQ1NjcVAgARGCA5QkI4\"", "\"state\":\"terminated\"",
        "\"terminate_status\":\"COMPLETED\"", "\"direction\":\"user_initiated\"", "\"user_wa_id\":\"15551234567\"",
        "\"timeline\":[", "\"deliveries\":[{", "\"field\":\"calls\"").doesNotContain("v=0", "ps_");
    assertThat(call).containsPattern("\"state_changes\":\\[\\{\"state\":\"ringing\",[^]]*\\{\"state\":\"terminated\"");
    String list = run.block(4);
    assertThat(list).contains("{\"data\":[{\"wacid\":\"wacid.HBgLMTU1NTEyMzQ1NjcVAgARGCA5QkI4\"", "{\"data\":[]}",
        "limit must be a number from 1 to 200.");
    String other = run.block(5);
    assertThat(other).startsWith("404\n").contains("{\"data\":[]}")
        .contains("{\"data\":[{\"wacid\":\"wacid.HBgLMTU1NTEyMzQ1NjcVAgARGCA5QkI4\"");
  }
}

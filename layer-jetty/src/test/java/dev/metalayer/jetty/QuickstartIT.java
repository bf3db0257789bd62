package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/quickstart.md as a newcomer runs it, block by block, against the built jar with its Graph
 * stand-in ({@link DocCommands}): every command succeeds and prints what the page says it prints.
 */
class QuickstartIT {
  @Test
  void everyCommandOfTheQuickstartRunsAsWritten(@TempDir Path dir) throws Exception {
    DocCommands.Run run = DocCommands.run("docs/quickstart.md", dir);
    assertThat(run.exit()).as(run.output()).isZero();
    assertThat(run.output()).as(run.output()).contains("::all blocks ran");

    assertThat(run.block(1)).contains("{\"status\":\"ready\"").contains("Graph stand-in in use: nothing reaches Meta");
    assertThat(run.block(2)).contains("\"phone_number_id\":\"106540352242922\"").containsPattern("(?m)^ps_\\S+$");
    assertThat(run.block(3)).containsPattern("\"messages\":\\[\\{\"id\":\"wamid\\.[^\"]+\"\\}\\]")
        .contains("\"name\":\"hello_world\"");
    assertThat(run.block(4)).contains("\"type\":\"OAuthException\",\"code\":190");
    assertThat(run.block(5)).containsPattern("\"id\":\"wh_[0-9a-f]+\"").contains("\"events\":[\"calls\"]");
    assertThat(run.block(6)).contains("{\"success\":true}");
    // the subscriber received the ring, signed with the subscription's secret; the call was answered
    assertThat(run.block(7)).contains("\"x-hub-signature-256\":\"sha256=")
        .contains("\"id\":\"wacid.HBgLMTU1NTEyMzQ1NjcVAgARGCA5QkI3\"").contains("\"event\":\"connect\"");
    assertThat(run.block(7).split("\\{\"messaging_product\":\"whatsapp\",\"success\":true\\}", -1)).hasSize(3);
    // the last block stopped the layer and cleaned up
    assertThat(run.block(run.blocks())).doesNotContain("Error");
    assertThat(dir.resolve("repository/data")).doesNotExist();
  }
}

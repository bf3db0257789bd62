package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.TestDatabases;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * "Try it on one machine" of docs/scaling.md, run from the page against the built jar
 * ({@link DocCommands}): two instances on one PostgreSQL database, a number and a key added by the CLI
 * beside them, the key used on both, a subscription made on one and a call webhook posted to the other,
 * delivered; then both stopped and the database dropped. (The page's benchmark commands, in {@code sh}
 * blocks, take minutes and run the harness: they are not run here.)
 */
class ScalingDocIT {
  @Test
  void everyShellCommandOfTheScalingPageRunsAsWritten(@TempDir Path dir) throws Exception {
    TestDatabases.requirePostgres();
    DocCommands.Run run = DocCommands.run("docs/scaling.md", dir);
    assertThat(run.exit()).as(run.output()).isZero();
    assertThat(run.output()).as(run.output()).contains("::all blocks ran");

    assertThat(run.block(1)).contains("{\"status\":\"ready\"");
    assertThat(run.block(2)).contains("added +15550783881")
        .containsPattern("(?s)\"messages\":\\[\\{\"id\":\"wamid\\.[^\"]+\"\\}\\].*\"messages\":\\[\\{\"id\":\"wamid\\.");
    assertThat(run.block(3)).contains("{\"success\":true}").contains("\"field\":\"calls\"")
        .contains("\"state\":\"delivered\"");
    assertThat(run.block(run.blocks())).doesNotContain("error");
  }
}

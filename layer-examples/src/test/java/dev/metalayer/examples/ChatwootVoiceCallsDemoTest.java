package dev.metalayer.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** The demo as a newcomer runs it: a clean timeline on standard output, nothing left on disk. */
class ChatwootVoiceCallsDemoTest {
  @Test
  void printsOnlyTheTimelineAndDeletesItsDataFolder() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream stderr = System.err;
    Path dataDir;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      dataDir = ChatwootVoiceCallsDemo.play(new PrintStream(out, true, StandardCharsets.UTF_8));
    } finally {
      System.setErr(stderr);
    }

    assertThat(dataDir).doesNotExist();
    assertThat(dataDir.getParent()).exists();
    List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
    assertThat(lines.get(0)).startsWith("Meta Layer: Chatwoot voice calls");
    assertThat(lines).anyMatch(l -> l.startsWith("Done: ") && l.endsWith("media identical: true"));
    assertThat(lines).filteredOn(l -> l.startsWith("["))
        .hasSizeGreaterThan(20)
        .allMatch(l -> l.matches("\\[ *[0-9]+\\.[0-9]{3} s\\] .*"));
    // the layer logs at INFO while it starts and serves: none of it reached either stream
    assertThat(out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8))
        .doesNotContain(" INFO ").doesNotContain("listening on");
    // and the log is back as it was once the demo is over
    ch.qos.logback.classic.Logger root =
        (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    assertThat(root.iteratorForAppenders()).toIterable().isNotEmpty();
    assertThat(root.isInfoEnabled()).isTrue();
  }
}

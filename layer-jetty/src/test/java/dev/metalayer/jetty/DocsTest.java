package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The configuration reference describes every option the code has, with its flag. */
class DocsTest {
  @Test
  void theConfigurationReferenceListsEveryOption() throws Exception {
    String doc = Files.readString(Path.of("..", "docs", "configuration.md"));
    for (Option o : Option.values()) {
      assertThat(doc).as(o.name()).contains("`" + o.env() + "`");
      o.flag().ifPresent(f -> assertThat(doc).as(o.name()).contains("`" + f + "`"));
    }
  }
}

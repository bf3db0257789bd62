package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The configuration reference's tables are generated from {@link Option}: this test fails when the page
 * differs from the declaration, and writes the page as it should be to
 * {@code layer-jetty/target/configuration.md} (copy it over {@code docs/configuration.md}).
 */
class DocsTest {
  private static final Pattern TABLE =
      Pattern.compile("<!-- options: ([A-Z]+) -->\n(.*?)<!-- /options -->", Pattern.DOTALL);

  static String regenerated(String doc) {
    Matcher m = TABLE.matcher(doc);
    StringBuilder b = new StringBuilder();
    while (m.find()) {
      Option.Section section = Option.Section.valueOf(m.group(1));
      m.appendReplacement(b, Matcher.quoteReplacement(
          "<!-- options: " + section.name() + " -->\n" + Option.markdown(section) + "<!-- /options -->"));
    }
    m.appendTail(b);
    return b.toString();
  }

  @Test
  void theConfigurationReferenceIsGeneratedFromTheDeclaredOptions() throws Exception {
    String doc = Files.readString(Path.of("..", "docs", "configuration.md"));
    String expected = regenerated(doc);
    if (!expected.equals(doc)) {
      Files.createDirectories(Path.of("target"));
      Files.writeString(Path.of("target", "configuration.md"), expected);
    }
    assertThat(doc).as("docs/configuration.md differs from Option: copy layer-jetty/target/configuration.md over it")
        .isEqualTo(expected);
    // every section has its table, so every option is on the page, exactly once
    for (Option.Section section : Option.Section.values()) {
      assertThat(doc).contains("<!-- options: " + section.name() + " -->");
    }
    for (Option o : Option.values()) {
      assertThat(doc.split("\\| `" + o.env() + "` \\|", -1)).as(o.name()).hasSize(2);
    }
  }

  @Test
  void thePageListsNoVariableThatIsNotDeclared() throws Exception {
    String doc = Files.readString(Path.of("..", "docs", "configuration.md"));
    Matcher rows = Pattern.compile("^\\| `([A-Z_]+)` \\|", Pattern.MULTILINE).matcher(doc);
    while (rows.find()) {
      assertThat(Option.byEnv(rows.group(1))).as(rows.group(1)).isPresent();
    }
  }
}

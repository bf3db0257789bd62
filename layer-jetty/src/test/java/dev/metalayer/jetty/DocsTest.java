package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The documentation against the code: the configuration reference's tables are generated from
 * {@link Option} (the test fails when the page differs from the declaration, and writes the page as it
 * should be to {@code layer-jetty/target/configuration.md}: copy it over {@code docs/configuration.md});
 * the pages' relative links lead to files of the repository; and no page or source points at something
 * a reader of the repository cannot open. The commands of the pages are run by {@link QuickstartIT} and
 * {@link WebhooksDocIT}.
 */
class DocsTest {
  private static final Path ROOT = Path.of("..");
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

  @Test
  void everyRelativeLinkOfThePagesLeadsToAFileOfTheRepository() throws Exception {
    Pattern link = Pattern.compile("\\]\\(([^)#\\s]+)(#[^)\\s]*)?\\)");
    List<String> broken = new ArrayList<>();
    for (Path page : pages()) {
      Matcher m = link.matcher(Files.readString(page, StandardCharsets.UTF_8));
      while (m.find()) {
        String target = m.group(1);
        if (!target.contains("://") && !target.startsWith("mailto:") && !Files.exists(page.getParent().resolve(target))) {
          broken.add(ROOT.relativize(page) + " → " + target);
        }
      }
    }
    assertThat(broken).isEmpty();
  }

  /**
   * The project's working material (its issue tracker, its reference notes, the machine it was built on)
   * is not part of the repository: a comment or page that sends the reader there sends them nowhere.
   */
  @Test
  void nothingPointsAtWhatAReaderOfTheRepositoryCannotOpen() throws Exception {
    Pattern elsewhere = Pattern.compile("(?i)\\bissue [0-9]+|chatwoot-client\\.md|meta-wire\\.md|meta-calling-2026\\.md"
        + "|peers\\.md|build-notes\\.md|/work/|\\.\\./shared|reference material");
    List<String> found = new ArrayList<>();
    for (Path file : sources()) {
      if (file.endsWith("DocsTest.java")) {
        continue; // the patterns above
      }
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      for (int i = 0; i < lines.size(); i++) {
        if (elsewhere.matcher(lines.get(i)).find()) {
          found.add(ROOT.relativize(file) + ":" + (i + 1) + ": " + lines.get(i).strip());
        }
      }
    }
    assertThat(found).isEmpty();
  }

  private static List<Path> pages() throws IOException {
    List<Path> pages = new ArrayList<>(List.of(ROOT.resolve("README.md")));
    try (Stream<Path> docs = Files.list(ROOT.resolve("docs"))) {
      docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(pages::add);
    }
    return pages;
  }

  /** The repository's own text files: sources, build files, scripts and pages (no build output). */
  private static List<Path> sources() throws IOException {
    try (Stream<Path> all = Files.walk(ROOT)) {
      return all.filter(Files::isRegularFile)
          .filter(p -> {
            String s = ROOT.relativize(p).toString().replace('\\', '/');
            return !s.startsWith(".git/") && !s.contains("/target/") && !s.startsWith("target/")
                && s.matches(".*\\.(java|md|xml|sh|properties)$|.*/run$");
          })
          .sorted()
          .toList();
    }
  }
}

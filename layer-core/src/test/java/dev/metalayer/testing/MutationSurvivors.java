package dev.metalayer.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * Reads PIT's {@code mutations.xml} against the checked-in list of mutants left alive
 * ({@code src/test/mutation/*.txt}) and prints the score of each package. Fails when a mutant is alive
 * (survived or not covered) without a line explaining it, or when a line explains a mutant that no
 * longer lives in a class this run mutated: the list is reviewed with the code, and never goes stale. (A mutant
 * explained as equivalent that timed out this run, as one may on a loaded machine, keeps its reason.)
 *
 * <p>A line of the list is {@code class#method | mutator's description | why it may live}; a mutant
 * is named without its line number, so that an edit elsewhere in the file does not move it, and a
 * method with two alike mutants left alive has two lines. {@code #} starts a comment line.
 *
 * <p>Run by the {@code mutation} profile after PIT (docs/testing.md); {@code main(report..., listDir)}.
 */
public final class MutationSurvivors {
  private MutationSurvivors() {}

  /** One mutant as PIT reports it. */
  record Mutant(String mutatedClass, String method, String description, int line, boolean detected, String status) {
    String key() {
      return mutatedClass + "#" + method + " | " + description;
    }

    String pkg() {
      return mutatedClass.substring(0, mutatedClass.lastIndexOf('.'));
    }
  }

  /**
   * {@code main(report..., listDir)}: with several reports (runs of parts of the core), each class counts
   * once, from the last report that mutated it; the summary is written beside the last report.
   */
  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      throw new IllegalArgumentException("usage: MutationSurvivors mutations.xml... list-directory");
    }
    List<List<Mutant>> reports = new ArrayList<>();
    for (int i = 0; i < args.length - 1; i++) {
      reports.add(read(Path.of(args[i])));
    }
    Path report = Path.of(args[args.length - 2]);
    Path listDir = Path.of(args[args.length - 1]);
    List<Mutant> mutants = latest(reports);
    Map<String, Integer> explained = explained(listDir);
    List<String> problems = check(mutants, explained);
    String summary = summary(mutants);
    System.out.print(summary);
    Files.writeString(report.resolveSibling("summary.txt"), summary, StandardCharsets.UTF_8);
    if (!problems.isEmpty()) {
      problems.forEach(System.out::println);
      throw new IllegalStateException(problems.size() + " mutant(s) alive without a reason, or reasons without a live"
          + " mutant, in " + listDir + " (see the lines above)");
    }
  }

  /** The mutants of several runs, in their order: a class's mutants come from the last run that mutated it. */
  static List<Mutant> latest(List<List<Mutant>> reports) {
    Map<String, List<Mutant>> byClass = new TreeMap<>();
    for (List<Mutant> report : reports) {
      Map<String, List<Mutant>> ofThisRun = new TreeMap<>();
      for (Mutant m : report) {
        ofThisRun.computeIfAbsent(m.mutatedClass(), c -> new ArrayList<>()).add(m);
      }
      byClass.putAll(ofThisRun);
    }
    return byClass.values().stream().flatMap(List::stream).toList();
  }

  static List<Mutant> read(Path report) throws Exception {
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    factory.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
    factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
    NodeList nodes = factory.newDocumentBuilder().parse(report.toFile()).getElementsByTagName("mutation");
    List<Mutant> out = new ArrayList<>();
    for (int i = 0; i < nodes.getLength(); i++) {
      Element e = (Element) nodes.item(i);
      out.add(new Mutant(text(e, "mutatedClass"), text(e, "mutatedMethod"), text(e, "description"),
          Integer.parseInt(text(e, "lineNumber")), Boolean.parseBoolean(e.getAttribute("detected")),
          e.getAttribute("status")));
    }
    return out;
  }

  private static String text(Element e, String tag) {
    return e.getElementsByTagName(tag).item(0).getTextContent().trim();
  }

  /** Every line of the list, by mutant, with how many times it is named. */
  static Map<String, Integer> explained(Path listDir) {
    Map<String, Integer> out = new TreeMap<>();
    if (!Files.isDirectory(listDir)) {
      return out;
    }
    try (Stream<Path> files = Files.list(listDir)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".txt")).sorted().toList()) {
        int n = 0;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
          n++;
          String l = line.strip();
          if (l.isEmpty() || l.startsWith("#")) {
            continue;
          }
          String[] parts = l.split("\\s*\\|\\s*", 3);
          if (parts.length < 3 || parts[2].isBlank() || !parts[0].contains("#")) {
            throw new IllegalArgumentException(file + ":" + n + ": expected 'class#method | description | reason', got: " + l);
          }
          out.merge(parts[0] + " | " + parts[1], 1, Integer::sum);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  /** The mutants alive without a reason, and the reasons without a live mutant in a class this run mutated. */
  static List<String> check(List<Mutant> mutants, Map<String, Integer> explained) {
    Map<String, List<Mutant>> alive = new TreeMap<>();
    Map<String, Integer> timedOut = new TreeMap<>();
    Set<String> classes = new TreeSet<>();
    for (Mutant m : mutants) {
      classes.add(m.mutatedClass());
      if (!m.detected()) {
        alive.computeIfAbsent(m.key(), k -> new ArrayList<>()).add(m);
      } else if (!"KILLED".equals(m.status())) {
        timedOut.merge(m.key(), 1, Integer::sum);
      }
    }
    List<String> problems = new ArrayList<>();
    alive.forEach((key, ms) -> {
      int missing = ms.size() - explained.getOrDefault(key, 0);
      for (int i = ms.size() - missing; i < ms.size() && missing > 0; i++) {
        Mutant m = ms.get(i);
        problems.add("alive, not explained: " + key + " | ?   (line " + m.line() + ", " + m.status() + ")");
      }
    });
    explained.forEach((key, n) -> {
      String cls = key.substring(0, key.indexOf('#'));
      // an equivalent mutant may still time out on a loaded machine (counted as detected): only a mutant
      // gone from the code, or killed by a test's assertion, makes its reason stale
      int live = alive.getOrDefault(key, List.of()).size() + timedOut.getOrDefault(key, 0);
      if (classes.contains(cls) && n > live) {
        problems.add("explained, no longer alive (" + (n - live) + " line(s) too many): " + key);
      }
    });
    return problems;
  }

  /** Per package and in all: mutants, killed, survived, not covered, score. */
  static String summary(List<Mutant> mutants) {
    Map<String, int[]> byPackage = new TreeMap<>();
    for (Mutant m : mutants) {
      for (String k : List.of(m.pkg(), "all")) {
        int[] c = byPackage.computeIfAbsent(k, x -> new int[4]);
        c[0]++;
        c[m.detected() ? 1 : "NO_COVERAGE".equals(m.status()) ? 3 : 2]++;
      }
    }
    StringBuilder b = new StringBuilder(String.format("%-24s %8s %8s %9s %12s %7s%n", "package", "mutants", "killed",
        "survived", "not covered", "score"));
    byPackage.forEach((k, c) -> {
      if (!k.equals("all")) {
        b.append(row(k, c));
      }
    });
    if (byPackage.containsKey("all")) {
      b.append(row("all", byPackage.get("all")));
    }
    return b.toString();
  }

  private static String row(String name, int[] c) {
    return String.format("%-24s %8d %8d %9d %12d %6.1f%%%n", name, c[0], c[1], c[2], c[3], 100.0 * c[1] / c[0]);
  }
}

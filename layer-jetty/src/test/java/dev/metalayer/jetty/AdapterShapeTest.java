package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The Jetty Graph adapter moves bytes: it carries out the steps the core hands it and decides nothing.
 * Checked on the compiled classes: it reaches the Graph package only through the step API, never a
 * rule class (the surface, credential parsing, multipart checks), which the compiler already keeps
 * from it where they are package-private.
 */
class AdapterShapeTest {
  /** What the adapter may use of dev.metalayer.graph (nested types of these included). */
  static final Set<String> STEP_API =
      Set.of("ClientRequest", "GraphAnswer", "GraphError", "GraphExchange", "GraphForwarder", "GraphProxy",
          "GraphSettings", "GraphStep", "MediaDownload", "Outcome", "TokenScrubber");

  @Test
  void theGraphAdapterUsesOnlyTheCoresStepApi() {
    var classes =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_JARS)
            .importPackages("dev.metalayer.jetty");
    var outside = new TreeSet<String>();
    int adapterClasses = 0;
    for (JavaClass origin : classes) {
      String top = origin.getName().replaceAll("\\$.*", "");
      if (!top.endsWith(".GraphProxyHandler") && !top.endsWith(".UpstreamListener")) {
        continue;
      }
      adapterClasses++;
      for (Dependency d : origin.getDirectDependenciesFromSelf()) {
        JavaClass target = d.getTargetClass();
        if (target.getPackageName().equals("dev.metalayer.graph")) {
          String targetTop = target.getName().substring("dev.metalayer.graph.".length()).replaceAll("\\$.*", "");
          if (!STEP_API.contains(targetTop)) {
            outside.add(origin.getSimpleName() + " -> " + target.getSimpleName());
          }
        }
      }
    }
    assertThat(adapterClasses).as("the adapter's classes were found").isGreaterThan(1);
    assertThat(outside).as("Graph rule classes used by the Jetty adapter").isEmpty();
  }
}

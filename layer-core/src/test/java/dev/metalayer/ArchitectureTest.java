package dev.metalayer;

import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The shape of layer-core, checked on the compiled classes: packages form layers, each package
 * depends only on packages below it (so there is no cycle), and only the store implementations
 * touch JDBC. docs/architecture.md draws the same layers; a new package must be placed here first.
 */
class ArchitectureTest {

  /** Higher depends on lower, never the reverse. Packages on one level do not depend on each other. */
  static final Map<String, Integer> LEVEL =
      Map.ofEntries(
          Map.entry("dev.metalayer.json", 0),
          Map.entry("dev.metalayer.crypto", 0),
          Map.entry("dev.metalayer.log", 0),
          Map.entry("dev.metalayer.metrics", 0),
          Map.entry("dev.metalayer.keys", 1),
          Map.entry("dev.metalayer.graph", 2),
          Map.entry("dev.metalayer.calls", 3),
          Map.entry("dev.metalayer.relay", 4),
          Map.entry("dev.metalayer.store", 5),
          Map.entry("dev.metalayer.doctor", 5),
          Map.entry("dev.metalayer", 6));

  static JavaClasses core;

  @BeforeAll
  static void importCore() {
    core =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_JARS)
            .importPackages("dev.metalayer");
    assertThat(core.stream().map(JavaClass::getPackageName).distinct()).contains("dev.metalayer.graph");
  }

  @Test
  void everyPackageHasItsPlaceInTheLayers() {
    assertThat(core.stream().map(JavaClass::getPackageName).distinct())
        .as("a new package must be given its level in ArchitectureTest.LEVEL and docs/architecture.md")
        .allMatch(LEVEL::containsKey);
  }

  @Test
  void packagesDependOnlyDownward() {
    var upward = new TreeSet<String>();
    for (JavaClass origin : core) {
      for (Dependency dependency : origin.getDirectDependenciesFromSelf()) {
        JavaClass target = dependency.getTargetClass();
        String from = origin.getPackageName();
        String to = target.getPackageName();
        if (from.equals(to) || !LEVEL.containsKey(to) || !LEVEL.containsKey(from)) {
          continue;
        }
        if (LEVEL.get(to) >= LEVEL.get(from)) {
          upward.add(origin.getName() + " -> " + target.getName());
        }
      }
    }
    assertThat(upward).as("dependencies that run up or sideways between packages").isEmpty();
  }

  @Test
  void onlyTheStoreImplementationsTouchJdbc() {
    var jdbcUsers = new TreeSet<String>();
    for (JavaClass origin : core) {
      for (Dependency dependency : origin.getDirectDependenciesFromSelf()) {
        String target = dependency.getTargetClass().getPackageName();
        if ((target.equals("java.sql") || target.equals("javax.sql"))
            && !origin.getPackageName().equals("dev.metalayer.store")) {
          jdbcUsers.add(origin.getName());
        }
      }
    }
    assertThat(jdbcUsers).isEmpty();
  }

  /**
   * What an embedder and layer-jetty see: at most 50 public top-level types (the values an SPI speaks
   * are nested in it), each of them documented in its source.
   */
  @Test
  void thePublicSurfaceStaysSmall() {
    List<String> publicTypes =
        core.stream()
            .filter(c -> c.isTopLevelClass() && c.getModifiers().contains(JavaModifier.PUBLIC))
            .filter(c -> !c.getSimpleName().equals("package-info"))
            .map(JavaClass::getName)
            .sorted()
            .toList();
    assertThat(publicTypes).as("public top-level types of layer-core").hasSizeLessThanOrEqualTo(50);
  }

  @Test
  void theRootHoldsOnlyTheEntryPoint() {
    List<String> root =
        core.stream()
            .filter(c -> c.getPackageName().equals("dev.metalayer") && c.isTopLevelClass())
            .map(JavaClass::getSimpleName)
            .filter(name -> !name.equals("package-info"))
            .toList();
    assertThat(root).containsExactly("MetaLayer");
  }
}

package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.keys.Grant;
import dev.metalayer.keys.Grant.Scope;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Key scopes on the Graph surface, with no I/O: every row of the table that names a scope refuses a key
 * without it (403, code 200, rule {@code scope}, naming the scope) and lets a key with only that scope
 * through; the rows that name none let any key through.
 */
class SurfaceScopesTest {
  static final String MEDIA_ID = "1037543291543636";
  /** Every widening granted: only the scope decides here. */
  final Surface surface = SurfaceTest.surface(Set.of(), Map.of(SurfaceTest.PNID, EnumSet.allOf(Surface.Group.class)));

  static Grant grant(Set<Scope> scopes) {
    return new Grant("key_a", SurfaceTest.A, "EAAtoken", scopes);
  }

  Outcome<Surface.Allowed> check(Grant grant, Surface.Rule row) {
    String object = switch (row.target()) {
      case PHONE_NUMBER -> SurfaceTest.PNID;
      case WABA -> SurfaceTest.WABA;
      case MEDIA -> MEDIA_ID;
    };
    String path = "/v22.0/" + object + (row.edge().isEmpty() ? "" : "/" + row.edge());
    return surface.check(grant, new Surface.Request(row.method(), GraphPathTest.ok(path), Parameters.NONE, false, List.of()));
  }

  @Test
  void everyScopedRowRefusesAKeyWithoutItsScopeAndNamesIt() {
    int scoped = 0;
    for (Surface.Rule row : Surface.TABLE) {
      if (row.scope().isEmpty()) {
        continue;
      }
      scoped++;
      Scope needed = row.scope().get();
      EnumSet<Scope> allButIt = EnumSet.complementOf(EnumSet.of(needed));
      Outcome<Surface.Allowed> refused = check(grant(allButIt), row);
      assertThat(refused).as(row.toString()).isInstanceOf(Outcome.Refused.class);
      GraphError e = ((Outcome.Refused<Surface.Allowed>) refused).error();
      assertThat(e.status()).isEqualTo(403);
      assertThat(e.code()).isEqualTo(200);
      assertThat(e.message()).startsWith("(#200) (rule scope) This key lacks the scope " + needed.wireName() + " ");

      assertThat(check(grant(Set.of(needed)), row)).as(row.toString()).isInstanceOf(Outcome.Ok.class);
      assertThat(check(grant(Scope.ALL), row)).as(row.toString()).isInstanceOf(Outcome.Ok.class);
    }
    assertThat(scoped).isEqualTo(Surface.TABLE.size() - 3);
  }

  @Test
  void readingTheNumberItsWabaAndItsNumbersNeedsNoScope() {
    List<Surface.Rule> open = Surface.TABLE.stream().filter(r -> r.scope().isEmpty()).toList();
    assertThat(open).extracting(r -> r.target() + " " + r.method() + " " + r.edge())
        .containsExactlyInAnyOrder("PHONE_NUMBER GET ", "WABA GET ", "WABA GET phone_numbers");
    for (Surface.Rule row : open) {
      for (Scope only : Scope.values()) {
        assertThat(check(grant(Set.of(only)), row)).as(row + " with " + only).isInstanceOf(Outcome.Ok.class);
      }
    }
  }

  @Test
  void eachScopeGuardsTheRowsTheDocsSay() {
    Map<String, Scope> expected = Map.ofEntries(
        Map.entry("PHONE_NUMBER POST messages", Scope.MESSAGES),
        Map.entry("PHONE_NUMBER POST media", Scope.MEDIA),
        Map.entry("MEDIA GET ", Scope.MEDIA),
        Map.entry("MEDIA DELETE ", Scope.MEDIA),
        Map.entry("PHONE_NUMBER POST calls", Scope.CALLS),
        Map.entry("PHONE_NUMBER GET call_permissions", Scope.CALLS),
        Map.entry("PHONE_NUMBER GET settings", Scope.SETTINGS),
        Map.entry("PHONE_NUMBER POST settings", Scope.SETTINGS),
        Map.entry("WABA GET message_templates", Scope.TEMPLATES),
        Map.entry("WABA POST message_templates", Scope.TEMPLATES),
        Map.entry("WABA DELETE message_templates", Scope.TEMPLATES));
    expected.forEach((row, scope) -> assertThat(Surface.TABLE.stream()
        .filter(r -> (r.target() + " " + r.method() + " " + r.edge()).equals(row)).findFirst().orElseThrow().scope())
        .as(row).contains(scope));
    // webhooks is the layer's own API's scope: no Graph row needs it
    assertThat(Surface.TABLE).noneMatch(r -> r.scope().equals(java.util.Optional.of(Scope.WEBHOOKS)));
  }

  @Test
  void theScopeRuleComesBeforeTheWideningRule() {
    Surface narrow = SurfaceTest.surface(Set.of(), Map.of());
    Surface.Rule deleteTemplates = Surface.TABLE.stream()
        .filter(r -> r.method().equals("DELETE") && r.edge().equals("message_templates")).findFirst().orElseThrow();
    Outcome<Surface.Allowed> o = narrow.check(grant(Set.of(Scope.MESSAGES)), new Surface.Request("DELETE",
        GraphPathTest.ok("/v22.0/" + SurfaceTest.WABA + "/message_templates"), Parameters.NONE, false, List.of()));
    assertThat(((Outcome.Refused<Surface.Allowed>) o).error().message()).contains("(rule scope)", "templates");
    assertThat(deleteTemplates.needs()).isPresent();
  }

  @Test
  void theMediaDownloadRouteNeedsTheMediaScope() {
    assertThat(surface.mediaDownload(grant(Set.of(Scope.MEDIA)), MEDIA_ID)).isEmpty();
    GraphError e = surface.mediaDownload(grant(EnumSet.complementOf(EnumSet.of(Scope.MEDIA))), MEDIA_ID).orElseThrow();
    assertThat(e.status()).isEqualTo(403);
    assertThat(e.message()).contains("(rule scope) This key lacks the scope media");
    // a foreign ID is refused as before, whatever the scopes
    assertThat(surface.mediaDownload(grant(Scope.ALL), SurfaceTest.B.phoneNumberId()).orElseThrow().message())
        .contains("may not download this media");
  }

  @Test
  void theLayersOwnApisUseTheSameRule() {
    assertThat(Surface.lacking(grant(Scope.ALL), Scope.WEBHOOKS)).isEmpty();
    GraphError e = Surface.lacking(grant(Set.of(Scope.MESSAGES)), Scope.WEBHOOKS).orElseThrow();
    assertThat(e.status()).isEqualTo(403);
    assertThat(e.message()).contains("(rule scope) This key lacks the scope webhooks");
    assertThat(Surface.lacking(new Grant("key_old", SurfaceTest.A, "EAAtoken"), Scope.CALLS))
        .as("a grant made with the constructor from before scopes has every scope").isEmpty();
  }

  /** docs/graph-api.md's table shows each row's scope as {@link Surface#TABLE} has it, row by row. */
  @Test
  void theDocumentedTableShowsEachRowsScope() throws Exception {
    Map<String, String> documented = new java.util.TreeMap<>();
    for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("..", "docs", "graph-api.md"))) {
      String target = line.startsWith("| phone number |") ? "PHONE_NUMBER" : line.startsWith("| WABA |") ? "WABA"
          : line.startsWith("| media ID |") ? "MEDIA" : null;
      if (target == null) {
        continue;
      }
      String[] cells = line.split(" \\| ");
      String scope = cells[4].equals("(none)") ? "-" : cells[4].replace("`", "");
      for (String method : cells[1].replace("`", "").split(", ")) {
        for (String edge : cells[2].replace("`", "").split(", ")) {
          documented.put(target + " " + method + " " + (edge.equals("(node)") ? "" : edge), scope);
        }
      }
    }
    Map<String, String> table = new java.util.TreeMap<>();
    for (Surface.Rule r : Surface.TABLE) {
      table.put(r.target() + " " + r.method() + " " + r.edge(), r.scope().map(Scope::wireName).orElse("-"));
    }
    assertThat(documented).isEqualTo(table);
  }
}

package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code docs/openapi.json} against the code: the document is well-formed OpenAPI 3.1 (structurally:
 * version, paths, components, every {@code $ref} resolves, every path parameter declared, every error a
 * {@code GraphError}); every route of the layer's own APIs ({@link RouteTable}s the handlers admit
 * requests through) is documented and every documented route is one of them; every prefix the server
 * routes is covered by the document or named below as not in it; on a running layer, no documented
 * route answers the router's {@code Unknown path.} or 405; and the layer serves the document the build
 * copied into the jar, byte for byte.
 */
class OpenApiTest {
  private static final Path DOCUMENT = Path.of("..", "docs", "openapi.json");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> METHODS = Set.of("get", "put", "post", "delete", "patch", "head", "options", "trace");

  /** The routes of the layer that are Meta's surfaces, described in their own pages, not in the document. */
  private static final Map<String, String> NOT_DOCUMENTED = Map.of(
      "/api/layer/meta", "the Graph API the layer proxies (docs/graph-api.md)",
      WebhookIngestHandler.PATH, "Meta's webhooks to the layer (docs/webhooks.md)",
      "/metrics", "Prometheus's text format, not JSON (docs/operations.md#metrics)",
      "/console", "the operator's console, pages for a browser (docs/console.md)");

  /** The plain routes of {@link LayerServer} (one handler for one path). */
  private static final List<String> PLAIN = List.of("GET /healthz", "GET /readyz", "GET " + LayerServer.OPENAPI_PATH);

  private static final List<RouteTable> TABLES = List.of(AdminHandler.ROUTES, SubscriptionsHandler.ROUTES, CallsHandler.ROUTES);

  @TempDir Path dir;

  private static JsonNode document() throws Exception {
    return JSON.readTree(Files.readString(DOCUMENT));
  }

  /** "METHOD /path" of every operation of the document. */
  private static Set<String> documented(JsonNode doc) {
    Set<String> out = new TreeSet<>();
    doc.path("paths").fields().forEachRemaining(path -> path.getValue().fieldNames().forEachRemaining(m -> {
      if (METHODS.contains(m)) {
        out.add(m.toUpperCase(java.util.Locale.ROOT) + " " + path.getKey());
      }
    }));
    return out;
  }

  /** "METHOD /path" of every route the handlers serve. */
  private static Set<String> served() {
    Set<String> out = new TreeSet<>(PLAIN);
    for (RouteTable table : TABLES) {
      for (RouteTable.Route r : table.routes()) {
        out.add(r.method() + " " + r.documented(table.prefix()));
      }
    }
    return out;
  }

  @Test
  void theDocumentIsStructurallyOpenApi31() throws Exception {
    JsonNode doc = document();
    assertThat(doc.path("openapi").asText()).isEqualTo("3.1.0");
    assertThat(doc.path("info").path("title").isTextual()).isTrue();
    assertThat(doc.path("info").path("version").isTextual()).isTrue();
    assertThat(doc.path("paths").isObject()).isTrue();
    assertThat(doc.path("paths").size()).isPositive();
    assertThat(doc.path("components").path("schemas").isObject()).isTrue();
    assertThat(doc.path("components").path("securitySchemes").isObject()).isTrue();

    List<String> problems = new ArrayList<>();
    refs(doc, doc, "#", problems);
    Set<String> schemes = new TreeSet<>();
    doc.path("components").path("securitySchemes").fieldNames().forEachRemaining(schemes::add);
    Pattern templated = Pattern.compile("\\{([^}]+)}");
    doc.path("paths").fields().forEachRemaining(path -> {
      String p = path.getKey();
      if (!p.startsWith("/")) {
        problems.add(p + ": a path starts with /");
      }
      Set<String> inTemplate = new TreeSet<>();
      Matcher m = templated.matcher(p);
      while (m.find()) {
        inTemplate.add(m.group(1));
      }
      path.getValue().fields().forEachRemaining(entry -> {
        String method = entry.getKey();
        if (!METHODS.contains(method)) {
          if (!Set.of("parameters", "summary", "description", "servers").contains(method)) {
            problems.add(p + ": unknown field " + method);
          }
          return;
        }
        JsonNode operation = entry.getValue();
        String where = method.toUpperCase(java.util.Locale.ROOT) + " " + p;
        Set<String> declared = new TreeSet<>();
        for (JsonNode list : List.of(path.getValue().path("parameters"), operation.path("parameters"))) {
          for (JsonNode param : list) {
            JsonNode resolved = resolve(doc, param);
            if (!resolved.path("name").isTextual() || !Set.of("path", "query", "header", "cookie").contains(resolved.path("in").asText())) {
              problems.add(where + ": a parameter needs a name and in");
            }
            if (resolved.path("in").asText().equals("path")) {
              declared.add(resolved.path("name").asText());
              if (!resolved.path("required").asBoolean()) {
                problems.add(where + ": path parameter " + resolved.path("name").asText() + " is required");
              }
            }
          }
        }
        if (!declared.equals(inTemplate)) {
          problems.add(where + ": path parameters " + declared + " differ from the template's " + inTemplate);
        }
        if (!operation.path("operationId").isTextual()) {
          problems.add(where + ": no operationId");
        }
        JsonNode responses = operation.path("responses");
        if (!responses.isObject() || responses.isEmpty()) {
          problems.add(where + ": no responses");
        }
        boolean success = false;
        for (Iterator<Map.Entry<String, JsonNode>> it = responses.fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> r = it.next();
          success |= r.getKey().startsWith("2");
          JsonNode response = resolve(doc, r.getValue());
          if (!response.path("description").isTextual()) {
            problems.add(where + " " + r.getKey() + ": a response needs a description");
          }
          if (r.getKey().matches("[45]..") && !p.equals("/readyz")) {
            String schema = response.path("content").path("application/json").path("schema").path("$ref").asText();
            if (!schema.equals("#/components/schemas/GraphError")) {
              problems.add(where + " " + r.getKey() + ": an error answers the GraphError schema");
            }
          }
        }
        if (!success) {
          problems.add(where + ": no 2xx response");
        }
        JsonNode security = operation.has("security") ? operation.path("security") : doc.path("security");
        for (JsonNode requirement : security) {
          requirement.fieldNames().forEachRemaining(name -> {
            if (!schemes.contains(name)) {
              problems.add(where + ": unknown security scheme " + name);
            }
          });
        }
      });
    });
    assertThat(problems).as("docs/openapi.json").isEmpty();
  }

  @Test
  void everyRouteTheLayerServesIsDocumentedAndEveryDocumentedRouteIsServed() throws Exception {
    Set<String> documented = documented(document());
    Set<String> served = served();
    Set<String> missing = new TreeSet<>(served);
    missing.removeAll(documented);
    Set<String> extra = new TreeSet<>(documented);
    extra.removeAll(served);
    assertThat(missing).as("routes the handlers' RouteTables serve that docs/openapi.json does not document: add them to"
        + " docs/openapi.json").isEmpty();
    assertThat(extra).as("routes docs/openapi.json documents that no RouteTable serves: add them to the handler's ROUTES"
        + " (and serve them) or remove them from docs/openapi.json").isEmpty();
  }

  @Test
  void everyPrefixTheServerRoutesIsDocumentedOrNamedAsMetasSurface() throws Exception {
    Set<String> documentedPaths = new TreeSet<>();
    document().path("paths").fieldNames().forEachRemaining(documentedPaths::add);
    try (Layer layer = Layer.start(dir, "http://127.0.0.1:9", Map.of())) {
      List<String> uncovered = new ArrayList<>();
      for (String prefix : layer.server.routePrefixes()) {
        boolean covered = NOT_DOCUMENTED.containsKey(prefix)
            || documentedPaths.stream().anyMatch(p -> p.equals(prefix) || p.startsWith(prefix + "/"));
        if (!covered) {
          uncovered.add(prefix);
        }
      }
      assertThat(uncovered).as("prefixes the server routes (LayerServer.routes) with no path in docs/openapi.json: document"
          + " their routes there (a RouteTable for an API of several routes, PLAIN in this test for one path),"
          + " or name them in NOT_DOCUMENTED with the page that describes them").isEmpty();
    }
  }

  @Test
  void noDocumentedRouteAnswersUnknownPathOnARunningLayer() throws Exception {
    JsonNode doc = document();
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    try (Layer layer = Layer.start(dir, "http://127.0.0.1:9", Map.of())) {
      List<String> unserved = new ArrayList<>();
      for (String route : documented(doc)) {
        String method = route.substring(0, route.indexOf(' '));
        String path = route.substring(route.indexOf(' ') + 1);
        JsonNode security = doc.path("paths").path(path).path(method.toLowerCase(java.util.Locale.ROOT)).path("security");
        String credential = security.toString().contains("providerKey") ? "Bearer " + layer.key
            : security.toString().contains("adminToken") ? "Bearer " + Layer.ADMIN_TOKEN : null;
        String concrete = path.replace("{phone_number_id}", "100000000000999").replace("{subscription_id}", "sub-probe")
            .replace("{delivery_id}", "delivery-probe").replace("{key_id}", "key-probe").replace("{wacid}", "wacid.probe");
        assertThat(concrete).as(route + ": a parameter this test does not fill").doesNotContain("{");
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(layer.server.localUri() + concrete))
            .timeout(Duration.ofSeconds(10))
            .method(method, Set.of("POST", "PUT", "PATCH").contains(method)
                ? HttpRequest.BodyPublishers.ofString("{}") : HttpRequest.BodyPublishers.noBody())
            .header("Content-Type", "application/json");
        if (credential != null) {
          request.header("Authorization", credential);
        }
        HttpResponse<String> answer = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        String message = answer.body().isEmpty() ? "" : JSON.readTree(answer.body()).path("error").path("message").asText();
        if (answer.statusCode() == 405 || answer.statusCode() == 404 && message.equals("Unknown path.")) {
          unserved.add(route + " → " + answer.statusCode() + " " + message);
        }
      }
      assertThat(unserved).as("documented routes the running layer does not serve").isEmpty();
    }
  }

  @Test
  void theLayerServesTheDocumentOfTheRepository() throws Exception {
    byte[] source = Files.readAllBytes(DOCUMENT);
    try (InputStream inJar = LayerServer.class.getResourceAsStream("openapi.json")) {
      assertThat(inJar).as("the build copies docs/openapi.json into layer-jetty's classes").isNotNull();
      assertThat(inJar.readAllBytes()).isEqualTo(source);
    }
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    try (Layer layer = Layer.start(dir, "http://127.0.0.1:9", Map.of())) {
      HttpResponse<byte[]> answer = http.send(HttpRequest.newBuilder(URI.create(layer.server.localUri() + "/openapi.json"))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofByteArray());
      assertThat(answer.statusCode()).isEqualTo(200);
      assertThat(answer.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
      assertThat(answer.body()).isEqualTo(source);
      HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create(layer.server.localUri() + "/openapi.json"))
          .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(post.statusCode()).isEqualTo(405);
      assertThat(JSON.readTree(post.body()).path("error").path("fbtrace_id").isTextual()).isTrue();
    }
  }

  @Test
  void aRouteTableAdmitsItsRoutesAndAnswersOthers404Or405() {
    RouteTable table = new RouteTable("/x").on("", "GET").on("/{id}", "GET", "DELETE").on("/{id}/calls/{wacid...}", "GET")
        .refusing("/{id}", "Use GET or DELETE, please.");
    assertThat(table.refusal("GET", "/x")).isEmpty();
    assertThat(table.refusal("GET", "/x/")).isEmpty();
    assertThat(table.refusal("DELETE", "/x/7")).isEmpty();
    assertThat(table.refusal("GET", "/x/7/calls/wacid.a/b=")).isEmpty();
    assertThat(table.refusal("GET", "/x/7/calls").orElseThrow().status()).isEqualTo(404);
    assertThat(table.refusal("GET", "/x/7/8").orElseThrow().message()).isEqualTo("Unknown path.");
    assertThat(table.refusal("POST", "/x").orElseThrow().message()).isEqualTo("Use GET.");
    assertThat(table.refusal("PUT", "/x/7").orElseThrow().message()).isEqualTo("Use GET or DELETE, please.");
    assertThat(table.refusal("GET", "/y").orElseThrow().status()).isEqualTo(404);
    assertThat(new RouteTable("/a").on("/b", "GET", "POST", "PUT").refusal("DELETE", "/a/b").orElseThrow().message())
        .isEqualTo("Use GET, POST or PUT.");
  }

  /** Every {@code $ref} under {@code node} resolves in {@code doc}. */
  private static void refs(JsonNode doc, JsonNode node, String where, List<String> problems) {
    if (node.isObject()) {
      JsonNode ref = node.get("$ref");
      if (ref != null) {
        String r = ref.asText();
        if (!r.startsWith("#/") || doc.at(r.substring(1)).isMissingNode()) {
          problems.add(where + ": $ref " + r + " does not resolve");
        }
      }
      node.fields().forEachRemaining(e -> refs(doc, e.getValue(), where + "/" + e.getKey(), problems));
    } else if (node.isArray()) {
      for (int i = 0; i < node.size(); i++) {
        refs(doc, node.get(i), where + "/" + i, problems);
      }
    }
  }

  private static JsonNode resolve(JsonNode doc, JsonNode node) {
    return node.has("$ref") ? doc.at(node.get("$ref").asText().substring(1)) : node;
  }
}

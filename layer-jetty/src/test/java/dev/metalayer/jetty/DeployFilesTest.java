package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * {@code docs/deploy/} against the code, without a Docker daemon: the compose file's services, volumes and
 * health check, and that every {@code LAYER_*}/{@code META_*} name it gives the layer is an {@link Option};
 * the Dockerfile's entry point runs the jar the build makes (layer-jetty's shade output), its health check
 * asks a path the layer answers, and every file it copies exists. Both health checks' commands run
 * as written against a real layer (with its port), and fail against a port where nothing listens.
 */
class DeployFilesTest {
  private static final Path DEPLOY = Path.of("..", "docs", "deploy");

  private static JsonNode compose() throws Exception {
    return new ObjectMapper(new YAMLFactory()).readTree(DEPLOY.resolve("docker-compose.yml").toFile());
  }

  private static String dockerfile() throws Exception {
    return Files.readString(DEPLOY.resolve("Dockerfile"));
  }

  @Test
  void theComposeFileRunsTheLayerBesideChatwootOnPostgres() throws Exception {
    JsonNode services = compose().path("services");
    Set<String> names = new TreeSet<>();
    services.fieldNames().forEachRemaining(names::add);
    assertThat(names).containsExactlyInAnyOrder("meta-layer", "rails", "sidekiq", "postgres", "redis");

    JsonNode layer = services.path("meta-layer");
    assertThat(layer.path("build").path("dockerfile").asText()).isEqualTo("docs/deploy/Dockerfile");
    assertThat(DEPLOY.resolve(layer.path("build").path("context").asText()).resolve(layer.path("build").path("dockerfile").asText()))
        .as("the build context is the repository root").exists();
    JsonNode env = layer.path("environment");
    assertThat(env.path("LAYER_DB_URL").asText()).startsWith("jdbc:postgresql://postgres:5432/");
    assertThat(env.path("LAYER_DATA_DIR").asText()).isEqualTo("/data");
    List<String> unknown = new ArrayList<>();
    env.fieldNames().forEachRemaining(name -> {
      if (Option.byEnv(name).isEmpty()) {
        unknown.add(name);
      }
    });
    assertThat(unknown).as("names given to the layer that are no Option").isEmpty();
    // secrets come from .env, never written in the file
    for (Option secret : List.of(Option.MASTER_KEY, Option.ADMIN_TOKEN, Option.APP_SECRET, Option.VERIFY_TOKEN, Option.DB_PASSWORD)) {
      assertThat(env.path(secret.env()).asText()).as(secret.env()).startsWith("${").endsWith("}");
    }
    assertThat(layer.path("volumes").toString()).contains("meta-layer-data:/data");
    assertThat(layer.path("depends_on").path("postgres").path("condition").asText()).isEqualTo("service_healthy");
    assertThat(layer.path("healthcheck").path("test").toString()).contains("GET /healthz").contains("\\\"status\\\":\\\"ok\\\"");
    assertThat(layer.has("env_file")).as("the layer reads no env file shared with Chatwoot").isFalse();

    for (String chatwoot : List.of("rails", "sidekiq")) {
      JsonNode service = services.path(chatwoot);
      assertThat(service.path("image").asText()).startsWith("chatwoot/chatwoot:");
      assertThat(service.path("environment").path("WHATSAPP_CLOUD_BASE_URL").asText())
          .as("Chatwoot's Graph calls go to the layer's Graph prefix")
          .isEqualTo("http://meta-layer:" + Option.PORT.defaultValue().orElseThrow() + "/api/layer/meta");
      assertThat(service.path("env_file").asText()).isEqualTo("chatwoot.env");
      assertThat(service.path("environment").toString()).as(chatwoot + " gets none of the layer's secrets")
          .doesNotContain("LAYER_MASTER_KEY").doesNotContain("LAYER_ADMIN_TOKEN").doesNotContain("META_APP_SECRET");
    }
    assertThat(services.path("sidekiq").path("command").toString()).contains("sidekiq");
    assertThat(services.path("postgres").path("healthcheck").path("test").toString()).contains("pg_isready");
    for (JsonNode mount : services.path("postgres").path("volumes")) {
      String source = mount.asText().split(":")[0];
      if (source.startsWith("./")) {
        assertThat(DEPLOY.resolve(source)).as(mount.asText()).exists();
      }
    }

    Set<String> declared = new TreeSet<>();
    compose().path("volumes").fieldNames().forEachRemaining(declared::add);
    Set<String> used = new TreeSet<>();
    services.forEach(s -> s.path("volumes").forEach(v -> {
      String source = v.asText().split(":")[0];
      if (!source.startsWith(".") && !source.startsWith("/")) {
        used.add(source);
      }
    }));
    assertThat(declared).isEqualTo(used);

    // the subscribers' network is the range the layer may deliver to
    String subnet = compose().path("networks").path("backend").path("ipam").path("config").path(0).path("subnet").asText();
    assertThat(env.path("LAYER_ALLOWED_TARGET_CIDRS").asText()).isEqualTo(subnet);
  }

  @Test
  void theInitScriptCreatesTheDatabaseTheLayerIsPointedAt() throws Exception {
    String script = Files.readString(DEPLOY.resolve("initdb/metalayer.sh"));
    JsonNode env = compose().path("services").path("meta-layer").path("environment");
    String database = env.path("LAYER_DB_URL").asText().replaceAll(".*/", "");
    assertThat(script).contains("CREATE DATABASE " + database + " OWNER " + env.path("LAYER_DB_USER").asText());
    assertThat(DEPLOY.resolve("initdb/metalayer.sh").toFile().canExecute()).isTrue();
  }

  @Test
  void theDockerfileRunsTheJarTheBuildMakesAndChecksAPathTheLayerAnswers() throws Exception {
    String dockerfile = dockerfile();
    assertThat(dockerfile).contains("FROM maven:3.9-eclipse-temurin-17 AS build").contains("FROM eclipse-temurin:17-jre");

    // the shade plugin's output in layer-jetty's build file
    Element shade = null;
    NodeList outputs = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(new File("pom.xml"))
        .getElementsByTagName("outputFile");
    assertThat(outputs.getLength()).isEqualTo(1);
    shade = (Element) outputs.item(0);
    String jar = shade.getTextContent().replace("${project.build.directory}", "layer-jetty/target");
    Matcher copy = Pattern.compile("COPY --from=build /src/(\\S+) (\\S+)").matcher(dockerfile);
    assertThat(copy.find()).as("the run stage copies the jar").isTrue();
    assertThat(copy.group(1)).isEqualTo(jar);
    assertThat(dockerfile).contains("ENTRYPOINT [\"java\", \"-XX:+ExitOnOutOfMemoryError\", \"-jar\", \"" + copy.group(2) + "\"]");

    // what the build stage copies exists (paths from the repository root)
    Matcher sources = Pattern.compile("(?m)^COPY (?!--)(\\S+) (\\S+)$").matcher(dockerfile);
    int copies = 0;
    while (sources.find()) {
      assertThat(Path.of("..").resolve(sources.group(1))).as(sources.group()).exists();
      copies++;
    }
    assertThat(copies).isGreaterThanOrEqualTo(5);
    assertThat(dockerfile).contains("COPY docs/openapi.json docs/");

    // a user without privileges, the data directory on a volume, the health check on /healthz
    assertThat(dockerfile).containsPattern("(?m)^USER layer$").containsPattern("(?m)^VOLUME \\[\"/data\"\\]$")
        .contains("LAYER_DATA_DIR=/data");
    Matcher health = Pattern.compile("(?m)^HEALTHCHECK .*\\\\\\n\\s+CMD (.*)$").matcher(dockerfile);
    assertThat(health.find()).isTrue();
    assertThat(health.group(1)).contains("GET /healthz ");
  }

  @TempDir Path dir;

  @Test
  void bothHealthChecksPassOnARunningLayerAndFailWithoutOne() throws Exception {
    Matcher health = Pattern.compile("(?m)^HEALTHCHECK .*\\\\\\n\\s+CMD (.*)$").matcher(dockerfile());
    assertThat(health.find()).isTrue();
    JsonNode test = compose().path("services").path("meta-layer").path("healthcheck").path("test");
    assertThat(test.path(0).asText()).isEqualTo("CMD");
    assertThat(test.path(1).asText()).isEqualTo("bash");
    String composeScript = test.path(3).asText();
    try (Layer layer = Layer.start(dir, "http://127.0.0.1:9", Map.of())) {
      String port = Integer.toString(layer.server.port());
      // the image's check reads LAYER_PORT as the image sets it; the compose file's names the default port
      assertThat(run(List.of("sh", "-c", health.group(1)), port)).as("the Dockerfile's HEALTHCHECK").isZero();
      assertThat(run(List.of("bash", "-c", composeScript.replace(":8080", ":" + port).replace("/8080", "/" + port)), port))
          .as("the compose file's healthcheck").isZero();
    }
    int closed;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closed = free.getLocalPort();
    }
    String none = Integer.toString(closed);
    assertThat(run(List.of("sh", "-c", health.group(1)), none)).isNotZero();
    assertThat(run(List.of("bash", "-c", composeScript.replace("/8080", "/" + none)), none)).isNotZero();
  }

  private static int run(List<String> command, String port) throws Exception {
    ProcessBuilder b = new ProcessBuilder(command).redirectErrorStream(true);
    b.environment().put("LAYER_PORT", port);
    Process p = b.start();
    p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
    assertThat(p.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    return p.exitValue();
  }
}

package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.RecordingSubscriber;
import dev.metalayer.testing.TestDatabases;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A clean stop ({@code SIGTERM}) of the real jar, after real work (a number and a key added by the CLI,
 * a webhook ingested and delivered), logs no {@code WARN} or {@code ERROR} from the moment it is asked
 * to stop, on the embedded H2 file and on PostgreSQL: nothing an operator's alerting would page on.
 */
class CleanStopIT {
  static final String APP_SECRET = "clean-stop-app-secret";
  static final String PNID = "106540352242922";

  @TempDir Path dir;

  @Test
  void aCleanStopOnTheH2FileLogsNoWarning() throws Exception {
    workThenStop(LayerJar.in(dir));
  }

  @Test
  void aCleanStopOnPostgresLogsNoWarning() throws Exception {
    try (TestDatabases.PgSchema schema = TestDatabases.postgres()) {
      workThenStop(LayerJar.in(dir).env("LAYER_DB_URL", schema.url()).env("LAYER_DB_USER", TestDatabases.PG_USER)
          .env("LAYER_DB_PASSWORD", TestDatabases.PG_PASSWORD));
    }
  }

  private void workThenStop(LayerJar jar) throws Exception {
    jar.env("META_APP_SECRET", APP_SECRET).env("LAYER_ALLOWED_TARGET_CIDRS", "127.0.0.0/8")
        .env("LAYER_PUBLIC_URL", "http://127.0.0.1");
    jar.addNumber("+15550783881", PNID, "102290129340398", "900000000000001", "EAAG-clean-stop-token");
    String key = jar.createKey(PNID);
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    try (RecordingSubscriber subscriber = RecordingSubscriber.start()) {
      LayerJar.Running layer = jar.start();
      try {
        HttpResponse<String> created = http.send(HttpRequest.newBuilder(layer.base().resolve("/v1/webhooks"))
            .timeout(Duration.ofSeconds(10)).header("x-api-key", key).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"helpdesk\",\"url\":\"" + subscriber.url("/hook")
                + "\",\"events\":[\"messages\"]}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        for (int i = 0; i < 5; i++) {
          byte[] webhook = PostgresLayerTest.message("wamid.CLEAN-STOP-" + i);
          HttpResponse<String> ingested = http.send(HttpRequest.newBuilder(layer.base().resolve("/webhooks/meta"))
              .timeout(Duration.ofSeconds(10)).header("Content-Type", "application/json")
              .header("X-Hub-Signature-256", MetaFixtures.metaSignature(APP_SECRET, webhook))
              .POST(HttpRequest.BodyPublishers.ofByteArray(webhook)).build(), HttpResponse.BodyHandlers.ofString());
          assertThat(ingested.statusCode()).isEqualTo(200);
        }
        subscriber.await(5, Duration.ofSeconds(30));
      } finally {
        layer.process().destroy(); // SIGTERM: the shutdown hook stops the layer
        assertThat(layer.process().waitFor(30, TimeUnit.SECONDS)).as("stopped within 30 s").isTrue();
      }
      String log = layer.log();
      int stopping = log.indexOf("Stopping Meta Layer");
      assertThat(stopping).as(log).isNotNegative();
      List<String> loud = log.substring(stopping).lines()
          .filter(l -> l.contains(" WARN ") || l.contains(" ERROR ") || l.contains("Exception")).toList();
      assertThat(loud).as(log).isEmpty();
      // nor in H2's own trace file, where it writes what it does not log
      try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(jar.dir().resolve("data"))) {
        assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".trace.db"));
      }
    }
  }
}

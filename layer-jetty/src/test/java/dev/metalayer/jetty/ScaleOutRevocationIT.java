package dev.metalayer.jetty;

import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import dev.metalayer.testing.TestDatabases;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Keys and numbers across instances: two layer processes on one PostgreSQL database, WireMock as Meta.
 * A key revoked through instance one's admin API is refused by instance two's Graph proxy within the
 * documented bound (a few seconds), although instance two had it cached; a number removed through
 * instance one is refused by instance two, whose subscriptions API then creates nothing for it. Each
 * measured delay is printed; the assertion is a generous bound.
 */
class ScaleOutRevocationIT {
  static final String PNID = "106540352242922";
  static final String WABA = "102290129340398";
  static final String PNID_2 = "436666719526789";
  static final String WABA_2 = "366634483210360";
  /** Generous over the documented bound of a few seconds (a loaded CI machine runs both JVMs and the database). */
  static final Duration BOUND = Duration.ofSeconds(10);

  @TempDir Path dir;

  @Test
  void aKeyRevokedOnOneInstanceAndANumberRemovedOnOneAreRefusedOnTheOtherWithinTheBound() throws Exception {
    WireMockServer meta = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    meta.start();
    meta.stubFor(get(anyUrl()).willReturn(okJson("{\"id\":\"" + PNID + "\"}")));
    try (TestDatabases.PgSchema schema = TestDatabases.postgres();
        Instances layers = new Instances(dir, schema.url(), TestDatabases.PG_USER, TestDatabases.PG_PASSWORD)
            .env("LAYER_GRAPH_URL", meta.baseUrl())) {
      LayerJar.Running one = layers.start("one");
      layers.addNumber(one, PNID, WABA, "+15550783881");
      layers.addNumber(one, PNID_2, WABA_2, "+13175551399");
      JsonNode created = layers.createKey(one, PNID);
      String key = created.path("key").asText();
      String key2 = layers.createKey(one, PNID_2).path("key").asText();
      LayerJar.Running two = layers.start("two");

      // both instances serve the keys, so each has them in its grant cache
      for (LayerJar.Running layer : new LayerJar.Running[] {one, two}) {
        assertThat(graph(layers, layer, PNID, key)).as("the key works before its revocation").isEqualTo(200);
        assertThat(graph(layers, layer, PNID_2, key2)).as("the second number's key works before its removal").isEqualTo(200);
      }

      // a key revoked on instance one
      layers.send(one, "DELETE", "/admin/v1/keys/" + created.path("id").asText(), "Bearer " + LayerJar.ADMIN_TOKEN, null, 200);
      long revoked = System.nanoTime();
      assertThat(graph(layers, one, PNID, key)).as("instance one refuses the key at once").isEqualTo(401);
      boolean refused = Instances.await(() -> graph(layers, two, PNID, key) == 401, Duration.ofSeconds(60));
      Duration keyDelay = Duration.ofNanos(System.nanoTime() - revoked);

      // a number removed on instance one: instance two, which may still have its key cached, creates no
      // subscription for it (tried at once), and soon refuses the key
      layers.send(one, "DELETE", "/admin/v1/numbers/" + PNID_2, "Bearer " + LayerJar.ADMIN_TOKEN, null, 200);
      long removed = System.nanoTime();
      int subscribe = subscribeStatus(two, key2);
      boolean numberRefused = Instances.await(() -> graph(layers, two, PNID_2, key2) == 401, Duration.ofSeconds(60));
      Duration numberDelay = Duration.ofNanos(System.nanoTime() - removed);
      JsonNode left = layers.send(two, "GET", "/admin/v1/numbers/" + PNID_2 + "/webhooks", "Bearer " + LayerJar.ADMIN_TOKEN,
          null, 200);

      System.out.printf("ScaleOutRevocationIT: a key revoked on instance one was refused by instance two %d ms later"
          + " (polled every 50 ms); a number removed on instance one had its key refused by instance two %d ms later;"
          + " a subscription for it posted to instance two right after the removal was answered %d%n", keyDelay.toMillis(),
          numberDelay.toMillis(), subscribe);
      assertThat(refused).as("instance two refuses the revoked key%s", layers.logs(30)).isTrue();
      assertThat(keyDelay).as("the revocation reached instance two within the bound").isLessThan(BOUND);
      assertThat(subscribe).as("no subscription is created for a number another instance has just removed").isNotEqualTo(201);
      assertThat(left.path("data")).as("the removed number's subscriptions").isEmpty();
      assertThat(numberRefused).as("instance two refuses the removed number's key%s", layers.logs(30)).isTrue();
      assertThat(numberDelay).as("the number removal reached instance two within the bound").isLessThan(BOUND);
      assertThat(graph(layers, two, PNID, key)).as("still refused").isEqualTo(401);
    } finally {
      meta.stop();
    }
  }

  /** A proxied Graph read of the number with {@code key}. */
  private static int graph(Instances layers, LayerJar.Running layer, String pnid, String key) {
    return layers.get(layer, "/api/layer/meta/v13.0/" + pnid, "Bearer " + key);
  }

  /** The status of a subscription create with {@code key} on {@code layer}. */
  private static int subscribeStatus(LayerJar.Running layer, String key) throws Exception {
    return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().send(HttpRequest
        .newBuilder(layer.base().resolve("/v1/webhooks")).timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"late\",\"url\":\"http://127.0.0.1:9/hook\","
            + "\"events\":[\"messages\"]}")).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }
}

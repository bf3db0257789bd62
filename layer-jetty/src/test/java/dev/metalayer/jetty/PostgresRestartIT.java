package dev.metalayer.jetty;

import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PostgreSQL restarted under the layer mid-flight, on a private server of this test's own (see {@link
 * PrivatePostgres}; the shared one is never stopped): webhooks are posted continuously while deliveries
 * run; the server is stopped at once ({@code -m immediate}); while it is down, ingest answers 503 (Meta
 * retries), never 200, and {@code /readyz} fails; it is started again, and without restarting the layer
 * ingest answers 200 again and every webhook that was answered 200 is delivered. The webhooks refused
 * meanwhile are posted again, as Meta does, and delivered too. Meanwhile the Graph proxy (WireMock as
 * Meta) keeps serving a key it has cached.
 */
class PostgresRestartIT {
  static final String PNID = "106540352242922";
  static final String WABA = "102290129340398";
  static final Pattern WAMID = Pattern.compile("wamid\\.PG([0-9]+)\"");

  @TempDir Path dir;

  /** One post of webhook {@code n}: when it started and ended ({@link System#nanoTime()}) and its status. */
  record Post(int n, long start, long end, int status) {}

  @Test
  void noAcceptedWebhookIsLostAndIngestAnswers503WhilePostgresIsDown() throws Exception {
    Set<Integer> delivered = ConcurrentHashMap.newKeySet();
    List<Post> posts = Collections.synchronizedList(new ArrayList<>());
    Set<Integer> accepted = ConcurrentHashMap.newKeySet();
    AtomicInteger next = new AtomicInteger();
    AtomicBoolean posting = new AtomicBoolean(true);
    WireMockServer meta = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    meta.start();
    meta.stubFor(get(anyUrl()).willReturn(okJson("{\"id\":\"" + PNID + "\"}")));
    try (PrivatePostgres pg = PrivatePostgres.start();
        // a request waits at most 2 s for a connection (default 10 s), so that the outage is seen in a few posts
        Instances layers = new Instances(dir, pg.url(), "postgres", "").env("LAYER_GRAPH_URL", meta.baseUrl())
            .env("LAYER_DB_CONNECT_TIMEOUT", "2s");
        InstanceSubscriber subscriber = InstanceSubscriber.start()) {
      subscriber.answer(r -> {
        Matcher m = WAMID.matcher(r.body());
        if (m.find()) {
          delivered.add(Integer.parseInt(m.group(1)));
        }
        Thread.sleep(20); // deliveries stay in flight while the database goes away
        return 200;
      });
      LayerJar.Running layer = layers.start("one");
      layers.addNumber(layer, PNID, WABA, "+15550783881");
      String key = layers.createKey(layer, PNID).path("key").asText();
      layers.subscribe(layer, key, subscriber.url("/hook"), "messages");

      Thread poster = new Thread(() -> {
        while (posting.get()) {
          int n = next.getAndIncrement();
          long start = System.nanoTime();
          int status = layers.webhook(layer, body(n));
          posts.add(new Post(n, start, System.nanoTime(), status));
          if (status == 200) {
            accepted.add(n);
          }
          try {
            Thread.sleep(10); // Meta's pace, roughly; not a timing assumption
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "meta");
      poster.start();
      try {
        assertThat(Instances.await(() -> accepted.size() >= 100 && delivered.size() >= 20, Duration.ofSeconds(60)))
            .as("webhooks accepted and delivered before the stop%s", layers.logs(30)).isTrue();

        assertThat(graph(layers, layer, key)).as("a Graph call with the key before the stop").isEqualTo(200);
        pg.stopServer();
        long downFrom = System.nanoTime();
        int acceptedBeforeStop = accepted.size();
        int graphWhileDown = graph(layers, layer, key);
        int readyWhileDown = awaitStatus(layer, 503, Duration.ofSeconds(30));
        assertThat(Instances.await(() -> System.nanoTime() - downFrom > 3_000_000_000L
            && posts.stream().filter(p -> p.start() >= downFrom).count() >= 3, Duration.ofSeconds(90)))
            .as("posts answered while PostgreSQL is down").isTrue();
        long downUntil = System.nanoTime();
        List<Post> whileDown = snapshot(posts).stream().filter(p -> p.start() >= downFrom && p.end() <= downUntil).toList();

        pg.startServer();
        long upAt = System.nanoTime();
        boolean recovered = Instances.await(() -> snapshot(posts).stream()
            .anyMatch(p -> p.start() >= upAt && p.status() == 200), Duration.ofSeconds(60));
        long recoveredAt = System.nanoTime();
        posting.set(false);
        poster.join(60_000);
        int readyAfter = awaitStatus(layer, 200, Duration.ofSeconds(30));

        // what was refused is posted again until accepted, as Meta retries
        int total = next.get();
        long retryDeadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        for (int n = 0; n < total; n++) {
          while (!accepted.contains(n) && System.nanoTime() < retryDeadline) {
            if (layers.webhook(layer, body(n)) == 200) {
              accepted.add(n);
            } else {
              Thread.sleep(500); // Meta's retry, much shortened
            }
          }
        }
        boolean allDelivered = Instances.await(() -> delivered.containsAll(accepted), Duration.ofSeconds(90));

        Map<Integer, Integer> downStatuses = new TreeMap<>();
        whileDown.forEach(p -> downStatuses.merge(p.status(), 1, Integer::sum));
        long slowestDown = whileDown.stream().mapToLong(p -> (p.end() - p.start()) / 1_000_000).max().orElse(-1);
        System.out.printf("PostgresRestartIT: %d webhooks accepted before PostgreSQL stopped; while down (%d ms): answers"
            + " (status=count) %s (the slowest in %d ms), /readyz %d; ingest answered 200 again %d ms after PostgreSQL was"
            + " back (no layer restart);"
            + " %d webhooks posted in all, %d accepted, %d delivered; a Graph call with a cached key while down: %d%n",
            acceptedBeforeStop, (downUntil - downFrom) / 1_000_000, downStatuses, slowestDown, readyWhileDown,
            (recoveredAt - upAt) / 1_000_000, total, accepted.size(), delivered.size(), graphWhileDown);

        assertThat(whileDown.size()).as("webhooks posted while PostgreSQL was down").isPositive();
        assertThat(downStatuses.keySet()).as("while PostgreSQL is down, ingest answers 503 (Meta retries), never 200 (%d"
            + " answers: %s)%s", whileDown.size(), downStatuses, layers.logs(30)).containsOnly(503);
        assertThat(readyWhileDown).as("/readyz while PostgreSQL is down").isEqualTo(503);
        assertThat(graphWhileDown).as("the Graph proxy keeps serving a key it has cached while PostgreSQL is down")
            .isEqualTo(200);
        assertThat(recovered).as("ingest answers 200 again once PostgreSQL is back, without a restart%s", layers.logs(40))
            .isTrue();
        assertThat(readyAfter).as("/readyz once PostgreSQL is back").isEqualTo(200);
        assertThat(accepted.size()).as("webhooks accepted in the end, of %d", total).isEqualTo(total);
        Set<Integer> lost = new TreeSet<>(accepted);
        lost.removeAll(delivered);
        assertThat(lost).as("webhooks answered 200 and never delivered%s", layers.logs(40)).isEmpty();
        assertThat(allDelivered).isTrue();
        assertThat(layer.process().isAlive()).as("the layer ran through").isTrue();
      } finally {
        posting.set(false);
        poster.interrupt();
        poster.join(10_000);
      }
    } finally {
      meta.stop();
    }
  }

  /** The status of a proxied Graph read of the number with {@code key}. */
  private static int graph(Instances layers, LayerJar.Running layer, String key) {
    return layers.get(layer, "/api/layer/meta/v13.0/" + PNID, "Bearer " + key);
  }

  private static List<Post> snapshot(List<Post> posts) {
    synchronized (posts) {
      return List.copyOf(posts);
    }
  }

  /** Polls {@code /readyz} until it answers {@code status} or {@code timeout} passes; the last status. */
  private static int awaitStatus(LayerJar.Running layer, int status, Duration timeout) throws InterruptedException {
    int[] last = {-1};
    Instances.await(() -> (last[0] = layer.status("/readyz")) == status, timeout);
    return last[0];
  }

  private static byte[] body(int n) {
    return Instances.envelope(WABA, List.of(Instances.message(PNID, "15550783881", "wamid.PG" + n)));
  }
}

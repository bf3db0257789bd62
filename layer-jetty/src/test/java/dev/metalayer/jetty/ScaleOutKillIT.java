package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.TestDatabases;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two layer processes on one PostgreSQL database, one of them killed with {@code kill -9} while its
 * deliveries to a slow subscriber are in flight: every delivery is still made, by the other instance,
 * at least once. Only what the dead instance had in flight may be delivered twice (its lease is taken
 * over when it expires, twice the attempt's 15 s timeout); the test counts and prints those, and the
 * time from the kill to the last delivery.
 */
class ScaleOutKillIT {
  static final int WEBHOOKS = 500;
  static final String PNID = "106540352242922";
  static final String WABA = "102290129340398";
  /** The default lane's workers on one instance: the most deliveries one instance can hold leased. */
  static final int LANE_WORKERS = 16;
  /** A lease (twice the default lane's 15 s attempt timeout) and margin for a loaded machine. */
  static final Duration AFTER_KILL = Duration.ofSeconds(90);

  @TempDir Path dir;

  @Test
  void everyDeliveryIsStillMadeByTheOtherInstanceAfterAKill9MidDelivery() throws Exception {
    CountDownLatch posted = new CountDownLatch(1);
    try (TestDatabases.PgSchema schema = TestDatabases.postgres();
        Instances layers = new Instances(dir, schema.url(), TestDatabases.PG_USER, TestDatabases.PG_PASSWORD);
        InstanceSubscriber subscriber = InstanceSubscriber.start()) {
      // While the webhooks are posted, attempts are held (at most 10 s, then 503: a failed attempt,
      // retried), so that a backlog remains; then every attempt takes 40 ms, so some are always in flight.
      subscriber.answer(r -> {
        if (!posted.await(10, TimeUnit.SECONDS)) {
          return 503;
        }
        Thread.sleep(40);
        return 200;
      });
      LayerJar.Running one = layers.start("one");
      layers.addNumber(one, PNID, WABA, "+15550783881");
      String key = layers.createKey(one, PNID).path("key").asText();
      String subscription = layers.subscribe(one, key, subscriber.url("/hook"), "messages");
      LayerJar.Running two = layers.start("two");
      subscriber.watch(one, two);
      List<LayerJar.Running> both = List.of(one, two);

      ExecutorService senders = Executors.newFixedThreadPool(8);
      try {
        List<Future<Integer>> answers = new ArrayList<>();
        for (int i = 0; i < WEBHOOKS; i++) {
          int n = i;
          answers.add(senders.submit(() -> layers.webhook(both.get(n % 2), Instances.envelope(WABA,
              List.of(Instances.message(PNID, "15550783881", "wamid.KILL" + n))))));
        }
        for (int i = 0; i < WEBHOOKS; i++) {
          assertThat(answers.get(i).get(60, TimeUnit.SECONDS)).as("webhook " + i).isEqualTo(200);
        }
      } finally {
        senders.shutdownNow();
        posted.countDown();
      }

      // kill -9 instance one once a fifth is delivered and while it has attempts at the subscriber
      assertThat(Instances.await(() -> subscriber.successes().size() >= WEBHOOKS / 5 && subscriber.inFlight(one.pid()) > 0,
          Duration.ofSeconds(60))).as("instance one delivering mid-way%s", layers.logs(30)).isTrue();
      int inFlightAtKill = subscriber.inFlight(one.pid());
      one.kill();
      long killed = System.nanoTime();
      int beforeKill = subscriber.successes().size();

      boolean all = Instances.await(() -> subscriber.successes().size() >= WEBHOOKS, AFTER_KILL);
      long allAt = System.nanoTime();
      // then until nothing is pending or leased: the dead instance's leases taken over and attempted again
      boolean settled = Instances.await(() -> layers.settled(two, subscription), AFTER_KILL);
      long settledAt = System.nanoTime();
      Map<String, Long> successes = subscriber.successes();
      List<String> twice = successes.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList();
      Map<String, Long> firstBy = new HashMap<>();
      for (InstanceSubscriber.Delivery d : subscriber.received(InstanceSubscriber.Delivery::ok)) {
        firstBy.putIfAbsent(d.path() + " " + d.webhookId(), d.owner());
      }
      Map<Long, Long> perOwner = subscriber.perOwner();
      System.out.printf("ScaleOutKillIT: kill -9 of instance one (pid %d) with %d attempts at the subscriber and %d of %d"
          + " deliveries made; every delivery made %d ms after the kill, nothing left pending or leased %d ms after it"
          + " (a lease is 30 s); %d delivered twice %s; instance one made %d, instance two %d%n", one.pid(), inFlightAtKill,
          beforeKill, WEBHOOKS, (allAt - killed) / 1_000_000, (settledAt - killed) / 1_000_000, twice.size(),
          twice.stream().map(d -> d + " first by " + firstBy.get(d)).toList(),
          perOwner.getOrDefault(one.pid(), 0L), perOwner.getOrDefault(two.pid(), 0L));
      assertThat(all).as("every delivery made within %s of the kill (made: %d)%s", AFTER_KILL, successes.size(),
          layers.logs(40)).isTrue();
      assertThat(settled).as("nothing left pending or leased within %s of the kill%s", AFTER_KILL, layers.logs(30)).isTrue();
      assertThat(successes).hasSize(WEBHOOKS);
      assertThat(two.process().isAlive()).isTrue();
      // a duplicate is only one the dead instance held leased when it died
      assertThat(twice).as("deliveries made twice").hasSizeLessThanOrEqualTo(LANE_WORKERS);
      for (String d : twice) {
        // a sender not told (UNKNOWN) was gone when its request was read: only the killed instance is
        assertThat(firstBy.get(d)).as("the first delivery of %s, made twice, was by the killed instance (%d), not %d", d,
            one.pid(), firstBy.get(d)).isIn(one.pid(), SocketOwners.UNKNOWN);
      }
    }
  }
}

package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.TestDatabases;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two layer processes (the real jar) on one PostgreSQL database: 1,000 signed webhooks posted
 * alternately through both, each routed to two subscriptions of a real subscriber; every delivery is
 * made exactly once (counted by subscription and {@code webhook-id}: none missing, none twice) while
 * both instances live. Deliveries are shared between the instances by their claims, without a
 * coordinator; the test prints how many each made.
 */
class ScaleOutExactlyOnceIT {
  static final int WEBHOOKS = 1000;
  static final String PNID = "106540352242922";
  static final String WABA = "102290129340398";

  @TempDir Path dir;

  @Test
  void twoInstancesOnOneDatabaseMakeEveryDeliveryExactlyOnce() throws Exception {
    try (TestDatabases.PgSchema schema = TestDatabases.postgres();
        Instances layers = new Instances(dir, schema.url(), TestDatabases.PG_USER, TestDatabases.PG_PASSWORD);
        InstanceSubscriber subscriber = InstanceSubscriber.start()) {
      LayerJar.Running one = layers.start("one");
      layers.addNumber(one, PNID, WABA, "+15550783881");
      String key = layers.createKey(one, PNID).path("key").asText();
      List<String> subscriptions = List.of(layers.subscribe(one, key, subscriber.url("/first"), "messages"),
          layers.subscribe(one, key, subscriber.url("/second"), "messages"));
      LayerJar.Running two = layers.start("two");
      subscriber.watch(one, two);
      List<LayerJar.Running> both = List.of(one, two);

      long started = System.nanoTime();
      ExecutorService senders = Executors.newFixedThreadPool(8);
      try {
        List<Future<Integer>> answers = new ArrayList<>();
        for (int i = 0; i < WEBHOOKS; i++) {
          int n = i;
          answers.add(senders.submit(() -> layers.webhook(both.get(n % 2), Instances.envelope(WABA,
              List.of(Instances.message(PNID, "15550783881", "wamid.ONCE" + n))))));
        }
        for (int i = 0; i < WEBHOOKS; i++) {
          assertThat(answers.get(i).get(60, TimeUnit.SECONDS)).as("webhook " + i + " through instance " + (i % 2 + 1))
              .isEqualTo(200);
        }
      } finally {
        senders.shutdownNow();
      }
      long ingested = System.nanoTime();

      int expected = 2 * WEBHOOKS;
      boolean all = Instances.await(() -> subscriber.successes().size() >= expected, Duration.ofSeconds(120));
      long delivered = System.nanoTime();
      // nothing left pending or in flight: no second delivery of anything can come later
      boolean settled = Instances.await(() -> subscriptions.stream().allMatch(s -> layers.settled(two, s)),
          Duration.ofSeconds(60));
      Map<String, Long> successes = subscriber.successes();
      List<String> twice = successes.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList();
      Map<Long, Long> perOwner = subscriber.perOwner();
      System.out.printf("ScaleOutExactlyOnceIT: %d webhooks acknowledged through two instances in %d ms, %d deliveries made"
          + " in %d ms after the first post (%d requests in all, %d delivered twice); instance one (pid %d) made %d,"
          + " instance two (pid %d) made %d%s%n", WEBHOOKS, (ingested - started) / 1_000_000, successes.size(),
          (delivered - started) / 1_000_000, subscriber.received().size(), twice.size(), one.pid(),
          perOwner.getOrDefault(one.pid(), 0L), two.pid(), perOwner.getOrDefault(two.pid(), 0L),
          perOwner.containsKey(SocketOwners.UNKNOWN) ? ", sender not told for " + perOwner.get(SocketOwners.UNKNOWN) : "");
      assertThat(all).as("all %d deliveries made within 120 s (made: %d)%s", expected, successes.size(), layers.logs(40))
          .isTrue();
      assertThat(settled).as("no delivery left pending or delivering").isTrue();
      assertThat(successes).hasSize(expected);
      assertThat(twice).as("deliveries made twice while both instances lived").isEmpty();
      assertThat(subscriber.received()).as("every request was a success: no retry, no second attempt").hasSize(expected);
      for (String path : List.of("/first", "/second")) {
        assertThat(successes.keySet().stream().filter(k -> k.startsWith(path + " msg_")).count()).isEqualTo(WEBHOOKS);
      }
      assertThat(one.log() + two.log()).doesNotContain("OutOfMemoryError");
    }
  }
}

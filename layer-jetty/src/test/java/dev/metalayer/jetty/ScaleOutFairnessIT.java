package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.TestDatabases;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fairness case of {@link FairDeliveryIT} across instances: two layer processes on one PostgreSQL
 * database. Number B's flood (25 subscriptions on a subscriber that accepts and never answers, so every
 * attempt runs to its timeout; 2,500 ring and 10,000 message deliveries) is ingested through both
 * instances and claimed by both; number A's ring posted to either instance, and A's message, are still
 * delivered within the bound, because a number's share of a lane is counted from the store's leases,
 * across instances. The test prints the delays and which instance made each delivery.
 */
class ScaleOutFairnessIT {
  static final String PNID_A = "436666719526789";
  static final String PNID_B = "106540352242922";
  static final String WABA_A = "366634483210360";
  static final String WABA_B = "102290129340398";
  static final int B_SUBSCRIPTIONS = 25;
  static final int B_CALLS = 100; // × 25 subscriptions = 2,500 ring deliveries
  static final int B_MESSAGES = 400; // × 25 subscriptions = 10,000 message deliveries
  /**
   * The documented bound (the first claim after the ingest commits, a worker being free: see
   * docs/security.md, "Fairness"), with margin for two layer JVMs and the database on a loaded machine.
   */
  static final Duration BOUND = Duration.ofSeconds(5);

  @TempDir Path dir;

  @Test
  void aNumbersRingsAndMessageAreDeliveredWithinTheBoundWhileAnotherFloodsBothInstances() throws Exception {
    CountDownLatch end = new CountDownLatch(1);
    try (TestDatabases.PgSchema schema = TestDatabases.postgres();
        Instances layers = new Instances(dir, schema.url(), TestDatabases.PG_USER, TestDatabases.PG_PASSWORD);
        InstanceSubscriber a = InstanceSubscriber.start();
        InstanceSubscriber hanging = InstanceSubscriber.start()) { // closed first: B's attempts end at once
      hanging.answer(r -> {
        end.await(); // accepted, never answered (until the test ends)
        return 200;
      });
      LayerJar.Running one = layers.start("one");
      layers.addNumber(one, PNID_A, WABA_A, "+13175551399");
      layers.addNumber(one, PNID_B, WABA_B, "+15550783881");
      String keyA = layers.createKey(one, PNID_A).path("key").asText();
      String keyB = layers.createKey(one, PNID_B).path("key").asText();
      layers.subscribe(one, keyA, a.url("/a"), "calls", "messages");
      for (int i = 0; i < B_SUBSCRIPTIONS; i++) {
        layers.subscribe(one, keyB, hanging.url("/b" + i), "calls", "messages");
      }
      LayerJar.Running two = layers.start("two");
      a.watch(one, two);
      hanging.watch(one, two);
      List<LayerJar.Running> both = List.of(one, two);

      // B's flood, through both instances in turn
      long floodStart = System.nanoTime();
      long now = Instant.now().getEpochSecond();
      int webhooks = 0;
      for (int e = 0; e < B_CALLS / 50; e++) {
        List<String> changes = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
          changes.add(Instances.call(PNID_B, "15550783881", "wacid.B" + e + "_" + i, now));
        }
        assertThat(layers.webhook(both.get(webhooks++ % 2), Instances.envelope(WABA_B, changes))).isEqualTo(200);
      }
      for (int e = 0; e < B_MESSAGES / 40; e++) {
        List<String> changes = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
          changes.add(Instances.message(PNID_B, "15550783881", "wamid.B" + e + "_" + i));
        }
        assertThat(layers.webhook(both.get(webhooks++ % 2), Instances.envelope(WABA_B, changes))).isEqualTo(200);
      }
      Duration flood = Duration.ofNanos(System.nanoTime() - floodStart);
      // B's attempts hang in both lanes (each runs to its timeout: 5 s for calls, 15 s for messages)
      assertThat(Instances.await(() -> hanging.arrived(one.pid()) + hanging.arrived(two.pid()) >= 16, Duration.ofSeconds(30)))
          .as("B's hanging attempts in flight%s", layers.logs(30)).isTrue();

      // A rings through instance one, then through instance two, then sends a message through instance two
      Duration ringOne = deliver(layers, one, a, 1,
          Instances.call(PNID_A, "13175551399", "wacid.A1", Instant.now().getEpochSecond()));
      Duration ringTwo = deliver(layers, two, a, 2,
          Instances.call(PNID_A, "13175551399", "wacid.A2", Instant.now().getEpochSecond()));
      Duration message = deliver(layers, two, a, 3, Instances.message(PNID_A, "13175551399", "wamid.A1"));
      List<InstanceSubscriber.Delivery> toA = a.received();

      System.out.printf("ScaleOutFairnessIT: A's ring through instance one delivered %d ms after its webhook (by %s), through"
          + " instance two %d ms (by %s); A's message through instance two %d ms (by %s); B's %d subscriptions hanging"
          + " (%d attempts accepted, never answered: %d from instance one, %d from instance two), %d rings and %d message"
          + " deliveries queued by %d webhooks through both instances in %d ms%n", ringOne.toMillis(), who(toA.get(0), one, two),
          ringTwo.toMillis(), who(toA.get(1), one, two), message.toMillis(), who(toA.get(2), one, two), B_SUBSCRIPTIONS,
          hanging.arrived(one.pid()) + hanging.arrived(two.pid()), hanging.arrived(one.pid()), hanging.arrived(two.pid()),
          B_CALLS * B_SUBSCRIPTIONS, B_MESSAGES * B_SUBSCRIPTIONS, webhooks, flood.toMillis());
      assertThat(toA.get(0).body()).contains("wacid.A1").contains("\"event\":\"connect\"");
      assertThat(toA.get(1).body()).contains("wacid.A2");
      assertThat(toA.get(2).body()).contains("wamid.A1");
      assertThat(ringOne).as("A's ring through instance one").isLessThan(BOUND);
      assertThat(ringTwo).as("A's ring through instance two").isLessThan(BOUND);
      assertThat(message).as("A's message").isLessThan(BOUND);
      assertThat(toA).as("each of A's deliveries made once").hasSize(3);
      assertThat(one.log() + two.log()).doesNotContain("OutOfMemoryError");
    } finally {
      end.countDown();
    }
  }

  /** Posts A's {@code change} through {@code layer}; how long until A's subscriber had its {@code nth} request. */
  private static Duration deliver(Instances layers, LayerJar.Running layer, InstanceSubscriber a, int nth, String change)
      throws Exception {
    long sent = System.nanoTime();
    assertThat(layers.webhook(layer, Instances.envelope(WABA_A, List.of(change)))).isEqualTo(200);
    assertThat(Instances.await(() -> a.received().size() >= nth, Duration.ofSeconds(30)))
        .as("A's delivery %d within 30 s%s", nth, layers.logs(30)).isTrue();
    return Duration.ofNanos(a.received().get(nth - 1).atNanos() - sent);
  }

  private static String who(InstanceSubscriber.Delivery d, LayerJar.Running one, LayerJar.Running two) {
    return d.owner() == one.pid() ? "instance one" : d.owner() == two.pid() ? "instance two" : "an unknown sender";
  }
}

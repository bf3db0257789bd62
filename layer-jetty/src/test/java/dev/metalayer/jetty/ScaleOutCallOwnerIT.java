package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.testing.TestDatabases;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A call is rung by the instance that received it: two layer processes on one PostgreSQL database,
 * rings posted to each are delivered by that one (the subscriber tells the sending process by its
 * connection, see {@link SocketOwners}). Then instance one receives two rings while the subscriber
 * refuses its attempts, is paused for 2 s (SIGSTOP, as a long GC pause) and resumed, and is killed with
 * {@code kill -9}: instance two never attempts them while instance one lives, its pause included; after
 * its death it delivers the ring whose TTL still runs, and never sends a call event after that event's
 * TTL (the ring whose TTL ran out meanwhile ends {@code expired}). The test prints how long the takeover
 * took.
 */
class ScaleOutCallOwnerIT {
  static final String PNID = "106540352242922";
  static final String WABA = "102290129340398";
  static final Duration CALL_TTL = Duration.ofSeconds(45); // the default LAYER_CALL_TTL
  /** How late after its TTL a request may arrive for an attempt started in time: generous, for a loaded machine. */
  static final Duration ARRIVAL_SLACK = Duration.ofSeconds(3);
  /** How long instance one is paused (SIGSTOP): well under the 5 s after which an instance counts as dead. */
  static final Duration PAUSE = Duration.ofSeconds(2);
  static final Pattern CALL_ID = Pattern.compile("\"id\":\"(wacid\\.[A-Z0-9]+)\"");

  @TempDir Path dir;

  @Test
  void aRingIsDeliveredByItsReceiverAndTakenOverOnlyAfterItsDeathWithinItsTtl() throws Exception {
    try (TestDatabases.PgSchema schema = TestDatabases.postgres();
        Instances layers = new Instances(dir, schema.url(), TestDatabases.PG_USER, TestDatabases.PG_PASSWORD);
        InstanceSubscriber subscriber = InstanceSubscriber.start()) {
      LayerJar.Running one = layers.start("one");
      layers.addNumber(one, PNID, WABA, "+15550783881");
      String key = layers.createKey(one, PNID).path("key").asText();
      String subscription = layers.subscribe(one, key, subscriber.url("/calls"), "calls");
      LayerJar.Running two = layers.start("two");
      subscriber.watch(one, two);
      List<LayerJar.Running> both = List.of(one, two);

      // 1. each ring is delivered by the instance it was posted to
      Map<String, Long> receivedBy = new HashMap<>();
      for (int i = 0; i < 6; i++) {
        LayerJar.Running receiver = both.get(i % 2);
        String callId = "wacid.OWN" + i;
        receivedBy.put(callId, receiver.pid());
        assertThat(layers.webhook(receiver, ring(callId, Instant.now().getEpochSecond()))).isEqualTo(200);
      }
      assertThat(Instances.await(() -> subscriber.received().size() >= 6, Duration.ofSeconds(30)))
          .as("the six rings delivered%s", layers.logs(30)).isTrue();
      for (InstanceSubscriber.Delivery d : subscriber.received()) {
        String callId = callId(d);
        assertThat(d.owner()).as("the ring %s was delivered by the instance it was posted to (pid %d; one is %d, two is %d)",
            callId, receivedBy.get(callId), one.pid(), two.pid()).isEqualTo(receivedBy.get(callId));
      }
      assertThat(subscriber.received()).hasSize(6);

      // 2. instance one receives two rings and fails to deliver them (the subscriber refuses it), then dies
      subscriber.answer(r -> r.owner() == one.pid() ? 503 : 200);
      long nowSeconds = Instant.now().getEpochSecond();
      assertThat(layers.webhook(one, ring("wacid.LIVE", nowSeconds))).isEqualTo(200);
      // Meta's timestamp 3 s short of the TTL: this ring expires 2 to 3 s after it arrives
      assertThat(layers.webhook(one, ring("wacid.LATE", nowSeconds - CALL_TTL.toSeconds() + 3))).isEqualTo(200);
      assertThat(Instances.await(() -> !attempts(subscriber, "wacid.LIVE", one).isEmpty()
          && !attempts(subscriber, "wacid.LATE", one).isEmpty(), Duration.ofSeconds(20)))
          .as("instance one attempting both rings%s", layers.logs(30)).isTrue();
      // a pause of the owner (as a long GC pause would be), shorter than the owner timeout: its rings' retries
      // fall due meanwhile, and instance two, polling every second, leaves them alone
      signal(one, "STOP");
      try {
        Thread.sleep(PAUSE.toMillis());
      } finally {
        signal(one, "CONT");
      }
      assertThat(attempts(subscriber, "wacid.LIVE", two)).as("instance two took over the ring of instance one, which was"
          + " paused %d ms, not dead", PAUSE.toMillis()).isEmpty();
      int beforeResume = attempts(subscriber, "wacid.LIVE", one).size();
      assertThat(Instances.await(() -> attempts(subscriber, "wacid.LIVE", one).size() > beforeResume,
          Duration.ofSeconds(20))).as("instance one retrying its ring after the pause%s", layers.logs(30)).isTrue();
      one.kill();
      long killed = System.nanoTime();
      long killedMillis = System.currentTimeMillis();
      List<InstanceSubscriber.Delivery> twoBeforeKill = subscriber.received(d -> d.owner() == two.pid()
          && d.atNanos() < killed && (callId(d).equals("wacid.LIVE") || callId(d).equals("wacid.LATE")));
      int oneAttempts = attempts(subscriber, "wacid.LIVE", one).size() + attempts(subscriber, "wacid.LATE", one).size();

      JsonNode live = delivery(layers, two, subscription, attempts(subscriber, "wacid.LIVE", one).get(0).webhookId());
      JsonNode late = delivery(layers, two, subscription, attempts(subscriber, "wacid.LATE", one).get(0).webhookId());
      Instant liveExpires = Instant.parse(live.path("expires_at").asText());
      Instant lateExpires = Instant.parse(late.path("expires_at").asText());
      long liveWait = Math.max(0, liveExpires.toEpochMilli() - System.currentTimeMillis()) + ARRIVAL_SLACK.toMillis()
          + 2_000;
      boolean takenOver = Instances.await(() -> attempts(subscriber, "wacid.LIVE", two).stream()
          .anyMatch(InstanceSubscriber.Delivery::ok), Duration.ofMillis(liveWait));
      // past the late ring's TTL too, and its state recorded
      Instances.await(() -> System.currentTimeMillis() > lateExpires.toEpochMilli() + ARRIVAL_SLACK.toMillis()
          && List.of("expired", "delivered").contains(delivery(layers, two, subscription, late.path("webhook_id").asText())
              .path("state").asText()), Duration.ofSeconds(60));
      String lateState = delivery(layers, two, subscription, late.path("webhook_id").asText()).path("state").asText();
      Optional<InstanceSubscriber.Delivery> liveByTwo = attempts(subscriber, "wacid.LIVE", two).stream().findFirst();

      System.out.printf("ScaleOutCallOwnerIT: 6 rings each delivered by the instance they were posted to; instance one made"
          + " %d refused attempts of its two rings, paused %d ms meanwhile, before its kill -9; instance two's first attempt"
          + " of the live ring came %s after the kill (its TTL ended at %+d ms from the kill); the short ring (TTL ended at"
          + " %+d ms from the kill) ended %s, attempted %d times by instance two%n", oneAttempts, PAUSE.toMillis(),
          liveByTwo.map(d -> (d.atNanos() - killed) / 1_000_000 + " ms").orElse("never"),
          liveExpires.toEpochMilli() - killedMillis, lateExpires.toEpochMilli() - killedMillis, lateState,
          attempts(subscriber, "wacid.LATE", two).size());

      assertThat(twoBeforeKill).as("instance two attempted instance one's rings while it lived (its pause included)")
          .isEmpty();
      assertThat(takenOver).as("instance two delivers the live ring after instance one's death, within its TTL%s",
          layers.logs(40)).isTrue();
      Map<String, Instant> expiries = Map.of("wacid.LIVE", liveExpires, "wacid.LATE", lateExpires);
      for (InstanceSubscriber.Delivery d : subscriber.received(d -> expiries.containsKey(callId(d)))) {
        assertThat(Instant.ofEpochMilli(d.atMillis())).as("an attempt of %s (by pid %d) arrived after its TTL", callId(d),
            d.owner()).isBefore(expiries.get(callId(d)).plus(ARRIVAL_SLACK));
      }
      assertThat(lateState).as("the ring whose TTL ran out").isIn("expired", "delivered");
      if (lateState.equals("delivered")) {
        assertThat(attempts(subscriber, "wacid.LATE", two)).anyMatch(InstanceSubscriber.Delivery::ok);
      }
      assertThat(subscriber.received(d -> d.ok() && callId(d).equals("wacid.LIVE"))).as("the live ring delivered once")
          .hasSize(1);
    }
  }

  /** The requests so far carrying call {@code callId} from {@code layer}. */
  private static List<InstanceSubscriber.Delivery> attempts(InstanceSubscriber subscriber, String callId,
      LayerJar.Running layer) {
    return subscriber.received(d -> d.owner() == layer.pid() && callId(d).equals(callId));
  }

  /** The delivery with {@code webhookId} in the subscription's log, read through {@code layer} (operator's view). */
  private static JsonNode delivery(Instances layers, LayerJar.Running layer, String subscription, String webhookId) {
    try {
      for (JsonNode d : layers.send(layer, "GET", "/admin/v1/webhooks/" + subscription + "/deliveries?limit=200",
          "Bearer " + LayerJar.ADMIN_TOKEN, null, 200).path("data")) {
        if (d.path("webhook_id").asText().equals(webhookId)) {
          return d;
        }
      }
    } catch (Exception e) {
      throw new AssertionError("reading the delivery log: " + e, e);
    }
    throw new AssertionError("no delivery " + webhookId + " in the log of " + subscription);
  }

  /** Sends {@code SIG<name>} to the layer process ({@code kill -STOP}, {@code kill -CONT}). */
  private static void signal(LayerJar.Running layer, String name) throws Exception {
    Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(layer.pid())).inheritIO().start();
    assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(kill.exitValue()).as("kill -" + name).isZero();
  }

  private static String callId(InstanceSubscriber.Delivery d) {
    Matcher m = CALL_ID.matcher(d.body());
    return m.find() ? m.group(1) : "";
  }

  private static byte[] ring(String callId, long timestamp) {
    return Instances.envelope(WABA, List.of(Instances.call(PNID, "15550783881", callId, timestamp)));
  }
}

package dev.metalayer.relay;

import dev.metalayer.relay.CallWebhookRelay.IngestResult;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A large envelope is acknowledged within Meta's webhook timeout (undocumented; the lowest claim is
 * 3 s) because it is stored first and routed after the answer, and the fan-out one envelope can cause
 * for one number is bounded, loudly. On the real H2 file.
 */
class LargeEnvelopeTest {
  static final int CHANGES = 4000;
  static final int SUBSCRIPTIONS = 25;
  /** The lowest webhook timeout anyone claims for Meta (third-party write-ups; Meta documents none). */
  static final Duration META_TIMEOUT = Duration.ofSeconds(3);

  @TempDir Path dir;

  @Test
  void anEnvelopeOf4000ChangesFor25SubscriptionsIsAcknowledgedWithinMetasTimeoutAndRoutedAfterwards() {
    MutableClock clock = new MutableClock(Instant.now());
    try (RelayHarness h = new RelayHarness(dir, clock)) {
      subscribeAll(h, List.of("calls", "messages"));
      byte[] body = envelope(CHANGES, clock.instant());

      long started = System.nanoTime();
      IngestResult.Accepted accepted = h.ingestSigned(body);
      Duration ack = Duration.ofNanos(System.nanoTime() - started);

      // the ring went in before the answer; the message deliveries are routed afterwards, within the bound
      assertThat(accepted.deliveries()).isEqualTo(SUBSCRIPTIONS);
      assertThat(accepted.routingLater()).isEqualTo(CallWebhookRelay.MAX_FANOUT_PER_NUMBER - SUBSCRIPTIONS);
      // calls first: the last message change's 25 deliveries are the ones over the bound
      assertThat(accepted.overFanOut()).isEqualTo(SUBSCRIPTIONS);
      assertThat(h.rows("layer_deliveries")).isEqualTo(SUBSCRIPTIONS);
      assertThat(h.db.withConnection(c -> {
        try (var st = c.createStatement();
            var rs = st.executeQuery("SELECT COUNT(*) FROM layer_envelopes WHERE routed = FALSE")) {
          rs.next();
          return rs.getInt(1);
        }
      }).intValue()).isEqualTo(1);
      System.out.printf("LargeEnvelopeTest: an envelope of %d changes (%d KB) for %d subscriptions (%d deliveries)"
          + " acknowledged in %d ms%n", CHANGES + 1, body.length / 1024, SUBSCRIPTIONS, accepted.deliveries()
          + accepted.routingLater(), ack.toMillis());
      assertThat(ack).as("acknowledgement").isLessThan(META_TIMEOUT);
    }
  }

  @Test
  void anEnvelopeAcknowledgedBeforeItsRoutingIsRoutedOnceAndCompletely() {
    MutableClock clock = new MutableClock(Instant.now());
    try (RelayHarness h = new RelayHarness(dir, clock)) {
      subscribeAll(h, List.of("calls", "messages"));
      // 50 messages and a ring for 25 subscriptions: 1,275 deliveries, more than are routed inline
      IngestResult.Accepted accepted = h.ingestSigned(envelope(50, clock.instant()));
      assertThat(accepted).isEqualTo(new IngestResult.Accepted(51, SUBSCRIPTIONS, 0, 50 * SUBSCRIPTIONS, 0));

      assertThat(((WebhookRelay) h.layer.relay()).routeStored()).isEqualTo(1);
      assertThat(h.rows("layer_deliveries")).isEqualTo(51 * SUBSCRIPTIONS);
      // routing again (as after a crash in the middle of it) queues nothing twice
      assertThat(((WebhookRelay) h.layer.relay()).routeStored()).isZero();
      assertThat(h.rows("layer_deliveries")).isEqualTo(51 * SUBSCRIPTIONS);
    }
  }

  @Test
  void anEnvelopeStoredUnroutedWhenTheProcessStoppedIsRoutedAtTheNextStart() throws Exception {
    MutableClock clock = new MutableClock(Instant.now());
    try (RelayHarness h = new RelayHarness(dir, clock)) {
      subscribeAll(h, List.of("messages"));
      assertThat(h.ingestSigned(envelope(50, clock.instant())).routingLater()).isEqualTo(50 * SUBSCRIPTIONS);
      // the process stops here, never having started its router
    }
    try (RelayHarness again = new RelayHarness(dir, clock)) {
      again.layer.relay().start();
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (again.rows("layer_deliveries") < 50 * SUBSCRIPTIONS && System.nanoTime() < deadline) {
        java.util.concurrent.locks.LockSupport.parkNanos(20_000_000L); // a poll interval, not a timing assumption
      }
      assertThat(again.rows("layer_deliveries")).isEqualTo(50 * SUBSCRIPTIONS);
    }
  }

  @Test
  void aSmallEnvelopeIsRoutedBeforeTheAnswerAsBefore() {
    MutableClock clock = new MutableClock(Instant.now());
    try (RelayHarness h = new RelayHarness(dir, clock)) {
      h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/s", List.of("calls", "messages"), null, false);

      IngestResult.Accepted accepted = h.ingestSigned(envelope(10, clock.instant()));

      assertThat(accepted).isEqualTo(new IngestResult.Accepted(11, 11, 0));
      assertThat(h.rows("layer_deliveries")).isEqualTo(11);
      assertThat(((WebhookRelay) h.layer.relay()).routeStored()).isZero();
    }
  }

  @Test
  void anEnvelopeOfExactlyTheInlineBoundIsStillRoutedBeforeTheAnswer() {
    MutableClock clock = new MutableClock(Instant.now());
    try (RelayHarness h = new RelayHarness(dir, clock)) {
      subscribeAll(h, List.of("calls", "messages"));
      // 39 messages and a ring for 25 subscriptions: 1,000 deliveries, the most routed inline
      int messages = Router.INLINE_ROUTING / SUBSCRIPTIONS - 1;

      IngestResult.Accepted accepted = h.ingestSigned(envelope(messages, clock.instant()));

      assertThat(accepted).isEqualTo(new IngestResult.Accepted(messages + 1, Router.INLINE_ROUTING, 0));
      assertThat(h.rows("layer_deliveries")).isEqualTo(Router.INLINE_ROUTING);
    }
  }

  /**
   * Another instance routes the same stored envelope at the same time and takes a delivery's key
   * first: the chunk is written once more, the deliveries already queued skipped, and routing goes on.
   */
  @Test
  void aChunkRacedByAnotherInstanceIsWrittenOnceMoreAndTheEnvelopeRoutedCompletely() {
    MutableClock clock = new MutableClock(Instant.now());
    AtomicBoolean raced = new AtomicBoolean();
    try (RelayHarness h = new RelayHarness(dir, clock, List.of(RelayHarness.APP_SECRET), false,
        real -> RelayHarness.hooked(real, (method, args) -> {
          if (method.equals("route") && raced.compareAndSet(false, true)) {
            @SuppressWarnings("unchecked")
            List<RelayStore.NewDelivery> chunk = (List<RelayStore.NewDelivery>) args[1];
            // the other instance's deliveries: the same changes for the same subscriptions, its own ids
            List<RelayStore.NewDelivery> theirs = new ArrayList<>();
            for (RelayStore.NewDelivery d : chunk) {
              theirs.add(RelayStore.NewDelivery.builder().ids("dlv_other" + theirs.size(), d.subscriptionId(),
                  (String) args[0]).change(d.webhookId(), d.field(), d.lane(), d.body())
                  .maxAttempts(d.maxAttempts()).createdAt(d.createdAt()).build());
            }
            real.route((String) args[0], theirs, false);
            throw new StoreException("unique key taken", new IllegalStateException("23505"), true);
          }
        }))) {
      subscribeAll(h, List.of("calls", "messages"));
      assertThat(h.ingestSigned(envelope(50, clock.instant())).routingLater()).isEqualTo(50 * SUBSCRIPTIONS);

      assertThat(((WebhookRelay) h.layer.relay()).routeStored()).isEqualTo(1);

      assertThat(raced).isTrue();
      assertThat(h.rows("layer_deliveries")).isEqualTo(51 * SUBSCRIPTIONS);
      assertThat(((WebhookRelay) h.layer.relay()).routeStored()).as("the envelope is marked routed").isZero();
    }
  }

  @Test
  void aStoredEnvelopeThatNoLongerParsesIsSetAsideWithoutBlockingTheOthers() {
    MutableClock clock = new MutableClock(Instant.now());
    try (RelayHarness h = new RelayHarness(dir, clock)) {
      subscribeAll(h, List.of("messages"));
      Stores.relay(h.db).ingestUnrouted(new RelayStore.Envelope("env_unreadable", "{\"object\":".getBytes(
          StandardCharsets.UTF_8), clock.instant()), List.of());
      clock.advance(Duration.ofSeconds(1));
      assertThat(h.ingestSigned(envelope(50, clock.instant())).routingLater()).isEqualTo(50 * SUBSCRIPTIONS);

      assertThat(((WebhookRelay) h.layer.relay()).routeStored()).isEqualTo(2);

      assertThat(h.rows("layer_deliveries")).isEqualTo(50 * SUBSCRIPTIONS);
      assertThat(((WebhookRelay) h.layer.relay()).routeStored()).as("neither is left unrouted").isZero();
      assertThat(Stores.relay(h.db).findEnvelope("env_unreadable")).as("kept").isPresent();
    }
  }

  /**
   * A large envelope ingested while the relay runs wakes the background router: it is routed at once,
   * not at the router's next sweep a minute later (the first sweep runs at start, so only the second
   * envelope shows it).
   */
  @Test
  void aLargeEnvelopeIngestedWhileTheRelayRunsIsRoutedAtOnceNotAtTheNextSweep() {
    MutableClock clock = new MutableClock(Instant.now());
    try (RelayHarness h = new RelayHarness(dir, clock)) {
      subscribeAll(h, List.of("messages"));
      h.layer.relay().start();
      for (int round = 1; round <= 2; round++) {
        clock.advance(Duration.ofSeconds(1));
        assertThat(h.ingestSigned(envelope(50 * round, clock.instant())).routingLater()).isPositive();
        // well under the router's one-minute sweep
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (unrouted(h) > 0 && System.nanoTime() < deadline) {
          java.util.concurrent.locks.LockSupport.parkNanos(20_000_000L); // a poll interval, not a timing assumption
        }
        assertThat(unrouted(h)).as("envelopes left unrouted after round %d", round).isZero();
      }
      assertThat(h.rows("layer_deliveries")).isEqualTo(100 * SUBSCRIPTIONS);
    }
  }

  /**
   * Stopping the relay waits for the routing in progress to finish its write (the envelope stays stored,
   * and the next start routes the rest): a chunk held inside the store's write is written before close
   * returns, not cut off under a store that is being closed.
   */
  @Test
  void closeWaitsForTheChunkBeingWritten() throws Exception {
    MutableClock clock = new MutableClock(Instant.now());
    java.util.concurrent.CountDownLatch writing = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    try (RelayHarness h = new RelayHarness(dir, clock, List.of(RelayHarness.APP_SECRET), false,
        real -> RelayHarness.hooked(real, (method, args) -> {
          if (method.equals("route") && writing.getCount() > 0) {
            writing.countDown();
            release.await(20, java.util.concurrent.TimeUnit.SECONDS);
          }
        }))) {
      subscribeAll(h, List.of("messages"));
      h.layer.relay().start();
      assertThat(h.ingestSigned(envelope(50, clock.instant())).routingLater()).isEqualTo(50 * SUBSCRIPTIONS);
      assertThat(writing.await(20, java.util.concurrent.TimeUnit.SECONDS)).as("the router is writing a chunk").isTrue();

      java.util.concurrent.atomic.AtomicLong rowsAtClose = new java.util.concurrent.atomic.AtomicLong(-1);
      java.util.concurrent.CompletableFuture<Void> closing = java.util.concurrent.CompletableFuture.runAsync(() -> {
        h.layer.relay().close();
        rowsAtClose.set(h.rows("layer_deliveries"));
      });
      boolean closedWhileWriting = closing.isDone() || waitsFor(closing, Duration.ofMillis(300));
      release.countDown();
      closing.get(30, java.util.concurrent.TimeUnit.SECONDS);

      assertThat(closedWhileWriting).as("close returned while a chunk was being written").isFalse();
      assertThat(rowsAtClose.get()).as("the held chunk was written before close returned")
          .isGreaterThanOrEqualTo(Router.ROUTING_CHUNK);
    }
  }

  /** Whether {@code f} completes within {@code d}. */
  private static boolean waitsFor(java.util.concurrent.CompletableFuture<?> f, Duration d) throws Exception {
    try {
      f.get(d.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
      return true;
    } catch (java.util.concurrent.TimeoutException stillRunning) {
      return false;
    }
  }

  /** {@link #SUBSCRIPTIONS} subscriptions of PNID_1 to {@code events}, at an address nothing listens on. */
  private static void subscribeAll(RelayHarness h, List<String> events) {
    for (int i = 0; i < SUBSCRIPTIONS; i++) {
      h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/s" + i, events, null, false);
    }
  }

  private static int unrouted(RelayHarness h) {
    return h.db.withConnection(c -> {
      try (var st = c.createStatement();
          var rs = st.executeQuery("SELECT COUNT(*) FROM layer_envelopes WHERE routed = FALSE")) {
        rs.next();
        return rs.getInt(1);
      }
    });
  }

  /** {@code messages} message changes for PNID_1, after one call {@code connect} at the end of the list. */
  static byte[] envelope(int messages, Instant now) {
    List<String> changes = new ArrayList<>();
    for (int i = 0; i < messages; i++) {
      changes.add("{\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{"
          + "\"display_phone_number\":\"13175551399\",\"phone_number_id\":\"" + RelayHarness.PNID_1 + "\"},\"messages\":"
          + "[{\"from\":\"16315553602\",\"id\":\"wamid.L" + i + "\",\"timestamp\":\"1749196801\",\"type\":\"text\","
          + "\"text\":{\"body\":\"message " + i + "\"}}]}}");
    }
    // the ring comes last in the envelope, and is routed first
    changes.add("{\"field\":\"calls\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{"
        + "\"display_phone_number\":\"13175551399\",\"phone_number_id\":\"" + RelayHarness.PNID_1 + "\"},\"calls\":"
        + "[{\"id\":\"wacid.L1\",\"from\":\"12185552828\",\"to\":\"13175551399\",\"event\":\"connect\",\"timestamp\":\""
        + now.getEpochSecond() + "\",\"direction\":\"USER_INITIATED\"}]}}");
    return ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + RelayHarness.WABA_1 + "\",\"changes\":["
        + String.join(",", changes) + "]}]}").getBytes(StandardCharsets.UTF_8);
  }
}

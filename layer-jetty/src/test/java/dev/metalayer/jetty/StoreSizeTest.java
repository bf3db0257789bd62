package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.MetaLayer;
import dev.metalayer.relay.EgressGuard;
import dev.metalayer.relay.CallWebhookRelay.IngestResult;
import dev.metalayer.relay.WebhookSubscriptions.Spec;
import dev.metalayer.store.Stores;
import dev.metalayer.relay.RelayStore;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedded store's file tracks live data: webhooks relayed through the real H2 file (the layer's
 * own settings), then purged by retention, with the store's compaction pass run as its thread runs it
 * every {@value H2Store#COMPACT_EVERY_SECONDS} s. Prints the figures documented in docs/security.md.
 */
class StoreSizeTest {
  static final int WEBHOOKS = 100;
  static final int COMPACT_EVERY = 50;
  static final int ROUNDS = 3;
  static final String APP_SECRET = "store-size-secret";
  static final String PNID = "436666719526789";

  @TempDir Path dir;
  final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  H2Store store;
  MetaLayer layer;
  RecordingSubscriber subscriber;

  @BeforeEach
  void setUp() {
    store = H2Store.open(dir);
    layer = MetaLayer.builder()
        .keyStore(Stores.keys(store.database()))
        .masterKey(new byte[32])
        .clock(clock)
        .relayStore(Stores.relay(store.database()))
        .egressGuard(EgressGuard.of(false, List.of("127.0.0.0/8")))
        .appSecrets(List.of(APP_SECRET))
        .build();
    layer.keys().addNumber("+13175551399", PNID, "366634483210360", "900", "EAAG-token");
    subscriber = RecordingSubscriber.start();
    layer.relay().subscriptions().create(PNID,
        new Spec("Chatwoot", subscriber.url("/hook"), List.of("messages"), "subscriber-secret", false, null));
  }

  @AfterEach
  void tearDown() {
    subscriber.close();
    store.close();
  }

  /** Relays {@code n} one-message webhooks, each delivered once; compacts every {@value #COMPACT_EVERY}. */
  private void relay(String prefix, int n, boolean compact) {
    for (int i = 0; i < n; i++) {
      byte[] body = message(prefix + i);
      assertThat(layer.relay().ingest(body, MetaFixtures.metaSignature(APP_SECRET, body)))
          .isInstanceOf(IngestResult.Accepted.class);
      assertThat(layer.relay().runDueNow()).isEqualTo(1);
      clock.advance(Duration.ofSeconds(1));
      if (compact && i % COMPACT_EVERY == COMPACT_EVERY - 1) {
        store.compact();
      }
    }
  }

  @Test
  void theFileStopsGrowingOnceTheRoomOfPurgedDeliveriesIsReused() {
    long empty = compacted();
    long[] rounds = new long[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
      relay("wamid.round" + round + ".", WEBHOOKS, true);
      assertThat(store.size().deliveries()).isEqualTo(WEBHOOKS);
      rounds[round] = compacted();
      clock.advance(Duration.ofDays(15));
      assertThat(layer.relay().purge().deliveries()).isEqualTo(WEBHOOKS);
    }
    System.out.printf("store figures: empty %,d bytes; after each round of %d deliveries kept then purged: %s bytes"
        + " (body %d bytes)%n", empty, WEBHOOKS, java.util.Arrays.stream(rounds).mapToObj(r -> String.format("%,d", r))
        .collect(java.util.stream.Collectors.joining(", ")), message("wamid.round0.0").length);
    // the first round's room is reused by the next ones: the file grows with what is live, not with
    // every commit (without reuse each round would add about 60 KB per delivery, 6 MB)
    for (int round = 1; round < ROUNDS; round++) {
      assertThat(rounds[round]).as("the file after round %d", round + 1).isLessThan(rounds[0] + 512 * 1024);
    }
    assertThat(rounds[0] - empty).as("bytes the first round added").isLessThan(WEBHOOKS * 32L * 1024);
  }

  /**
   * The file's size once a compaction pass has nothing left to rewrite, and the retention time
   * ({@value H2Store#RETENTION_MS} ms) let the emptied chunks be reused: passes are repeated a second apart
   * until one changes nothing (H2's retention is on its own clock, not the test's).
   */
  private long compacted() {
    long size = store.compact();
    for (int pass = 0; pass < 4; pass++) {
      try {
        Thread.sleep(H2Store.RETENTION_MS + 100); // H2's retention time runs on the wall clock
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
      long next = store.compact();
      if (next >= size) {
        return Math.min(size, next);
      }
      size = next;
    }
    return size;
  }

  @Test
  void compactingWhileTheRelayWorksLosesNothing() throws Exception {
    int threads = 4;
    int each = 40;
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
    java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.atomic.AtomicInteger passes = new java.util.concurrent.atomic.AtomicInteger();
    Thread compactor = new Thread(() -> {
      while (!done.get()) {
        store.compact();
        passes.incrementAndGet();
      }
    }, "test-compactor");
    compactor.start();
    List<java.util.concurrent.Future<?>> work = new java.util.ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      work.add(pool.submit(() -> {
        for (int i = 0; i < each; i++) {
          byte[] body = message("wamid.concurrent." + thread + "." + i);
          assertThat(layer.relay().ingest(body, MetaFixtures.metaSignature(APP_SECRET, body)))
              .isInstanceOf(IngestResult.Accepted.class);
          layer.relay().runDueNow();
        }
        return null;
      }));
    }
    for (java.util.concurrent.Future<?> f : work) {
      f.get(120, java.util.concurrent.TimeUnit.SECONDS);
    }
    done.set(true);
    compactor.join(30_000);
    pool.shutdown();
    while (layer.relay().runDueNow() > 0) {
      // the deliveries a thread claimed after another's ingest are all sent by now; this sends any left
    }

    assertThat(passes.get()).as("compaction passes during the work").isPositive();
    assertThat(subscriber.count()).isEqualTo(threads * each);
    store.close();
    store = H2Store.open(dir);
    assertThat(store.size().deliveries()).as("every delivery, read back from the reopened file").isEqualTo(threads * each);
    assertThat(store.size().envelopes()).isEqualTo(threads * each);
  }

  static byte[] message(String id) {
    return ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"366634483210360\",\"changes\":[{"
        + "\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":"
        + "\"13175551399\",\"phone_number_id\":\"" + PNID + "\"},\"contacts\":[{\"profile\":{\"name\":\"Kerry Fisher\"},"
        + "\"wa_id\":\"16315551234\"}],\"messages\":[{\"from\":\"16315551234\",\"id\":\"" + id + "\",\"timestamp\":"
        + "\"1749196801\",\"type\":\"text\",\"text\":{\"body\":\"Hello, I would like to know more about your opening"
        + " hours this week.\"}}]}}]}]}").getBytes(StandardCharsets.UTF_8);
  }
}

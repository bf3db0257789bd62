package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.metalayer.relay.CallWebhookRelay.IngestResult;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The relay's store fails (a database outage): a webhook is answered 503, which Meta retries, and nothing
 * is acknowledged that was not stored. While it fails, one webhook at a time asks the store again, at
 * most once per {@link WebhookRelay#STORE_PROBE}; the rest are answered at once instead of each holding a
 * request thread for the store's timeout. The first webhook stored ends the outage. Time runs on a
 * {@link MutableClock}; the store is the real H2 one behind a switch that fails its writes.
 */
class RelayStoreOutageTest {
  @TempDir Path dir;

  final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  final byte[] body = MetaFixtures.bytes("multi-entry.json");
  /** While set, a store write of an ingest that begins throws, as a pool that cannot reach its database does. */
  final AtomicBoolean down = new AtomicBoolean();
  /** How many ingests reached the store's write. */
  final AtomicInteger writes = new AtomicInteger();
  /** Run inside the store's write when set (once): a test holds a probe there. */
  final AtomicReference<Runnable> insideWrite = new AtomicReference<>();
  final ListAppender<ILoggingEvent> lines = new ListAppender<>();
  final Logger relayLog = (Logger) LoggerFactory.getLogger(WebhookRelay.class);
  RelayHarness h;

  @BeforeEach
  void setUp() {
    h = new RelayHarness(dir, clock, List.of(RelayHarness.APP_SECRET), false, real -> RelayHarness.hooked(real,
        (method, args) -> {
          if (method.equals("ingest") || method.equals("ingestUnrouted")) {
            writes.incrementAndGet();
            boolean fails = down.get();
            Runnable inside = insideWrite.getAndSet(null);
            if (inside != null) {
              inside.run();
            }
            if (fails) {
              throw new StoreException("database transaction failed", new java.sql.SQLException("refused"), false);
            }
          }
        }));
    h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:9/h", List.of("*"), null, false);
    lines.start();
    relayLog.addAppender(lines);
  }

  @AfterEach
  void tearDown() {
    relayLog.detachAppender(lines);
    h.close();
  }

  private IngestResult ingest() {
    return h.layer.relay().ingest(body, MetaFixtures.metaSignature(RelayHarness.APP_SECRET, body));
  }

  /** An ingest on another thread, returned once it is inside the store's write, where it waits for {@code release}. */
  private CompletableFuture<IngestResult> ingestHeldInsideTheWrite(CountDownLatch release) throws InterruptedException {
    CountDownLatch inside = new CountDownLatch(1);
    insideWrite.set(() -> {
      inside.countDown();
      try {
        release.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    CompletableFuture<IngestResult> held = CompletableFuture.supplyAsync(this::ingest);
    assertThat(inside.await(10, TimeUnit.SECONDS)).as("the ingest reached the store's write").isTrue();
    return held;
  }

  private static void assertUnavailable(IngestResult r) {
    assertThat(r).isInstanceOfSatisfying(IngestResult.Refused.class, refused -> {
      assertThat(refused.reason()).isEqualTo(IngestResult.Reason.STORE_UNAVAILABLE);
      assertThat(refused.error().status()).isEqualTo(503);
      assertThat(refused.error().message()).isEqualTo("The layer cannot store webhooks right now; retry later.");
    });
  }

  @Test
  void duringAnOutageTheStoreIsAskedOncePerSecondAndTheRestAreAnsweredAtOnce() {
    down.set(true);
    assertUnavailable(ingest());
    assertThat(writes).as("the first webhook of the outage asks the store").hasValue(1);

    assertUnavailable(ingest());
    clock.advance(WebhookRelay.STORE_PROBE.minusMillis(1));
    assertUnavailable(ingest());
    assertThat(writes).as("within a second of the failure nobody asks again").hasValue(1);

    clock.advance(Duration.ofMillis(1));
    assertUnavailable(ingest());
    assertThat(writes).as("a second after the failure, one webhook asks again").hasValue(2);
    assertUnavailable(ingest());
    assertThat(writes).as("and the failed probe starts a new second").hasValue(2);

    down.set(false);
    clock.advance(WebhookRelay.STORE_PROBE);
    assertThat(ingest()).isInstanceOf(IngestResult.Accepted.class);
    assertThat(ingest()).as("once a webhook is stored, the next asks the store at once")
        .isInstanceOf(IngestResult.Accepted.class);
    assertThat(writes).hasValue(4);
    assertThat(h.rows("layer_envelopes")).as("only what was stored is acknowledged").isEqualTo(2);
  }

  @Test
  void theOutageIsWarnedOnceWithTheStoresReasonAndNoBody() {
    down.set(true);
    for (int i = 0; i < 5; i++) {
      assertUnavailable(ingest());
      clock.advance(WebhookRelay.STORE_PROBE);
    }

    assertThat(writes).hasValue(5);
    List<ILoggingEvent> warnings = lines.list.stream().filter(e -> e.getLevel() == Level.WARN).toList();
    assertThat(warnings).as("one WARN per minute, not one per webhook").hasSize(1);
    assertThat(warnings.get(0).getFormattedMessage()).isEqualTo(
        "Webhook answered 503 (Meta sends it again): the store failed (database transaction failed: SQLException)");
  }

  @Test
  void whileOneWebhookAsksTheFailedStoreTheOthersDoNotWaitForIt() throws Exception {
    down.set(true);
    assertUnavailable(ingest());
    clock.advance(WebhookRelay.STORE_PROBE);
    CountDownLatch release = new CountDownLatch(1);
    CompletableFuture<IngestResult> probe = ingestHeldInsideTheWrite(release);
    assertUnavailable(ingest());
    assertThat(writes).as("a second webhook during the probe is not sent to the store").hasValue(2);

    down.set(false);
    release.countDown();
    assertUnavailable(probe.get(10, TimeUnit.SECONDS));
    // the probe failed (the store was down when it asked): the next may ask only a second later
    assertUnavailable(ingest());
    assertThat(writes).hasValue(2);
    clock.advance(WebhookRelay.STORE_PROBE);
    assertThat(ingest()).as("the probe's flag is cleared after it").isInstanceOf(IngestResult.Accepted.class);
  }

  @Test
  void afterTheOutageWebhooksAreStoredSideBySideAgain() throws Exception {
    down.set(true);
    assertUnavailable(ingest());
    down.set(false);
    clock.advance(WebhookRelay.STORE_PROBE);
    assertThat(ingest()).isInstanceOf(IngestResult.Accepted.class);
    CountDownLatch release = new CountDownLatch(1);
    CompletableFuture<IngestResult> slow = ingestHeldInsideTheWrite(release);
    IngestResult meanwhile = ingest();
    release.countDown();

    assertThat(meanwhile).as("a webhook beside a slow one is no probe: the outage is over")
        .isInstanceOf(IngestResult.Accepted.class);
    assertThat(slow.get(10, TimeUnit.SECONDS)).isInstanceOf(IngestResult.Accepted.class);
    assertThat(h.rows("layer_envelopes")).isEqualTo(3);
  }
}

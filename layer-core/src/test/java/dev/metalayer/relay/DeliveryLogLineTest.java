package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.metalayer.testing.MutableClock;
import dev.metalayer.testing.RecordingSubscriber;
import dev.metalayer.testing.RecordingSubscriber.Answer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.event.KeyValuePair;

/**
 * The delivery log ({@code dev.metalayer.deliveries}): one INFO line per attempt sent, whose key-value
 * pairs say which delivery, which attempt, what the subscriber answered and what follows; never the
 * subscriber's URL or answer. And the request as a subscriber sees it (its identifying headers).
 */
class DeliveryLogLineTest {
  @TempDir Path dir;
  final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  final ListAppender<ILoggingEvent> logged = new ListAppender<>();
  final Logger deliveries = (Logger) Attempter.deliveries;
  RelayHarness h;
  RecordingSubscriber subscriber;
  volatile int status = 200;

  @BeforeEach
  void setUp() {
    logged.start();
    deliveries.addAppender(logged);
    h = new RelayHarness(dir, clock);
    subscriber = RecordingSubscriber.start();
    subscriber.answer(r -> new Answer(status, Map.of(), "answer-text-never-logged"));
  }

  @AfterEach
  void tearDown() {
    deliveries.detachAppender(logged);
    h.close();
    subscriber.close();
  }

  /** The key-value pairs of each line, in order. */
  List<Map<String, Object>> lines() {
    return logged.list.stream().map(e -> {
      Map<String, Object> pairs = new LinkedHashMap<>();
      for (KeyValuePair p : e.getKeyValuePairs()) {
        pairs.put(p.key, p.value);
      }
      assertThat(e.getFormattedMessage()).isEqualTo("delivery attempt");
      assertThat(e.getLevel()).isEqualTo(ch.qos.logback.classic.Level.INFO);
      return pairs;
    }).toList();
  }

  Delivery only(Subscription s) {
    List<Delivery> all = h.subscriptions().deliveries(s.phoneNumberId(), s.id(), Optional.empty(), 50).orElseThrow();
    assertThat(all).hasSize(1);
    return all.get(0);
  }

  @Test
  void aDeliveredAttemptIsOneLineNamingTheDeliveryItsAttemptStatusAndOutcome() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/hook"), List.of("messages"), null, false);
    h.ingestSigned(RelayTimeRulesTest.message("wamid.log1"));

    h.layer.relay().runDueNow();

    Delivery d = only(s);
    assertThat(lines()).hasSize(1);
    Map<String, Object> line = lines().get(0);
    assertThat(line).containsEntry("number_id", RelayHarness.PNID_1)
        .containsEntry("delivery_id", d.id())
        .containsEntry("subscription_id", s.id())
        .containsEntry("lane", "default")
        .containsEntry("attempt", 1)
        .containsEntry("method", "POST")
        .containsEntry("status", 200)
        .containsEntry("outcome", "delivered")
        .containsKey("latency_ms")
        .containsKey("request_id")
        .doesNotContainKey("error");
    assertThat(line.keySet()).containsExactly("request_id", "number_id", "delivery_id", "subscription_id", "lane",
        "attempt", "method", "status", "outcome", "latency_ms");
    assertThat(line.values()).noneMatch(v -> String.valueOf(v).contains("answer-text-never-logged")
        || String.valueOf(v).contains("127.0.0.1"));
  }

  @Test
  void aFailedAttemptCountsOnAndEndsDeadOrGoneAsTheSubscriberSays() {
    status = 503;
    Subscription s = h.subscribe(RelayHarness.PNID_1, subscriber.url("/busy"), List.of("messages"), null, false);
    h.ingestSigned(RelayTimeRulesTest.message("wamid.log2"));

    h.layer.relay().runDueNow();
    clock.advance(java.time.Duration.ofHours(1));
    status = 410;
    h.layer.relay().runDueNow();

    assertThat(lines()).extracting(l -> l.get("attempt"), l -> l.get("status"), l -> l.get("outcome"))
        .containsExactly(org.assertj.core.groups.Tuple.tuple(1, 503, "retry"),
            org.assertj.core.groups.Tuple.tuple(2, 410, "gone"));
    assertThat(only(s).state()).isEqualTo(DeliveryState.DEAD);
  }

  @Test
  void anUnansweredAttemptHasAnErrorClassAndNoStatus() {
    Subscription s = h.subscribe(RelayHarness.PNID_1, "http://127.0.0.1:1/nothing-listens", List.of("calls"), null,
        false);
    h.ingestSigned(RelayTimeRulesTest.callEvent("wacid.log3", "connect", clock.instant()));

    h.layer.relay().runDueNow();

    Map<String, Object> line = lines().get(0);
    assertThat(line).containsEntry("lane", "calls").containsEntry("outcome", "retry")
        .containsEntry("error", "connection_refused").doesNotContainKey("status");
    assertThat(only(s).state()).isEqualTo(DeliveryState.PENDING);
  }

  @Test
  void aSubscriberSeesWhoSendsAndWhenInItsHeaders() {
    h.subscribe(RelayHarness.PNID_1, subscriber.url("/hook"), List.of("messages"), null, false);
    h.ingestSigned(RelayTimeRulesTest.message("wamid.log4"));

    h.layer.relay().runDueNow();

    RecordingSubscriber.Received r = subscriber.received().get(0);
    assertThat(r.header("user-agent")).startsWith("MetaLayer/");
    assertThat(r.header("content-type")).isEqualTo("application/json");
    assertThat(r.header("webhook-timestamp")).isEqualTo(Long.toString(clock.instant().getEpochSecond()));
    assertThat(r.header("webhook-id")).isNotBlank();
    assertThat(r.header("webhook-signature")).as("no secret, no signature").isNull();
  }
}

package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class MediaConcurrencyTest {
  @Test
  void aKeyGetsAtMostItsCapAndEachSlotComesBackOnce() {
    MediaConcurrency cap = new MediaConcurrency(2);
    MediaConcurrency.Slot first = cap.tryAcquire("key-a");
    MediaConcurrency.Slot second = cap.tryAcquire("key-a");
    assertThat(first).isNotNull();
    assertThat(second).isNotNull();
    assertThat(cap.tryAcquire("key-a")).isNull();
    assertThat(cap.tryAcquire("key-b")).as("another key is not affected").isNotNull();

    first.close();
    first.close(); // a second close gives nothing back twice
    assertThat(cap.inFlight("key-a")).isEqualTo(1);
    MediaConcurrency.Slot third = cap.tryAcquire("key-a");
    assertThat(third).isNotNull();
    assertThat(cap.tryAcquire("key-a")).isNull();
    second.close();
    third.close();
    assertThat(cap.inFlight("key-a")).isZero();
  }

  @Test
  void theRefusalIsAGraphShaped429WithRetryAfter() {
    GraphError busy = MediaConcurrency.busy();
    assertThat(busy.status()).isEqualTo(429);
    assertThat(busy.retryAfter()).isEqualTo(Integer.toString(GraphError.RETRY_AFTER_SECONDS));
    assertThat(GraphAnswer.of(busy).header("retry-after")).isEqualTo(busy.retryAfter());
  }
}

package dev.metalayer.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.testing.MutableClock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class FailedAttemptsTest {
  final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  final FailedAttempts attempts = new FailedAttempts(3, Duration.ofMinutes(1), clock);

  @Test
  void aSourceIsRefusedAfterItsLimitUntilItsWindowEnds() {
    assertThat(attempts.refusedFor("10.0.0.1")).isEmpty();
    assertThat(attempts.failed("10.0.0.1")).isEqualTo(new FailedAttempts.Failure(1, false));
    clock.advance(Duration.ofSeconds(20));
    attempts.failed("10.0.0.1");
    assertThat(attempts.refusedFor("10.0.0.1")).isEmpty();
    assertThat(attempts.failed("10.0.0.1")).isEqualTo(new FailedAttempts.Failure(3, true));

    assertThat(attempts.refusedFor("10.0.0.1")).contains(Duration.ofSeconds(40));
    clock.advance(Duration.ofMillis(39_500));
    assertThat(attempts.refusedFor("10.0.0.1")).as("rounded up, never zero").contains(Duration.ofSeconds(1));
    clock.advance(Duration.ofMillis(500));
    assertThat(attempts.refusedFor("10.0.0.1")).isEmpty();
    assertThat(attempts.failed("10.0.0.1").count()).as("a new window").isEqualTo(1);
  }

  @Test
  void otherSourcesAreNotRefusedForOnesFailures() {
    for (int i = 0; i < 5; i++) {
      attempts.failed("10.0.0.1");
    }
    assertThat(attempts.refusedFor("10.0.0.1")).isPresent();
    assertThat(attempts.refusedFor("10.0.0.2")).isEmpty();
  }

  @Test
  void aRefusalIsReportedOncePerWindow() {
    for (int i = 0; i < 3; i++) {
      attempts.failed("10.0.0.1");
    }
    assertThat(attempts.firstRefusal("10.0.0.1")).isTrue();
    assertThat(attempts.firstRefusal("10.0.0.1")).isFalse();
    clock.advance(Duration.ofMinutes(1));
    for (int i = 0; i < 3; i++) {
      attempts.failed("10.0.0.1");
    }
    assertThat(attempts.firstRefusal("10.0.0.1")).isTrue();
  }

  @Test
  void memoryIsBoundedWhateverTheNumberOfSources() {
    for (int i = 0; i < FailedAttempts.MAX_SOURCES + 100; i++) {
      attempts.failed("src-" + i);
    }
    for (int i = 0; i < 2; i++) {
      attempts.failed("src-" + (FailedAttempts.MAX_SOURCES + 99));
    }
    assertThat(attempts.refusedFor("src-" + (FailedAttempts.MAX_SOURCES + 99))).as("a recent source is kept").isPresent();
    attempts.failed("src-0");
    assertThat(attempts.failed("src-0").count()).as("the oldest was forgotten").isEqualTo(2);
  }

  @Test
  void oneFailureMayBeTheLimitAndAWindowMustBePositive() {
    FailedAttempts strict = new FailedAttempts(1, Duration.ofSeconds(1), clock);
    assertThat(strict.failed("10.0.0.1")).isEqualTo(new FailedAttempts.Failure(1, true));
    assertThat(strict.refusedFor("10.0.0.1")).contains(Duration.ofSeconds(1));
    assertThat(strict.limit()).isEqualTo(1);
    assertThat(strict.window()).isEqualTo(Duration.ofSeconds(1));
    assertThatThrownBy(() -> new FailedAttempts(0, Duration.ofSeconds(1), clock)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new FailedAttempts(1, Duration.ZERO, clock)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new FailedAttempts(1, Duration.ofSeconds(-1), clock)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aSourceWithoutFailuresHasNoRefusalToReport() {
    assertThat(attempts.firstRefusal("10.0.0.9")).isFalse();
    attempts.failed("10.0.0.9");
    clock.advance(Duration.ofMinutes(1));
    assertThat(attempts.firstRefusal("10.0.0.9")).as("its window ended").isFalse();
  }

  @Test
  void exactlyMaxSourcesAreRemembered() {
    for (int i = 0; i < FailedAttempts.MAX_SOURCES; i++) {
      attempts.failed("src-" + i);
    }
    assertThat(attempts.failed("src-0").count()).as("the first of exactly MAX_SOURCES is still known").isEqualTo(2);
  }
}

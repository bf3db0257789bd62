package dev.metalayer.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.testing.MutableClock;
import java.time.Duration;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class WarnLimiterTest {
  private final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");

  @Test
  void oneLinePerKindAndSubjectAndMinuteTheNextOneCountsTheSuppressed() {
    WarnLimiter limiter = new WarnLimiter(clock);
    assertThat(limiter.permit("unknown-number", "111")).isEqualTo(OptionalLong.of(0));
    for (int i = 0; i < 1000; i++) {
      assertThat(limiter.permit("unknown-number", "111")).isEmpty();
    }
    clock.advance(Duration.ofSeconds(59));
    assertThat(limiter.permit("unknown-number", "111")).isEmpty();
    clock.advance(Duration.ofSeconds(1));
    assertThat(limiter.permit("unknown-number", "111")).isEqualTo(OptionalLong.of(1001));
    assertThat(limiter.permit("unknown-number", "111")).isEmpty();
    clock.advance(Duration.ofMinutes(1));
    assertThat(limiter.permit("unknown-number", "111")).isEqualTo(OptionalLong.of(1));
    assertThat(WarnLimiter.suppressed(0)).isEmpty();
    assertThat(WarnLimiter.suppressed(1001)).isEqualTo(" (1001 more suppressed since the last such line)");
  }

  @Test
  void kindsAndSubjectsHaveTheirOwnWindows() {
    WarnLimiter limiter = new WarnLimiter(clock);
    assertThat(limiter.permit("unknown-number", "111")).isPresent();
    assertThat(limiter.permit("unknown-number", "222")).isPresent();
    assertThat(limiter.permit("call-expired", "111")).isPresent();
    assertThat(limiter.permit("unknown-number", "111")).isEmpty();
  }

  @Test
  void aFloodOfDistinctSubjectsSharesOneWindowPastTheBound() {
    WarnLimiter limiter = new WarnLimiter(clock, Duration.ofMinutes(1), 3);
    assertThat(limiter.permit("k", "1")).isPresent();
    assertThat(limiter.permit("k", "2")).isPresent();
    assertThat(limiter.permit("k", "3")).isPresent();
    // the bound is reached: every further subject of the kind counts as one, (others)
    assertThat(limiter.permit("k", "4")).isPresent();
    for (int i = 5; i < 10_000; i++) {
      assertThat(limiter.permit("k", Integer.toString(i))).isEmpty();
    }
    clock.advance(Duration.ofMinutes(1));
    // the windows ended: they are forgotten, and subjects are told apart again
    assertThat(limiter.permit("k", "12345")).isEqualTo(OptionalLong.of(0));
    assertThat(limiter.permit("k", "12346")).isEqualTo(OptionalLong.of(0));
  }

  @Test
  void oneTrackedPairIsABoundAndTheWindowMustBePositive() {
    WarnLimiter one = new WarnLimiter(clock, Duration.ofSeconds(10), 1);
    assertThat(one.permit("k", "1")).isPresent();
    assertThat(one.permit("k", "2")).as("(others)").isPresent();
    assertThat(one.permit("k", "3")).isEmpty();
    assertThatThrownBy(() -> new WarnLimiter(clock, Duration.ofSeconds(10), 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new WarnLimiter(clock, Duration.ZERO, 1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new WarnLimiter(clock, Duration.ofSeconds(-1), 1)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void noSubjectIsTheEmptySubject() {
    WarnLimiter limiter = new WarnLimiter(clock);
    assertThat(limiter.permit("k", null)).isPresent();
    assertThat(limiter.permit("k", "")).isEmpty();
  }

  @Test
  void atTheBoundTheEndedWindowsAreForgottenBeforeANewSubjectCountsAsOthers() {
    WarnLimiter limiter = new WarnLimiter(clock, Duration.ofMinutes(1), 2);
    assertThat(limiter.permit("k", "1")).isPresent();
    assertThat(limiter.permit("k", "2")).isPresent();
    clock.advance(Duration.ofMinutes(1));
    // both windows ended: subject 3 and 4 are told apart, not folded into (others)
    assertThat(limiter.permit("k", "3")).isEqualTo(OptionalLong.of(0));
    assertThat(limiter.permit("k", "4")).isEqualTo(OptionalLong.of(0));
    assertThat(limiter.permit("k", "5")).as("now (others)").isEqualTo(OptionalLong.of(0));
    assertThat(limiter.permit("k", "6")).isEmpty();
  }
}

package dev.metalayer.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.testing.MutableClock;
import java.security.SecureRandom;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class OperatorSessionsTest {
  private final MutableClock clock = MutableClock.at("2026-01-01T00:00:00Z");
  private final OperatorSessions sessions =
      new OperatorSessions(Duration.ofMinutes(30), Duration.ofHours(12), 3, clock, new SecureRandom());

  @Test
  void anOpenedSessionIsFoundByItsIdAndAdmitsOnlyItsOwnCsrfToken() {
    OperatorSessions.Opened opened = sessions.open();
    OperatorSessions.Session session = sessions.use(opened.id()).orElseThrow();
    assertThat(session.csrf()).isEqualTo(opened.csrf()).hasSizeGreaterThanOrEqualTo(43);
    assertThat(session.admits(opened.csrf())).isTrue();
    assertThat(session.admits(opened.csrf() + "x")).isFalse();
    assertThat(session.admits(opened.id())).isFalse();
    assertThat(session.admits(null)).isFalse();
    assertThat(session.admits("")).isFalse();
    assertThat(opened.id()).isNotEqualTo(opened.csrf());
    assertThat(opened.toString()).doesNotContain(opened.id()).doesNotContain(opened.csrf());
    assertThat(session.toString()).doesNotContain(opened.csrf());
  }

  @Test
  void unknownEmptyNullAndHugeIdsFindNothing() {
    sessions.open();
    assertThat(sessions.use("nope")).isEmpty();
    assertThat(sessions.use("")).isEmpty();
    assertThat(sessions.use(null)).isEmpty();
    assertThat(sessions.use("x".repeat(10_000))).isEmpty();
    assertThat(sessions.close(null)).isFalse();
  }

  @Test
  void aSessionUnusedForTheIdleTimeEndsAndUseKeepsItAlive() {
    OperatorSessions.Opened used = sessions.open();
    OperatorSessions.Opened idle = sessions.open();
    clock.advance(Duration.ofMinutes(29));
    assertThat(sessions.use(used.id())).isPresent();
    clock.advance(Duration.ofMinutes(1));
    assertThat(sessions.use(idle.id())).as("30 minutes unused").isEmpty();
    assertThat(sessions.use(used.id())).as("used a minute ago").isPresent();
    clock.advance(Duration.ofMinutes(30));
    assertThat(sessions.use(used.id())).isEmpty();
    assertThat(sessions.size()).isZero();
  }

  @Test
  void aBusySessionStillEndsAtItsLifetime() {
    OperatorSessions.Opened opened = sessions.open();
    for (int i = 0; i < 12 * 3; i++) {
      clock.advance(Duration.ofMinutes(20));
      if (i < 12 * 3 - 1) {
        assertThat(sessions.use(opened.id())).as("after %d minutes", (i + 1) * 20).isPresent();
      }
    }
    assertThat(sessions.use(opened.id())).as("12 hours after it opened").isEmpty();
  }

  @Test
  void signOutEndsTheSessionAtOnce() {
    OperatorSessions.Opened opened = sessions.open();
    OperatorSessions.Opened other = sessions.open();
    assertThat(sessions.close(opened.id())).isTrue();
    assertThat(sessions.use(opened.id())).isEmpty();
    assertThat(sessions.close(opened.id())).isFalse();
    assertThat(sessions.use(other.id())).as("another session is untouched").isPresent();
  }

  @Test
  void theCountIsBoundedAndTheLeastRecentlyUsedSessionEndsFirst() {
    OperatorSessions.Opened a = sessions.open();
    OperatorSessions.Opened b = sessions.open();
    OperatorSessions.Opened c = sessions.open();
    sessions.use(a.id());
    OperatorSessions.Opened d = sessions.open();
    assertThat(sessions.size()).isEqualTo(3);
    assertThat(sessions.use(b.id())).as("least recently used").isEmpty();
    assertThat(sessions.use(a.id())).isPresent();
    assertThat(sessions.use(c.id())).isPresent();
    assertThat(sessions.use(d.id())).isPresent();
    for (int i = 0; i < 1_000; i++) {
      sessions.open();
    }
    assertThat(sessions.size()).isEqualTo(3);
  }

  @Test
  void signingOutOfAnEndedSessionSaysItWasNotAlive() {
    OperatorSessions.Opened opened = sessions.open();
    clock.advance(Duration.ofMinutes(30));
    assertThat(sessions.close(opened.id())).isFalse();
    assertThat(sessions.close("")).isFalse();
    assertThat(sessions.close("x".repeat(101))).isFalse();
  }

  @Test
  void anEndedSessionMakesRoomBeforeALiveOneIsEnded() {
    OperatorSessions.Opened busy = sessions.open();
    for (int i = 0; i < 35; i++) {
      clock.advance(Duration.ofMinutes(20));
      sessions.use(busy.id());
    }
    OperatorSessions.Opened b = sessions.open(); // 11:40 after busy opened
    OperatorSessions.Opened c = sessions.open();
    clock.advance(Duration.ofMinutes(19));
    assertThat(sessions.use(busy.id())).as("the most recently used").isPresent();
    clock.advance(Duration.ofMinutes(1));
    // busy ends at its lifetime, though it is the most recently used: it is the one that goes
    OperatorSessions.Opened d = sessions.open();
    assertThat(sessions.use(b.id())).isPresent();
    assertThat(sessions.use(c.id())).isPresent();
    assertThat(sessions.use(d.id())).isPresent();
    assertThat(sessions.use(busy.id())).isEmpty();
  }

  @Test
  void theLimitsMayBeTightButNotNonsense() {
    OperatorSessions one = new OperatorSessions(Duration.ofMinutes(5), Duration.ofMinutes(5), 1, clock, new SecureRandom());
    OperatorSessions.Opened first = one.open();
    OperatorSessions.Opened second = one.open();
    assertThat(one.use(first.id())).isEmpty();
    assertThat(one.use(second.id())).isPresent();
    assertThat(one.size()).isEqualTo(1);
    assertThatThrownBy(() -> new OperatorSessions(Duration.ZERO, Duration.ofMinutes(5), 1, clock, new SecureRandom()))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new OperatorSessions(Duration.ofMinutes(-1), Duration.ofMinutes(5), 1, clock,
        new SecureRandom())).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new OperatorSessions(Duration.ofMinutes(5), Duration.ofMinutes(4), 1, clock,
        new SecureRandom())).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new OperatorSessions(Duration.ofMinutes(5), Duration.ofMinutes(5), 0, clock,
        new SecureRandom())).isInstanceOf(IllegalArgumentException.class);
    assertThat(new OperatorSessions(clock, new SecureRandom()).toString())
        .isEqualTo("OperatorSessions[idle=PT30M, lifetime=PT12H, max=32]");
  }

  @Test
  void theCountLeavesOutSessionsThatEndedUnused() {
    sessions.open();
    sessions.open();
    assertThat(sessions.size()).isEqualTo(2);
    clock.advance(Duration.ofMinutes(30));
    assertThat(sessions.size()).as("both idle for 30 minutes, neither presented again").isZero();
  }

  @Test
  void aSessionAndItsOpeningShowNoSecretAtAll() {
    OperatorSessions.Opened opened = sessions.open();
    assertThat(opened).hasToString("Opened[id=(hidden), csrf=(hidden)]");
    assertThat(sessions.use(opened.id()).orElseThrow()).hasToString("Session[csrf=(hidden)]");
  }
}

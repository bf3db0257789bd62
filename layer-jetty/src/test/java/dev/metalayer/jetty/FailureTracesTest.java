package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The router logs a kind of failure's stack trace once a minute at most, on a clock the test moves. */
class FailureTracesTest {

  @Test
  void aKindOfFailureHasItsStackTraceLoggedAtMostOnceAMinute() {
    AtomicLong now = new AtomicLong();
    Routes.FailureTraces traces = new Routes.FailureTraces(now::get);
    assertThat(traces.due("GraphProxyHandler", new StackOverflowError())).as("the first one").isTrue();
    for (int i = 0; i < 3_000; i++) {
      assertThat(traces.due("GraphProxyHandler", new StackOverflowError())).isFalse();
    }
    assertThat(traces.due("GraphProxyHandler", new IllegalStateException())).as("another kind").isTrue();
    assertThat(traces.due("AdminHandler", new StackOverflowError())).as("another place").isTrue();

    now.addAndGet(Routes.FailureTraces.EVERY_NANOS - 1);
    assertThat(traces.due("GraphProxyHandler", new StackOverflowError())).isFalse();
    now.addAndGet(1);
    assertThat(traces.due("GraphProxyHandler", new StackOverflowError())).as("a minute later").isTrue();
    assertThat(traces.due("GraphProxyHandler", new StackOverflowError())).isFalse();
  }
}

package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.metalayer.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** The operator's WARN lines about Meta out of reach: their memory bound (the rest is in {@link GraphStepsTest}). */
class UpstreamWarningsTest {
  final MutableClock clock = MutableClock.at("2026-01-01T00:00:00Z");
  final ListAppender<ILoggingEvent> lines = new ListAppender<>();
  final Logger logger = (Logger) LoggerFactory.getLogger(UpstreamWarnings.class);
  final GraphError error = GraphError.badGateway("The Graph API could not be reached or gave an invalid answer.");

  @BeforeEach
  void capture() {
    lines.start();
    logger.addAppender(lines);
    logger.setAdditive(false); // ten thousand lines stay out of the test output
  }

  @AfterEach
  void release() {
    logger.detachAppender(lines);
    logger.setAdditive(true);
  }

  @Test
  void tenThousandNumbersAndReasonsTrackedStartTheCountsAgain() {
    UpstreamWarnings warnings = new UpstreamWarnings(clock);
    warnings.warn("1000", "Meta could not be reached", error, null);
    for (int i = 1; i < 9_999; i++) {
      warnings.warn(Integer.toString(1000 + i), "Meta could not be reached", error, null);
    }
    warnings.warn("1000", "Meta could not be reached", error, null);
    assertThat(lines.list).as("9,999 pairs tracked: the repeat within the minute is left out").hasSize(9_999);

    warnings.warn("20000", "Meta could not be reached", error, null); // the 10,000th pair
    warnings.warn("1000", "Meta could not be reached", error, null);
    assertThat(lines.list).as("10,000 pairs tracked: forgotten, so the repeat is a first line again").hasSize(10_001);
    assertThat(lines.list.get(10_000).getFormattedMessage()).contains("number 1000").doesNotContain("more like it");
  }
}

package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The filter at INFO and above, on its own logback context with a fake clock: Jetty's warnings are
 * limited per logger and cut, and a warning that names a credential is withheld.
 */
class LogSecrecyLimitsTest {
  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
  private final LoggerContext context = new LoggerContext();
  private final ListAppender<ILoggingEvent> appender = new ListAppender<>();
  private Logger hostPort;
  private Logger parser;

  @BeforeEach
  void setUp() {
    LogSecrecy filter = new LogSecrecy(nanos::get);
    filter.setContext(context);
    filter.start();
    context.addTurboFilter(filter);
    appender.setContext(context);
    appender.start();
    Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    root.setLevel(Level.INFO);
    root.addAppender(appender);
    hostPort = context.getLogger("org.eclipse.jetty.util.HostPort");
    parser = context.getLogger("org.eclipse.jetty.http.HttpParser");
  }

  private List<String> messages() {
    return appender.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }

  @Test
  void jettyWarningsAreLimitedPerLoggerAndTheDroppedLinesAreCounted() {
    for (int i = 0; i < 1000; i++) {
      hostPort.warn("Bad Authority: [{}]", "/api/" + i);
    }
    parser.warn("a line of another logger");
    assertThat(messages()).hasSize(LogSecrecy.BURST + 1);
    assertThat(messages().get(LogSecrecy.BURST)).isEqualTo("a line of another logger");

    nanos.addAndGet(TimeUnit.SECONDS.toNanos(LogSecrecy.WINDOW_SECONDS));
    hostPort.warn("Bad Authority: [{}]", "/api/next");
    List<String> after = messages().subList(LogSecrecy.BURST + 1, messages().size());
    assertThat(after).containsExactly(
        "(" + (1000 - LogSecrecy.BURST) + " more lines of this logger were dropped in 60 s: at most "
            + LogSecrecy.BURST + " are written per 60 s)",
        "Bad Authority: [/api/next]");
    assertThat(appender.list.get(LogSecrecy.BURST + 1).getLevel()).isEqualTo(Level.WARN);
  }

  @Test
  void aJettyWarningNamingACredentialIsWithheldAtEveryLevel() {
    hostPort.warn("Bad Authority: [{}]", "/x?access_token=ps_secretsecretsecretsecretsecret00000");
    hostPort.error("failed", new IllegalStateException("Bearer ps_secretsecretsecretsecretsecret00000"));
    hostPort.info("header {}", "Authorization: Bearer EAAGmetatoken");

    assertThat(messages()).containsExactly(
        "(a line was withheld: it named a credential or raw bytes)",
        "(a line was withheld: it named a credential or raw bytes; exception java.lang.IllegalStateException)",
        "(a line was withheld: it named a credential or raw bytes)");
    assertThat(appender.list).allSatisfy(e -> assertThat(e.getThrowableProxy()).isNull());
    assertThat(appender.list.get(1).getLevel()).isEqualTo(Level.ERROR);
  }

  @Test
  void aLongJettyWarningIsCut() {
    hostPort.warn("Bad Authority: [{}]", "/api/" + "a".repeat(8192));

    String line = messages().get(0);
    assertThat(line).hasSizeLessThan(LogSecrecy.MAX_CHARS + 40).endsWith("… (" + ("Bad Authority: [/api/]".length() + 8192) + " characters)");
  }

  @Test
  void theLayersOwnWarningsAreNotLimited() {
    Logger own = context.getLogger("dev.metalayer.relay.DeliveryEngine");
    for (int i = 0; i < LogSecrecy.BURST * 2; i++) {
      own.warn("own {}", i);
    }
    assertThat(messages()).hasSize(LogSecrecy.BURST * 2);
  }
}

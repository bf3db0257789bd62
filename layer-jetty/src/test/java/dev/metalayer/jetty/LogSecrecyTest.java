package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The filter's rules, one line at a time, on a real logback context. The race this guards against:
 * Jetty logs live objects (an endpoint whose {@code toString()} shows the request being parsed on
 * another thread), so a line must be written as the text that was checked, not rendered again.
 */
class LogSecrecyTest {
  private final LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
  private final Logger jetty = context.getLogger("org.eclipse.jetty.io.SelectableChannelEndPoint");
  private final Logger own = context.getLogger("dev.metalayer.jetty.LogSecrecyTest");
  private final ListAppender<ILoggingEvent> appender = new ListAppender<>();
  private Level jettyBefore;
  private Level ownBefore;

  @BeforeEach
  void attach() {
    LogSecrecy.install();
    appender.setContext(context);
    appender.start();
    jettyBefore = jetty.getLevel();
    ownBefore = own.getLevel();
    jetty.setLevel(Level.DEBUG);
    own.setLevel(Level.DEBUG);
    jetty.addAppender(appender);
    own.addAppender(appender);
  }

  @AfterEach
  void detach() {
    jetty.detachAppender(appender);
    own.detachAppender(appender);
    jetty.setLevel(jettyBefore);
    own.setLevel(ownBefore);
  }

  /** Renders clean the first time and with a key in its request line afterwards, as a live endpoint can. */
  private static final class ChangingEndPoint {
    private final AtomicInteger renders = new AtomicInteger();

    @Override
    public String toString() {
      return renders.getAndIncrement() == 0
          ? "EndPoint[handling=null]"
          : "EndPoint[request=GET http://x/v13.0/1?access_token=ps_secretsecretsecretsecretsecret00000]";
    }
  }

  private List<String> messages() {
    return appender.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }

  @Test
  void aCheckedLineIsWrittenAsTheTextThatWasChecked() {
    jetty.debug("Key interests updated {} -> {} on {}", 1, 0, new ChangingEndPoint());
    jetty.debug("onFillable {}", new ChangingEndPoint());
    jetty.debug("flushed {} on {}", 3, new ChangingEndPoint());

    assertThat(messages()).containsExactly(
        "Key interests updated 1 -> 0 on EndPoint[handling=null]",
        "onFillable EndPoint[handling=null]",
        "flushed 3 on EndPoint[handling=null]");
    assertThat(appender.list).allSatisfy(e -> {
      assertThat(e.getLoggerName()).isEqualTo(jetty.getName());
      assertThat(e.getLevel()).isEqualTo(Level.DEBUG);
      assertThat(e.getArgumentArray()).isNull();
    });
  }

  /** Caller data is taken while the line is appended (as an encoder with %caller or %line does). */
  @Test
  void aRewrittenLineStillNamesItsCaller() {
    List<String> callers = new java.util.concurrent.CopyOnWriteArrayList<>();
    ch.qos.logback.core.AppenderBase<ILoggingEvent> callerAppender = new ch.qos.logback.core.AppenderBase<>() {
      @Override
      protected void append(ILoggingEvent e) {
        callers.add(e.getCallerData()[0].getClassName());
      }
    };
    callerAppender.setContext(context);
    callerAppender.start();
    jetty.addAppender(callerAppender);
    try {
      JettyLikeCaller.log(jetty, new ChangingEndPoint());
    } finally {
      jetty.detachAppender(callerAppender);
    }
    assertThat(callers).containsExactly(JettyLikeCaller.class.getName());
  }

  @Test
  void jettyLinesNamingACredentialAreDropped() {
    jetty.debug("parsed {}", "Authorization: Bearer ps_abc");
    jetty.debug("request GET /v13.0/1?access_token={}", "x");
    jetty.debug("fill {}", "<<<raw bytes>>>");
    jetty.debug("failed", new IllegalStateException("boom", new RuntimeException("token=EAAB")));

    assertThat(appender.list).isEmpty();
  }

  @Test
  void braceAndThrowableSurviveTheRewrite() {
    IllegalStateException boom = new IllegalStateException("closed");
    jetty.debug("literal {} and {}", "{}", 2, boom);

    assertThat(messages()).containsExactly("literal {} and 2");
    assertThat(appender.list.get(0).getThrowableProxy().getMessage()).isEqualTo("closed");
  }

  @Test
  void otherLoggersAndLevelsAreLeftAlone() {
    assertThat(jetty.isDebugEnabled()).isTrue();
    own.debug("own line {}", "kept");
    jetty.setLevel(Level.INFO);
    jetty.debug("below the level {}", new ChangingEndPoint());
    jetty.info("info {}", "kept");

    assertThat(messages()).containsExactly("own line kept", "info kept");
    assertThat(appender.list.get(0).getArgumentArray()).containsExactly("kept");
  }
}

/** Calls a logger as Jetty code would; its name must not start with the filter's (a framework prefix). */
final class JettyLikeCaller {
  private JettyLikeCaller() {}

  static void log(Logger logger, Object endPoint) {
    logger.debug("flushed {} on {}", 3, endPoint);
  }
}

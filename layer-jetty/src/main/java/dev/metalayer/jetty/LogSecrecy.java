package dev.metalayer.jetty;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import java.util.List;
import java.util.Locale;
import org.slf4j.LoggerFactory;
import org.slf4j.Marker;
import org.slf4j.helpers.FormattingTuple;
import org.slf4j.helpers.MessageFormatter;

/**
 * Keeps credentials out of Jetty's own DEBUG and TRACE lines. Jetty logs parsed header fields, header
 * collections and raw buffer contents at those levels (an {@code Authorization: Bearer …} line, for
 * instance), which would put keys and Meta tokens into the log of an operator who turns Jetty's
 * logging up. This filter drops any such Jetty line that mentions a credential-bearing header or
 * parameter, or dumps buffer bytes ({@code <<<…>>>}); other Jetty debug lines pass. The layer's own
 * code never logs a key or a token at any level.
 *
 * <p>A line that passes is logged as the very text that was checked, never re-rendered from its
 * arguments. Jetty's arguments are live objects (an endpoint, a connection, a channel state) whose
 * {@code toString()} changes while another thread parses a request: rendered a second time by the
 * appender, a line checked clean could show a request line with {@code ?access_token=ps_…} in it.
 * So the filter renders the line once, checks that text, and hands the appenders that text with no
 * arguments left to render; the original call is dropped. (A turbo filter installed before this one
 * therefore sees each passing Jetty debug line twice.)
 *
 * <p>{@link #install()} adds the filter to logback once; it does nothing when SLF4J is bound to
 * another backend.
 */
final class LogSecrecy extends TurboFilter {
  private static final List<String> SENSITIVE =
      List.of("authorization", "bearer", "oauth", "access_token", "appsecret_proof", "token", "ps_", "cookie", "<<<");

  /**
   * The class logback looks past to find the caller of a re-logged line: the logger, as for the
   * original call. This filter and logback's own frames in between are declared framework packages at
   * {@link #install()}, so a pattern with {@code %caller} or {@code %line} still names the Jetty class.
   */
  private static final String FQCN = ch.qos.logback.classic.Logger.class.getName();

  /** Set while this filter re-logs a checked line, so that the re-logged call passes unexamined. */
  private static final ThreadLocal<Boolean> RELOGGING = ThreadLocal.withInitial(() -> Boolean.FALSE);

  private LogSecrecy() {}

  static synchronized void install() {
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
      for (TurboFilter f : context.getTurboFilterList()) {
        if (f instanceof LogSecrecy) {
          return;
        }
      }
      for (String frames : List.of(LogSecrecy.class.getName(), "ch.qos.logback.")) {
        if (!context.getFrameworkPackages().contains(frames)) {
          context.getFrameworkPackages().add(frames);
        }
      }
      LogSecrecy filter = new LogSecrecy();
      filter.setName("layer-log-secrecy");
      filter.setContext(context);
      filter.start();
      context.addTurboFilter(filter);
    }
  }

  @Override
  public FilterReply decide(Marker marker, ch.qos.logback.classic.Logger logger, Level level, String format, Object[] params, Throwable t) {
    // Cheapest tests first: this runs on every isDebugEnabled() of every logger (Jetty asks many times
    // per request), and almost always the level is simply off.
    if (level == null || level.levelInt >= Level.INFO_INT || level.levelInt < logger.getEffectiveLevel().levelInt) {
      return FilterReply.NEUTRAL;
    }
    if (!logger.getName().startsWith("org.eclipse.jetty")) {
      return FilterReply.NEUTRAL;
    }
    if (format == null || RELOGGING.get()) {
      // An isDebugEnabled() question, or the checked line this filter is logging itself.
      return FilterReply.NEUTRAL;
    }
    // As logback renders it: without an explicit throwable, a trailing Throwable argument is one.
    FormattingTuple rendered = t == null ? MessageFormatter.arrayFormat(format, params) : MessageFormatter.arrayFormat(format, params, t);
    String text = rendered.getMessage() == null ? "" : rendered.getMessage();
    Throwable thrown = rendered.getThrowable() != null ? rendered.getThrowable() : t;
    StringBuilder all = new StringBuilder(text);
    describe(thrown, all, java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>()));
    String lower = all.toString().toLowerCase(Locale.ROOT);
    for (String s : SENSITIVE) {
      if (lower.contains(s)) {
        return FilterReply.DENY;
      }
    }
    RELOGGING.set(Boolean.TRUE);
    try {
      logger.log(marker, FQCN, Level.toLocationAwareLoggerInteger(level), text, null, thrown);
    } finally {
      RELOGGING.set(Boolean.FALSE);
    }
    return FilterReply.DENY;
  }

  /** At most this many throwables of one line are described (causes and suppressed ones together). */
  private static final int MAX_THROWABLES = 64;

  /** Appends what an appender prints of a throwable: itself, its causes and what they suppressed, each once. */
  private static void describe(Throwable t, StringBuilder out, java.util.Set<Throwable> seen) {
    for (Throwable c = t; c != null && seen.size() < MAX_THROWABLES && seen.add(c); c = c.getCause()) {
      out.append(' ').append(c);
      for (Throwable s : c.getSuppressed()) {
        describe(s, out, seen);
      }
    }
  }
}

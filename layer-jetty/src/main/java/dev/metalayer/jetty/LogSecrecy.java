package dev.metalayer.jetty;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import java.util.List;
import java.util.Locale;
import org.slf4j.LoggerFactory;
import org.slf4j.Marker;
import org.slf4j.helpers.MessageFormatter;

/**
 * Keeps credentials out of Jetty's own DEBUG and TRACE lines. Jetty logs parsed header fields, header
 * collections and raw buffer contents at those levels (an {@code Authorization: Bearer …} line, for
 * instance), which would put keys and Meta tokens into the log of an operator who turns Jetty's
 * logging up. This filter drops any such Jetty line that mentions a credential-bearing header or
 * parameter, or dumps buffer bytes ({@code <<<…>>>}); other Jetty debug lines pass. The layer's own
 * code never logs a key or a token at any level.
 *
 * <p>{@link #install()} adds the filter to logback once; it does nothing when SLF4J is bound to
 * another backend.
 */
final class LogSecrecy extends TurboFilter {
  private static final List<String> SENSITIVE =
      List.of("authorization", "bearer", "oauth", "access_token", "appsecret_proof", "token", "ps_", "cookie", "<<<");

  private LogSecrecy() {}

  static synchronized void install() {
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
      for (TurboFilter f : context.getTurboFilterList()) {
        if (f instanceof LogSecrecy) {
          return;
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
    String text = format == null ? "" : MessageFormatter.arrayFormat(format, params, t).getMessage();
    StringBuilder all = new StringBuilder(text == null ? "" : text);
    for (Throwable c = t; c != null; c = c.getCause()) {
      all.append(' ').append(c);
    }
    String lower = all.toString().toLowerCase(Locale.ROOT);
    for (String s : SENSITIVE) {
      if (lower.contains(s)) {
        return FilterReply.DENY;
      }
    }
    return FilterReply.NEUTRAL;
  }
}

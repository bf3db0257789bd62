package dev.metalayer.jetty;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.LoggerFactory;
import org.slf4j.Marker;
import org.slf4j.helpers.FormattingTuple;
import org.slf4j.helpers.MessageFormatter;

/**
 * Keeps credentials out of Jetty's log lines, at every level, and keeps Jetty's per-request warnings
 * from flooding the log.
 *
 * <p>Secrecy. Jetty logs parsed header fields, header collections and raw buffer contents at DEBUG and
 * TRACE (an {@code Authorization: Bearer …} line, for instance), and a malformed request's target at
 * WARN ({@code Bad Authority: [/x?access_token=ps_…]} for a {@code CONNECT}). Any Jetty line that
 * mentions a credential-bearing header or parameter, or dumps buffer bytes ({@code <<<…>>>}), is
 * dropped at DEBUG and TRACE, and replaced at INFO and above by one line saying that a line was
 * withheld (with the class of its exception, never its message). Other Jetty lines pass. The layer's own
 * code never logs a key or a token at any level.
 *
 * <p>Flooding. A client can make Jetty warn once per request (a bad request line, a bad authority).
 * Jetty's lines at INFO and above are therefore limited per logger to {@value #BURST} per
 * {@value #WINDOW_SECONDS} s; the count of lines dropped is logged with the first line of that logger
 * after its window ends; and each such line is cut to {@value #MAX_CHARS} characters. DEBUG and TRACE,
 * which the operator turns on deliberately, are not limited.
 *
 * <p>A line that passes is logged as the very text that was checked, never re-rendered from its
 * arguments. Jetty's arguments are live objects (an endpoint, a connection, a channel state) whose
 * {@code toString()} changes while another thread parses a request: rendered a second time by the
 * appender, a line checked clean could show a request line with {@code ?access_token=ps_…} in it.
 * So the filter renders the line once, checks that text, and hands the appenders that text with no
 * arguments left to render; the original call is dropped. (A turbo filter installed before this one
 * therefore sees each passing Jetty line twice.)
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

  /** Jetty lines at INFO and above allowed per logger and window. */
  static final int BURST = 20;

  static final long WINDOW_SECONDS = 60;

  /** The longest text of a Jetty line at INFO and above; the rest is cut. */
  static final int MAX_CHARS = 1000;

  private final LongSupplier nanoTime;
  private final Map<String, Budget> budgets = new ConcurrentHashMap<>();

  /** @param nanoTime the time source of the rate limit, as {@link System#nanoTime()} */
  LogSecrecy(LongSupplier nanoTime) {
    this.nanoTime = nanoTime;
  }

  /** The lines a logger may still write in its window. Thread-safe. */
  private static final class Budget {
    private long windowStart;
    private int used;
    private int dropped;

    Budget(long now) {
      windowStart = now;
    }

    /** @return -1 when this line must be dropped, else the lines dropped in the window that just ended */
    synchronized int take(long now) {
      int droppedBefore = 0;
      if (now - windowStart >= TimeUnit.SECONDS.toNanos(WINDOW_SECONDS)) {
        droppedBefore = dropped;
        windowStart = now;
        used = 0;
        dropped = 0;
      }
      if (used >= BURST) {
        dropped++;
        return -1;
      }
      used++;
      return droppedBefore;
    }
  }

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
      LogSecrecy filter = new LogSecrecy(System::nanoTime);
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
    if (level == null || level.levelInt < logger.getEffectiveLevel().levelInt) {
      return FilterReply.NEUTRAL;
    }
    if (!logger.getName().startsWith("org.eclipse.jetty")) {
      return FilterReply.NEUTRAL;
    }
    if (format == null || RELOGGING.get()) {
      // An is…Enabled() question, or the checked line this filter is logging itself.
      return FilterReply.NEUTRAL;
    }
    // As logback renders it: without an explicit throwable, a trailing Throwable argument is one.
    FormattingTuple rendered = t == null ? MessageFormatter.arrayFormat(format, params) : MessageFormatter.arrayFormat(format, params, t);
    String text = rendered.getMessage() == null ? "" : rendered.getMessage();
    Throwable thrown = rendered.getThrowable() != null ? rendered.getThrowable() : t;
    StringBuilder all = new StringBuilder(text);
    describe(thrown, all, java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>()));
    boolean sensitive = sensitive(all.toString().toLowerCase(Locale.ROOT));
    if (level.levelInt < Level.INFO_INT) {
      if (!sensitive) {
        relog(logger, marker, level, text, thrown);
      }
      return FilterReply.DENY;
    }
    int droppedBefore = budgets.computeIfAbsent(logger.getName(), n -> new Budget(nanoTime.getAsLong())).take(nanoTime.getAsLong());
    if (droppedBefore < 0) {
      return FilterReply.DENY;
    }
    if (droppedBefore > 0) {
      relog(logger, marker, level, "(" + droppedBefore + " more lines of this logger were dropped in " + WINDOW_SECONDS
          + " s: at most " + BURST + " are written per " + WINDOW_SECONDS + " s)", null);
    }
    if (sensitive) {
      relog(logger, marker, level, "(a line was withheld: it named a credential or raw bytes"
          + (thrown == null ? "" : "; exception " + thrown.getClass().getName()) + ")", null);
    } else {
      String cut = text.length() <= MAX_CHARS ? text : text.substring(0, MAX_CHARS) + "… (" + text.length() + " characters)";
      relog(logger, marker, level, cut, thrown);
    }
    return FilterReply.DENY;
  }

  private static boolean sensitive(String lower) {
    for (String s : SENSITIVE) {
      if (lower.contains(s)) {
        return true;
      }
    }
    return false;
  }

  /** Logs {@code text} as it is (no arguments left to render), past this filter. */
  private static void relog(ch.qos.logback.classic.Logger logger, Marker marker, Level level, String text, Throwable thrown) {
    RELOGGING.set(Boolean.TRUE);
    try {
      logger.log(marker, FQCN, Level.toLocationAwareLoggerInteger(level), text, null, thrown);
    } finally {
      RELOGGING.set(Boolean.FALSE);
    }
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

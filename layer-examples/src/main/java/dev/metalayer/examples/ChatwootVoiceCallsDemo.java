package dev.metalayer.examples;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.read.ListAppender;
import dev.metalayer.examples.chatwoot.ChatwootScenario;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;
import org.slf4j.LoggerFactory;

/**
 * Plays the Chatwoot voice-calls story on this machine, with no Meta account: a fake Graph, the real
 * layer and a fake Chatwoot, and prints what crossed each hop. Run it with
 * {@code java -jar layer-examples/target/meta-layer-examples.jar}.
 *
 * <p>The timeline is all it prints while the story runs: the layer's own log is held back (warnings and
 * errors only) and printed after it, if there is any. The data folder is a temporary one, deleted when
 * the demo ends, also when it fails or is interrupted with Ctrl-C.
 */
public final class ChatwootVoiceCallsDemo {
  private ChatwootVoiceCallsDemo() {}

  public static void main(String[] args) throws Exception {
    play(System.out);
  }

  /** Plays the story, printing to {@code out}; returns the data folder it used (gone by then). */
  static Path play(PrintStream out) throws Exception {
    Path dataDir = Files.createTempDirectory("meta-layer-demo");
    Thread cleanup = new Thread(() -> deleteTree(dataDir), "demo-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    HeldLog held = HeldLog.hold();
    try {
      out.println("Meta Layer: Chatwoot voice calls, end to end (data in " + dataDir + ", deleted at the end)");
      ChatwootScenario.Report report = new ChatwootScenario(out).run(dataDir);
      out.println("Done: " + report.chatwootGot().size() + " webhooks delivered to Chatwoot, "
          + report.metaSaw().size() + " requests reached Meta, media identical: " + report.mediaBytesMatch());
    } finally {
      List<String> warnings = held.release();
      if (!warnings.isEmpty()) {
        out.println("The layer's log (warnings and errors) during the demo:");
        warnings.forEach(w -> out.println("  " + w));
      }
      deleteTree(dataDir);
      Runtime.getRuntime().removeShutdownHook(cleanup);
    }
    return dataDir;
  }

  /**
   * The root logger's appenders taken off and its level raised to WARN while the story runs; what is
   * logged meanwhile is kept in memory. {@link #release()} puts the appenders and the level back.
   */
  private record HeldLog(Logger root, Level level, List<Appender<ILoggingEvent>> appenders,
      ListAppender<ILoggingEvent> kept) {
    static HeldLog hold() {
      Logger root = ((LoggerContext) LoggerFactory.getILoggerFactory()).getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
      List<Appender<ILoggingEvent>> appenders = new ArrayList<>();
      for (Iterator<Appender<ILoggingEvent>> i = root.iteratorForAppenders(); i.hasNext(); ) {
        appenders.add(i.next());
      }
      ListAppender<ILoggingEvent> kept = new ListAppender<>();
      kept.setContext(root.getLoggerContext());
      kept.start();
      HeldLog held = new HeldLog(root, root.getLevel(), appenders, kept);
      root.addAppender(kept);
      appenders.forEach(root::detachAppender);
      root.setLevel(Level.WARN);
      return held;
    }

    List<String> release() {
      root.setLevel(level);
      appenders.forEach(root::addAppender);
      root.detachAppender(kept);
      kept.stop();
      List<String> lines = new ArrayList<>();
      synchronized (kept.list) {
        for (ILoggingEvent e : kept.list) {
          lines.add(e.getLevel() + " " + e.getLoggerName() + " - " + e.getFormattedMessage());
        }
      }
      return lines;
    }
  }

  private static void deleteTree(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("could not delete the demo's data folder " + dir, e);
    }
  }
}

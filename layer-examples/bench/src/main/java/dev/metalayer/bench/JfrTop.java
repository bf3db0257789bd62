package dev.metalayer.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

/**
 * A plain-text summary of a JDK Flight Recorder file, with the JDK's own reader and nothing else: the
 * hottest methods (self time, from {@code jdk.ExecutionSample}), the project's methods that appear in
 * most samples (inclusive), the share of samples by library, and the heaviest allocation sites
 * ({@code jdk.ObjectAllocationSample}, by weight).
 *
 * <p>{@code java -cp … dev.metalayer.bench.JfrTop recording.jfr [top]}
 */
public final class JfrTop {
  private static final Map<String, String> LIBRARIES = new LinkedHashMap<>();

  static {
    LIBRARIES.put("dev.metalayer.", "Meta Layer");
    LIBRARIES.put("org.eclipse.jetty.", "Jetty");
    LIBRARIES.put("org.h2.", "H2");
    LIBRARIES.put("com.fasterxml.jackson.", "Jackson");
    LIBRARIES.put("ch.qos.logback.", "Logback");
    LIBRARIES.put("org.slf4j.", "SLF4J");
    LIBRARIES.put("javax.crypto.", "JCE crypto");
    LIBRARIES.put("com.sun.crypto.", "JCE crypto");
    LIBRARIES.put("sun.security.", "JCE crypto");
    LIBRARIES.put("java.util.regex.", "regex");
    LIBRARIES.put("sun.nio.", "NIO");
    LIBRARIES.put("java.net.http.", "JDK HttpClient");
    LIBRARIES.put("jdk.internal.net.http.", "JDK HttpClient");
  }

  private JfrTop() {}

  public static void main(String[] args) throws IOException {
    System.out.print(summarize(Path.of(args[0]), args.length > 1 ? Integer.parseInt(args[1]) : 20));
  }

  static String summarize(Path recording, int top) throws IOException {
    Map<String, Long> self = new HashMap<>();
    Map<String, Long> projectInclusive = new HashMap<>();
    Map<String, Long> libraries = new HashMap<>();
    Map<String, Long> allocation = new HashMap<>();
    long samples = 0;
    long allocated = 0;
    long collections = 0;
    long pauseNanos = 0;
    long longestPauseNanos = 0;
    for (RecordedEvent e : RecordingFile.readAllEvents(recording)) {
      String type = e.getEventType().getName();
      if (type.equals("jdk.GarbageCollection")) {
        collections++;
        pauseNanos += e.getDuration("sumOfPauses").toNanos();
        longestPauseNanos = Math.max(longestPauseNanos, e.getDuration("longestPause").toNanos());
        continue;
      }
      RecordedStackTrace stack = e.getStackTrace();
      if (stack == null || stack.getFrames().isEmpty()) {
        continue;
      }
      List<RecordedFrame> frames = stack.getFrames();
      if (type.equals("jdk.ExecutionSample")) {
        samples++;
        self.merge(name(frames.get(0)), 1L, Long::sum);
        Set<String> seen = new HashSet<>();
        Set<String> libs = new HashSet<>();
        for (RecordedFrame f : frames) {
          String n = name(f);
          if (n.startsWith("dev.metalayer.") && seen.add(n)) {
            projectInclusive.merge(n, 1L, Long::sum);
          }
          for (Map.Entry<String, String> lib : LIBRARIES.entrySet()) {
            if (n.startsWith(lib.getKey())) {
              libs.add(lib.getValue());
            }
          }
        }
        libs.forEach(l -> libraries.merge(l, 1L, Long::sum));
      } else if (type.equals("jdk.ObjectAllocationSample")) {
        long weight = e.getLong("weight");
        allocated += weight;
        String site = name(frames.get(0));
        for (RecordedFrame f : frames) {
          String n = name(f);
          if (!n.startsWith("java.") && !n.startsWith("jdk.") && !n.startsWith("sun.")) {
            site = n + " (allocating in " + name(frames.get(0)) + ")";
            break;
          }
        }
        allocation.merge(site, weight, Long::sum);
      }
    }
    StringBuilder b = new StringBuilder();
    b.append(String.format(Locale.ROOT, "%d execution samples in %s%n", samples, recording.getFileName()));
    b.append(String.format(Locale.ROOT, "%d garbage collections, %.1f ms of pauses in all, the longest %.2f ms%n",
        collections, pauseNanos / 1e6, longestPauseNanos / 1e6));
    section(b, "Hottest methods (self)", self, samples, top, "%");
    section(b, "Meta Layer methods on the stack (inclusive)", projectInclusive, samples, top, "%");
    section(b, "Samples by library (inclusive; a sample can count for several)", libraries, samples, top, "%");
    section(b, String.format(Locale.ROOT, "Allocation sites by sampled weight (%.0f MiB in all)", allocated / 1048576.0),
        allocation, allocated, top, "% of bytes");
    return b.toString();
  }

  private static void section(StringBuilder b, String title, Map<String, Long> counts, long total, int top, String unit) {
    b.append('\n').append(title).append('\n');
    counts.entrySet().stream()
        .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
        .limit(top)
        .forEach(e -> b.append(String.format(Locale.ROOT, "  %5.1f %s  %s%n",
            total == 0 ? 0 : 100.0 * e.getValue() / total, unit, e.getKey())));
  }

  private static String name(RecordedFrame f) {
    return f.getMethod().getType().getName() + "." + f.getMethod().getName();
  }
}

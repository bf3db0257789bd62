package dev.metalayer.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts the executions of one fuzz target, for the figures in docs/security.md. A target calls
 * {@link #executed()} first thing and {@link #report()} from an {@code @AfterAll}: the line
 * {@code <target> <executions> <seconds>} is printed and, in a fuzzing run ({@code JAZZER_FUZZ} set),
 * appended to {@code target/fuzz-figures.txt} of the module. Thread-safe.
 */
public final class FuzzRuns {
  private final String target;
  private final AtomicLong executions = new AtomicLong();
  private volatile long firstNanos;

  public FuzzRuns(String target) {
    this.target = target;
  }

  public void executed() {
    if (executions.getAndIncrement() == 0) {
      firstNanos = System.nanoTime();
    }
  }

  public void report() {
    long n = executions.get();
    double seconds = n == 0 ? 0 : (System.nanoTime() - firstNanos) / 1e9;
    String line = String.format(Locale.ROOT, "%s %d executions in %.1f s", target, n, seconds);
    System.out.println("FUZZ " + line);
    String fuzzing = System.getenv("JAZZER_FUZZ");
    if (fuzzing == null || fuzzing.isEmpty() || fuzzing.equals("0")) {
      return;
    }
    try {
      Path file = Path.of("target", "fuzz-figures.txt");
      Files.createDirectories(file.getParent());
      Files.writeString(file, line + System.lineSeparator(), StandardCharsets.UTF_8,
          StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the embedded store acknowledged survives a {@code kill -9}, while its compaction runs: a child
 * JVM opens {@link H2Store} as the layer does, compacts every {@value #COMPACT_EVERY_MS} ms (the layer:
 * every 5 s) while 4 writers commit rows and a purger deletes old ones (so that compaction frees and
 * reuses chunks), and appends each row's id to a plain file once its commit returned. The child is
 * killed at a random moment; the file is opened again and every acknowledged id not purged must be in it.
 *
 * <p>H2 2.5.252 failed this in 3 trials of 10 in the run measured, with the compaction the layer then
 * ran (the last commits before the kill missing: the defect {@code RelayKillIT} found in CI). Loopback and
 * temporary files only; bounded to {@value #TRIALS} trials of a few seconds.
 */
class H2StoreKillIT {
  static final int TRIALS = 10;
  static final int WRITERS = 4;
  static final long COMPACT_EVERY_MS = 20;

  @TempDir Path dir;

  @Test
  void everyCommitAcknowledgedBeforeAKillIsInTheFileAfterIt() throws Exception {
    List<String> losses = new ArrayList<>();
    long acknowledged = 0;
    for (int trial = 0; trial < TRIALS; trial++) {
      Path data = Files.createDirectory(dir.resolve("trial-" + trial));
      Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
          "-cp", System.getProperty("java.class.path"), Child.class.getName(), data.toString())
          .redirectErrorStream(true).redirectOutput(data.resolve("child.log").toFile()).start();
      try {
        waitForAcknowledgements(data, child, 100 + 150 * (trial % 4));
        Thread.sleep(50L * trial); // a varied moment in the writers' and compaction's cycles, not a synchronisation
      } finally {
        child.destroyForcibly(); // SIGKILL: no shutdown hook, no close, as kill -9
        child.waitFor(30, TimeUnit.SECONDS);
      }
      Set<Long> acked = ids(data.resolve("acked"));
      Set<Long> purged = ids(data.resolve("purged"));
      Set<Long> stored = new HashSet<>();
      try (H2Store store = H2Store.open(data)) {
        store.database().withConnection(c -> {
          try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT id FROM kill_probe")) {
            while (rs.next()) {
              stored.add(rs.getLong(1));
            }
          }
          return null;
        });
      }
      List<Long> lost = acked.stream().filter(id -> !stored.contains(id) && !purged.contains(id)).sorted().toList();
      acknowledged += acked.size();
      System.out.printf("h2 kill trial %d: %,d acknowledged, %,d in the file, %d lost %s%n", trial, acked.size(),
          stored.size(), lost.size(), lost.size() > 10 ? lost.subList(0, 10) + "…" : lost);
      if (!lost.isEmpty()) {
        losses.add("trial " + trial + ": " + lost.size() + " of " + acked.size() + " acknowledged missing, " + lost);
      }
    }
    assertThat(acknowledged).as("commits acknowledged in all trials").isGreaterThan(TRIALS * 100L);
    assertThat(losses).as("acknowledged commits missing after kill -9").isEmpty();
  }

  private static void waitForAcknowledgements(Path data, Process child, int n) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (ids(data.resolve("acked")).size() < n) {
      assertThat(child.isAlive()).as("the child runs (see %s)", data.resolve("child.log")).isTrue();
      assertThat(System.nanoTime()).as("%d commits acknowledged within 60 s", n).isLessThan(deadline);
      Thread.sleep(20); // polls the child's progress
    }
  }

  private static Set<Long> ids(Path file) throws IOException {
    Set<Long> out = new HashSet<>();
    if (Files.exists(file)) {
      for (String line : Files.readAllLines(file, StandardCharsets.US_ASCII)) {
        if (line.endsWith(";")) { // a line cut by the kill has no terminator and is not counted
          out.add(Long.parseLong(line.substring(0, line.length() - 1)));
        }
      }
    }
    return out;
  }

  /** The killed process: the layer's store, its compaction pressed, writers and a purger. */
  static final class Child {
    public static void main(String[] args) throws Exception {
      Path data = Path.of(args[0]);
      H2Store store = H2Store.open(data);
      store.database().withConnection(c -> {
        try (Statement s = c.createStatement()) {
          s.execute("CREATE TABLE kill_probe(id BIGINT PRIMARY KEY, body VARCHAR(4000))");
        }
        return null;
      });
      store.startMaintenance(Duration.ofMillis(COMPACT_EVERY_MS));
      FileChannel acked = FileChannel.open(data.resolve("acked"), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      FileChannel purged = FileChannel.open(data.resolve("purged"), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      AtomicLong ids = new AtomicLong();
      String body = "b".repeat(3000);
      for (int w = 0; w < WRITERS; w++) {
        Thread writer = new Thread(() -> {
          while (true) {
            long id = ids.incrementAndGet();
            store.database().withConnection(c -> {
              c.setAutoCommit(false);
              try (PreparedStatement p = c.prepareStatement("INSERT INTO kill_probe VALUES (?, ?)")) {
                p.setLong(1, id);
                p.setString(2, body + id);
                p.executeUpdate();
              }
              c.commit();
              c.setAutoCommit(true);
              return null;
            });
            append(acked, id); // after the commit returned: what the layer would acknowledge
          }
        });
        writer.start();
      }
      while (true) {
        long upTo = ids.get() - 200;
        if (upTo > 0) {
          store.database().withConnection(c -> {
            c.setAutoCommit(false);
            List<Long> gone = new ArrayList<>();
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT id FROM kill_probe WHERE id <= " + upTo)) {
              while (rs.next()) {
                gone.add(rs.getLong(1));
              }
            }
            for (long g : gone) {
              append(purged, g); // before the delete commits: a purged id missing is no loss
            }
            try (Statement s = c.createStatement()) {
              s.executeUpdate("DELETE FROM kill_probe WHERE id <= " + upTo);
            }
            c.commit();
            c.setAutoCommit(true);
            return null;
          });
        }
        Thread.sleep(20); // the purger's cadence
      }
    }

    private static synchronized void append(FileChannel file, long id) {
      try {
        file.write(ByteBuffer.wrap((id + ";\n").getBytes(StandardCharsets.US_ASCII)));
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
  }
}

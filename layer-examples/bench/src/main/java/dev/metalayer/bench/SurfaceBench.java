package dev.metalayer.bench;

import dev.metalayer.graph.Credentials;
import dev.metalayer.graph.MultipartParts;
import dev.metalayer.graph.Outcome;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Set;

/**
 * What the Graph surface's parameter checks cost, in one JVM with no I/O: a hostile 1 MiB
 * {@code a&a&…} form, a 999-parameter form, and the multipart part-name check over a
 * 100 MiB upload in 64 KiB chunks. Prints best-of-N times. Run:
 * {@code mvn -q -pl layer-core,layer-jetty,layer-examples compile}, then
 * {@code java -cp layer-examples/target/classes:layer-core/target/classes:<jackson-core, jackson-databind,
 * jackson-annotations and slf4j-api jars> dev.metalayer.bench.SurfaceBench}.
 */
public final class SurfaceBench {
  private SurfaceBench() {}

  public static void main(String[] args) {
    byte[] flood = "a&".repeat(512 * 1024).getBytes(StandardCharsets.UTF_8);
    byte[] form = "a=1&".repeat(999).getBytes(StandardCharsets.UTF_8);
    long flooded = Long.MAX_VALUE;
    long scanned = Long.MAX_VALUE;
    for (int i = 0; i < 30; i++) {
      long t = System.nanoTime();
      Credentials.extract("Bearer x", "", flood);
      flooded = Math.min(flooded, System.nanoTime() - t);
      t = System.nanoTime();
      Credentials.extract("Bearer x", "", form);
      scanned = Math.min(scanned, System.nanoTime() - t);
    }
    System.out.printf("1 MiB a&a& form refused (400) in %.2f ms; 999-parameter form scanned in %.2f ms (best of 30)%n",
        flooded / 1e6, scanned / 1e6);
    byte[] chunk = new byte[64 * 1024];
    Arrays.fill(chunk, (byte) 'x');
    byte[] head = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
    long best = Long.MAX_VALUE;
    for (int r = 0; r < 5; r++) {
      MultipartParts parts =
          ((Outcome.Ok<MultipartParts>) MultipartParts.forContentType("multipart/form-data; boundary=XyZ", Set.of("file"))).value();
      long t = System.nanoTime();
      parts.feed(head);
      for (int i = 0; i < 1600; i++) {
        parts.feed(ByteBuffer.wrap(chunk));
      }
      best = Math.min(best, System.nanoTime() - t);
    }
    System.out.printf("multipart part-name check: 100 MiB in %.0f ms (%.0f MiB/s, best of 5)%n", best / 1e6, 100 / (best / 1e9));
  }
}

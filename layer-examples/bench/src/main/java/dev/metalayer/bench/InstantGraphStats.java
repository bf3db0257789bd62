package dev.metalayer.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/** Reads {@link InstantGraph}'s counters from {@code GET /__stats}. */
final class InstantGraphStats {
  private InstantGraphStats() {}

  @SuppressWarnings("unchecked")
  static Map<String, Object> read(int port) throws IOException {
    try (InputStream in = URI.create("http://127.0.0.1:" + port + "/__stats").toURL().openStream()) {
      return Bench.json().readValue(new String(in.readAllBytes(), StandardCharsets.UTF_8), Map.class);
    }
  }
}

package dev.metalayer.jetty;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * The layer's version, as {@code meta-layer --version} and {@code /healthz} report it: the project's
 * version written into {@code version.properties} by the build (resource filtering), so a test run from
 * the classes reports it as the jar does.
 */
final class LayerVersion {
  static final String VERSION = read();

  private LayerVersion() {}

  private static String read() {
    try (InputStream in = LayerVersion.class.getResourceAsStream("version.properties")) {
      if (in == null) {
        return "unknown";
      }
      Properties p = new Properties();
      p.load(in);
      String v = p.getProperty("version", "unknown");
      return v.startsWith("${") ? "unknown" : v;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

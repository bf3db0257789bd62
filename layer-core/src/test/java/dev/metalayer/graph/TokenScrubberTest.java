package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TokenScrubberTest {
  static final String TOKEN = "EAAG/abc+def=XYZ0123456789";
  final TokenScrubber scrubber = new TokenScrubber(TOKEN);

  @Test
  void redactsPlainJsonEscapedAndUrlEncodedForms() {
    String body = "{\"a\":\"" + TOKEN + "\",\"b\":\"EAAG\\/abc+def=XYZ0123456789\",\"c\":\"x?t=EAAG%2Fabc%2Bdef%3DXYZ0123456789\"}";
    String out = new String(scrubber.redact(body.getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8);
    assertThat(out).doesNotContain("abc+def").doesNotContain("abc%2Bdef").contains("[redacted]");
    assertThat(out).isEqualTo("{\"a\":\"[redacted]\",\"b\":\"[redacted]\",\"c\":\"x?t=[redacted]\"}");
  }

  @Test
  void aTokenHiddenInUnicodeEscapesInsideJsonIsFoundAfterDecoding() throws Exception {
    String escapedE = "\\u0045" + TOKEN.substring(1); // the JSON text \u0045AAG/abc…: reads as the token
    String body = "{\"a\":\"" + escapedE + "\",\"" + escapedE + "\":1,\"ok\":\"caf\\u00e9\"}";
    byte[] out = scrubber.redactJson(body.getBytes(StandardCharsets.UTF_8));
    String decoded = dev.metalayer.json.Json.mapper().readTree(out).toString();
    assertThat(decoded).doesNotContain(TOKEN).contains("[redacted]").contains("café");
    // escapes that hide no token keep their bytes (Graph escapes non-ASCII text this way)
    byte[] accents = "{\"name\":\"caf\\u00e9\"}".getBytes(StandardCharsets.UTF_8);
    assertThat(scrubber.redactJson(accents)).isSameAs(accents);
    // an escaped backslash followed by u is no escape: such a body keeps its bytes
    byte[] plain = "{\"path\":\"C:\\\\users\"}".getBytes(StandardCharsets.UTF_8);
    assertThat(scrubber.redactJson(plain)).isSameAs(plain);
  }

  @Test
  void cleanBodyIsReturnedAsIs() {
    byte[] body = "{\"ok\":true}".getBytes(StandardCharsets.UTF_8);
    assertThat(scrubber.redact(body)).isSameAs(body);
  }

  @Test
  void streamFindsTokensSplitAcrossEveryPossibleChunkBoundary() {
    byte[] data = ("head " + TOKEN + " middle " + TOKEN + TOKEN + " tail").getBytes(StandardCharsets.UTF_8);
    for (int size = 1; size <= data.length; size++) {
      byte[] out = streamed(data, size);
      assertThat(out).hasSameSizeAs(data);
      assertThat(new String(out, StandardCharsets.UTF_8)).as("chunk " + size).doesNotContain(TOKEN).startsWith("head ").endsWith(" tail");
    }
  }

  @Test
  void streamLeavesOtherBytesAlone() {
    byte[] data = new byte[100_000];
    new Random(1).nextBytes(data);
    assertThat(streamed(data, 4096)).isEqualTo(data);
  }

  static byte[] streamed(byte[] data, int size) {
    TokenScrubber.Stream s = new TokenScrubber(TOKEN).stream();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < data.length; i += size) {
      out.writeBytes(s.feed(data, i, Math.min(size, data.length - i)));
    }
    out.writeBytes(s.finish());
    return out.toByteArray();
  }
}

package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
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

  @Test
  void aTokenAtTheVeryStartOrEndOfABodyIsFound() {
    byte[] last = ("x" + TOKEN).getBytes(StandardCharsets.UTF_8);
    assertThat(scrubber.foundIn(last)).isTrue();
    assertThat(new String(scrubber.redact(last), StandardCharsets.UTF_8)).isEqualTo("x[redacted]");
    assertThat(new String(scrubber.redact(TOKEN.getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8)).isEqualTo("[redacted]");
    byte[] almost = TOKEN.substring(0, TOKEN.length() - 1).getBytes(StandardCharsets.UTF_8);
    assertThat(scrubber.foundIn(almost)).isFalse();
    byte[] cutShort = ("x" + TOKEN.substring(0, TOKEN.length() - 1)).getBytes(StandardCharsets.UTF_8);
    assertThat(scrubber.foundIn(cutShort)).isFalse();
    assertThat(scrubber.redact(cutShort)).isSameAs(cutShort);
    assertThat(new String(streamed(last, 7), StandardCharsets.UTF_8)).isEqualTo("x[redacted][redacted][redac");
  }

  @Test
  void aHeaderValueLosesEveryFormOfTheToken() {
    assertThat(scrubber.redact("a " + TOKEN + " b EAAG%2Fabc%2Bdef%3DXYZ0123456789 c EAAG\\/abc+def=XYZ0123456789"))
        .isEqualTo("a [redacted] b [redacted] c [redacted]");
    String clean = "no token here";
    assertThat(scrubber.redact(clean)).isSameAs(clean);
    assertThat(scrubber.foundIn("x" + TOKEN)).isTrue();
    assertThat(scrubber.foundIn("EAAG%2Fabc%2Bdef%3DXYZ0123456789")).isTrue();
    assertThat(scrubber.foundIn(clean)).isFalse();
  }

  @Test
  void anEmptySecretIsRefused() {
    assertThatThrownBy(() -> new TokenScrubber("")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new TokenScrubber(null)).isInstanceOf(NullPointerException.class);
  }

  @Test
  void aUnicodeEscapeIsABackslashNotItselfEscapedThenU() {
    assertThat(TokenScrubber.hasUnicodeEscape(bytes("\\u0041"))).isTrue();
    assertThat(TokenScrubber.hasUnicodeEscape(bytes("a\\u"))).isTrue();
    assertThat(TokenScrubber.hasUnicodeEscape(bytes("\\\\u0041"))).isFalse();
    assertThat(TokenScrubber.hasUnicodeEscape(bytes("a\\"))).isFalse();
    assertThat(TokenScrubber.hasUnicodeEscape(bytes("u"))).isFalse();
  }

  @Test
  void aBodyWithEscapesThatIsNotJsonIsScrubbedAsBytes() {
    byte[] notJson = ("\\u0041 " + TOKEN + " {").getBytes(StandardCharsets.UTF_8);
    assertThat(new String(scrubber.redactJson(notJson), StandardCharsets.UTF_8)).isEqualTo("\\u0041 [redacted] {");
    byte[] tokenOutsideStrings = ("{\"a\":\"\\u0041\"} " + TOKEN).getBytes(StandardCharsets.UTF_8);
    assertThat(new String(scrubber.redactJson(tokenOutsideStrings), StandardCharsets.UTF_8)).endsWith("[redacted]");
  }

    @Test
  void aTokenEscapedOnlyInAValueOrOnlyInAFieldNameIsFound() throws Exception {
    String escapedE = "\\u0045" + TOKEN.substring(1);
    for (String body : List.of("{\"a\":\"" + escapedE + "\"}", "{\"" + escapedE + "\":1}", "[\"" + escapedE + "\"]")) {
      byte[] out = scrubber.redactJson(body.getBytes(StandardCharsets.UTF_8));
      assertThat(dev.metalayer.json.Json.mapper().readTree(out).toString()).as(body).doesNotContain(TOKEN).contains("[redacted]");
    }
    // an escape that hides the token in a body that is no whole JSON: scrubbed as bytes, refused by the caller
    byte[] broken = ("{\"a\":\"" + escapedE + "\",").getBytes(StandardCharsets.UTF_8);
    assertThat(scrubber.redactJson(broken)).isSameAs(broken);
  }

  @Test
  void aStreamHoldsBackOnlyWhatCouldStartAToken() {
    int longest = "EAAG%2Fabc%2Bdef%3DXYZ0123456789".length(); // the URL-encoded form
    byte[] clean = "x".repeat(100).getBytes(StandardCharsets.UTF_8);
    assertThat(scrubber.stream().feed(clean, 0, clean.length)).hasSize(100 - (longest - 1));
    // a token that starts before the held-back tail is masked and sent whole at once
    byte[] straddling = ("xxxxx" + TOKEN + "yyyyyyyyy").getBytes(StandardCharsets.UTF_8);
    assertThat(new String(scrubber.stream().feed(straddling, 0, straddling.length), StandardCharsets.UTF_8))
        .isEqualTo("xxxxx[redacted][redacted][redac");
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}

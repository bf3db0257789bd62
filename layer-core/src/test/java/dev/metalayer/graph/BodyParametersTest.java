package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The parameters the surface sees in a body that is not multipart, read every way Graph may read it. */
class BodyParametersTest {
  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] bytes(int... values) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int v : values) {
      out.write(v);
    }
    return out.toByteArray();
  }

  private static byte[] concat(byte[] a, byte[] c) {
    byte[] both = java.util.Arrays.copyOf(a, a.length + c.length);
    System.arraycopy(c, 0, both, a.length, c.length);
    return both;
  }

  private static final byte[] BOM = bytes(0xef, 0xbb, 0xbf);

  @Test
  void aBodyOpensAsJsonAfterAByteOrderMarkAndJsonWhitespaceOnly() {
    assertThat(BodyParameters.opensWith(b("{\"a\":1}"), "{")).isTrue();
    assertThat(BodyParameters.opensWith(b(" \t\r\n{"), "{")).isTrue();
    assertThat(BodyParameters.opensWith(b("\n\n["), "{[")).isTrue();
    assertThat(BodyParameters.opensWith(b("\r["), "{")).as("an array is not an object").isFalse();
    assertThat(BodyParameters.opensWith(b("\t{"), "[")).isFalse();
    assertThat(BodyParameters.opensWith(concat(BOM, b("{")), "{")).isTrue();
    assertThat(BodyParameters.opensWith(concat(BOM, b(" \n[")), "{[")).isTrue();
    // only the whole mark is skipped, and only once at the start
    assertThat(BodyParameters.opensWith(concat(bytes(0xef, 0xbb, 0xbe), b("{")), "{")).isFalse();
    assertThat(BodyParameters.opensWith(concat(bytes(0xef, 0xba, 0xbf), b("{")), "{")).isFalse();
    assertThat(BodyParameters.opensWith(concat(bytes(0xee, 0xbb, 0xbf), b("{")), "{")).isFalse();
    assertThat(BodyParameters.opensWith(concat(bytes(0x20, 0xbb, 0xbf), b("{")), "{")).isFalse();
    assertThat(BodyParameters.opensWith(concat(concat(b(" "), BOM), b("{")), "{")).isFalse();
    // other white space (a form feed, a vertical tab, a no-break space) is not JSON's: the body is a form
    assertThat(BodyParameters.opensWith(b("\f{"), "{[")).isFalse();
    assertThat(BodyParameters.opensWith(b("\u000b{"), "{[")).isFalse();
    assertThat(BodyParameters.opensWith(b("\u00a0{"), "{[")).isFalse();
    assertThat(BodyParameters.opensWith(b("a={"), "{[")).isFalse();
    // nothing past the blanks (or nothing at all) opens nothing
    assertThat(BodyParameters.opensWith(b(" \t\r\n"), "{[")).isFalse();
    assertThat(BodyParameters.opensWith(BOM, "{[")).isFalse();
    assertThat(BodyParameters.opensWith(new byte[0], "{[")).isFalse();
  }
}

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

  private static Parameters ok(Outcome<Parameters> o) {
    assertThat(o).isInstanceOf(Outcome.Ok.class);
    return ((Outcome.Ok<Parameters>) o).value();
  }

  private static String refusal(Outcome<Parameters> o) {
    assertThat(o).isInstanceOf(Outcome.Refused.class);
    GraphError e = ((Outcome.Refused<Parameters>) o).error();
    assertThat(e.status()).isEqualTo(400);
    return e.message();
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

  @Test
  void anEmptyBodyHasNoParameters() {
    assertThat(ok(BodyParameters.of(new byte[0], "application/json"))).isEqualTo(Parameters.NONE);
    assertThat(ok(BodyParameters.of(new byte[0], null))).isEqualTo(Parameters.NONE);
  }

  @Test
  void aJsonObjectGivesItsTopLevelNamesCanonicalAndItsFields() {
    Parameters p = ok(BodyParameters.of(b("{\"To\":\"1\",\"Text\":{\"body\":\"hi\",\"batch\":1},\"fields\":\"id,name\"}"),
        "application/json"));
    assertThat(p.names()).containsExactly("to", "text", "fields");
    assertThat(p.fields()).containsExactly("id,name");
    assertThat(ok(BodyParameters.of(b("{\"to\":\"1\",\"type\":\"text\"}"), "application/json")).fields()).isEmpty();
    assertThat(ok(BodyParameters.of(b("{\"fields\":{\"a\":1}}"), "application/json")).fields())
        .as("a fields that is not a string is field expansion").containsExactly("{");
  }

  @Test
  void aJsonObjectTakesAtMostMaxParametersNames() {
    StringBuilder json = new StringBuilder("{");
    for (int i = 0; i < Credentials.MAX_PARAMETERS; i++) {
      json.append(i == 0 ? "" : ",").append("\"p").append(i).append("\":1");
    }
    assertThat(ok(BodyParameters.of(b(json + "}"), "application/json")).names()).hasSize(Credentials.MAX_PARAMETERS);
    assertThat(refusal(BodyParameters.of(b(json + ",\"one_more\":1}"), "application/json")))
        .isEqualTo("Too many parameters: the layer takes at most 1000 in a query or a body.");
  }

  @Test
  void aBodyThatIsNotExactlyOneStrictJsonObjectIsRefused() {
    String notStrict = "(rule json-body) A JSON body must be exactly one strict JSON object: no comments, single quotes,"
        + " unquoted names, trailing commas, NaN, leading zeros or trailing text.";
    assertThat(refusal(BodyParameters.of(b(" [{\"method\":\"GET\"}]"), null))).isEqualTo("(rule json-body) A JSON body must be an object.");
    assertThat(refusal(BodyParameters.of(b("[]"), "text/plain"))).isEqualTo("(rule json-body) A JSON body must be an object.");
    assertThat(refusal(BodyParameters.of(b("123"), "application/json"))).as("declared JSON, no object").isEqualTo(notStrict);
    assertThat(refusal(BodyParameters.of(b("{\"a\":1,}"), "application/json"))).isEqualTo(notStrict);
    assertThat(refusal(BodyParameters.of(b("{'a':1}"), null))).isEqualTo(notStrict);
    assertThat(refusal(BodyParameters.of(b("{\"a\":1}{\"batch\":[]}"), "application/json"))).isEqualTo(notStrict);
    assertThat(refusal(BodyParameters.of(b("{\"a\":1} x"), null))).isEqualTo(notStrict);
    assertThat(refusal(BodyParameters.of(concat(BOM, b("{\"a\":1,}")), null))).as("after a byte order mark").isEqualTo(notStrict);
  }

  @Test
  void aCredentialNamedInAJsonBodyIsRefused() {
    assertThat(refusal(BodyParameters.of(b("{\"Access.Token\":\"x\"}"), "application/json"))).contains("(rule credential-name)");
  }

  @Test
  void aJsonObjectNotDeclaredAsJsonIsAlsoReadAsAForm() {
    byte[] body = b("{\"text\":\"x&batch=1&\"}");
    assertThat(ok(BodyParameters.of(body, "application/json")).names()).containsExactly("text");
    assertThat(ok(BodyParameters.of(body, "application/x-www-form-urlencoded")).names()).contains("text", "batch");
    assertThat(refusal(BodyParameters.of(b("{\"text\":\"x&access_token=y\"}"), null))).contains("(rule credential-name)");
    assertThat(ok(BodyParameters.of(b("to=1&type=text"), null)).names()).containsExactly("to", "type");
    assertThat(ok(BodyParameters.of(b("\f{\"a\":1,}"), null)).names()).as("not JSON: a form of one odd name").hasSize(1);
  }
}

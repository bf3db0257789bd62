package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MultipartPartsTest {
  static final Set<String> UPLOAD = Set.of("messaging_product", "file", "type");
  static final String TYPE = "multipart/form-data; boundary=----b0undary";

  static String part(String name, String content) {
    return "------b0undary\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + content + "\r\n";
  }

  static Optional<GraphError> feedInChunks(String body, int chunk) {
    MultipartParts parts = ((Outcome.Ok<MultipartParts>) MultipartParts.forContentType(TYPE, UPLOAD)).value();
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    Optional<GraphError> r = Optional.empty();
    for (int i = 0; i < b.length && r.isEmpty(); i += chunk) {
      r = parts.feed(Arrays.copyOfRange(b, i, Math.min(b.length, i + chunk)));
    }
    return r;
  }

  @Test
  void anUploadWithItsKnownPartsPassesInAnyChunking() {
    String body = part("messaging_product", "whatsapp") + part("type", "image/png")
        + "------b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
        + "\r\n--not-the-boundary ------b0undar" + "\r\n------b0undary--\r\n" + part("batch", "after the end is the epilogue");
    for (int chunk : new int[] {1, 2, 3, 7, 64, 10_000}) {
      assertThat(feedInChunks(body, chunk)).as("chunk " + chunk).isEmpty();
    }
  }

  @Test
  void aBatchPartIsRefusedInAnyChunking() {
    String body = part("messaging_product", "whatsapp") + part("file", "x".repeat(1000)) + part("batch", "[]") + "------b0undary--\r\n";
    for (int chunk : new int[] {1, 5, 100, 10_000}) {
      Optional<GraphError> r = feedInChunks(body, chunk);
      assertThat(r).as("chunk " + chunk).isPresent();
      assertThat(r.get().message()).contains("(rule multipart-part)");
    }
  }

  @Test
  void credentialNamedPartsAreRefused() {
    assertThat(feedInChunks(part("ACCESS_TOKEN", "ps_x"), 10).orElseThrow().message()).contains("credential-name");
    assertThat(feedInChunks(part("access_token", "ps_x"), 10).orElseThrow().status()).isEqualTo(400);
  }

  @Test
  void aBodyWithoutBoundaryOrWithTwoIsRefused() {
    assertThat(MultipartParts.forContentType("multipart/form-data", UPLOAD)).isInstanceOf(Outcome.Refused.class);
    assertThat(MultipartParts.forContentType("multipart/form-data; boundary=a; boundary=b", UPLOAD)).isInstanceOf(Outcome.Refused.class);
  }

  @Test
  void aPartWithTwoNamesIsRefused() {
    String twice = "------b0undary\r\nContent-Disposition: form-data; name=\"file\"\r\nContent-Disposition: form-data; name=\"batch\"\r\n\r\nx\r\n";
    assertThat(feedInChunks(twice, 3).orElseThrow().message()).contains("one name");
    assertThat(feedInChunks("------b0undary\r\nContent-Disposition: form-data; name=file; name=batch\r\n\r\nx\r\n", 3)).isPresent();
  }
}

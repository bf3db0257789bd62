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
        + "\r\n--not-the-boundary ------b0undar" + "\r\n------b0undary--\r\n\r\n";
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

  static Optional<GraphError> strict(String body) {
    Optional<GraphError> whole = feedInChunks(body, 10_000);
    for (int chunk : new int[] {1, 3}) {
      assertThat(feedInChunks(body, chunk).isPresent()).as("chunk " + chunk).isEqualTo(whole.isPresent());
    }
    return whole;
  }

  @Test
  void aBoundaryAnywhereButAtTheStartOfACrlfLineIsRefused() {
    String bareLf = part("messaging_product", "whatsapp").replace("whatsapp\r\n", "whatsapp\n") + part("batch", "[]");
    assertThat(strict(bareLf).orElseThrow().message()).contains("(rule multipart-part)");
    assertThat(strict(part("file", "x ------b0undary y") + "------b0undary--\r\n")).isPresent();
    assertThat(strict(part("file", "x") + "------b0undaryZ\r\n")).isPresent();
    // an empty part whose header CRLF would double as the delimiter's
    assertThat(strict("------b0undary\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n------b0undary--\r\n")).isPresent();
    assertThat(strict(part("file", "") + "------b0undary  \r\n" + "Content-Disposition: form-data; name=\"type\"\r\n\r\nx\r\n------b0undary--")).isEmpty();
  }

  @Test
  void aPreambleAnEpilogueWithTextOrABareLfHeaderIsRefused() {
    assertThat(strict("preamble\r\n" + part("file", "x") + "------b0undary--\r\n")).isPresent();
    assertThat(strict(part("file", "x") + "------b0undary--\r\n" + part("batch", "[]"))).isPresent();
    assertThat(strict(part("file", "x") + "------b0undary--\r\n \t\r\n")).isEmpty();
    assertThat(strict("------b0undary\r\nContent-Disposition: form-data; name=\"file\"\n\nx\r\n------b0undary--")).isPresent();
    assertThat(strict("------b0undary\r\nContent-Disposition: form-data; name=\"file\"\r\n\tname=\"batch\"\r\n\r\nx\r\n")).isPresent();
  }

  @Test
  void aContentTypeWithAnythingButOneStrictBoundaryIsRefused() {
    for (String type : new String[] {
        "multipart/form-data; boundary=XX,YY", "multipart/form-data; boundary=\"XX;YY\"", "multipart/form-data; boundary=\"XX YY\"",
        "multipart/form-data; xboundary=AA; boundary=XX", "multipart/form-data; boundary=XX; x=1", "multipart/form-data; boundary =XX",
        "multipart/form-data; charset=boundary; boundary=XX", "multipart/mixed; boundary=XX", "multipart/form-data; boundary=XX; boundary=XX",
        "multipart/form-data; boundary=" + "x".repeat(71)}) {
      assertThat(MultipartParts.forContentType(type, UPLOAD)).as(type).isInstanceOf(Outcome.Refused.class);
    }
    for (String type : new String[] {
        "multipart/form-data; boundary=----WebKitFormBoundaryAbC123", "Multipart/Form-Data;boundary=\"a.b/c:d=e?f+g_h-i\"",
        "multipart/form-data; charset=utf-8; boundary=XX", "multipart/form-data; boundary=XX; charset=UTF-8"}) {
      assertThat(MultipartParts.forContentType(type, UPLOAD)).as(type).isInstanceOf(Outcome.Ok.class);
    }
  }

  @Test
  void aPartWithNoHeaderAtAllIsRefusedForItsMissingContentDisposition() {
    Optional<GraphError> r = strict("------b0undary\r\n\r\nx\r\n------b0undary--\r\n");
    assertThat(r.orElseThrow().message()).contains("(rule multipart-part)").contains("needs a Content-Disposition header");
  }

  @Test
  void aPartHeaderMayTakeExactlyItsLimit() {
    String start = "------b0undary\r\nContent-Disposition: form-data; name=\"file\"\r\nX-Pad: ";
    int pad = MultipartParts.MAX_HEADER_BYTES - (start.length() - "------b0undary\r\n".length()) - 4;
    String atLimit = start + "p".repeat(pad) + "\r\n\r\nx\r\n------b0undary--\r\n";
    assertThat(strict(atLimit)).isEmpty();
    assertThat(strict(atLimit.replace("X-Pad: ", "X-Pad: p")).orElseThrow().message()).contains("too large");
  }

  @Test
  void aBoundaryAfterAnExtraDashOrAPartialMatchIsStillSeen() {
    // "-------b0undary": the delimiter starts at the second dash, not at the start of a line
    assertThat(strict(part("file", "x-------b0undary\r\nContent-Disposition: form-data; name=\"batch\"\r\n\r\n[]") + "------b0undary--\r\n"))
        .isPresent();
    // content that starts like the delimiter and then differs is only content
    assertThat(strict(part("file", "------b0uXndary ------b0undar-y ------b0u-b0undary") + "------b0undary--\r\n")).isEmpty();
    // a delimiter followed by one dash is neither a delimiter line nor the close
    assertThat(strict(part("file", "x") + "------b0undary-x\r\n").orElseThrow().message()).contains("followed by CRLF or by --");
  }

  @Test
  void aBoundaryThatRepeatsItselfIsFoundAfterAnyFalseStart() {
    MultipartParts parts = ((Outcome.Ok<MultipartParts>) MultipartParts.forContentType("multipart/form-data; boundary=aa---b", UPLOAD)).value();
    String body = "--aa---b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n--aa-----a--aa---aa---b\r\n--aa---b--\r\n";
    assertThat(parts.feed(body.getBytes(StandardCharsets.UTF_8)).orElseThrow().message()).contains("only as a delimiter line");
  }

  @Test
  void aBodyTakesAtMostMaxParametersParts() {
    String close = "------b0undary--\r\n";
    assertThat(feedInChunks(part("file", "x").repeat(Credentials.MAX_PARAMETERS) + close, 10_000)).isEmpty();
    assertThat(feedInChunks(part("file", "x").repeat(Credentials.MAX_PARAMETERS + 1) + close, 10_000).orElseThrow().message())
        .contains("Too many multipart parts");
  }

  @Test
  void aHeaderLineWithoutANameIsRefusedAndADispositionWithoutATypeIsRead() {
    assertThat(strict("------b0undary\r\n: x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n------b0undary--\r\n")
        .orElseThrow().message()).contains("Name: value line");
    assertThat(strict("------b0undary\r\nContent-Disposition: name=\"file\"\r\n\r\nx\r\n------b0undary--\r\n")).isEmpty();
  }
}

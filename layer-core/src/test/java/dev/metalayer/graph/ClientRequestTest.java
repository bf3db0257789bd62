package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class ClientRequestTest {
  @Test
  void aFormIsAnyUrlencodedBodyWhateverItsCaseParametersAndSpaces() {
    assertThat(ClientRequest.isForm("application/x-www-form-urlencoded")).isTrue();
    assertThat(ClientRequest.isForm(" Application/X-WWW-Form-URLEncoded; charset=UTF-8")).isTrue();
    assertThat(ClientRequest.isForm(null)).isFalse();
    assertThat(ClientRequest.isForm("application/json")).isFalse();
    assertThat(ClientRequest.isForm("multipart/form-data; boundary=x")).isFalse();
    assertThat(ClientRequest.isForm("text/plain; x=application/x-www-form-urlencoded")).isFalse();
  }

  @Test
  void aMultipartBodyIsAnyMultipartType() {
    assertThat(request(" Multipart/Form-Data; boundary=x").multipart()).isTrue();
    assertThat(request("multipart/mixed; boundary=x").multipart()).isTrue();
    assertThat(request("application/json").multipart()).isFalse();
    assertThat(new ClientRequest("POST", "/v22.0/1/media", "", Optional.empty(), Optional.empty(), "https://layer.test").multipart())
        .isFalse();
  }

  static ClientRequest request(String contentType) {
    return new ClientRequest("POST", "/v22.0/1/media", "", Optional.empty(), Optional.empty(), "https://layer.test",
        Optional.of(contentType), Optional.empty(), java.util.List.of("content-type"));
  }
}

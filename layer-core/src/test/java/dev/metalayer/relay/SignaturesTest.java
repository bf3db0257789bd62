package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.testing.MetaFixtures;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The two signature schemes, against vectors computed outside the relay. */
class SignaturesTest {
  private final byte[] body = "{\"object\":\"whatsapp_business_account\",\"entry\":[]}".getBytes(StandardCharsets.UTF_8);

  @Test
  void aMissingHeaderNeverVerifies() {
    assertThat(Signatures.verifyMeta(null, body, List.of("app-secret"))).isFalse();
    assertThat(Signatures.verifyMeta(null, body, List.of())).isFalse();
  }

  @Test
  void aMetaSignatureVerifiesUnderAnyOfTheSecretsAndOnlyForItsBody() {
    String header = MetaFixtures.metaSignature("app-secret", body);
    assertThat(Signatures.meta("app-secret", body)).isEqualTo(header);
    assertThat(Signatures.verifyMeta(header, body, List.of("app-secret"))).isTrue();
    assertThat(Signatures.verifyMeta(" " + header.toUpperCase(java.util.Locale.ROOT).replace("SHA256=", "sha256=") + " ",
        body, List.of("old-secret", "app-secret"))).isTrue();
    assertThat(Signatures.verifyMeta(header, body, List.of("app-secret", "old-secret"))).isTrue();
    assertThat(Signatures.verifyMeta(header, body, List.of("old-secret"))).isFalse();
    assertThat(Signatures.verifyMeta(header, body, List.of())).isFalse();
    assertThat(Signatures.verifyMeta(header, "{}".getBytes(StandardCharsets.UTF_8), List.of("app-secret"))).isFalse();
  }

  /** The test vector of the Standard Webhooks reference libraries. */
  @Test
  void aStandardWebhooksSignatureMatchesTheReferenceVector() {
    byte[] payload = "{\"test\": 2432232314}".getBytes(StandardCharsets.UTF_8);
    assertThat(Signatures.standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330L,
        payload)).isEqualTo("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  }

  @Test
  void aSecretThatIsNotWhsecBase64IsUsedAsItsUtf8Bytes() {
    byte[] payload = "{}".getBytes(StandardCharsets.UTF_8);
    for (String secret : List.of("plain-secret-é", "whsec_not base64!")) {
      assertThat(Signatures.standardKey(secret)).isEqualTo(secret.getBytes(StandardCharsets.UTF_8));
      assertThat(Signatures.standard(secret, "msg_1", 1700000000L, payload)).isEqualTo(MetaFixtures.standardSignature(
          secret.getBytes(StandardCharsets.UTF_8), "msg_1", "1700000000", payload));
    }
    assertThat(Signatures.standardKey("whsec_AAEC")).containsExactly(0, 1, 2);
  }
}

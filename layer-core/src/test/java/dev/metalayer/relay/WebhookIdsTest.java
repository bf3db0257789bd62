package dev.metalayer.relay;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.metalayer.relay.WebhookSubscriptions.Spec;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The webhook id's exact derivation, the event names and a client's spec, against values computed here. */
class WebhookIdsTest {
  @Test
  void theWebhookIdIsSha256OfEntryIdFieldAndTheChangesBytes() throws Exception {
    String change = "{\"field\":\"calls\",\"value\":{\"x\":1}}";
    byte[] body = ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"123\",\"changes\":[" + change + "]}]}")
        .getBytes(StandardCharsets.UTF_8);
    Change c = ((EnvelopeSplitter.Parsed) EnvelopeSplitter.split(body)).changes().get(0);
    byte[] digest = MessageDigest.getInstance("SHA-256").digest(("123\0calls\0" + change).getBytes(StandardCharsets.UTF_8));
    assertThat(WebhookIds.of(c)).isEqualTo("msg_" + HexFormat.of().formatHex(digest).substring(0, 32));
  }

  @Test
  void theKnownEventNamesAreMetasFieldsPermissionRepliesAndTheWildcard() {
    assertThat(Events.known()).contains("*", "call_permission_replies", "calls", "messages", "account_alerts")
        .hasSize(Events.META_FIELDS.size() + 2).doesNotContain("test");
  }

  @Test
  void aSpecIsReadByTypeAndItsSecretNeverPrinted() throws Exception {
    ObjectMapper json = new ObjectMapper();
    Spec spec = ((Spec.Read.Valid) Spec.read(json.readTree("{\"name\":\"n\",\"url\":\"http://x/\",\"events\":[\"calls\"],"
        + "\"secret\":\"top-secret-1\",\"chatwoot_terminate_reason\":true,\"active\":false,\"other\":1}"), true)).spec();
    assertThat(spec).isEqualTo(new Spec("n", "http://x/", List.of("calls"), "top-secret-1", true, false));
    assertThat(spec.toString()).doesNotContain("top-secret-1").contains("secret=<redacted>");
    assertThat(new Spec(null, null, null, null, null, null).toString()).contains("secret=null");
    // active only on a change; absent and null are not given
    assertThat(((Spec.Read.Valid) Spec.read(json.readTree("{\"active\":true,\"name\":null}"), false)).spec())
        .isEqualTo(new Spec(null, null, null, null, null, null));
    assertThat(((Spec.Read.Valid) Spec.read(json.readTree("{\"chatwoot_terminate_reason\":false}"), false)).spec()
        .chatwootTerminateReason()).isFalse();
    assertThat(Spec.read(json.readTree("{\"events\":\"calls\"}"), false))
        .isEqualTo(new Spec.Read.Invalid("events must be an array of strings."));
    assertThat(Spec.read(json.readTree("{\"events\":[1]}"), false))
        .isEqualTo(new Spec.Read.Invalid("events must be an array of strings."));
    assertThat(Spec.read(json.readTree("{\"name\":5}"), false)).isEqualTo(new Spec.Read.Invalid("name must be a string."));
    assertThat(Spec.read(json.readTree("{\"active\":\"yes\"}"), true))
        .isEqualTo(new Spec.Read.Invalid("active must be true or false."));
  }
}

package dev.metalayer.jetty;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

/** Meta's call webhooks ({@code field} {@code calls}) of a user-initiated call, as bytes to sign and post. */
final class CallWebhooks {
  static final String USER = "16315553602";
  /** An SDP offer as Meta sends one in a {@code connect} (the layer never keeps it). */
  static final String SESSION =
      ",\"session\":{\"sdp_type\":\"offer\",\"sdp\":\"v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\n\"}";

  private CallWebhooks() {}

  /** A {@code connect} of {@code wacid} from {@link #USER}, now. */
  static byte[] connect(String waba, String phone, String pnid, String wacid) {
    return body(waba, phone, pnid, wacid, "connect", SESSION);
  }

  /** A {@code terminate} of {@code wacid} with {@code status} ({@code COMPLETED}, {@code FAILED}), now, after 120 s. */
  static byte[] terminate(String waba, String phone, String pnid, String wacid, String status) {
    long now = Instant.now().getEpochSecond();
    return body(waba, phone, pnid, wacid, "terminate", ",\"status\":\"" + status + "\",\"start_time\":\"" + (now - 120)
        + "\",\"end_time\":\"" + now + "\",\"duration\":120");
  }

  /** @param phone the number's display phone, digits only */
  static byte[] body(String waba, String phone, String pnid, String wacid, String event, String extra) {
    return ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + waba + "\",\"changes\":[{"
        + "\"field\":\"calls\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\""
        + phone + "\",\"phone_number_id\":\"" + pnid + "\"},\"contacts\":[{\"profile\":{\"name\":\"Jane\"},\"wa_id\":\""
        + USER + "\"}],\"calls\":[{\"id\":\"" + wacid + "\",\"from\":\"" + USER + "\",\"to\":\"" + phone
        + "\",\"event\":\"" + event + "\",\"direction\":\"USER_INITIATED\",\"timestamp\":\""
        + Instant.now().getEpochSecond() + "\"" + extra + "}]}}]}]}").getBytes(StandardCharsets.UTF_8);
  }
}

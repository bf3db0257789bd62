package dev.metalayer.examples.chatwoot;

import dev.metalayer.crypto.Secrets;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Plays Meta's webhook side: builds {@code whatsapp_business_account} envelopes as Meta writes them
 * (compact JSON, {@code \/} and {@code \\uXXXX} escapes) and posts them to the layer signed with the
 * app secret, as {@code X-Hub-Signature-256}.
 */
public final class MetaWebhooks {
  private final URI endpoint;
  private final String appSecret;
  private final String wabaId;
  private final String displayPhone;
  private final String phoneNumberId;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

  /** @param displayPhone digits only, as Meta writes {@code display_phone_number} */
  public MetaWebhooks(URI endpoint, String appSecret, String wabaId, String displayPhone, String phoneNumberId) {
    this.endpoint = endpoint;
    this.appSecret = appSecret;
    this.wabaId = wabaId;
    this.displayPhone = displayPhone;
    this.phoneNumberId = phoneNumberId;
  }

  /** Posts one envelope, signed; returns the layer's status. */
  public int post(String envelope) throws Exception {
    byte[] body = envelope.getBytes(StandardCharsets.UTF_8);
    String signature = "sha256=" + Secrets.hex(Secrets.hmacSha256(appSecret.getBytes(StandardCharsets.UTF_8), body));
    HttpRequest request = HttpRequest.newBuilder(endpoint)
        .timeout(Duration.ofSeconds(10))
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", signature)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body))
        .build();
    return http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  /** One envelope of one entry with the given changes (each {@code {"field":…,"value":…}}). */
  public String envelope(String... changes) {
    return "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + wabaId + "\",\"changes\":["
        + String.join(",", changes) + "]}]}";
  }

  /** A change of {@code field} whose value holds the number's metadata and {@code rest}. */
  public String change(String field, String rest) {
    return "{\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\"" + displayPhone
        + "\",\"phone_number_id\":\"" + phoneNumberId + "\"}," + rest + "},\"field\":\"" + field + "\"}";
  }

  /** A user calls the business: {@code connect} with an SDP offer. */
  public String inboundConnect(String callId, String from, String name, String sdpOffer, long timestamp) {
    return change("calls", "\"contacts\":[{\"profile\":{\"name\":\"" + name + "\"},\"wa_id\":\"" + from + "\"}],"
        + "\"calls\":[{\"id\":\"" + callId + "\",\"from\":\"" + from + "\",\"to\":\"" + displayPhone + "\","
        + "\"event\":\"connect\",\"timestamp\":\"" + timestamp + "\",\"direction\":\"USER_INITIATED\","
        + "\"session\":{\"sdp_type\":\"offer\",\"sdp\":\"" + escape(sdpOffer) + "\"}}]");
  }

  /** The call ended; {@code status} COMPLETED or FAILED, with Meta's error on failure. */
  public String terminate(String callId, String from, String direction, String status, long start, long end) {
    String tail = status.equals("COMPLETED")
        ? ",\"start_time\":\"" + start + "\",\"end_time\":\"" + end + "\",\"duration\":" + (end - start) + "}]"
        : "}],\"errors\":[{\"code\":138021,\"message\":\"Media receive timeout\","
            + "\"href\":\"https:\\/\\/developers.facebook.com\\/documentation\\/business-messaging\\/whatsapp\\/calling\\/troubleshooting\","
            + "\"error_data\":{\"details\":\"The WhatsApp client terminated the call.\"}}]";
    return change("calls", "\"calls\":[{\"id\":\"" + callId + "\",\"from\":\"" + from + "\",\"to\":\"" + displayPhone
        + "\",\"event\":\"terminate\",\"direction\":\"" + direction + "\",\"timestamp\":\"" + end + "\",\"status\":\""
        + status + "\"" + tail);
  }

  /** The user answered a business-initiated call: the SDP answer arrives as a {@code connect}. */
  public String outboundAnswer(String callId, String to, String sdpAnswer, long timestamp) {
    return change("calls", "\"calls\":[{\"id\":\"" + callId + "\",\"from\":\"" + displayPhone + "\",\"to\":\"" + to
        + "\",\"event\":\"connect\",\"timestamp\":\"" + timestamp + "\",\"direction\":\"BUSINESS_INITIATED\","
        + "\"session\":{\"sdp_type\":\"answer\",\"sdp\":\"" + escape(sdpAnswer) + "\"}}]");
  }

  /** A business-initiated call's status: RINGING, ACCEPTED or REJECTED. */
  public String callStatus(String callId, String recipient, String status, long timestamp) {
    return change("calls", "\"statuses\":[{\"id\":\"" + callId + "\",\"type\":\"call\",\"status\":\"" + status
        + "\",\"timestamp\":\"" + timestamp + "\",\"recipient_id\":\"" + recipient + "\"}]");
  }

  /** The user's answer to a call permission request (field {@code messages}). */
  public String permissionReply(String from, String name, String requestWamid, String response, long timestamp) {
    return change("messages", "\"contacts\":[{\"profile\":{\"name\":\"" + name + "\"},\"wa_id\":\"" + from + "\"}],"
        + "\"messages\":[{\"from\":\"" + from + "\",\"id\":\"wamid.REPLY" + timestamp + "\",\"timestamp\":\"" + timestamp
        + "\",\"context\":{\"from\":\"" + from + "\",\"id\":\"" + requestWamid + "\"},\"type\":\"interactive\","
        + "\"interactive\":{\"type\":\"call_permission_reply\",\"call_permission_reply\":{\"response\":\"" + response
        + "\",\"is_permanent\":false,\"expiration_timestamp\":\"" + (timestamp + 604800)
        + "\",\"response_source\":\"user_action\"}}}]");
  }

  /** An inbound image message with a caption (Meta escapes non-ASCII and slashes). */
  public String imageMessage(String from, String name, String mediaId, String caption, long timestamp) {
    return change("messages", "\"contacts\":[{\"profile\":{\"name\":\"" + name + "\"},\"wa_id\":\"" + from + "\"}],"
        + "\"messages\":[{\"from\":\"" + from + "\",\"id\":\"wamid.IMG" + timestamp + "\",\"timestamp\":\"" + timestamp
        + "\",\"type\":\"image\",\"image\":{\"caption\":\"" + escape(caption) + "\",\"mime_type\":\"image\\/jpeg\","
        + "\"sha256\":\"47DEQpj8HBSa+\\/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\",\"id\":\"" + mediaId + "\"}}]");
  }

  /** Meta's escaping: {@code /} as {@code \/}, CR/LF, quotes, backslashes, and non-ASCII as lowercase {@code \\uXXXX}. */
  public static String escape(String text) {
    StringBuilder b = new StringBuilder(text.length() + 16);
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '/' -> b.append("\\/");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20 || c > 0x7e) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.toString();
  }
}

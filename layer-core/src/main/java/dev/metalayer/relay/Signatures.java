package dev.metalayer.relay;

import dev.metalayer.crypto.Secrets;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Locale;

/**
 * Both signature schemes the relay speaks.
 *
 * <ul>
 *   <li>Meta's {@code X-Hub-Signature-256: sha256=<lowercase hex HMAC-SHA256(UTF-8 secret, body)>},
 *       verified on ingest (any of the app secrets) and produced on delivery with the subscription's
 *       secret, so Chatwoot verifies it with the same value as its inbox {@code app_secret};
 *   <li>Standard Webhooks {@code webhook-signature: v1,<base64 HMAC-SHA256(key, id.timestamp.body)>},
 *       where the key is the base64-decoded part of a {@code whsec_<base64>} secret, or else the
 *       secret's UTF-8 bytes.
 * </ul>
 *
 * Comparisons are constant-time over the raw bytes; nothing here logs.
 */
final class Signatures {
  static final String META_PREFIX = "sha256=";

  private Signatures() {}

  static String meta(String secret, byte[] body) {
    return META_PREFIX + Secrets.hex(Secrets.hmacSha256(secret.getBytes(StandardCharsets.UTF_8), body));
  }

  /** Whether {@code header} is a valid {@code sha256=…} signature of {@code body} under any secret. */
  static boolean verifyMeta(String header, byte[] body, List<String> secrets) {
    if (header == null) {
      return false;
    }
    String presented = header.trim().toLowerCase(Locale.ROOT);
    boolean ok = false;
    for (String secret : secrets) {
      ok |= Secrets.constantTimeEquals(presented, meta(secret, body));
    }
    return ok;
  }

  static String standard(String secret, String webhookId, long timestamp, byte[] body) {
    byte[] prefix = (webhookId + "." + timestamp + ".").getBytes(StandardCharsets.UTF_8);
    byte[] signed = new byte[prefix.length + body.length];
    System.arraycopy(prefix, 0, signed, 0, prefix.length);
    System.arraycopy(body, 0, signed, prefix.length, body.length);
    return "v1," + Base64.getEncoder().encodeToString(Secrets.hmacSha256(standardKey(secret), signed));
  }

  static byte[] standardKey(String secret) {
    if (secret.startsWith("whsec_")) {
      try {
        return Base64.getDecoder().decode(secret.substring("whsec_".length()));
      } catch (IllegalArgumentException notBase64) {
        // not a Standard Webhooks secret after all: use its bytes as any other secret
      }
    }
    return secret.getBytes(StandardCharsets.UTF_8);
  }
}

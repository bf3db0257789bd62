package dev.metalayer.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Meta-shaped webhook bodies (byte-exact, with Meta's escaping) and signatures computed here with the
 * JDK alone, independently of the layer's own signing code.
 */
public final class MetaFixtures {
  private MetaFixtures() {}

  /** A resource under {@code dev/metalayer/relay/}, exactly as stored. */
  public static byte[] bytes(String name) {
    try (InputStream in = MetaFixtures.class.getResourceAsStream("/dev/metalayer/relay/" + name)) {
      if (in == null) {
        throw new IllegalArgumentException("no fixture " + name);
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static byte[] hmac(byte[] key, byte[] data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code sha256=<hex>} as Meta signs: HMAC-SHA256 keyed by the UTF-8 secret over the body. */
  public static String metaSignature(String secret, byte[] body) {
    return "sha256=" + HexFormat.of().formatHex(hmac(secret.getBytes(StandardCharsets.UTF_8), body));
  }

  /** {@code v1,<base64>} as Standard Webhooks signs {@code id.timestamp.body}. */
  public static String standardSignature(byte[] key, String id, String timestamp, byte[] body) {
    byte[] prefix = (id + "." + timestamp + ".").getBytes(StandardCharsets.UTF_8);
    byte[] all = new byte[prefix.length + body.length];
    System.arraycopy(prefix, 0, all, 0, prefix.length);
    System.arraycopy(body, 0, all, prefix.length, body.length);
    return "v1," + Base64.getEncoder().encodeToString(hmac(key, all));
  }

  /**
   * {@code raw} with every {@code "timestamp":"<digits>"} set to {@code at} (Unix seconds): a fixture
   * whose call events happened at the test clock's time instead of when the fixture was written.
   */
  public static byte[] at(byte[] raw, Instant at) {
    return new String(raw, StandardCharsets.UTF_8)
        .replaceAll("\"timestamp\":\"[0-9]+\"", "\"timestamp\":\"" + at.getEpochSecond() + "\"")
        .getBytes(StandardCharsets.UTF_8);
  }

  /** Where {@code part} starts in {@code whole}, or -1. */
  public static int indexOf(byte[] whole, byte[] part) {
    outer:
    for (int i = 0; i + part.length <= whole.length; i++) {
      for (int j = 0; j < part.length; j++) {
        if (whole[i + j] != part[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}

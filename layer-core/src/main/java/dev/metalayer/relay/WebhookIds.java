package dev.metalayer.relay;

import dev.metalayer.crypto.Secrets;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The Standard Webhooks {@code webhook-id} of a change: {@code msg_} and 32 lowercase hex digits of
 * SHA-256 over the entry id, the field and the change's exact bytes. Deterministic, so it is the same
 * on every attempt and when Meta delivers the same change again (the relay's dedupe key, and the
 * subscriber's). Contains no {@code .}, as the spec requires.
 */
final class WebhookIds {
  private WebhookIds() {}

  static String of(Change change) {
    ByteArrayOutputStream in = new ByteArrayOutputStream(change.changeLength() + 64);
    in.writeBytes(change.entryId().getBytes(StandardCharsets.UTF_8));
    in.write(0);
    in.writeBytes(change.field().getBytes(StandardCharsets.UTF_8));
    in.write(0);
    in.write(change.envelope(), change.changeOffset(), change.changeLength());
    return "msg_" + Secrets.hex(Secrets.sha256(in.toByteArray())).substring(0, 32);
  }
}

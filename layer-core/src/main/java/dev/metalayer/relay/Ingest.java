package dev.metalayer.relay;

import dev.metalayer.graph.GraphError;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The verification of a webhook POST before anything of it is stored: its size, its
 * {@code X-Hub-Signature-256} against the app secrets (or the unsigned-webhooks trial switch), and
 * its shape (a JSON object of {@code whatsapp_business_account} with {@code entry[].changes[]}). What
 * passes is handed on as single changes, {@linkplain EnvelopeSplitter split byte-exact}. Stateless
 * beyond its settings; thread-safe.
 */
final class Ingest {
  /** Meta's own payload limit. */
  static final int MAX_BODY_BYTES = CallWebhookRelay.MAX_BODY_BYTES;
  static final String WABA_OBJECT = "whatsapp_business_account";

  /** What verification made of a body: refused, or the changes it holds. */
  sealed interface Verified {}

  /** The body passed: its changes, in envelope order. */
  record Passed(List<Change> changes) implements Verified {}

  /** Nothing may be stored: the answer to give. */
  record Failed(IngestResult.Refused refusal) implements Verified {}

  private final List<String> appSecrets;
  private final boolean allowUnsigned;

  Ingest(List<String> appSecrets, boolean allowUnsigned) {
    this.appSecrets = List.copyOf(appSecrets);
    this.allowUnsigned = allowUnsigned;
  }

  /** The refusal the header alone earns (see {@link CallWebhookRelay#refusalBeforeBody}). */
  Optional<IngestResult.Refused> refusalBeforeBody(String signatureHeader) {
    if (signatureHeader == null || signatureHeader.isBlank()) {
      return allowUnsigned
          ? Optional.empty()
          : Optional.of(refused(IngestResult.Reason.UNSIGNED, GraphError.invalidToken("Missing X-Hub-Signature-256.")));
    }
    if (appSecrets.isEmpty() && !allowUnsigned) {
      return Optional.of(refused(IngestResult.Reason.BAD_SIGNATURE,
          GraphError.invalidToken("No app secret is configured: webhooks cannot be verified.")));
    }
    return Optional.empty();
  }

  /** Checks size, signature and shape, in that order. */
  Verified verify(byte[] body, String signatureHeader) {
    Objects.requireNonNull(body, "body");
    if (body.length > MAX_BODY_BYTES) {
      return new Failed(refused(IngestResult.Reason.TOO_LARGE, GraphError.tooLarge("The webhook body is larger than 3 MB.")));
    }
    Optional<IngestResult.Refused> early = refusalBeforeBody(signatureHeader);
    if (early.isPresent()) {
      return new Failed(early.get());
    }
    if (signatureHeader != null && !signatureHeader.isBlank() && !appSecrets.isEmpty()
        && !Signatures.verifyMeta(signatureHeader, body, appSecrets)) {
      return new Failed(refused(IngestResult.Reason.BAD_SIGNATURE, GraphError.invalidToken("Invalid X-Hub-Signature-256.")));
    }
    return shape(body);
  }

  /** The changes of a body whose origin is already settled (verified before, or made by the layer). */
  static Verified shape(byte[] body) {
    EnvelopeSplitter.Split split = EnvelopeSplitter.split(body);
    if (split instanceof EnvelopeSplitter.Malformed m) {
      return new Failed(refused(IngestResult.Reason.MALFORMED, GraphError.invalidParameter(m.reason())));
    }
    EnvelopeSplitter.Parsed parsed = (EnvelopeSplitter.Parsed) split;
    if (!WABA_OBJECT.equals(parsed.object())) {
      return new Failed(refused(IngestResult.Reason.WRONG_OBJECT,
          GraphError.invalidParameter("The object must be whatsapp_business_account.")));
    }
    return new Passed(parsed.changes());
  }

  /** The one line an operator reads at start when webhooks are unverifiable or unverified; empty when fine. */
  Optional<String> startWarning() {
    if (allowUnsigned) {
      return Optional.of("!!! LAYER_ALLOW_UNSIGNED_WEBHOOKS is on: webhooks without X-Hub-Signature-256 are ACCEPTED."
          + " Anyone who can reach /webhooks/meta can inject events. Use this for local trials only. !!!");
    }
    if (appSecrets.isEmpty()) {
      return Optional.of("No Meta app secret is configured (META_APP_SECRET): every webhook from Meta will be refused.");
    }
    return Optional.empty();
  }

  private static IngestResult.Refused refused(IngestResult.Reason reason, GraphError error) {
    return new IngestResult.Refused(reason, error);
  }
}

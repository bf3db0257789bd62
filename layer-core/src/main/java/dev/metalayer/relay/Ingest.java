package dev.metalayer.relay;

import dev.metalayer.relay.CallWebhookRelay.IngestResult;

import dev.metalayer.graph.GraphError;
import dev.metalayer.keys.KeyService;
import dev.metalayer.log.WarnLimiter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
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
  private static final Logger log = LoggerFactory.getLogger(Ingest.class);
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
  private final KeyService keys;
  private final WarnLimiter warnings;

  /** @param warnings limits the warning of a refused webhook to one per reason and minute */
  Ingest(List<String> appSecrets, boolean allowUnsigned, KeyService keys, WarnLimiter warnings) {
    this.appSecrets = List.copyOf(appSecrets);
    this.allowUnsigned = allowUnsigned;
    this.keys = Objects.requireNonNull(keys, "keys");
    this.warnings = Objects.requireNonNull(warnings, "warnings");
  }

  /**
   * The refusal the header alone earns (see {@link CallWebhookRelay#refusalBeforeBody}). Each refusal
   * is also logged at WARN, rate limited ({@link #warnRefused}).
   */
  Optional<IngestResult.Refused> refusalBeforeBody(String signatureHeader) {
    if (signatureHeader == null || signatureHeader.isBlank()) {
      if (allowUnsigned) {
        return Optional.empty();
      }
      warnRefused(IngestResult.Reason.UNSIGNED, null);
      return Optional.of(refused(IngestResult.Reason.UNSIGNED, GraphError.invalidToken("Missing X-Hub-Signature-256.")));
    }
    if (appSecrets.isEmpty() && !allowUnsigned) {
      warnRefused(null, null);
      return Optional.of(refused(IngestResult.Reason.BAD_SIGNATURE,
          GraphError.invalidToken("No app secret is configured: webhooks cannot be verified.")));
    }
    return Optional.empty();
  }

  /** Checks size, signature and shape, in that order. */
  Verified verify(byte[] body, String signatureHeader) {
    Objects.requireNonNull(body, "body");
    if (body.length > MAX_BODY_BYTES) {
      return new Failed(refused(IngestResult.Reason.TOO_LARGE, CallWebhookRelay.tooLarge()));
    }
    Optional<IngestResult.Refused> early = refusalBeforeBody(signatureHeader);
    if (early.isPresent()) {
      return new Failed(early.get());
    }
    if (signatureHeader != null && !signatureHeader.isBlank() && !appSecrets.isEmpty()
        && !Signatures.verifyMeta(signatureHeader, body, appSecrets)) {
      warnRefused(IngestResult.Reason.BAD_SIGNATURE, body);
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

  /**
   * One warning per reason and minute for webhooks refused by their signature. The body of a refused
   * webhook is not trusted: only numbers it names that are registered are named (parsed only when the
   * line is written), never its text.
   *
   * @param reason null when no app secret is configured
   * @param body the refused body, or null when it was not read
   */
  private void warnRefused(IngestResult.Reason reason, byte[] body) {
    String kind = reason == null ? "no-app-secret" : reason.name();
    warnings.permit("webhook-refused", kind).ifPresent(suppressed -> {
      String why = reason == null
          ? "no Meta app secret is configured, so no webhook can be verified (configure the app's secret)"
          : reason == IngestResult.Reason.UNSIGNED
              ? "it has no X-Hub-Signature-256 (Meta signs every webhook: the sender is not Meta, or a proxy"
                  + " dropped the header)"
              : "its X-Hub-Signature-256 matches none of the " + appSecrets.size() + " configured app"
                  + " secret(s) (the secret is not the one of the app Meta signs with, or the body was changed on"
                  + " the way)";
      log.warn("Webhook refused with 401: {}{}{}", why, namedNumbers(body), WarnLimiter.suppressed(suppressed));
    });
  }

  /** {@code ""}, or {@code "; it names phone number ID(s) …"} for the registered numbers a body names. */
  private String namedNumbers(byte[] body) {
    EnvelopeSplitter.Split split;
    try {
      split = body == null ? null : EnvelopeSplitter.split(body);
    } catch (RuntimeException e) {
      return ""; // a body that cannot be read names nothing; the refusal stands
    }
    if (!(split instanceof EnvelopeSplitter.Parsed parsed)) {
      return "";
    }
    java.util.Set<String> named = new java.util.TreeSet<>();
    for (Change c : parsed.changes()) {
      c.phoneNumberId().flatMap(keys::findNumber).ifPresent(n -> named.add(n.phoneNumberId()));
    }
    return named.isEmpty() ? "" : "; it names phone number ID(s) " + String.join(", ", named);
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

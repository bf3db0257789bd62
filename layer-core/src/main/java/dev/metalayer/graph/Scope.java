package dev.metalayer.graph;

import dev.metalayer.keys.Grant;
import dev.metalayer.keys.WhatsAppNumber;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * Which Graph objects a grant may address: the rule that keeps one number's key away from every other
 * number's objects.
 *
 * <p>Allowed: the grant's phone number ID and WABA ID, with any method and any edges; and a media ID:
 * a numeric object that is no registered number's phone number, WABA or business ID, with {@code GET}
 * or {@code DELETE} and no edges. Media requests are sent with {@code phone_number_id=<the grant's
 * number>} so that Meta itself checks that the media belongs to the number, and what Graph answers must
 * be a media object ({@link MediaObjects}): an ID allowed here by elimination may still be another
 * kind of object. Everything else, including
 * non-numeric nodes ({@code me}, {@code debug_token}, {@code oauth}, {@code app}…) and the grant's own
 * business ID, is refused with 403, code 200. Pure and thread-safe.
 *
 * @param registeredElsewhere whether an ID is an object of a number registered in the layer other than
 *     the grant's own phone number and WABA (the default is built on
 *     {@link dev.metalayer.keys.KeyService#isRegisteredObject}); embedders with their own
 *     {@link dev.metalayer.TokenResolver} supply theirs
 */
public record Scope(Predicate<String> registeredElsewhere) {

  /** What an allowed request addresses. */
  public enum Target {
    PHONE_NUMBER,
    WABA,
    MEDIA
  }

  public Scope {
    Objects.requireNonNull(registeredElsewhere, "registeredElsewhere");
  }

  public Outcome<Target> check(Grant grant, String method, GraphPath path) {
    WhatsAppNumber number = grant.number();
    String object = path.object();
    if (object.equals(number.phoneNumberId())) {
      return Outcome.ok(Target.PHONE_NUMBER);
    }
    if (object.equals(number.wabaId())) {
      return Outcome.ok(Target.WABA);
    }
    if (!WhatsAppNumber.isGraphId(object)) {
      return refuse();
    }
    if (object.equals(number.businessId()) || registeredElsewhere.test(object)) {
      return refuse();
    }
    if (isMediaMethod(method) && path.edges().isEmpty()) {
      return Outcome.ok(Target.MEDIA);
    }
    return refuse();
  }

  /** Whether {@code id} may be used as a media ID by {@code grant} (the media download route). */
  public boolean mayUseMedia(Grant grant, String id) {
    WhatsAppNumber n = grant.number();
    return WhatsAppNumber.isGraphId(id)
        && !n.owns(id)
        && !id.equals(n.businessId())
        && !registeredElsewhere.test(id);
  }

  private static boolean isMediaMethod(String method) {
    return "GET".equals(method) || "DELETE".equals(method);
  }

  private static Outcome<Target> refuse() {
    return Outcome.refused(
        GraphError.outOfScope("(#200) This key may only address its own phone number, WABA and media."));
  }
}

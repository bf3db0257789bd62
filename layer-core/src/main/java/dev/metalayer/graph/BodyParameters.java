package dev.metalayer.graph;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;

/**
 * The parameters Graph reads from a request body that is neither a form nor multipart (those are
 * {@link Credentials} and {@link MultipartParts}): a JSON object's top-level field names, read with the
 * streaming parser (nested values are skipped, never built), or, for a body that is not a JSON object,
 * the names of the body read as a form (Graph may read a body as a form whatever its declared type);
 * a JSON object not declared as JSON is read both ways.
 *
 * <p>Refused: a body that starts as a JSON array (400, rule {@code json-body}), more than {@link Credentials#MAX_PARAMETERS} top-level fields (400), and a top-level
 * field named like a credential ({@code access_token}, {@code appsecret_proof} and their variants:
 * 400, rule {@code credential-name}; the layer takes no credential from a JSON body). A {@code fields}
 * whose value is not a string is recorded as field expansion. Pure and thread-safe.
 */
final class BodyParameters {
  private static final JsonFactory JSON = new JsonFactory();

  private BodyParameters() {}

  /**
   * @param contentType the declared type: a JSON object declared as anything but JSON is also read as a
   *     form (both name sets are checked), since Graph may read it either way
   */
  static Outcome<Parameters> of(byte[] body, String contentType) {
    if (body.length == 0) {
      return Outcome.ok(Parameters.NONE);
    }
    Outcome<Parameters> json = json(body);
    if (json == null) {
      return Credentials.namesOf(body);
    }
    if (json instanceof Outcome.Refused<Parameters> || Headers.isJson(contentType)) {
      return json;
    }
    Outcome<Parameters> form = Credentials.namesOf(body);
    if (form instanceof Outcome.Refused<Parameters> r) {
      return Outcome.refused(r.error());
    }
    return Outcome.ok(((Outcome.Ok<Parameters>) json).value().and(((Outcome.Ok<Parameters>) form).value()));
  }

  /** The top-level names of a JSON object, or null when {@code body} is not one. */
  private static Outcome<Parameters> json(byte[] body) {
    Parameters.Builder names = new Parameters.Builder();
    int count = 0;
    try (JsonParser p = JSON.createParser(body)) {
      JsonToken first = p.nextToken();
      if (first == JsonToken.START_ARRAY) {
        // no Graph request takes one; a list of operations is what a batch looks like
        return Outcome.refused(GraphError.invalidParameter("(rule json-body) A JSON body must be an object."));
      }
      if (first != JsonToken.START_OBJECT) {
        return null;
      }
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        if (++count > Credentials.MAX_PARAMETERS) {
          return Outcome.refused(GraphError.invalidParameter(
              "Too many parameters: the layer takes at most " + Credentials.MAX_PARAMETERS + " in a query or a body."));
        }
        String canonical = Credentials.canonicalName(p.currentName());
        if (Credentials.isCredentialName(canonical)) {
          return Outcome.refused(Credentials.credentialName());
        }
        names.name(canonical);
        JsonToken value = p.nextToken();
        if (canonical.equals("fields")) {
          names.fields(value == JsonToken.VALUE_STRING ? p.getText() : "{");
        }
        p.skipChildren();
      }
      if (t != JsonToken.END_OBJECT || p.nextToken() != null) {
        return null;
      }
    } catch (IOException e) {
      return null;
    }
    return Outcome.ok(names.build());
  }
}

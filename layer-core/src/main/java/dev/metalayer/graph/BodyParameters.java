package dev.metalayer.graph;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;

/**
 * The parameters Graph reads from a request body that is neither a form nor multipart (those are
 * {@link Credentials} and {@link MultipartParts}): a JSON object's top-level field names, read with the
 * streaming parser (nested values are skipped, never built), or, for a body that is not a JSON object,
 * the names of the body read as a form (Graph may read a body as a form whatever its declared type).
 *
 * <p>Refused: more than {@link Credentials#MAX_PARAMETERS} top-level fields (400), and a top-level
 * field named like a credential ({@code access_token}, {@code appsecret_proof} and their variants:
 * 400, rule {@code credential-name}; the layer takes no credential from a JSON body). A {@code fields}
 * whose value is not a string is recorded as field expansion. Pure and thread-safe.
 */
final class BodyParameters {
  private static final JsonFactory JSON = new JsonFactory();

  private BodyParameters() {}

  static Outcome<Parameters> of(byte[] body) {
    if (body.length == 0) {
      return Outcome.ok(Parameters.NONE);
    }
    Outcome<Parameters> json = json(body);
    if (json != null) {
      return json;
    }
    return Credentials.namesOf(body);
  }

  /** The top-level names of a JSON object, or null when {@code body} is not one. */
  private static Outcome<Parameters> json(byte[] body) {
    Parameters.Builder names = new Parameters.Builder();
    int count = 0;
    try (JsonParser p = JSON.createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
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

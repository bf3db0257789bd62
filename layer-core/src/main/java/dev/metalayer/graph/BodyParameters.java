package dev.metalayer.graph;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.json.JsonReadFeature;
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
 * <p>Refused: a body that starts as a JSON array (400, rule {@code json-body}), a body declared as JSON
 * or starting as one (an opening brace or bracket) that is not exactly one strict JSON object (400, rule {@code json-body}:
 * a lenient parser could read a {@code batch} the layer never saw), more than {@link Credentials#MAX_PARAMETERS} top-level fields (400), and a top-level
 * field named like a credential ({@code access_token}, {@code appsecret_proof} and their variants:
 * 400, rule {@code credential-name}; the layer takes no credential from a JSON body). A {@code fields}
 * whose value is not a string is recorded as field expansion. Pure and thread-safe.
 */
final class BodyParameters {
  /** Strict: every leniency Jackson offers stays off, so the layer reads no object Graph reads otherwise. */
  static final JsonFactory JSON =
      JsonFactory.builder()
          .disable(JsonReadFeature.ALLOW_JAVA_COMMENTS)
          .disable(JsonReadFeature.ALLOW_YAML_COMMENTS)
          .disable(JsonReadFeature.ALLOW_SINGLE_QUOTES)
          .disable(JsonReadFeature.ALLOW_UNQUOTED_FIELD_NAMES)
          .disable(JsonReadFeature.ALLOW_TRAILING_COMMA)
          .disable(JsonReadFeature.ALLOW_MISSING_VALUES)
          .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
          .disable(JsonReadFeature.ALLOW_LEADING_ZEROS_FOR_NUMBERS)
          .disable(JsonReadFeature.ALLOW_LEADING_DECIMAL_POINT_FOR_NUMBERS)
          .disable(JsonReadFeature.ALLOW_TRAILING_DECIMAL_POINT_FOR_NUMBERS)
          .disable(JsonReadFeature.ALLOW_UNESCAPED_CONTROL_CHARS)
          .disable(JsonReadFeature.ALLOW_BACKSLASH_ESCAPING_ANY_CHARACTER)
          .build();
  private static final GraphError NOT_STRICT = GraphError.invalidParameter("(rule json-body) A JSON body must be exactly one strict"
      + " JSON object: no comments, single quotes, unquoted names, trailing commas, NaN, leading zeros or trailing text.");

  private BodyParameters() {}

  /**
   * @param contentType the declared type: a JSON object declared as anything but JSON is also read as a
   *     form (both name sets are checked), since Graph may read it either way
   */
  static Outcome<Parameters> of(byte[] body, String contentType) {
    if (body.length == 0) {
      return Outcome.ok(Parameters.NONE);
    }
    if (!Headers.isJson(contentType) && !opensWith(body, "{[")) {
      return Credentials.namesOf(body);
    }
    Outcome<Parameters> json = json(body);
    if (json instanceof Outcome.Refused<Parameters> || Headers.isJson(contentType)) {
      return json;
    }
    Outcome<Parameters> form = Credentials.namesOf(body);
    if (form instanceof Outcome.Refused<Parameters> r) {
      return Outcome.refused(r.error());
    }
    return Outcome.ok(((Outcome.Ok<Parameters>) json).value().and(((Outcome.Ok<Parameters>) form).value()));
  }

  /**
   * Whether the first byte of {@code body} past a UTF-8 byte order mark and JSON whitespace (space, tab,
   * CR, LF) is one of {@code openers}: {@code "{["} asks whether the body starts as a JSON object or array
   * would, {@code "{"} whether it starts as an object. The one scan of both {@link #of} and {@link CallRequests}.
   */
  static boolean opensWith(byte[] body, String openers) {
    int i = body.length >= 3 && (body[0] & 0xff) == 0xef && (body[1] & 0xff) == 0xbb && (body[2] & 0xff) == 0xbf ? 3 : 0;
    while (i < body.length && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n')) {
      i++;
    }
    return i < body.length && openers.indexOf(body[i]) >= 0;
  }

  /** The top-level names of a JSON object, or the refusal when {@code body} is not exactly one strict JSON object. */
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
        return Outcome.refused(NOT_STRICT);
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
        return Outcome.refused(NOT_STRICT);
      }
    } catch (IOException e) {
      return Outcome.refused(NOT_STRICT); // a parse error, also a value past the object ({"a":1}{"batch":…})
    }
    return Outcome.ok(names.build());
  }
}

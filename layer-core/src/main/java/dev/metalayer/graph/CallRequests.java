package dev.metalayer.graph;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.metalayer.graph.CallGuard.CallRequest;
import java.io.IOException;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads the few values of a {@code POST /{phone-number-id}/calls} or {@code /messages} body the layer's
 * call rules act on ({@link CallRequest}), from a JSON object or a form, as Graph would read them: with
 * the strict JSON parser of {@link BodyParameters} (streaming, nothing else built) and the form decoding
 * and canonical names of {@link Credentials}. A form value that is an object ({@code interactive},
 * {@code template}) is read as the JSON text Graph reads it as; so is a JSON string in place of an object.
 *
 * <p>Refused (400): {@code action}, {@code call_id}, {@code to}, {@code recipient},
 * {@code interactive} or {@code template} given twice (a layer that read one while Meta reads the
 * other would guard the wrong call); {@code action} or {@code call_id} that is not a string; a
 * {@code call_id} that is empty, longer than {@link #MAX_CALL_ID} characters or holds anything but
 * visible ASCII; and a body that starts as JSON but also carries one of those names read as a form.
 * Pure and thread-safe.
 */
final class CallRequests {
  /** The longest {@code call_id} taken (Meta's WACIDs are under 100 characters). */
  static final int MAX_CALL_ID = 256;
  private static final Pattern CALL_ID = Pattern.compile("[\\x21-\\x7e]{1," + MAX_CALL_ID + "}");
  private static final Pattern PHONE = Pattern.compile("[+0-9 ()\\-.]{1,40}");
  private static final Pattern RECIPIENT = Pattern.compile("[\\x21-\\x7e]{1,256}");
  private static final String PERMISSION_REQUEST = "call_permission_request";
  private static final Set<String> READ = Set.of("action", "call_id", "to", "recipient", "interactive", "template");

  private CallRequests() {}

  static Outcome<CallRequest> read(byte[] body) {
    if (body.length == 0) {
      return Outcome.ok(CallRequest.NONE);
    }
    Map<String, Object> values = new HashMap<>();
    Optional<GraphError> refused = BodyParameters.opensWith(body, "{") ? json(body, values) : form(body, values);
    if (refused.isPresent()) {
      return Outcome.refused(refused.get());
    }
    decide(values);
    if (values.get("action") instanceof Bad || values.get("call_id") instanceof Bad) {
      return Outcome.refused(GraphError.invalidParameter("(rule call-body) action and call_id must be strings."));
    }
    Optional<String> callId = Optional.ofNullable((String) values.get("call_id"));
    if (callId.isPresent() && !CALL_ID.matcher(callId.get()).matches()) {
      return Outcome.refused(GraphError.invalidParameter("(rule call-body) call_id must be 1 to " + MAX_CALL_ID
          + " visible ASCII characters."));
    }
    Optional<String> action = Optional.ofNullable((String) values.get("action")).map(a -> stripped(a).toLowerCase(Locale.ROOT));
    Optional<String> user = user(values.get("to")).or(() -> user(values.get("recipient")));
    boolean permissionRequest = Boolean.TRUE.equals(values.get(PERMISSION_REQUEST));
    return Outcome.ok(new CallRequest(action, callId, user, permissionRequest));
  }

  /**
   * The bytes the call rules read for a request whose query (without credentials) may name call
   * parameters too, as Graph reads a {@code POST}'s query with its body: the body alone when the query
   * names none; the query and a form (or no body) read as one form, so that a name given in both is
   * refused as given twice; refused (400) for a JSON body, which cannot be read as one with a query.
   */
  static Outcome<byte[]> withQuery(String query, byte[] body) {
    if (query.isEmpty()) {
      return Outcome.ok(body);
    }
    byte[] q = query.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    Map<String, Object> inQuery = new HashMap<>();
    Optional<GraphError> refused = form(q, inQuery);
    if (refused.isPresent()) {
      return Outcome.refused(refused.get());
    }
    if (inQuery.isEmpty()) {
      return Outcome.ok(body);
    }
    if (BodyParameters.opensWith(body, "{")) {
      return Outcome.refused(GraphError.invalidParameter("(rule call-body) A JSON body's call parameters ("
          + String.join(", ", new java.util.TreeSet<>(inQuery.keySet())) + ") must be in the body, not the query."));
    }
    if (body.length == 0) {
      return Outcome.ok(q);
    }
    byte[] both = java.util.Arrays.copyOf(q, q.length + 1 + body.length);
    both[q.length] = '&';
    System.arraycopy(body, 0, both, q.length + 1, body.length);
    return Outcome.ok(both);
  }

  /**
   * {@code text} without the spaces and invisible characters around it: any a lenient reader could trim
   * (ASCII controls and spaces, Unicode spaces such as U+00A0 and U+3000, line separators, format
   * characters such as U+200B and U+FEFF), so that a padded {@code accept} is guarded as one.
   */
  static String stripped(String text) {
    int start = 0;
    int end = text.length();
    while (start < end && invisible(text.charAt(start))) {
      start++;
    }
    while (end > start && invisible(text.charAt(end - 1))) {
      end--;
    }
    return text.substring(start, end);
  }

  private static boolean invisible(char c) {
    return c <= ' ' || Character.isWhitespace(c) || Character.isSpaceChar(c) || Character.getType(c) == Character.FORMAT
        || Character.getType(c) == Character.CONTROL;
  }

  /** A value of the wrong kind (a number where a string is due, an object…). */
  private record Bad() {}

  /** The user's key of a {@code to} (digits only, so that spellings of one number agree) or a {@code recipient}. */
  private static Optional<String> user(Object value) {
    if (!(value instanceof String s)) {
      return Optional.empty();
    }
    String t = s.trim();
    if (PHONE.matcher(t).matches()) {
      String digits = t.replaceAll("[^0-9]", "");
      return digits.isEmpty() ? Optional.empty() : Optional.of(digits);
    }
    return RECIPIENT.matcher(t).matches() ? Optional.of(t) : Optional.empty();
  }

  private static GraphError twice(String name) {
    return GraphError.invalidParameter("(rule call-body) The parameter " + name + " is given twice.");
  }

  /**
   * Reads a JSON object's top-level values of interest; the body was already checked to be one strict JSON
   * object, and opens with a brace ({@link BodyParameters#opensWith}), so its first token is that object's start.
   */
  private static Optional<GraphError> json(byte[] body, Map<String, Object> values) {
    try (JsonParser p = BodyParameters.JSON.createParser(body)) {
      p.nextToken(); // START_OBJECT
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = Credentials.canonicalName(p.currentName());
        JsonToken value = p.nextToken();
        if (!READ.contains(name)) {
          p.skipChildren();
          continue;
        }
        if (values.containsKey(name)) {
          return Optional.of(twice(name));
        }
        switch (name) {
          case "interactive" -> values.put(name, interactiveType(p, value));
          case "template" -> values.put(name, templateAsks(p, value));
          case "to", "recipient" -> values.put(name, value == JsonToken.VALUE_STRING || value == JsonToken.VALUE_NUMBER_INT
              ? p.getText() : skipped(p));
          default -> values.put(name, value == JsonToken.VALUE_STRING ? p.getText() : skipped(p));
        }
      }
    } catch (IOException e) {
      return Optional.of(GraphError.notJsonObject());
    }
    // a JSON body Graph might read as a form must not name, as a form, what the layer read as JSON
    Map<String, Object> asForm = new HashMap<>();
    if (form(body, asForm).isPresent() || !asForm.isEmpty()) {
      return Optional.of(GraphError.invalidParameter(
          "(rule call-body) A JSON body must not also carry call parameters when read as a form."));
    }
    return Optional.empty();
  }

  private static Bad skipped(JsonParser p) throws IOException {
    p.skipChildren();
    return new Bad();
  }

  /** Reads a form's values of interest (names compared canonically). */
  private static Optional<GraphError> form(byte[] body, Map<String, Object> values) {
    int start = 0;
    while (start <= body.length) {
      int end = Credentials.indexOf(body, (byte) '&', start);
      if (end < 0) {
        end = body.length;
      }
      if (end > start) {
        int eq = Credentials.indexOf(body, (byte) '=', start, end);
        String name = Credentials.canonicalName(Credentials.decode(body, start, eq < 0 ? end : eq));
        if (READ.contains(name)) {
          if (values.containsKey(name)) {
            return Optional.of(twice(name));
          }
          String value = eq < 0 ? "" : Credentials.decode(body, eq + 1, end);
          values.put(name, switch (name) {
            case "interactive" -> ofText(value, CallRequests::interactiveType);
            case "template" -> ofText(value, CallRequests::templateAsks);
            default -> value;
          });
        }
      }
      start = end + 1;
    }
    return Optional.empty();
  }

  /** What an object given as text says, read as JSON; {@link Bad} when it is no JSON. */
  private interface ObjectReader {
    Object read(JsonParser p, JsonToken first) throws IOException;
  }

  private static Object ofText(String text, ObjectReader reader) {
    try (JsonParser p = BodyParameters.JSON.createParser(text)) {
      return reader.read(p, p.nextToken());
    } catch (IOException e) {
      return new Bad();
    }
  }

  /** Marks the values a call permission request: an {@code interactive} of its type, or a {@code template} with its component. */
  private static void decide(Map<String, Object> values) {
    Object interactive = values.get("interactive");
    Object template = values.get("template");
    boolean asks = PERMISSION_REQUEST.equals(interactive) || Boolean.TRUE.equals(template);
    if (asks) {
      values.put(PERMISSION_REQUEST, true);
    }
    values.remove("interactive");
    values.remove("template");
  }

  /** {@code interactive.type}, lower case, from the object (or its JSON text); {@link Bad} for anything else. */
  private static Object interactiveType(JsonParser p, JsonToken first) throws IOException {
    if (first == JsonToken.VALUE_STRING) {
      return ofText(p.getText(), CallRequests::interactiveType);
    }
    if (first != JsonToken.START_OBJECT) {
      return skipped(p);
    }
    Object type = new Bad();
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String name = Credentials.canonicalName(p.currentName());
      JsonToken value = p.nextToken();
      if (name.equals("type") && value == JsonToken.VALUE_STRING) {
        type = p.getText().trim().toLowerCase(Locale.ROOT);
      } else {
        p.skipChildren();
      }
    }
    return type;
  }

  /** Whether a template (object or JSON text) has a component of type {@code call_permission_request}. */
  private static Object templateAsks(JsonParser p, JsonToken first) throws IOException {
    if (first == JsonToken.VALUE_STRING) {
      return ofText(p.getText(), CallRequests::templateAsks);
    }
    if (first != JsonToken.START_OBJECT) {
      return skipped(p);
    }
    boolean asks = false;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String name = Credentials.canonicalName(p.currentName());
      JsonToken value = p.nextToken();
      if (name.equals("components")) {
        asks |= componentsAsk(p, value);
      } else {
        p.skipChildren();
      }
    }
    return asks;
  }

  private static boolean componentsAsk(JsonParser p, JsonToken first) throws IOException {
    if (first == JsonToken.VALUE_STRING) {
      return Boolean.TRUE.equals(ofText(p.getText(), (q, t) -> componentsAsk(q, t)));
    }
    if (first != JsonToken.START_ARRAY) {
      p.skipChildren();
      return false;
    }
    boolean asks = false;
    JsonToken t;
    while ((t = p.nextToken()) != JsonToken.END_ARRAY && t != null) {
      if (t == JsonToken.START_OBJECT) {
        asks |= PERMISSION_REQUEST.equals(interactiveType(p, t));
      } else {
        p.skipChildren();
      }
    }
    return asks;
  }

}

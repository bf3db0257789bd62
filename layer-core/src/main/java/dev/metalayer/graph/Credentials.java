package dev.metalayer.graph;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Where a client's credential may hide, the request without it, and the names of the parameters the
 * query and a form carry (what {@link Surface} checks).
 *
 * <p>A credential is accepted from {@code Authorization: Bearer …} (or {@code OAuth …}, the scheme
 * compared case-insensitively), from the {@code access_token} query parameter, or from an
 * {@code access_token} field of an {@code application/x-www-form-urlencoded} body. Every
 * {@code access_token} and {@code appsecret_proof} is removed from the query and the form: what the
 * client sent as credential never travels upstream, and the layer computes its own proof.
 *
 * <p>Rules: an {@code Authorization} header with another scheme or no value is refused (401). When
 * several places carry a credential they must all be the same value; two different credentials are
 * refused (400, code 100), so that the key checked is always the key that was meant. A parameter whose
 * {@linkplain #canonicalName canonical name} starts with {@code access_token} or {@code appsecret_proof}
 * but is not exactly that name ({@code ACCESS_TOKEN}, {@code access_token[]}, {@code %20access_token},
 * {@code access.token}) is refused (400, rule {@code credential-name}): Graph may read it as a token.
 * More than {@link #MAX_PARAMETERS} parameters in the query or in the form are refused (400).
 *
 * <p>A query or form is scanned once over its bytes: only parameter names are decoded (and the
 * values of {@code fields}, which {@link Surface} checks for field expansion), never the whole body
 * into a string nor into a list of pairs.
 *
 * @param credential the credential found, if any (not yet checked)
 * @param upstreamQuery the raw query without credentials and proofs, {@code ""} when nothing is left
 * @param upstreamForm the form body without credentials and proofs, when a form was given; the very
 *     bytes given when there was nothing to remove
 * @param parameters the canonical names of the query's and the form's parameters (credentials and
 *     proofs excluded) and the values of {@code fields}
 */
// parameters is read inside this package only (Surface); its type stays out of the public surface
@SuppressWarnings("exports")
public record Credentials(
    Optional<String> credential, String upstreamQuery, Optional<byte[]> upstreamForm, Parameters parameters) {
  static final String ACCESS_TOKEN = "access_token";
  static final String APPSECRET_PROOF = "appsecret_proof";
  /** Most parameters a query, a form, a JSON body or a multipart body may carry. */
  public static final int MAX_PARAMETERS = 1000;

  /**
   * @param authorization the {@code Authorization} header, or null
   * @param rawQuery the raw (encoded) query string, or null
   * @param form the body of an {@code application/x-www-form-urlencoded} request, or null for any other
   *     request
   */
  public static Outcome<Credentials> extract(String authorization, String rawQuery, byte[] form) {
    List<String> found = new ArrayList<>();
    Optional<GraphError> malformed = addFromAuthorization(authorization, found);
    if (malformed.isPresent()) {
      return Outcome.refused(malformed.get());
    }
    String query = rawQuery == null ? "" : rawQuery;
    Outcome<Scan> scannedQuery = scan(query.getBytes(StandardCharsets.UTF_8));
    if (scannedQuery instanceof Outcome.Refused<Scan> r) {
      return Outcome.refused(r.error());
    }
    Scan q = ((Outcome.Ok<Scan>) scannedQuery).value();
    found.addAll(q.credentials());
    Parameters parameters = q.parameters();
    Optional<byte[]> upstreamForm = Optional.empty();
    if (form != null) {
      Outcome<Scan> scannedForm = scan(form);
      if (scannedForm instanceof Outcome.Refused<Scan> r) {
        return Outcome.refused(r.error());
      }
      Scan f = ((Outcome.Ok<Scan>) scannedForm).value();
      found.addAll(f.credentials());
      parameters = parameters.and(f.parameters());
      upstreamForm = Optional.of(f.rest() == null ? form : f.rest());
    }
    Outcome<Optional<String>> credential = agreed(found);
    if (credential instanceof Outcome.Refused<Optional<String>> r) {
      return Outcome.refused(r.error());
    }
    String upstreamQuery = q.rest() == null ? query : new String(q.rest(), StandardCharsets.UTF_8);
    return Outcome.ok(new Credentials(((Outcome.Ok<Optional<String>>) credential).value(), upstreamQuery, upstreamForm, parameters));
  }

  /**
   * The credential of the {@code Authorization} header and the query alone, for an adapter that checks
   * it before reading a body: empty when neither carries one (a form may), a 401 when the header is
   * malformed, a 400 when they disagree or the query is refused. Reads no body.
   */
  public static Outcome<Optional<String>> withoutBody(String authorization, String rawQuery) {
    Outcome<Credentials> c = extract(authorization, rawQuery, null);
    if (c instanceof Outcome.Refused<Credentials> r) {
      return Outcome.refused(r.error());
    }
    return Outcome.ok(((Outcome.Ok<Credentials>) c).value().credential());
  }

  /**
   * The credential of a request to the layer's own API ({@code /v1/webhooks}): from
   * {@code Authorization} (the schemes {@link #extract} accepts, a malformed header refused alike) and
   * from an {@code x-api-key} header (a blank one counts as absent), under the same rule: when both
   * carry one, they must be the same value, else 400.
   *
   * @return the credential (empty when neither carries one), or the refusal
   */
  public static Outcome<Optional<String>> ofApiRequest(String authorization, String apiKey) {
    List<String> found = new ArrayList<>();
    Optional<GraphError> malformed = addFromAuthorization(authorization, found);
    if (malformed.isPresent()) {
      return Outcome.refused(malformed.get());
    }
    if (apiKey != null && !apiKey.isBlank()) {
      found.add(apiKey.trim());
    }
    return agreed(found);
  }

  /** The one rule for several credentials: all the same value (compared in constant time), or refused. */
  private static Outcome<Optional<String>> agreed(List<String> found) {
    Optional<String> credential = Optional.empty();
    for (String c : found) {
      if (credential.isEmpty()) {
        credential = Optional.of(c);
      } else if (!dev.metalayer.crypto.Secrets.constantTimeEquals(credential.get(), c)) {
        return Outcome.refused(
            GraphError.invalidParameter("Conflicting access tokens: send one credential, in one place."));
      }
    }
    return Outcome.ok(credential);
  }

  /** Adds the credential of an {@code Authorization} header (if any) to {@code found}; the refusal of a malformed one. */
  private static Optional<GraphError> addFromAuthorization(String authorization, List<String> found) {
    if (authorization == null) {
      return Optional.empty();
    }
    Optional<String> fromHeader = fromAuthorization(authorization);
    if (fromHeader.isEmpty()) {
      return Optional.of(GraphError.invalidToken("Malformed access token: use Authorization: Bearer <key>."));
    }
    found.add(fromHeader.get());
    return Optional.empty();
  }

  private static Optional<String> fromAuthorization(String header) {
    String value = header.trim();
    int space = value.indexOf(' ');
    if (space <= 0) {
      return Optional.empty();
    }
    String scheme = value.substring(0, space).toLowerCase(Locale.ROOT);
    String token = value.substring(space + 1).trim();
    if (!(scheme.equals("bearer") || scheme.equals("oauth")) || token.isEmpty() || token.indexOf(' ') >= 0) {
      return Optional.empty();
    }
    return Optional.of(token);
  }

  /**
   * What one scan of a query or form found: the credentials it carried, its parameters, and the bytes
   * without credentials and proofs ({@code rest}), or null when nothing was removed.
   */
  private record Scan(List<String> credentials, Parameters parameters, byte[] rest) {}

  /**
   * Scans {@code raw} once, pair by pair ({@code &}-separated): decodes each name, and the value only of
   * {@code access_token} and {@code fields}; copies the pairs to keep into {@code rest} only once a
   * pair was removed.
   */
  private static Outcome<Scan> scan(byte[] raw) {
    if (raw.length == 0) {
      return Outcome.ok(new Scan(List.of(), Parameters.NONE, null));
    }
    List<String> credentials = new ArrayList<>();
    Parameters.Builder parameters = new Parameters.Builder();
    ByteArrayOutputStream rest = null;
    int count = 0;
    int start = 0;
    while (start <= raw.length) {
      int end = indexOf(raw, (byte) '&', start);
      if (end < 0) {
        end = raw.length;
      }
      if (end > start) {
        if (++count > MAX_PARAMETERS) {
          return Outcome.refused(GraphError.invalidParameter(
              "Too many parameters: the layer takes at most " + MAX_PARAMETERS + " in a query or a body."));
        }
        int eq = indexOf(raw, (byte) '=', start, end);
        int nameEnd = eq < 0 ? end : eq;
        String name = decode(raw, start, nameEnd);
        String canonical = canonicalName(name);
        boolean credential = name.equals(ACCESS_TOKEN) || name.equals(APPSECRET_PROOF);
        if (!credential && isCredentialName(canonical)) {
          return Outcome.refused(credentialName());
        }
        if (credential) {
          if (rest == null) {
            rest = new ByteArrayOutputStream(raw.length);
            rest.write(raw, 0, Math.max(0, start - 1));
          }
          if (name.equals(ACCESS_TOKEN) && eq >= 0) {
            String value = decode(raw, eq + 1, end).trim();
            if (!value.isEmpty()) {
              credentials.add(value);
            }
          }
        } else {
          parameters.name(canonical);
          if (canonical.equals("fields")) {
            parameters.fields(eq < 0 ? "" : decode(raw, eq + 1, end));
          }
          if (rest != null) {
            if (rest.size() > 0) {
              rest.write('&');
            }
            rest.write(raw, start, end - start);
          }
        }
      }
      start = end + 1;
    }
    return Outcome.ok(new Scan(List.copyOf(credentials), parameters.build(), rest == null ? null : rest.toByteArray()));
  }

  /**
   * The parameters of a body read as a form when it is not one the layer takes a credential from: any
   * credential or proof in it is refused (rule {@code credential-name}).
   */
  static Outcome<Parameters> namesOf(byte[] body) {
    Outcome<Scan> s = scan(body);
    if (s instanceof Outcome.Refused<Scan> r) {
      return Outcome.refused(r.error());
    }
    Scan scan = ((Outcome.Ok<Scan>) s).value();
    return scan.rest() == null ? Outcome.ok(scan.parameters()) : Outcome.refused(credentialName());
  }

  /** The 400 for a parameter that looks like a credential but is not exactly {@code access_token}. */
  static GraphError credentialName() {
    return GraphError.invalidParameter(
        "(rule credential-name) A parameter named like access_token or appsecret_proof is refused: send the key"
            + " as Authorization: Bearer <key> or as access_token.");
  }

  /** Whether a canonical name is a credential's or a proof's, or a variant of one. */
  static boolean isCredentialName(String canonical) {
    return canonical.startsWith(ACCESS_TOKEN) || canonical.startsWith(APPSECRET_PROOF);
  }

  /**
   * A parameter name as Graph may read it: decoded, trimmed, lower-cased, with spaces and dots read as
   * {@code _} and any array suffix ({@code name[…]}) cut. Graph (like PHP) reads {@code access.token} and
   * {@code access token} as {@code access_token}; comparing canonical names leaves no spelling through.
   */
  public static String canonicalName(String decoded) {
    String n = decoded.trim().toLowerCase(Locale.ROOT).replace(' ', '_').replace('.', '_');
    int bracket = n.indexOf('[');
    return bracket < 0 ? n : n.substring(0, bracket);
  }

  /** Query without {@code access_token} and {@code appsecret_proof} (for URLs Graph gave, e.g. paging). */
  static String withoutCredentials(String rawQuery) {
    Outcome<Scan> s = scan(rawQuery.getBytes(StandardCharsets.UTF_8));
    if (s instanceof Outcome.Ok<Scan> ok) {
      return ok.value().rest() == null ? rawQuery : new String(ok.value().rest(), StandardCharsets.UTF_8);
    }
    return ""; // a Graph URL carrying a credential-like variant keeps no query at all
  }

  /** The first index of {@code b} in {@code data[from, data.length)}, or -1. */
  static int indexOf(byte[] data, byte b, int from) {
    return indexOf(data, b, from, data.length);
  }

  /** The first index of {@code b} in {@code data[from, to)}, or -1. */
  static int indexOf(byte[] data, byte b, int from, int to) {
    for (int i = from; i < to; i++) {
      if (data[i] == b) {
        return i;
      }
    }
    return -1;
  }

  /**
   * Decodes one form or query component of {@code data[from, to)} ({@code +} is a space, {@code %XX} a
   * byte, UTF-8); a malformed escape is kept as written (it is then simply not a name we look for).
   */
  static String decode(byte[] data, int from, int to) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(to - from);
    for (int i = from; i < to; i++) {
      byte b = data[i];
      if (b == '+') {
        out.write(' ');
      } else if (b == '%' && i + 2 < to && hex(data[i + 1]) >= 0 && hex(data[i + 2]) >= 0) {
        out.write(hex(data[i + 1]) * 16 + hex(data[i + 2]));
        i += 2;
      } else {
        out.write(b);
      }
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  /** Decodes one query component; see {@link #decode(byte[], int, int)}. */
  static String decode(String component) {
    byte[] b = component.getBytes(StandardCharsets.UTF_8);
    return decode(b, 0, b.length);
  }

  private static int hex(byte b) {
    if (b >= '0' && b <= '9') {
      return b - '0';
    }
    if (b >= 'a' && b <= 'f') {
      return b - 'a' + 10;
    }
    if (b >= 'A' && b <= 'F') {
      return b - 'A' + 10;
    }
    return -1;
  }

  @Override
  public String toString() {
    return "Credentials[credential=" + (credential.isPresent() ? "<present>" : "<none>") + "]";
  }
}

package dev.metalayer.graph;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Where a client's credential may hide, and the request without it.
 *
 * <p>A credential is accepted from {@code Authorization: Bearer …} (or {@code OAuth …}, the scheme
 * compared case-insensitively), from the {@code access_token} query parameter, or from an
 * {@code access_token} field of an {@code application/x-www-form-urlencoded} body. Every
 * {@code access_token} and {@code appsecret_proof} is removed from the query and the form: what the
 * client sent as credential never travels upstream, and the layer computes its own proof.
 *
 * <p>Rules: an {@code Authorization} header with another scheme or no value is refused (401). When
 * several places carry a credential they must all be the same value; two different credentials are
 * refused (400, code 100), so that the key checked is always the key that was meant.
 *
 * @param credential the credential found, if any (not yet checked)
 * @param upstreamQuery the raw query without credentials and proofs, {@code ""} when nothing is left
 * @param upstreamForm the form body without credentials and proofs, when a form was given; the very
 *     bytes given when there was nothing to remove
 */
public record Credentials(Optional<String> credential, String upstreamQuery, Optional<byte[]> upstreamForm) {
  static final String ACCESS_TOKEN = "access_token";
  static final String APPSECRET_PROOF = "appsecret_proof";

  /**
   * @param authorization the {@code Authorization} header, or null
   * @param rawQuery the raw (encoded) query string, or null
   * @param form the body of an {@code application/x-www-form-urlencoded} request, or null for any other
   *     request
   */
  public static Outcome<Credentials> extract(String authorization, String rawQuery, byte[] form) {
    List<String> found = new ArrayList<>();
    if (authorization != null) {
      Optional<String> fromHeader = fromAuthorization(authorization);
      if (fromHeader.isEmpty()) {
        return Outcome.refused(
            GraphError.invalidToken("Malformed access token: use Authorization: Bearer <key>."));
      }
      found.add(fromHeader.get());
    }
    Params query = Params.strip(rawQuery == null ? "" : rawQuery);
    found.addAll(query.credentials());
    Optional<byte[]> upstreamForm = Optional.empty();
    if (form != null) {
      Params fields = Params.strip(new String(form, StandardCharsets.UTF_8));
      found.addAll(fields.credentials());
      upstreamForm = Optional.of(fields.changed() ? fields.rest().getBytes(StandardCharsets.UTF_8) : form);
    }
    Outcome<Optional<String>> credential = agreed(found);
    if (credential instanceof Outcome.Refused<Optional<String>> r) {
      return Outcome.refused(r.error());
    }
    return Outcome.ok(new Credentials(((Outcome.Ok<Optional<String>>) credential).value(), query.rest(), upstreamForm));
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
    if (authorization != null) {
      Optional<String> fromHeader = fromAuthorization(authorization);
      if (fromHeader.isEmpty()) {
        return Outcome.refused(
            GraphError.invalidToken("Malformed access token: use Authorization: Bearer <key>."));
      }
      found.add(fromHeader.get());
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

  /** A query or form split on {@code &}: the credentials it carried and the raw rest, order kept. */
  record Params(List<String> credentials, String rest, boolean changed) {
    static Params strip(String raw) {
      if (raw.isEmpty()) {
        return new Params(List.of(), "", false);
      }
      List<String> credentials = new ArrayList<>();
      StringBuilder rest = new StringBuilder();
      boolean changed = false;
      for (String pair : raw.split("&", -1)) {
        int eq = pair.indexOf('=');
        String name = decode(eq < 0 ? pair : pair.substring(0, eq));
        if (name.equals(ACCESS_TOKEN) || name.equals(APPSECRET_PROOF)) {
          changed = true;
          if (name.equals(ACCESS_TOKEN) && eq >= 0) {
            String value = decode(pair.substring(eq + 1)).trim();
            if (!value.isEmpty()) {
              credentials.add(value);
            }
          }
          continue;
        }
        if (rest.length() > 0) {
          rest.append('&');
        }
        rest.append(pair);
      }
      return new Params(List.copyOf(credentials), changed ? rest.toString() : raw, changed);
    }
  }

  /** Decodes one query component; a malformed escape is kept as written (it is then simply not a name we look for). */
  static String decode(String component) {
    try {
      return URLDecoder.decode(component, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return component;
    }
  }

  @Override
  public String toString() {
    return "Credentials[credential=" + (credential.isPresent() ? "<present>" : "<none>") + "]";
  }
}

package dev.metalayer.graph;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What the core needs to know of a client's request to the Graph prefix. {@link #toString()} shows no
 * credential.
 *
 * @param method the HTTP method, upper case
 * @param path the path after the Graph prefix, as received (percent-encoded), e.g. {@code /v13.0/123/messages}
 * @param rawQuery the query as received, or {@code ""}
 * @param authorization the {@code Authorization} header, if any
 * @param form the body, only for an {@code application/x-www-form-urlencoded} request
 * @param requestBase {@code scheme://host[:port]} as the client addressed the layer, its {@code Host}
 *     header included: the client's to choose, so the layer builds no URL from it (see
 *     {@link GraphSettings#publicUrl()})
 * @param contentType the {@code Content-Type} header, if any
 * @param body the whole body of a request that is neither a form nor multipart, when it has one (the
 *     {@link Surface} checks the parameters Graph would read from it); empty otherwise. A multipart body
 *     is never buffered: its part names are checked as it streams ({@link GraphExchange#multipartParts})
 * @param headerNames the names of the client's header fields, one per field (a repeated header is
 *     listed each time): the surface refuses method override headers, encoded bodies and a repeated
 *     {@code Content-Type}
 */
public record ClientRequest(
    String method,
    String path,
    String rawQuery,
    Optional<String> authorization,
    Optional<byte[]> form,
    String requestBase,
    Optional<String> contentType,
    Optional<byte[]> body,
    List<String> headerNames) {
  public ClientRequest {
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(path, "path");
    rawQuery = rawQuery == null ? "" : rawQuery;
    Objects.requireNonNull(authorization, "authorization");
    Objects.requireNonNull(form, "form");
    Objects.requireNonNull(requestBase, "requestBase");
    Objects.requireNonNull(contentType, "contentType");
    Objects.requireNonNull(body, "body");
    headerNames = List.copyOf(headerNames);
  }

  /**
   * A request known only by its line, credential and form; {@link GraphProxy#handle} completes it from
   * the headers and body it is given.
   */
  public ClientRequest(
      String method, String path, String rawQuery, Optional<String> authorization, Optional<byte[]> form, String requestBase) {
    this(method, path, rawQuery, authorization, form, requestBase, Optional.empty(), Optional.empty(), List.of());
  }

  /** Whether the body is {@code multipart/form-data} (or any other {@code multipart/} type). */
  public boolean multipart() {
    return contentType.map(t -> t.trim().toLowerCase(java.util.Locale.ROOT).startsWith("multipart/")).orElse(false);
  }

  /** Whether the content type is {@code application/x-www-form-urlencoded}. */
  public static boolean isForm(String contentType) {
    return contentType != null
        && contentType.trim().toLowerCase(java.util.Locale.ROOT).startsWith("application/x-www-form-urlencoded");
  }

  @Override
  public String toString() {
    return "ClientRequest[" + method + " " + path + "]";
  }
}

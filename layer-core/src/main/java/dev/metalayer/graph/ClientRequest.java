package dev.metalayer.graph;

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
 */
public record ClientRequest(
    String method, String path, String rawQuery, Optional<String> authorization, Optional<byte[]> form, String requestBase) {
  public ClientRequest {
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(path, "path");
    rawQuery = rawQuery == null ? "" : rawQuery;
    Objects.requireNonNull(authorization, "authorization");
    Objects.requireNonNull(form, "form");
    Objects.requireNonNull(requestBase, "requestBase");
  }

  @Override
  public String toString() {
    return "ClientRequest[" + method + " " + path + "]";
  }
}

package dev.metalayer.jetty;

import dev.metalayer.graph.GraphError;
import dev.metalayer.keys.OperatorSessions;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.eclipse.jetty.http.HttpCookie;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's console under {@code /console}: three static files from the jar (a page, its script,
 * its style sheet), a session exchanged once for the admin token, and {@code /console/api/…}, which answers
 * exactly as {@code /admin/v1/…} does ({@link AdminHandler#route}: one place for every admin rule) for a
 * request that carries a live session instead of the admin token.
 *
 * <pre>
 * GET    /console, /console/             the page
 * GET    /console/console.js, console.css the script and the style sheet
 * POST   /console/session   {"token"}    sign in: 201 {"csrf"} and the session cookie; 401 (429 past the limit)
 * GET    /console/session                200 {"csrf"} for a live session (a reload of the page); 401
 * DELETE /console/session                sign out: 200, the session ends and the cookie is cleared
 * *      /console/api/{admin path}        as /admin/v1/{admin path}
 * </pre>
 *
 * <p>The rules: the admin token is read once, at sign-in, and never stored in the browser; a wrong one is
 * counted and refused by the admin API's own limit ({@link AdminHandler#refuseWrongToken}). The session
 * lives in {@link OperatorSessions} (idle expiry, a lifetime, a bounded count); its cookie is
 * {@code HttpOnly}, {@code SameSite=Strict}, {@code Path=/console}, and {@code Secure} when the request came
 * over TLS. Every request but a read ({@code GET}, {@code HEAD}) must come from the layer's own origin (its
 * {@code Origin} header names the host and port the request was sent to) and, but the sign-in, carry the
 * session's CSRF token in {@value #CSRF_HEADER} (constant time). Every answer carries a strict
 * Content-Security-Policy (no inline script, no other origin, no framing), {@code nosniff},
 * {@code Referrer-Policy: no-referrer} and {@code Cache-Control: no-store}.
 */
final class ConsoleHandler implements Request.Handler {
  private static final Logger log = LoggerFactory.getLogger(ConsoleHandler.class);

  static final String PREFIX = "/console";
  static final String COOKIE = "layer_console";
  static final String CSRF_HEADER = "X-Console-CSRF";
  static final String CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
      + " connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self';"
      + " frame-ancestors 'none'";
  private static final int MAX_SIGN_IN_BODY = 4 * 1024;

  private record Asset(String contentType, byte[] bytes) {}

  private final Map<String, Asset> assets;
  private final AdminHandler admin;
  private final OperatorSessions sessions;
  private final BodyReader bodies;
  /** LAYER_PUBLIC_URL: the origin a browser uses behind a TLS proxy, and whether that origin is HTTPS. */
  private final Optional<URI> publicUrl;

  ConsoleHandler(AdminHandler admin, OperatorSessions sessions, BodyReader bodies, Optional<URI> publicUrl) {
    this.publicUrl = publicUrl;
    this.admin = admin;
    this.sessions = sessions;
    this.bodies = bodies;
    Asset page = asset("index.html", "text/html; charset=UTF-8");
    this.assets = Map.of(
        PREFIX, page,
        PREFIX + "/", page,
        PREFIX + "/console.js", asset("console.js", "text/javascript; charset=UTF-8"),
        PREFIX + "/console.css", asset("console.css", "text/css; charset=UTF-8"));
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    secure(response);
    String path = request.getHttpURI().getPath();
    String method = request.getMethod();
    Asset asset = assets.get(path);
    if (asset != null) {
      if (!method.equals("GET") && !method.equals("HEAD")) {
        HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET."));
      } else {
        serve(asset, method.equals("HEAD"), response, callback);
      }
    } else if (path.equals(PREFIX + "/session")) {
      session(method, request, response, callback);
    } else if (path.startsWith(PREFIX + "/api/")) {
      api(method, path.substring((PREFIX + "/api").length()), request, response, callback);
    } else {
      HttpIo.writeError(response, callback, GraphError.notFound("Unknown path."));
    }
    return true;
  }

  /** The headers of every console answer, page, script or JSON. */
  private static void secure(Response response) {
    response.getHeaders().put("Content-Security-Policy", CSP);
    response.getHeaders().put("X-Content-Type-Options", "nosniff");
    response.getHeaders().put("Referrer-Policy", "no-referrer");
    response.getHeaders().put("X-Frame-Options", "DENY");
    response.getHeaders().put("Cross-Origin-Opener-Policy", "same-origin");
    response.getHeaders().put("Cross-Origin-Resource-Policy", "same-origin");
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
  }

  private static void serve(Asset asset, boolean head, Response response, Callback callback) {
    response.setStatus(200);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, asset.contentType());
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, asset.bytes().length);
    response.write(true, head ? ByteBuffer.allocate(0) : ByteBuffer.wrap(asset.bytes()), callback);
  }

  private void session(String method, Request request, Response response, Callback callback) {
    switch (method) {
      case "GET" -> live(request).ifPresentOrElse(
          s -> HttpIo.writeJson(response, callback, 200, Map.of("csrf", s.csrf())),
          () -> signedOut(response, callback));
      case "POST" -> signIn(request, response, callback);
      case "DELETE" -> {
        if (write(request).isPresent()) {
          sessions.close(sessionId(request).orElse(null));
          response.getHeaders().add(HttpHeader.SET_COOKIE, cookie("", secure(request), true));
          log.info("Console: signed out from {}", Request.getRemoteAddr(request));
          HttpIo.writeJson(response, callback, 200, Map.of("success", true));
        } else {
          refuseWrite(request, response, callback);
        }
      }
      default -> {
        HttpIo.writeError(response, callback, GraphError.methodNotAllowed("Use GET, POST or DELETE."));
      }
    }
  }

  private void signIn(Request request, Response response, Callback callback) {
    if (!fromOwnPage(request)) {
      HttpIo.writeError(response, callback, crossOrigin());
      return;
    }
    bodies.readJsonObject(request, MAX_SIGN_IN_BODY, response, callback, body -> {
      String token = body.hasNonNull("token") && body.get("token").isTextual() ? body.get("token").asText() : null;
      if (!admin.isAdminToken(token)) {
        admin.refuseWrongToken(request, response, callback, "Invalid admin token.");
        return;
      }
      OperatorSessions.Opened opened = sessions.open();
      response.getHeaders().add(HttpHeader.SET_COOKIE, cookie(opened.id(), secure(request), false));
      log.info("Console: signed in from {}", Request.getRemoteAddr(request));
      HttpIo.writeJson(response, callback, 201, Map.of("csrf", opened.csrf()));
    });
  }

  private void api(String method, String adminPath, Request request, Response response, Callback callback) {
    boolean read = method.equals("GET") || method.equals("HEAD");
    Optional<OperatorSessions.Session> session = read ? live(request) : write(request);
    if (session.isEmpty()) {
      if (read) {
        signedOut(response, callback);
      } else {
        refuseWrite(request, response, callback);
      }
      return;
    }
    admin.dispatch(method, adminPath, request, response, callback);
  }

  /** The live session of the request's cookie, if any. */
  private Optional<OperatorSessions.Session> live(Request request) {
    return sessionId(request).flatMap(sessions::use);
  }

  /** The live session of a write: same origin, a live session and its CSRF token in the header. */
  private Optional<OperatorSessions.Session> write(Request request) {
    if (!fromOwnPage(request)) {
      return Optional.empty();
    }
    String csrf = request.getHeaders().get(CSRF_HEADER);
    return live(request).filter(s -> s.admits(csrf));
  }

  /** Why a write was refused: another origin (403), no live session (401) or no valid CSRF token (403). */
  private void refuseWrite(Request request, Response response, Callback callback) {
    if (!fromOwnPage(request)) {
      HttpIo.writeError(response, callback, crossOrigin());
    } else if (live(request).isEmpty()) {
      signedOut(response, callback);
    } else {
      HttpIo.writeError(response, callback, GraphError.of(403, 200, GraphError.LAYER,
          "Missing or wrong " + CSRF_HEADER + " header: reload the console."));
    }
  }

  private static GraphError crossOrigin() {
    return GraphError.of(403, 200, GraphError.LAYER, "The console accepts changes only from its own page (Origin).");
  }

  private static void signedOut(Response response, Callback callback) {
    HttpIo.writeError(response, callback, GraphError.of(401, 190, GraphError.LAYER,
        "Not signed in to the console, or the session ended: sign in again."));
  }

  /** The session cookie's value, if the request carries one. */
  static Optional<String> sessionId(Request request) {
    List<HttpCookie> cookies = Request.getCookies(request);
    if (cookies == null) {
      return Optional.empty();
    }
    return cookies.stream().filter(c -> c.getName().equals(COOKIE)).map(HttpCookie::getValue).findFirst();
  }

  /** The session cookie: {@code HttpOnly}, {@code SameSite=Strict}, {@code Path=/console}, {@code Secure} on TLS. */
  static String cookie(String value, boolean tls, boolean clear) {
    return COOKIE + "=" + value + "; Path=" + PREFIX + "; HttpOnly; SameSite=Strict" + (tls ? "; Secure" : "")
        + (clear ? "; Max-Age=0" : "");
  }

  /**
   * Whether the session cookie gets {@code Secure}: the request came over TLS, or LAYER_PUBLIC_URL is
   * HTTPS (a TLS proxy in front: the layer sees plain HTTP, the browser HTTPS).
   */
  private boolean secure(Request request) {
    return request.isSecure() || publicUrl.map(u -> "https".equalsIgnoreCase(u.getScheme())).orElse(false);
  }

  /**
   * Whether a write comes from the console's own page: its {@code Origin} is the host the request was
   * sent to ({@link #sameOrigin}) or the origin of LAYER_PUBLIC_URL (a proxy in front may send the layer
   * another {@code Host}).
   */
  private boolean fromOwnPage(Request request) {
    return sameOrigin(request) || publicUrl.map(u -> publicOrigin(u).equalsIgnoreCase(
        String.valueOf(request.getHeaders().get(HttpHeader.ORIGIN)).trim())).orElse(false);
  }

  /** {@code scheme://host[:port]} of {@code url}, as a browser writes it in {@code Origin}. */
  static String publicOrigin(URI url) {
    String scheme = url.getScheme().toLowerCase(Locale.ROOT);
    boolean defaultPort = url.getPort() < 0 || url.getPort() == (scheme.equals("https") ? 443 : 80);
    return scheme + "://" + url.getHost() + (defaultPort ? "" : ":" + url.getPort());
  }

  /**
   * Whether the request's {@code Origin} names the host (and port, when the request names one) it was
   * sent to. A browser sends {@code Origin} with every request but a plain read; a missing one, {@code null}
   * or another host is refused.
   */
  static boolean sameOrigin(Request request) {
    String origin = request.getHeaders().get(HttpHeader.ORIGIN);
    if (origin == null || origin.isBlank() || origin.equals("null")) {
      return false;
    }
    URI o;
    try {
      o = new URI(origin.trim());
    } catch (java.net.URISyntaxException e) {
      return false;
    }
    String scheme = o.getScheme() == null ? "" : o.getScheme().toLowerCase(Locale.ROOT);
    if (o.getHost() == null || !(scheme.equals("http") || scheme.equals("https")) || o.getRawPath() != null
        && !o.getRawPath().isEmpty()) {
      return false;
    }
    HttpURI uri = request.getHttpURI();
    if (uri.getHost() == null || !uri.getHost().equalsIgnoreCase(o.getHost())) {
      return false;
    }
    int originPort = o.getPort() > 0 ? o.getPort() : scheme.equals("https") ? 443 : 80;
    return uri.getPort() <= 0 || uri.getPort() == originPort;
  }

  private static Asset asset(String name, String contentType) {
    try (InputStream in = ConsoleHandler.class.getResourceAsStream("console/" + name)) {
      if (in == null) {
        throw new IllegalStateException("the console's " + name + " is missing from the jar");
      }
      return new Asset(contentType, in.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

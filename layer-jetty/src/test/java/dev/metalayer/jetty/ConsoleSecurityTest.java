package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.json.Json;
import dev.metalayer.testing.RecordingSubscriber;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The console's guards over plain HTTP (no browser): the session cookie's flags, no write without the
 * session's CSRF token and the page's own origin, the admin API's limit on wrong tokens, sign-out, the
 * security headers on every answer, and no secret in anything the console's page reads.
 */
class ConsoleSecurityTest {
  @TempDir Path dir;
  Layer layer;
  RecordingSubscriber subscriber;
  String origin;

  @BeforeEach
  void start() throws Exception {
    subscriber = RecordingSubscriber.start();
    layer = Layer.start(dir, "http://127.0.0.1:9", Map.of(Option.ALLOWED_TARGET_CIDRS, "127.0.0.0/8"));
    origin = layer.server.localUri().toString();
  }

  @AfterEach
  void stop() throws Exception {
    layer.close();
    subscriber.close();
  }

  /** A signed-in console: its cookie and CSRF token. */
  record Session(String cookie, String csrf) {}

  HttpResponse<String> call(String method, String path, Map<String, String> headers, String json) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(origin + path));
    headers.forEach(b::header);
    if (json == null) {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    } else {
      b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
    }
    return layer.send(b);
  }

  HttpResponse<String> signIn(String token) throws Exception {
    return call("POST", "/console/session", Map.of("Origin", origin), "{\"token\":\"" + token + "\"}");
  }

  Session session() throws Exception {
    HttpResponse<String> r = signIn(Layer.ADMIN_TOKEN);
    assertThat(r.statusCode()).isEqualTo(201);
    String setCookie = r.headers().firstValue("Set-Cookie").orElseThrow();
    return new Session(setCookie.substring(0, setCookie.indexOf(';')), json(r).get("csrf").asText());
  }

  HttpResponse<String> as(Session s, String method, String path, String json) throws Exception {
    return call(method, path, Map.of("Cookie", s.cookie(), "Origin", origin, ConsoleHandler.CSRF_HEADER, s.csrf()), json);
  }

  static JsonNode json(HttpResponse<String> r) throws Exception {
    return Json.mapper().readTree(r.body());
  }

  @Test
  void signInSetsAnHttpOnlyStrictCookieScopedToTheConsoleAndAnswersOnlyTheCsrfToken() throws Exception {
    HttpResponse<String> r = signIn(Layer.ADMIN_TOKEN);
    assertThat(r.statusCode()).isEqualTo(201);
    List<String> cookies = r.headers().allValues("Set-Cookie");
    assertThat(cookies).hasSize(1);
    String cookie = cookies.get(0);
    assertThat(cookie).startsWith(ConsoleHandler.COOKIE + "=").contains("; HttpOnly").contains("; SameSite=Strict")
        .contains("; Path=/console").doesNotContain("Secure").doesNotContain("Max-Age").doesNotContain("Expires")
        .doesNotContain(Layer.ADMIN_TOKEN);
    assertThat(cookie.substring(ConsoleHandler.COOKIE.length() + 1, cookie.indexOf(';'))).hasSizeGreaterThanOrEqualTo(43);
    assertThat(json(r).fieldNames()).toIterable().containsExactly("csrf");
    assertThat(r.body()).doesNotContain(Layer.ADMIN_TOKEN);
    // over TLS the cookie is Secure too (the tls part of the layer terminates it in the same server)
    assertThat(ConsoleHandler.cookie("v", true, false)).isEqualTo(
        "layer_console=v; Path=/console; HttpOnly; SameSite=Strict; Secure");
  }

  /**
   * Behind a TLS proxy (LAYER_PUBLIC_URL is HTTPS, the layer sees plain HTTP and maybe another Host): the
   * cookie is still Secure, and the page's origin is the public URL's; any other origin is still refused.
   */
  @Test
  void behindATlsProxyTheCookieIsSecureAndThePublicUrlIsThePagesOrigin() throws Exception {
    layer.close();
    layer = Layer.start(dir.resolve("proxied"), "http://127.0.0.1:9", Map.of(Option.PUBLIC_URL, "https://layer.example.com"));
    origin = layer.server.localUri().toString();
    String page = "https://layer.example.com";
    HttpResponse<String> in = call("POST", "/console/session", Map.of("Origin", page),
        "{\"token\":\"" + Layer.ADMIN_TOKEN + "\"}");
    assertThat(in.statusCode()).isEqualTo(201);
    String setCookie = in.headers().firstValue("Set-Cookie").orElseThrow();
    assertThat(setCookie).contains("; Secure", "HttpOnly", "SameSite=Strict");
    Session s = new Session(setCookie.substring(0, setCookie.indexOf(';')), json(in).get("csrf").asText());
    String body = "{\"phone_number_id\":\"" + Layer.PNID + "\"}";
    assertThat(call("POST", "/console/api/keys", Map.of("Cookie", s.cookie(), "Origin", page, ConsoleHandler.CSRF_HEADER,
        s.csrf()), body).statusCode()).isEqualTo(201);
    for (String foreign : List.of("http://layer.example.com", "https://layer.example.com:8443", "https://evil.example")) {
      assertThat(call("POST", "/console/api/keys", Map.of("Cookie", s.cookie(), "Origin", foreign,
          ConsoleHandler.CSRF_HEADER, s.csrf()), body).statusCode()).as("Origin %s", foreign).isEqualTo(403);
    }
  }

  @Test
  void wrongTokensAreRefusedAndLimitedWithTheAdminApisOwnCount() throws Exception {
    assertThat(signIn("").statusCode()).isEqualTo(401);
    assertThat(call("POST", "/console/session", Map.of("Origin", origin), "{}").statusCode()).isEqualTo(401);
    assertThat(call("POST", "/console/session", Map.of("Origin", origin), "{\"token\":42}").statusCode()).isEqualTo(401);
    for (int i = 3; i < LayerServer.ADMIN_FAILURES; i++) {
      HttpResponse<String> wrong = signIn("guess-" + i);
      assertThat(wrong.statusCode()).isEqualTo(401);
      assertThat(wrong.headers().firstValue("Set-Cookie")).isEmpty();
    }
    HttpResponse<String> limited = signIn("guess-x");
    assertThat(limited.statusCode()).isEqualTo(429);
    assertThat(limited.headers().firstValue("Retry-After")).isPresent();
    // one count with the admin API: its wrong tokens are refused too, and the right token still passes
    assertThat(call("GET", "/admin/v1/keys", Map.of("Authorization", "Bearer guess-y"), null).statusCode()).isEqualTo(429);
    assertThat(signIn(Layer.ADMIN_TOKEN).statusCode()).isEqualTo(201);
  }

  @Test
  void noWriteWithoutTheSessionsCsrfTokenAndThePagesOwnOrigin() throws Exception {
    Session s = session();
    String body = "{\"phone_number_id\":\"" + Layer.PNID + "\"}";
    int keysBefore = layer.server.layer().keys().listKeys().size();
    assertThat(call("POST", "/console/api/keys", Map.of("Cookie", s.cookie(), "Origin", origin), body).statusCode())
        .as("no CSRF header").isEqualTo(403);
    assertThat(call("POST", "/console/api/keys", Map.of("Cookie", s.cookie(), "Origin", origin,
        ConsoleHandler.CSRF_HEADER, s.csrf() + "x"), body).statusCode()).as("a wrong CSRF token").isEqualTo(403);
    Session other = session();
    assertThat(call("POST", "/console/api/keys", Map.of("Cookie", s.cookie(), "Origin", origin,
        ConsoleHandler.CSRF_HEADER, other.csrf()), body).statusCode()).as("another session's token").isEqualTo(403);
    assertThat(call("POST", "/console/api/keys", Map.of("Cookie", s.cookie(), ConsoleHandler.CSRF_HEADER, s.csrf()), body)
        .statusCode()).as("no Origin").isEqualTo(403);
    for (String foreign : List.of("http://evil.example", "null", "http://127.0.0.1:1", "http://127.0.0.1.evil.example:"
        + layer.server.port(), origin + "/path")) {
      assertThat(call("POST", "/console/api/keys", Map.of("Cookie", s.cookie(), "Origin", foreign,
          ConsoleHandler.CSRF_HEADER, s.csrf()), body).statusCode()).as("Origin %s", foreign).isEqualTo(403);
    }
    assertThat(call("POST", "/console/api/keys", Map.of("Origin", origin, ConsoleHandler.CSRF_HEADER, s.csrf()), body)
        .statusCode()).as("no session").isEqualTo(401);
    assertThat(call("POST", "/console/session", Map.of("Origin", "http://evil.example"),
        "{\"token\":\"" + Layer.ADMIN_TOKEN + "\"}").statusCode()).as("a sign-in from another origin").isEqualTo(403);
    assertThat(layer.server.layer().keys().listKeys()).hasSize(keysBefore);
    // every other writing method is guarded the same way
    for (String method : List.of("PATCH", "PUT", "DELETE")) {
      assertThat(call(method, "/console/api/numbers/" + Layer.PNID, Map.of("Cookie", s.cookie(), "Origin", origin),
          "{\"meta_token\":\"x\"}").statusCode()).as(method).isEqualTo(403);
    }
    assertThat(layer.server.layer().keys().findNumber(Layer.PNID)).isPresent();
    // and with both, the write is the admin API's
    assertThat(as(s, "POST", "/console/api/keys", body).statusCode()).isEqualTo(201);
    assertThat(layer.server.layer().keys().listKeys()).hasSize(keysBefore + 1);
  }

  @Test
  void theConsoleApiIsTheAdminApiBehindTheSessionAndNothingElse() throws Exception {
    Session s = session();
    HttpResponse<String> viaConsole = as(s, "GET", "/console/api/numbers", null);
    HttpResponse<String> viaAdmin = call("GET", "/admin/v1/numbers", Map.of("Authorization", "Bearer " + Layer.ADMIN_TOKEN), null);
    assertThat(viaConsole.statusCode()).isEqualTo(200);
    assertThat(viaConsole.body()).isEqualTo(viaAdmin.body());
    assertThat(as(s, "GET", "/console/api/nope", null).statusCode()).isEqualTo(404);
    // the admin token is not a console credential, and a read without a session is refused
    assertThat(call("GET", "/console/api/numbers", Map.of("Authorization", "Bearer " + Layer.ADMIN_TOKEN), null)
        .statusCode()).isEqualTo(401);
    assertThat(call("GET", "/console/api/numbers", Map.of("Cookie", ConsoleHandler.COOKIE + "=forged"), null).statusCode())
        .isEqualTo(401);
    assertThat(call("GET", "/console/session", Map.of(), null).statusCode()).isEqualTo(401);
    assertThat(call("GET", "/console/session", Map.of("Cookie", s.cookie()), null).body()).contains(s.csrf());
  }

  @Test
  void signOutEndsTheSessionAndTheOldCookieIsRefused() throws Exception {
    Session s = session();
    assertThat(call("DELETE", "/console/session", Map.of("Cookie", s.cookie(), "Origin", origin), null).statusCode())
        .as("sign-out needs the CSRF token too").isEqualTo(403);
    assertThat(as(s, "GET", "/console/api/numbers", null).statusCode()).isEqualTo(200);
    HttpResponse<String> out = as(s, "DELETE", "/console/session", null);
    assertThat(out.statusCode()).isEqualTo(200);
    assertThat(out.headers().firstValue("Set-Cookie").orElseThrow()).contains("Max-Age=0");
    assertThat(as(s, "GET", "/console/api/numbers", null).statusCode()).isEqualTo(401);
    assertThat(as(s, "POST", "/console/api/keys", "{\"phone_number_id\":\"" + Layer.PNID + "\"}").statusCode()).isEqualTo(401);
    assertThat(call("GET", "/console/session", Map.of("Cookie", s.cookie()), null).statusCode()).isEqualTo(401);
  }

  @Test
  void everyConsoleAnswerCarriesAStrictContentSecurityPolicy() throws Exception {
    Session s = session();
    for (String path : List.of("/console", "/console/", "/console/console.js", "/console/console.css", "/console/session",
        "/console/api/numbers", "/console/nope", "/console/api/keys")) {
      for (Map<String, String> headers : List.of(Map.<String, String>of(), Map.of("Cookie", s.cookie()))) {
        HttpResponse<String> r = call("GET", path, headers, null);
        assertThat(r.headers().firstValue("Content-Security-Policy")).as(path).hasValue(ConsoleHandler.CSP);
        assertThat(r.headers().firstValue("X-Content-Type-Options")).as(path).hasValue("nosniff");
        assertThat(r.headers().firstValue("Referrer-Policy")).as(path).hasValue("no-referrer");
        assertThat(r.headers().firstValue("Cache-Control")).as(path).hasValue("no-store");
      }
    }
    assertThat(ConsoleHandler.CSP).contains("default-src 'self'").contains("frame-ancestors 'none'")
        .doesNotContain("unsafe-inline").doesNotContain("unsafe-eval").doesNotContain("http");
    HttpResponse<String> page = call("GET", "/console", Map.of(), null);
    assertThat(page.headers().firstValue("Content-Type").orElseThrow()).startsWith("text/html");
    // no inline script or style, and nothing from another origin
    assertThat(page.body()).doesNotContainPattern("<script>|<script [^>]*>[^<]").doesNotContain("style=")
        .doesNotContain("//cdn").doesNotContain("https://").doesNotContain("http://");
    // the one URL in the script is the SVG namespace, a name that is never fetched
    assertThat(call("GET", "/console/console.js", Map.of(), null).body().replace("'http://www.w3.org/2000/svg'", "'svg'"))
        .doesNotContain("innerHTML")
        .doesNotContain("eval(").doesNotContain("http://").doesNotContain("https://").doesNotContain("localStorage")
        .doesNotContain("sessionStorage").doesNotContain("document.cookie");
    assertThat(call("POST", "/console/console.js", Map.of(), null).statusCode()).isEqualTo(405);
  }

  @Test
  void noSecretReachesAnythingTheConsoleReads() throws Exception {
    Session s = session();
    String metaToken = "EAAGconsoleMetaTokenThatMustNeverShow0123456789";
    assertThat(as(s, "POST", "/console/api/numbers", "{\"phone\":\"+15550783899\",\"phone_number_id\":\"306540352242922\","
        + "\"waba_id\":\"302290129340398\",\"business_id\":\"900000000000003\",\"meta_token\":\"" + metaToken + "\"}")
        .statusCode()).isEqualTo(201);
    String key = json(as(s, "POST", "/console/api/keys", "{\"phone_number_id\":\"306540352242922\"}")).get("key").asText();
    assertThat(as(s, "PATCH", "/console/api/numbers/306540352242922", "{\"meta_token\":\"" + metaToken + "rotated\"}")
        .statusCode()).isEqualTo(200);
    String secret = "whsec_consoleSubscriptionSecret0123456789";
    JsonNode sub = json(as(s, "POST", "/console/api/numbers/306540352242922/webhooks", "{\"name\":\"c\",\"url\":\""
        + subscriber.url("/c") + "\",\"events\":[\"messages\"],\"secret\":\"" + secret + "\"}"));
    String subId = sub.get("id").asText();
    assertThat(as(s, "POST", "/console/api/webhooks/" + subId + "/test", null).statusCode()).isEqualTo(202);
    subscriber.await(1, java.time.Duration.ofSeconds(20));

    List<String> read = new ArrayList<>();
    for (String path : List.of("/console", "/console/console.js", "/console/console.css", "/console/session",
        "/console/api/numbers", "/console/api/numbers/306540352242922", "/console/api/keys",
        "/console/api/numbers/306540352242922/webhooks", "/console/api/webhooks/" + subId,
        "/console/api/webhooks/" + subId + "/deliveries?limit=200", "/console/api/numbers/306540352242922/calls",
        "/console/api/numbers/306540352242922/doctor", "/console/api/stats")) {
      HttpResponse<String> r = call("GET", path, Map.of("Cookie", s.cookie()), null);
      read.add(path + " " + r.statusCode() + "\n" + r.headers().map() + "\n" + r.body());
    }
    assertThat(String.join("\n", read)).doesNotContain(Layer.ADMIN_TOKEN).doesNotContain(metaToken)
        .doesNotContain(key).doesNotContain(key.substring(12)).doesNotContain(secret).doesNotContain(Layer.TOKEN);
  }

  @Test
  void theAdminTokensSubscriptionWritesWorkForAnyNumberAndAreRefusedForAnUnknownOne() throws Exception {
    Session s = session();
    String spec = "{\"name\":\"ops\",\"url\":\"" + subscriber.url("/ops") + "\",\"events\":[\"messages\"]}";
    assertThat(as(s, "POST", "/console/api/numbers/999999999999999/webhooks", spec).statusCode()).isEqualTo(404);
    assertThat(as(s, "POST", "/console/api/numbers/" + Layer.PNID + "/webhooks", "{\"name\":\"x\"}").statusCode())
        .isEqualTo(400);
    JsonNode created = json(as(s, "POST", "/console/api/numbers/" + Layer.PNID + "/webhooks", spec));
    String id = created.get("id").asText();
    assertThat(created.get("phone_number_id").asText()).isEqualTo(Layer.PNID);
    JsonNode changed = json(as(s, "PATCH", "/console/api/webhooks/" + id, "{\"events\":[\"messages\",\"calls\"],\"active\":false}"));
    assertThat(changed.get("active").asBoolean()).isFalse();
    assertThat(changed.get("events").toString()).contains("calls");
    // the number's key sees the operator's change
    HttpResponse<String> seen = layer.send(HttpRequest.newBuilder(URI.create(origin + "/v1/webhooks/" + id))
        .header("Authorization", "Bearer " + layer.key));
    assertThat(json(seen).get("active").asBoolean()).isFalse();
    assertThat(as(s, "POST", "/console/api/webhooks/" + id + "/test", null).statusCode()).isEqualTo(202);
    assertThat(as(s, "POST", "/console/api/webhooks/wh_nope/test", null).statusCode()).isEqualTo(404);
    assertThat(as(s, "DELETE", "/console/api/webhooks/" + id, null).statusCode()).isEqualTo(200);
    assertThat(call("POST", "/admin/v1/numbers/" + Layer.PNID + "/webhooks", Map.of(), spec).statusCode())
        .as("the admin API's own guard").isEqualTo(401);
    assertThat(as(s, "GET", "/console/api/webhooks/" + id, null).statusCode()).isEqualTo(404);
  }

  @Test
  void theChartsAnswerEveryLaneWithAnHourOfMinutesAndTheQueueDepth() throws Exception {
    JsonNode stats = json(as(session(), "GET", "/console/api/stats", null));
    assertThat(stats.get("minutes").asInt()).isEqualTo(60);
    assertThat(stats.get("data")).hasSize(2);
    for (JsonNode lane : stats.get("data")) {
      assertThat(lane.get("lane").asText()).isIn("default", "calls");
      assertThat(lane.get("minutes")).hasSize(60);
      assertThat(lane.get("queue_depth").asLong()).isZero();
      assertThat(lane.at("/minutes/59/delivered").asLong()).isZero();
      assertThat(lane.at("/minutes/59/mean_latency_ms").isNull()).isTrue();
    }
    assertThat(call("POST", "/admin/v1/stats", Map.of("Authorization", "Bearer " + Layer.ADMIN_TOKEN), null).statusCode())
        .isEqualTo(405);
  }

  @Test
  void withoutAnAdminTokenThereIsNoConsole() throws Exception {
    try (LayerServer plain = LayerServer.start(Settings.of(Map.of(
        Option.PORT, "0", Option.HOST, "127.0.0.1", Option.DATA_DIR, dir.resolve("plain").toString())))) {
      HttpResponse<String> r = layer.send(HttpRequest.newBuilder(URI.create(plain.localUri() + "/console")));
      assertThat(r.statusCode()).isEqualTo(403);
      assertThat(r.body()).contains("LAYER_ADMIN_TOKEN");
    }
  }
}

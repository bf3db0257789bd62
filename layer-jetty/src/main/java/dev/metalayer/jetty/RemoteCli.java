package dev.metalayer.jetty;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.keys.Grant;
import dev.metalayer.json.Json;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The CLI's commands against a running layer, through its admin API ({@code /admin/v1}) with the admin
 * token: what {@link Cli} does on the store file, printed the same way. Each call has a connect
 * timeout of {@value #CONNECT_SECONDS} s and a total timeout of {@value #CALL_SECONDS} s; nothing is
 * retried. The admin token and a Meta token travel only in the request; neither is printed.
 */
final class RemoteCli {
  static final int CONNECT_SECONDS = 10;
  static final int CALL_SECONDS = 30;

  private final String base;
  private final String writtenAs;
  private final Optional<String> adminToken;
  private final PrintStream out;
  private final PrintStream err;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(CONNECT_SECONDS)).followRedirects(HttpClient.Redirect.NEVER).build();

  /** @param writtenAs how the operator gave the layer's URL ({@code --layer-url} or {@code LAYER_URL}) */
  RemoteCli(String layerUrl, String writtenAs, Optional<String> adminToken, PrintStream out, PrintStream err) {
    this.base = layerUrl.endsWith("/") ? layerUrl.substring(0, layerUrl.length() - 1) : layerUrl;
    this.writtenAs = writtenAs;
    this.adminToken = adminToken;
    this.out = out;
    this.err = err;
  }

  /** @param metaToken the Meta token of {@code numbers add}, already read */
  int run(String command, Map<String, String> flags, Optional<String> metaToken) {
    if (adminToken.isEmpty()) {
      err.println("error: LAYER_ADMIN_TOKEN must be set to reach the layer at " + base + " (LAYER_ADMIN_TOKEN): set it"
          + " to that layer's admin token");
      return ConfigError.STATUS;
    }
    try {
      return switch (command) {
        case "numbers add" -> addNumber(flags, metaToken);
        case "numbers list" -> listNumbers();
        case "numbers remove" -> required(flags, "--phone-number-id", "numbers remove").map(id -> {
          JsonNode r = call("DELETE", "/numbers/" + segment(id), null);
          return r == null ? 1 : print(Cli.removed(id));
        }).orElse(2);
        case "numbers answering" -> required(flags, "--phone-number-id", "numbers answering").map(id -> {
          Optional<String> mode = Cli.mode(err, flags);
          if (mode.isEmpty()) {
            return 2;
          }
          JsonNode r = call("PUT", "/numbers/" + segment(id) + "/answering", Map.of("mode", mode.get()));
          return r == null ? 1 : print(Cli.answeringSet(id, r.path("answering").asText()));
        }).orElse(2);
        case "keys create" -> required(flags, "--phone-number-id", "keys create").map(id -> {
          Optional<java.util.Set<Grant.Scope>> scopes = Cli.scopes(err, flags);
          Optional<Optional<Grant.RateLimit>> limit = scopes.isEmpty() ? Optional.empty() : Cli.rateLimit(err, flags, false);
          if (limit.isEmpty()) {
            return 2;
          }
          Map<String, Object> body = new LinkedHashMap<>();
          body.put("phone_number_id", id);
          body.put("scopes", AdminViews.scopes(scopes.get()));
          body.put("rate_limit", AdminViews.rateLimit(limit.get()));
          JsonNode r = call("POST", "/keys", body);
          if (r == null) {
            return 1;
          }
          Cli.printCreatedKey(out, r.path("key").asText(), r.path("id").asText(), id, scopesOf(r));
          return 0;
        }).orElse(2);
        case "keys limit" -> required(flags, "--id", "keys limit").map(id -> {
          Optional<Optional<Grant.RateLimit>> limit = Cli.rateLimit(err, flags, true);
          if (limit.isEmpty()) {
            return 2;
          }
          Map<String, Object> body = new LinkedHashMap<>();
          body.put("rate_limit", AdminViews.rateLimit(limit.get()));
          JsonNode r = call("PATCH", "/keys/" + segment(id), body);
          return r == null ? 1 : print(Cli.limitSet(id, limit.get()));
        }).orElse(2);
        case "keys list" -> listKeys();
        case "doctor" -> doctor(Optional.ofNullable(flags.get("--number")));
        case "keys revoke" -> required(flags, "--id", "keys revoke").map(id -> {
          JsonNode r = call("DELETE", "/keys/" + segment(id), null);
          return r == null ? 1 : print("revoked " + id);
        }).orElse(2);
        default -> throw new IllegalArgumentException("unknown command " + command);
      };
    } catch (CallFailed e) {
      err.println("error: cannot reach the layer at " + base + ", " + e.getMessage() + " (" + writtenAs + "): check that"
          + " the layer runs and listens there");
      return 1;
    }
  }

  private int addNumber(Map<String, String> flags, Optional<String> metaToken) {
    if (metaToken.isEmpty()) {
      return Cli.noMetaToken(err, flags);
    }
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("phone", flags.get("--phone"));
    body.put("phone_number_id", flags.get("--phone-number-id"));
    body.put("waba_id", flags.get("--waba-id"));
    body.put("business_id", flags.get("--business-id"));
    body.put("meta_token", metaToken.get());
    JsonNode n = call("POST", "/numbers", body);
    if (n == null) {
      return 1;
    }
    out.println("added " + n.path("phone").asText() + " (phone number ID " + n.path("phone_number_id").asText()
        + ", WABA " + n.path("waba_id").asText() + ")");
    return 0;
  }

  private int listNumbers() {
    JsonNode r = call("GET", "/numbers", null);
    if (r == null) {
      return 1;
    }
    Cli.numberRow(out, "PHONE", "PHONE_NUMBER_ID", "WABA_ID", "BUSINESS_ID", "ANSWERING", "CREATED");
    for (JsonNode n : r.path("data")) {
      Cli.numberRow(out, n.path("phone").asText(), n.path("phone_number_id").asText(), n.path("waba_id").asText(),
          n.path("business_id").asText(), n.path("answering").asText("-"), n.path("created_at").asText());
    }
    return 0;
  }

  /** A key's {@code rate_limit} as the admin API shows it; an answer this version cannot read shows as the default. */
  private static Optional<Grant.RateLimit> rateLimitOf(JsonNode limit) {
    try {
      return AdminHandler.rateLimit(limit);
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  /** Exit status of {@code doctor} when a check fails (0: none failed; 1: the layer could not be asked). */
  static final int DOCTOR_FAILED = 3;
  /** How long {@code doctor} waits for the layer's answer: every number is checked at Meta meanwhile. */
  static final int DOCTOR_SECONDS = 300;

  /** {@code doctor [--number ID]}: one line per check, its fix on the next; 3 when a check fails. */
  private int doctor(Optional<String> number) {
    JsonNode r = call("GET", number.map(id -> "/numbers/" + segment(id) + "/doctor").orElse("/doctor"), null,
        DOCTOR_SECONDS);
    if (r == null) {
      return 1;
    }
    out.printf("%-6s %-20s %-18s %s%n", "STATUS", "NUMBER", "CHECK", "DETAIL");
    boolean failed = false;
    for (JsonNode c : r.path("checks")) {
      String status = c.path("status").asText();
      failed |= status.equals("fail");
      out.printf("%-6s %-20s %-18s %s%n", status, c.path("number").asText(), c.path("name").asText(),
          c.path("detail").asText());
      if (c.hasNonNull("fix")) {
        out.printf("%-6s %-20s %-18s fix: %s%n", "", "", "", c.path("fix").asText());
      }
    }
    out.println("doctor: " + r.path("status").asText() + " (" + r.path("checks").size() + " checks at "
        + r.path("checked_at").asText() + ")");
    return failed ? DOCTOR_FAILED : 0;
  }

  private int listKeys() {
    JsonNode r = call("GET", "/keys", null);
    if (r == null) {
      return 1;
    }
    Cli.keyRow(out, "ID", "PREFIX", "PHONE_NUMBER_ID", "CREATED", "LAST_USED", "REVOKED", "RATE_LIMIT", "SCOPES");
    for (JsonNode k : r.path("data")) {
      Cli.keyRow(out, k.path("id").asText(), k.path("prefix").asText(), k.path("phone_number_id").asText(),
          k.path("created_at").asText(), orDash(k.path("last_used_at")), orDash(k.path("revoked_at")),
          Cli.rateLimitText(rateLimitOf(k.get("rate_limit"))), scopesOf(k));
    }
    return 0;
  }

  /** A key's {@code scopes} as the layer listed them, comma-separated ({@code -} when it lists none). */
  private static String scopesOf(JsonNode key) {
    List<String> names = new java.util.ArrayList<>();
    key.path("scopes").forEach(s -> names.add(s.asText()));
    return names.isEmpty() ? "-" : String.join(",", names);
  }

  private int print(String line) {
    out.println(line);
    return 0;
  }

  private Optional<String> required(Map<String, String> flags, String flag, String command) {
    String v = flags.get(flag);
    if (v == null) {
      err.println("error: " + command + " needs " + flag);
      err.println("Run with --help for the commands.");
    }
    return Optional.ofNullable(v);
  }

  private static String orDash(JsonNode v) {
    return v.isMissingNode() || v.isNull() ? "-" : v.asText();
  }

  private static String segment(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
  }

  /** Thrown when the layer could not be reached, or its answer was not the admin API's JSON. */
  private static final class CallFailed extends RuntimeException {
    private static final long serialVersionUID = 1L;

    CallFailed(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * One admin API call. @return the JSON answer of a 2xx, or null after printing the layer's error
   * message for any other status
   */
  private JsonNode call(String method, String path, Map<String, Object> body) {
    return call(method, path, body, CALL_SECONDS);
  }

  private JsonNode call(String method, String path, Map<String, Object> body, int seconds) {
    try {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/admin/v1" + path))
          .timeout(Duration.ofSeconds(seconds))
          .header("Authorization", "Bearer " + adminToken.orElseThrow())
          .header("Accept", "application/json");
      if (body == null) {
        b.method(method, HttpRequest.BodyPublishers.noBody());
      } else {
        b.header("Content-Type", "application/json")
            .method(method, HttpRequest.BodyPublishers.ofByteArray(Json.mapper().writeValueAsBytes(body)));
      }
      HttpResponse<byte[]> r = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
      JsonNode json;
      try {
        json = Json.mapper().readTree(r.body());
      } catch (IOException e) {
        throw new CallFailed("HTTP " + r.statusCode() + " without the admin API's JSON (is this the layer?)", e);
      }
      if (r.statusCode() / 100 == 2) {
        return json;
      }
      String message = json == null ? "" : json.path("error").path("message").asText("");
      err.println("error: " + (message.isEmpty() ? "HTTP " + r.statusCode() : message) + " (HTTP " + r.statusCode()
          + " from " + base + ")");
      return null;
    } catch (IllegalArgumentException e) {
      // a URL that is not http(s), or a header value that is not one (the JDK's message names no value)
      throw new CallFailed("the request cannot be made: " + e.getMessage(), e);
    } catch (java.net.http.HttpConnectTimeoutException e) {
      throw new CallFailed("no connection within " + CONNECT_SECONDS + " s", e);
    } catch (java.net.http.HttpTimeoutException e) {
      throw new CallFailed("no answer within " + seconds + " s", e);
    } catch (java.net.ConnectException e) {
      throw new CallFailed(unresolved(e) ? "its host name does not resolve" : "connection refused", e);
    } catch (IOException e) {
      throw new CallFailed(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CallFailed("interrupted", e);
    }
  }

  /** Whether a failed connection failed on its host name (the JDK's client says so only in the cause). */
  private static boolean unresolved(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.nio.channels.UnresolvedAddressException || t instanceof java.net.UnknownHostException) {
        return true;
      }
    }
    return false;
  }
}

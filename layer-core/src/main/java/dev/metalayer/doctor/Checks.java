package dev.metalayer.doctor;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.doctor.Doctor.Check;
import dev.metalayer.doctor.Doctor.Status;
import dev.metalayer.doctor.MetaReads.Read;
import dev.metalayer.graph.GraphForwarder.UpstreamFailure;
import dev.metalayer.keys.WhatsAppNumber;
import dev.metalayer.relay.Attempt;
import dev.metalayer.relay.Delivery;
import dev.metalayer.relay.DeliveryState;
import dev.metalayer.relay.Subscription;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The doctor's rules: what each answer of Meta, and what the layer's own store, says about one number,
 * as checks ({@code ok}, {@code warn} or {@code fail}, each non-ok one with its fix). Pure functions of
 * their inputs and of {@code now}; no I/O. A check's detail never holds the number's token or the app
 * secret: Meta's own messages are {@linkplain #scrub scrubbed} of both before they are quoted.
 */
final class Checks {
  static final String TOKEN = "token";
  static final String NUMBER_STATUS = "number_status";
  static final String QUALITY_RATING = "quality_rating";
  static final String MESSAGING_LIMIT = "messaging_limit";
  static final String APP_SUBSCRIPTION = "app_subscription";
  static final String CALLBACK_URL = "callback_url";
  static final String CALLING = "calling";
  static final String SIP = "sip";
  static final String LAST_WEBHOOK = "last_webhook";
  static final String DELIVERIES = "deliveries";

  /** The permissions a number's token needs (Meta's names). */
  static final List<String> PERMISSIONS = List.of("whatsapp_business_messaging", "whatsapp_business_management");
  /** A token that expires sooner than this is a warning. */
  static final Duration TOKEN_EXPIRY_WARNING = Duration.ofDays(7);
  /** The smallest messaging limit with which Meta lets a number call (error 138015 below it). */
  static final long CALLING_MIN_LIMIT = 2_000;
  /** No webhook for this long is a warning. */
  static final Duration WEBHOOK_SILENCE = Duration.ofHours(24);
  /** The window of a subscription's failure rate. */
  static final Duration DELIVERY_WINDOW = Duration.ofHours(24);
  /** Deliveries read per subscription (newest first) for its failure rate. */
  static final int DELIVERIES_READ = 100;
  /** Failure rates (of attempts in the window) from which a subscription is a warning, then a failure. */
  static final double WARN_RATE = 0.10;
  static final double FAIL_RATE = 0.50;
  /** Attempts in the window below which a failure rate is not a failure (one bad attempt is no outage). */
  static final int FAIL_MIN_ATTEMPTS = 3;

  private static final Pattern TIER = Pattern.compile("TIER_([0-9]+)(K?)");

  private final WhatsAppNumber number;
  private final List<String> secrets;

  /** @param secrets what must never be quoted (the number's token, the app secret): replaced when Meta echoes it */
  Checks(WhatsAppNumber number, List<String> secrets) {
    this.number = number;
    this.secrets = secrets.stream().filter(s -> s != null && !s.isEmpty()).toList();
  }

  // ---- the token

  Check token(Read read, boolean withAppToken, Optional<String> appId, Instant now) {
    if (!(read instanceof Read.Answered a) || a.status() != 200 || !a.json().path("data").isObject()) {
      return graphProblem(TOKEN, read, "the token's debug information");
    }
    JsonNode data = a.json().path("data");
    String how = withAppToken ? "" : " (checked with the token itself; set META_APP_ID for a check by the app)";
    if (!data.path("is_valid").asBoolean(false)) {
      String why = data.path("error").path("message").asText("");
      return fail(TOKEN, "Meta says the number's token is not valid" + (why.isEmpty() ? "" : ": " + scrub(why)) + how,
          "Give the number a new token (a System User token that does not expire):"
              + " PATCH /admin/v1/numbers/" + number.phoneNumberId() + " with {\"meta_token\": …}.");
    }
    Set<String> scopes = new TreeSet<>();
    data.path("scopes").forEach(s -> scopes.add(s.asText()));
    List<String> missing = PERMISSIONS.stream().filter(p -> !scopes.contains(p)).toList();
    if (!missing.isEmpty()) {
      return fail(TOKEN, "The token lacks the permission(s) " + String.join(", ", missing) + how,
          "In Business Settings, give the System User " + String.join(" and ", PERMISSIONS) + " on WABA "
              + number.wabaId() + ", then issue a new token and PATCH it into the layer.");
    }
    for (JsonNode granular : data.path("granular_scopes")) {
      String scope = granular.path("scope").asText();
      JsonNode targets = granular.path("target_ids");
      if (PERMISSIONS.contains(scope) && targets.isArray() && !targets.isEmpty() && !contains(targets, number.wabaId())) {
        return fail(TOKEN, "The token's " + scope + " is granted on other WhatsApp Business Accounts, not on WABA "
                + number.wabaId() + how,
            "Assign WABA " + number.wabaId() + " to the token's System User in Business Settings, then issue a new token.");
      }
    }
    String tokenApp = data.path("app_id").asText("");
    if (appId.isPresent() && !tokenApp.isEmpty() && !tokenApp.equals(appId.get())) {
      return warn(TOKEN, "The token was issued for app " + digits(tokenApp) + ", not for META_APP_ID " + digits(appId.get()),
          "Use a token of the app whose id and secret the layer has, or correct META_APP_ID and META_APP_SECRET.");
    }
    long expires = data.path("expires_at").asLong(0);
    if (expires > 0) {
      Instant at = Instant.ofEpochSecond(expires);
      if (!at.isAfter(now)) {
        return fail(TOKEN, "The token expired at " + at + how,
            "Give the number a new token that does not expire (a System User token):"
                + " PATCH /admin/v1/numbers/" + number.phoneNumberId() + ".");
      }
      if (at.isBefore(now.plus(TOKEN_EXPIRY_WARNING))) {
        return warn(TOKEN, "The token expires at " + at + ", in " + ago(Duration.between(now, at)) + how,
            "Replace it before then with a System User token that does not expire:"
                + " PATCH /admin/v1/numbers/" + number.phoneNumberId() + ".");
      }
    }
    return ok(TOKEN, "Valid, with " + String.join(" and ", PERMISSIONS) + "; "
        + (expires > 0 ? "expires at " + Instant.ofEpochSecond(expires) : "does not expire") + how);
  }

  // ---- the number (one read: status, quality, limit)

  List<Check> number(Read read) {
    if (!(read instanceof Read.Answered a) || a.status() != 200 || !a.json().isObject()) {
      Check problem = graphProblem(NUMBER_STATUS, read, "phone number " + number.phoneNumberId());
      return List.of(problem, same(problem, QUALITY_RATING), same(problem, MESSAGING_LIMIT));
    }
    return List.of(status(a.json().path("status").asText("")), quality(a.json().path("quality_rating").asText("")),
        limit(a.json().path("messaging_limit_tier").asText("")));
  }

  private Check status(String status) {
    String s = status.toUpperCase(Locale.ROOT);
    return switch (s) {
      case "CONNECTED" -> ok(NUMBER_STATUS, "CONNECTED");
      case "" -> warn(NUMBER_STATUS, "Meta did not give the number's status",
          "Look the number up in WhatsApp Manager (Phone numbers) and check that it is Connected.");
      case "FLAGGED", "RATE_LIMITED", "PENDING", "UNVERIFIED", "UNKNOWN" -> warn(NUMBER_STATUS, word(s),
          "Open the number in WhatsApp Manager: " + (s.equals("FLAGGED") ? "raise its quality before Meta lowers its limit."
              : s.equals("RATE_LIMITED") ? "send less until Meta lifts the limit."
              : "finish its registration and verification (POST /{phone-number-id}/register)."));
      default -> fail(NUMBER_STATUS, word(s) + ": the number cannot send or receive through the Cloud API",
          "Open the number in WhatsApp Manager, resolve what Meta reports there (a ban, a restriction, a migration),"
              + " then register it again.");
    };
  }

  private Check quality(String rating) {
    String r = rating.toUpperCase(Locale.ROOT);
    return switch (r) {
      case "GREEN" -> ok(QUALITY_RATING, "GREEN");
      case "YELLOW" -> warn(QUALITY_RATING, "YELLOW: users block or report this number's messages more than usual",
          "Send fewer unsolicited messages and check the templates' feedback in WhatsApp Manager before Meta lowers the limit.");
      case "RED" -> fail(QUALITY_RATING, "RED: Meta may lower this number's messaging limit or restrict it",
          "Stop the campaigns users block or report, review the templates in WhatsApp Manager, and wait for GREEN.");
      default -> ok(QUALITY_RATING, r.isEmpty() ? "Not rated yet" : word(r) + " (not rated yet)");
    };
  }

  private Check limit(String tier) {
    Optional<Long> messages = tierLimit(tier);
    if (messages.isEmpty()) {
      return warn(MESSAGING_LIMIT, tier.isEmpty() ? "Meta did not give the messaging limit" : "Unknown limit " + word(tier),
          "Check the number's messaging limit in WhatsApp Manager: calling needs at least 2,000.");
    }
    if (messages.get() < CALLING_MIN_LIMIT) {
      return fail(MESSAGING_LIMIT, word(tier) + ": below the 2,000 Meta requires for calling (error 138015)",
          "Raise the messaging limit (verify the business, send quality conversations) before turning calling on.");
    }
    return ok(MESSAGING_LIMIT, word(tier) + (messages.get() == Long.MAX_VALUE ? "" : " (enough for calling)"));
  }

  /** A tier's messages a day: {@code TIER_250} 250, {@code TIER_2K} 2,000, {@code TIER_UNLIMITED} unbounded. */
  static Optional<Long> tierLimit(String tier) {
    String t = tier.toUpperCase(Locale.ROOT);
    if (t.equals("TIER_UNLIMITED")) {
      return Optional.of(Long.MAX_VALUE);
    }
    Matcher m = TIER.matcher(t);
    if (!m.matches() || m.group(1).length() > 9) {
      return Optional.empty();
    }
    return Optional.of(Long.parseLong(m.group(1)) * (m.group(2).isEmpty() ? 1 : 1_000));
  }

  // ---- webhooks: the app's subscription to the WABA, and the callback Meta calls

  /**
   * @param apps the answer of {@code GET /{waba}/subscribed_apps}
   * @param phone the answer of {@code GET /{phone-number-id}} (its {@code webhook_configuration})
   * @param expected the URL Meta should call ({@code <public URL>/webhooks/meta}), empty when unknown
   */
  List<Check> webhooks(Read apps, Read phone, Optional<String> appId, Optional<String> expected) {
    if (!(apps instanceof Read.Answered a) || a.status() != 200 || !a.json().path("data").isArray()) {
      Check problem = graphProblem(APP_SUBSCRIPTION, apps, "the apps subscribed to WABA " + number.wabaId());
      return List.of(problem, same(problem, CALLBACK_URL));
    }
    List<JsonNode> subscribed = new ArrayList<>();
    a.json().path("data").forEach(subscribed::add);
    Optional<JsonNode> ours = appId.isPresent()
        ? subscribed.stream().filter(s -> appId.get().equals(s.path("whatsapp_business_api_data").path("id").asText())).findFirst()
        : subscribed.stream().findFirst();
    String subscribeFix = "Subscribe the app to the WABA: POST /" + number.wabaId() + "/subscribed_apps with the number's"
        + " token (override_callback_uri " + expected.orElse("<public URL>/webhooks/meta") + ").";
    Check subscription;
    if (ours.isEmpty()) {
      subscription = fail(APP_SUBSCRIPTION, appId.map(id -> "App " + digits(id) + " is not subscribed to WABA " + number.wabaId()
          + " (" + subscribed.size() + " other app(s) are)").orElse("No app is subscribed to WABA " + number.wabaId())
          + ": Meta sends this number's webhooks nowhere the layer sees", subscribeFix);
    } else if (appId.isPresent()) {
      subscription = ok(APP_SUBSCRIPTION, "App " + digits(appId.get()) + " is subscribed to WABA " + number.wabaId());
    } else {
      subscription = ok(APP_SUBSCRIPTION, subscribed.size() + " app(s) subscribed to WABA " + number.wabaId()
          + " (set META_APP_ID to check that one is the layer's)");
    }
    // Meta's order: the number's override, then the WABA's, then the app's callback
    JsonNode config = phone instanceof Read.Answered p && p.status() == 200
        ? p.json().path("webhook_configuration") : com.fasterxml.jackson.databind.node.MissingNode.getInstance();
    Optional<String> calls = text(config.path("phone_number"))
        .or(() -> text(config.path("whatsapp_business_account")))
        .or(() -> ours.flatMap(o -> text(o.path("override_callback_uri"))))
        .or(() -> text(config.path("application")));
    return List.of(subscription, callback(calls, expected));
  }

  private Check callback(Optional<String> calls, Optional<String> expected) {
    String configure = "Set the callback URL to " + expected.orElse("<public URL>/webhooks/meta") + " (App Dashboard >"
        + " WhatsApp > Configuration, or override_callback_uri on POST /" + number.wabaId() + "/subscribed_apps).";
    if (expected.isEmpty()) {
      return warn(CALLBACK_URL, "The layer's public URL is not set, so the callback cannot be compared"
              + calls.map(c -> "; Meta calls " + shown(c)).orElse(""),
          "Set LAYER_PUBLIC_URL to the URL Meta reaches this layer at, and run the doctor again.");
    }
    if (calls.isEmpty()) {
      return warn(CALLBACK_URL, "Meta did not say which callback URL it calls for this number", configure);
    }
    if (!sameUrl(calls.get(), expected.get())) {
      return fail(CALLBACK_URL, "Meta sends this number's webhooks to " + shown(calls.get()) + ", not to this layer's "
          + expected.get(), configure);
    }
    return ok(CALLBACK_URL, "Meta calls " + expected.get());
  }

  static boolean sameUrl(String a, String b) {
    try {
      URI x = URI.create(a.strip());
      URI y = URI.create(b.strip());
      return x.getScheme() != null && x.getHost() != null && y.getHost() != null
          && x.getScheme().equalsIgnoreCase(y.getScheme()) && x.getHost().equalsIgnoreCase(y.getHost())
          && port(x) == port(y) && trimmed(x.getRawPath()).equals(trimmed(y.getRawPath()));
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private static int port(URI u) {
    return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
  }

  private static String trimmed(String path) {
    String p = path == null ? "" : path;
    while (p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    return p;
  }

  // ---- calling settings

  List<Check> calling(Read read) {
    if (!(read instanceof Read.Answered a) || a.status() != 200 || !a.json().isObject()) {
      Check problem = graphProblem(CALLING, read, "the calling settings of " + number.phoneNumberId());
      return List.of(problem, same(problem, SIP));
    }
    JsonNode calling = a.json().path("calling");
    String status = calling.path("status").asText("").toUpperCase(Locale.ROOT);
    String settings = "POST /" + number.phoneNumberId() + "/settings";
    Check enabled = status.equals("ENABLED")
        ? ok(CALLING, "Calling is enabled")
        : fail(CALLING, "Calling is " + (status.isEmpty() ? "not set up" : word(status).toLowerCase(Locale.ROOT))
            + ": Meta rings no call of this number", "Turn it on: " + settings
            + " {\"calling\":{\"status\":\"ENABLED\"}} (through the layer with a key), or in WhatsApp Manager.");
    String sip = calling.path("sip").path("status").asText("").toUpperCase(Locale.ROOT);
    Check sipOff = sip.equals("ENABLED")
        ? fail(SIP, "SIP is on: Meta sends calls to SIP servers, the Graph calling endpoints answer 131055 and the call"
            + " webhooks stop", "Turn SIP off: " + settings + " {\"calling\":{\"sip\":{\"status\":\"DISABLED\"}}}.")
        : ok(SIP, "SIP is off");
    return List.of(enabled, sipOff);
  }

  // ---- the layer's own records

  Check lastWebhook(Optional<Instant> last, Instant now) {
    String fix = "Check the app_subscription and callback_url checks, then send a message to the number and run the"
        + " doctor again.";
    if (last.isEmpty()) {
      return warn(LAST_WEBHOOK, "The layer has never received a webhook for this number", fix);
    }
    Duration age = Duration.between(last.get(), now);
    if (age.compareTo(WEBHOOK_SILENCE) > 0) {
      return warn(LAST_WEBHOOK, "The last webhook for this number arrived at " + last.get() + ", " + ago(age) + " ago", fix);
    }
    return ok(LAST_WEBHOOK, "Last webhook at " + last.get() + " (" + ago(age.isNegative() ? Duration.ZERO : age) + " ago)");
  }

  /** A number without subscriptions: Meta's webhooks for it reach nobody. */
  Check noSubscriptions() {
    return warn(DELIVERIES, "The number has no webhook subscription: its webhooks are received and delivered nowhere",
        "Create one: POST /v1/webhooks with a key of the number (see docs/webhooks.md).");
  }

  /** One subscription's recent deliveries ({@code recent} newest first, with their attempts). */
  Check deliveries(Subscription s, List<Delivery> recent, Instant now) {
    Instant since = now.minus(DELIVERY_WINDOW);
    int attempts = 0;
    int failures = 0;
    int dead = 0;
    Optional<Instant> lastSuccess = Optional.empty();
    Set<String> errors = new TreeSet<>();
    for (Delivery d : recent) {
      if (d.state() == DeliveryState.DEAD && d.createdAt().isAfter(since)) {
        dead++;
      }
      for (Attempt at : d.attempts()) {
        boolean success = at.status().filter(code -> code / 100 == 2).isPresent();
        if (success && (lastSuccess.isEmpty() || at.at().isAfter(lastSuccess.get()))) {
          lastSuccess = Optional.of(at.at());
        }
        if (at.at().isAfter(since)) {
          attempts++;
          if (!success) {
            failures++;
            errors.add(at.errorClass().orElse(at.status().map(code -> "HTTP " + code).orElse("no answer")));
          }
        }
      }
    }
    String who = "Subscription " + s.id() + " (" + s.name() + ", to " + host(s.url()) + ")";
    String success = lastSuccess.map(t -> "last success " + t + " (" + ago(Duration.between(t, now)) + " ago)")
        .orElse("no success in its last " + DELIVERIES_READ + " deliveries");
    String rate = failures + " of " + attempts + " attempts failed in the last 24 h"
        + (errors.isEmpty() ? "" : " (" + String.join(", ", errors) + ")") + (dead > 0 ? ", " + dead + " dead" : "");
    String detail = who + ": " + success + "; " + rate;
    String log = "See GET /admin/v1/webhooks/" + s.id() + "/deliveries";
    if (!s.active()) {
      return warn(DELIVERIES, s, who + " is turned off: its deliveries wait, paused",
          "Turn it on when its subscriber is ready: PATCH /v1/webhooks/" + s.id() + " {\"active\":true}.");
    }
    double share = attempts == 0 ? 0 : (double) failures / attempts;
    if (attempts >= FAIL_MIN_ATTEMPTS && share >= FAIL_RATE) {
      return fail(DELIVERIES, s, detail, "Check that " + host(s.url()) + " is up and answers 2xx in time; " + log
          + ", then replay the dead deliveries.");
    }
    if (failures > 0 && share >= WARN_RATE || dead > 0) {
      return warn(DELIVERIES, s, detail, log + " for the failed attempts' errors, and replay the dead deliveries.");
    }
    return ok(DELIVERIES, s, detail);
  }

  // ---- Meta's errors, and the layer's own

  /**
   * A read that gave no usable answer, as a check: Meta's error codes mapped to what the operator does
   * (190 an invalid or expired token, 10 and 200–299 a missing permission, 100 an unknown object, 4 and
   * the other throttles, 5xx Meta's own trouble), a timeout a warning, an unreachable Graph a failure.
   */
  Check graphProblem(String name, Read read, String what) {
    if (read instanceof Read.NoToken noToken) {
      return fail(name, "The number's token could not be read: " + noToken.why(),
          "Check that this layer runs with the master key the token was sealed with, or set the token again:"
              + " PATCH /admin/v1/numbers/" + number.phoneNumberId() + ".");
    }
    if (read instanceof Read.Failed failed) {
      return failed.reason() == UpstreamFailure.TIMEOUT
          ? warn(name, "Graph did not answer in time when asked for " + what,
              "Check this host's outbound HTTPS to Graph (LAYER_GRAPH_URL), then run the doctor again.")
          : fail(name, "Graph could not be reached when asked for " + what,
              "Check DNS, firewall and proxy for outbound HTTPS from this host to Graph (LAYER_GRAPH_URL).");
    }
    Read.Answered a = (Read.Answered) read;
    JsonNode error = a.json().path("error");
    int code = error.path("code").asInt(-1);
    String message = error.path("message").asText("");
    String meta = " (HTTP " + a.status() + (code >= 0 ? ", code " + code : "")
        + (message.isEmpty() ? "" : ": " + scrub(message)) + ")";
    if (code == 190 || code == 102 || code == 0 && a.status() == 401) {
      return fail(name, "Meta refused the number's token when asked for " + what + meta,
          "Give the number a valid token (a System User token that does not expire):"
              + " PATCH /admin/v1/numbers/" + number.phoneNumberId() + " with {\"meta_token\": …}.");
    }
    if (code == 10 || code >= 200 && code <= 299) {
      return fail(name, "The token lacks a permission for " + what + meta,
          "In Business Settings, give the token's System User " + String.join(" and ", PERMISSIONS) + " on WABA "
              + number.wabaId() + ", then issue a new token.");
    }
    if (code == 100 || code == 803) {
      return fail(name, "Meta does not know " + what + ", or the token cannot see it" + meta,
          "Check that the layer's phone number ID " + number.phoneNumberId() + " and WABA " + number.wabaId()
              + " are Meta's, and that the token's System User is assigned to that WABA.");
    }
    if (Set.of(4, 17, 32, 613, 80007, 80008, 130429).contains(code) || a.status() == 429) {
      return warn(name, "Meta throttled the request for " + what + meta,
          "Wait a few minutes and run the doctor again; run it less often (LAYER_DOCTOR_INTERVAL) if it repeats.");
    }
    if (a.status() >= 500 || code == 1 || code == 2) {
      return warn(name, "Meta failed to answer for " + what + meta,
          "Meta's trouble, usually brief: run the doctor again in a few minutes (https://metastatus.com).");
    }
    if (a.status() / 100 == 2) {
      return warn(name, "Meta's answer for " + what + " could not be read (HTTP " + a.status() + ")",
          "Check that LAYER_GRAPH_URL points at the Graph API, and run the doctor again.");
    }
    return fail(name, "Meta refused the request for " + what + meta,
        "Correct what Meta's message names in Business Settings or WhatsApp Manager, then run the doctor again.");
  }

  /** A check failing for the reason {@code problem} gives (one read feeds several checks). */
  private Check same(Check problem, String name) {
    return new Check(name, problem.status(), problem.detail(), problem.fix(), problem.phoneNumberId(), Optional.empty());
  }

  /** Meta's text as the doctor quotes it: no secret, no control character, at most 300 characters. */
  String scrub(String text) {
    String t = text;
    for (String secret : secrets) {
      t = t.replace(secret, "<redacted>");
    }
    t = t.replaceAll("\\p{Cntrl}", " ").strip();
    return t.length() > 300 ? t.substring(0, 300) + "…" : t;
  }

  // ---- helpers

  private Check ok(String name, String detail) {
    return new Check(name, Status.OK, detail, Optional.empty(), number.phoneNumberId(), Optional.empty());
  }

  private Check ok(String name, Subscription s, String detail) {
    return new Check(name, Status.OK, detail, Optional.empty(), number.phoneNumberId(), Optional.of(s.id()));
  }

  private Check warn(String name, String detail, String fix) {
    return new Check(name, Status.WARN, detail, Optional.of(fix), number.phoneNumberId(), Optional.empty());
  }

  private Check warn(String name, Subscription s, String detail, String fix) {
    return new Check(name, Status.WARN, detail, Optional.of(fix), number.phoneNumberId(), Optional.of(s.id()));
  }

  private Check fail(String name, String detail, String fix) {
    return new Check(name, Status.FAIL, detail, Optional.of(fix), number.phoneNumberId(), Optional.empty());
  }

  private Check fail(String name, Subscription s, String detail, String fix) {
    return new Check(name, Status.FAIL, detail, Optional.of(fix), number.phoneNumberId(), Optional.of(s.id()));
  }

  private static boolean contains(JsonNode array, String value) {
    for (JsonNode v : array) {
      if (value.equals(v.asText())) {
        return true;
      }
    }
    return false;
  }

  private static Optional<String> text(JsonNode node) {
    return node.isTextual() && !node.asText().isBlank() ? Optional.of(node.asText().strip()) : Optional.empty();
  }

  /** A word of Meta's vocabulary as quoted: letters, digits and underscores only, at most 40. */
  private static String word(String value) {
    String w = value.replaceAll("[^A-Za-z0-9_]", "");
    return w.length() > 40 ? w.substring(0, 40) : w;
  }

  private static String digits(String id) {
    String d = id.replaceAll("[^0-9]", "");
    return d.length() > 32 ? d.substring(0, 32) : d;
  }

  /** A URL as the doctor quotes it: without its query or fragment (which may carry a secret). */
  static String shown(String url) {
    try {
      URI u = URI.create(url.strip());
      if (u.getScheme() == null || u.getHost() == null) {
        return "(not a URL)";
      }
      return u.getScheme() + "://" + u.getRawAuthority().replaceAll("^.*@", "") + (u.getRawPath() == null ? "" : u.getRawPath());
    } catch (IllegalArgumentException e) {
      return "(not a URL)";
    }
  }

  private static String host(String url) {
    try {
      String h = URI.create(url).getHost();
      return h == null ? "(no host)" : h;
    } catch (IllegalArgumentException e) {
      return "(no host)";
    }
  }

  /** A duration as an operator reads it: the largest of days, hours, minutes, seconds. */
  static String ago(Duration d) {
    if (d.toDays() >= 2) {
      return d.toDays() + " days";
    }
    if (d.toHours() >= 2) {
      return d.toHours() + " h";
    }
    if (d.toMinutes() >= 2) {
      return d.toMinutes() + " min";
    }
    return Math.max(0, d.toSeconds()) + " s";
  }
}

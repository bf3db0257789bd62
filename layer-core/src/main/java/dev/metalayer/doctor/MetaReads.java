package dev.metalayer.doctor;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.crypto.Secrets;
import dev.metalayer.graph.GraphAnswer;
import dev.metalayer.graph.GraphForwarder;
import dev.metalayer.graph.GraphForwarder.Forwarded;
import dev.metalayer.graph.GraphForwarder.GraphRequest;
import dev.metalayer.graph.GraphForwarder.UpstreamFailure;
import dev.metalayer.json.Json;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The doctor's reads of Graph, one {@code GET} each, with a number's own token: sent once through the
 * layer's {@link GraphForwarder}, within {@code timeout}, at Graph version {@link #VERSION}. The token
 * travels in the {@code Authorization} header (and, for {@code debug_token}, in {@code input_token}) and
 * nowhere else; {@code appsecret_proof} is added when an app secret is configured, as on proxied
 * requests. Thread-safe; logs nothing.
 */
final class MetaReads {
  /** The Graph version the doctor reads (every field it reads exists there). */
  static final String VERSION = "v23.0";
  /** The largest answer read: the doctor's answers are a few hundred bytes. */
  static final int MAX_ANSWER_BYTES = 256 * 1024;

  /** What one read gave. */
  sealed interface Read {
    /** Graph answered (any status); {@code json} is a missing node when the body is not JSON. */
    record Answered(int status, JsonNode json) implements Read {}

    /** No answer: timed out, unreachable… (see {@link UpstreamFailure}). */
    record Failed(UpstreamFailure reason) implements Read {}

    /** Nothing was sent: the number's token could not be read ({@code why} names no secret). */
    record NoToken(String why) implements Read {}
  }

  private final String base;
  private final Optional<String> appId;
  private final Optional<String> appSecret;
  private final GraphForwarder forwarder;
  private final Duration timeout;

  MetaReads(URI graphUrl, Optional<String> appId, Optional<String> appSecret, GraphForwarder forwarder,
      Duration timeout) {
    String url = graphUrl.toString();
    while (url.endsWith("/")) {
      url = url.substring(0, url.length() - 1);
    }
    this.base = url;
    this.appId = Objects.requireNonNull(appId, "appId");
    this.appSecret = Objects.requireNonNull(appSecret, "appSecret");
    this.forwarder = Objects.requireNonNull(forwarder, "forwarder");
    this.timeout = Objects.requireNonNull(timeout, "timeout");
  }

  /** Whether {@code debug_token} is asked with the app's own token ({@code app_id|app_secret}). */
  boolean withAppToken() {
    return appId.isPresent() && appSecret.isPresent();
  }

  Optional<String> appId() {
    return appId;
  }

  /** {@code GET /debug_token?input_token=…}: with the app token when there is one, else with the token itself. */
  Read debugToken(String token) {
    String query = "input_token=" + encode(token);
    if (withAppToken()) {
      return get("debug_token", query, appId.get() + "|" + appSecret.get(), false);
    }
    return get("debug_token", query, token, true);
  }

  /** {@code GET /{phone-number-id}?fields=…}: the number's status, quality, limit and webhook configuration. */
  Read number(String phoneNumberId, String token) {
    return get(phoneNumberId, "fields=" + encode(
        "status,quality_rating,messaging_limit_tier,code_verification_status,name_status,webhook_configuration"),
        token, true);
  }

  /** {@code GET /{waba-id}/subscribed_apps}: the apps that receive the WABA's webhooks, with their overrides. */
  Read subscribedApps(String wabaId, String token) {
    return get(wabaId + "/subscribed_apps", "", token, true);
  }

  /** {@code GET /{phone-number-id}/settings}: the calling settings (status, SIP). */
  Read settings(String phoneNumberId, String token) {
    return get(phoneNumberId + "/settings", "", token, true);
  }

  private Read get(String path, String query, String bearer, boolean proof) {
    StringBuilder q = new StringBuilder(query);
    if (proof && appSecret.isPresent()) {
      q.append(q.length() == 0 ? "" : "&").append("appsecret_proof=").append(Secrets.hmacSha256Hex(appSecret.get(), bearer));
    }
    URI uri;
    try {
      uri = URI.create(base + "/" + VERSION + "/" + path + (q.length() == 0 ? "" : "?" + q));
    } catch (IllegalArgumentException e) {
      return new Read.Failed(UpstreamFailure.UNSENDABLE);
    }
    GraphRequest request = new GraphRequest("GET", uri,
        Map.of("Authorization", List.of("Bearer " + bearer), "Accept", List.of("application/json")), null, timeout);
    Forwarded forwarded;
    try {
      forwarded = forwarder.forward(request);
    } catch (RuntimeException e) {
      // a forwarder breaking its contract: no answer, as Graph unreachable
      return new Read.Failed(UpstreamFailure.UNREACHABLE);
    }
    if (forwarded instanceof Forwarded.Failed failed) {
      return new Read.Failed(failed.reason());
    }
    GraphAnswer answer = ((Forwarded.Answered) forwarded).answer();
    return new Read.Answered(answer.status(), json(answer.body()));
  }

  private static JsonNode json(byte[] body) {
    if (body.length == 0 || body.length > MAX_ANSWER_BYTES) {
      return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
    }
    try {
      JsonNode node = Json.mapper().readTree(body);
      return node == null ? com.fasterxml.jackson.databind.node.MissingNode.getInstance() : node;
    } catch (IOException e) {
      return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
    }
  }

  private static String encode(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8);
  }
}

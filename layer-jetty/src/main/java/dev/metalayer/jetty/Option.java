package dev.metalayer.jetty;

import java.util.Arrays;
import java.util.Optional;

/**
 * Every setting of the standalone layer: its command-line flag, its environment variable, its default
 * and its meaning. This table is the single source of {@code --help} and of
 * {@code docs/configuration.md}; a flag always wins over the environment.
 *
 * <p>Secrets ({@link #secret()}) are read from the environment only, never from a flag, so that they do
 * not show in process listings or shell history.
 */
public enum Option {
  PORT("--port", "LAYER_PORT", "8080", false, "TCP port to listen on (0 picks a free one)."),
  HOST("--host", "LAYER_HOST", "0.0.0.0", false, "Address to bind."),
  PUBLIC_URL(
      "--public-url",
      "LAYER_PUBLIC_URL",
      null,
      false,
      "Public base URL of the layer (e.g. https://layer.example.com): the only base of the media and paging"
          + " URLs the layer writes into answers (never a request's Host). When unset the layer warns at start,"
          + " those URLs are relative (/api/layer/meta/...) and paging URLs carry no key: set it for Chatwoot."),
  GRAPH_URL("--graph-url", "LAYER_GRAPH_URL", "https://graph.facebook.com", false, "Upstream Graph API base URL."),
  GRAPH_PREFIX(
      "--graph-prefix", "LAYER_GRAPH_PREFIX", "/api/layer/meta", false, "Path under which the Graph API is served."),
  DATA_DIR(
      "--data-dir",
      "LAYER_DATA_DIR",
      "./data",
      false,
      "Directory of the embedded H2 database and of the generated master key."),
  MASTER_KEY(
      null,
      "LAYER_MASTER_KEY",
      null,
      true,
      "Base64 of 32 bytes: seals Meta tokens and subscription secrets at rest. When unset, one is"
          + " generated once into the data directory (owner-only)."),
  APP_SECRET(
      null,
      "META_APP_SECRET",
      null,
      true,
      "Meta app secret(s), comma-separated for rotation: verifies X-Hub-Signature-256 on incoming"
          + " webhooks; the first one computes appsecret_proof on proxied requests."),
  ADMIN_TOKEN(
      null,
      "LAYER_ADMIN_TOKEN",
      null,
      true,
      "Bearer token of the admin API under /admin/v1, at least 32 characters (e.g. openssl rand -base64 32);"
          + " a shorter one is refused at start. The admin API is off when unset. The CLI sends it to"
          + " LAYER_URL."),
  LAYER_URL(
      "--layer-url",
      "LAYER_URL",
      null,
      false,
      "CLI only: base URL of a running layer (e.g. http://127.0.0.1:8080). The numbers and keys commands"
          + " then go through its admin API with LAYER_ADMIN_TOKEN instead of opening the store file, which"
          + " a running layer holds."),
  // ---- Graph proxy
  MEDIA_HOSTS(
      "--media-hosts",
      "LAYER_MEDIA_HOSTS",
      "lookaside.fbsbx.com,*.fbsbx.com,*.fbcdn.net,*.whatsapp.net",
      false,
      "Comma-separated hosts the layer fetches media from with the Meta token (and follows redirects"
          + " to), over https only; *.example.com matches any subdomain; http://host also allows plain http"
          + " for that host (local test set-ups only: the token travels with the request)."),
  UPSTREAM_CONNECT_TIMEOUT(
      "--upstream-connect-timeout",
      "LAYER_UPSTREAM_CONNECT_TIMEOUT",
      "5s",
      false,
      "Time to open a connection to Graph or a media host (e.g. 500ms, 5s)."),
  UPSTREAM_IDLE_TIMEOUT(
      "--upstream-idle-timeout",
      "LAYER_UPSTREAM_IDLE_TIMEOUT",
      "30s",
      false,
      "Longest silence on an upstream connection during an exchange; then 504."),
  UPSTREAM_TIMEOUT(
      "--upstream-timeout",
      "LAYER_UPSTREAM_TIMEOUT",
      "30s",
      false,
      "Total time of one Graph request, answer included; then 504. Never retried."),
  MEDIA_TIMEOUT(
      "--media-timeout",
      "LAYER_MEDIA_TIMEOUT",
      "5m",
      false,
      "Total time of one media download through the layer, bytes included; then 504 (or a cut stream)."),
  MAX_BODY_BYTES(
      "--max-body-bytes",
      "LAYER_MAX_BODY_BYTES",
      "104857600",
      false,
      "Largest request body accepted on the Graph API, declared or streamed; larger is a 413."),
  MAX_JSON_ANSWER_BYTES(
      "--max-json-answer-bytes",
      "LAYER_MAX_JSON_ANSWER_BYTES",
      "8388608",
      false,
      "Largest JSON answer from Graph buffered to rewrite URLs and scrub the token; larger is a 502."),
  MEDIA_DOWNLOADS_PER_KEY(
      "--media-downloads-per-key",
      "LAYER_MEDIA_DOWNLOADS_PER_KEY",
      "8",
      false,
      "Media transfers one key may have in flight at once, downloads through the layer's media URLs and"
          + " multipart uploads counted together; one more is refused with a 429 and Retry-After, so that one"
          + " tenant's slow readers or stalled uploads cannot hold the media pool."),
  MERGE_CALLING_SETTINGS(
      "--merge-calling-settings",
      "LAYER_MERGE_CALLING_SETTINGS",
      "true",
      false,
      "Merge a partial calling object written to /{phone-number-id}/settings into the current settings"
          + " (read first), so that omitted hours and schedules are kept; false forwards the body as sent."),
  SURFACE_WIDENING(
      "--surface-widening",
      "LAYER_SURFACE_WIDENING",
      null,
      false,
      "Rows of the Graph surface granted to chosen numbers, as <phone-number-id>:<group>[+<group>],…;"
          + " groups: number-admin (register, deregister, two-step PIN), waba-admin (subscribed_apps,"
          + " assigned_users), templates-delete, shared-waba-writes (WABA writes when several numbers share"
          + " the WABA). Every key of that number gets them. Unset: none (see docs/graph-api.md)."),
  // ---- request bodies held in memory (webhooks, Graph forms)
  BODY_BUFFER_BYTES(
      "--body-buffer-bytes",
      "LAYER_BODY_BUFFER_BYTES",
      "33554432",
      false,
      "Bytes of request bodies held in memory at once, over all requests: webhook bodies before their"
          + " signature is checked and Graph forms. When full, a 503 with Retry-After (Meta retries"
          + " webhooks). Keep it a small share of the heap (-Xmx), e.g. an eighth."),
  BODY_READ_TIMEOUT(
      "--body-read-timeout",
      "LAYER_BODY_READ_TIMEOUT",
      "10s",
      false,
      "Longest time to receive a webhook body, a Graph form or a /v1/webhooks or /admin/v1 body, however"
          + " fast the bytes come; then 408 and the connection closes. No thread waits meanwhile."),
  // ---- webhook relay
  VERIFY_TOKEN(
      null,
      "META_VERIFY_TOKEN",
      null,
      true,
      "The verify token entered in Meta's App Dashboard: GET /webhooks/meta answers Meta's handshake only"
          + " when hub.verify_token equals it. The handshake always fails when unset."),
  ALLOW_UNSIGNED_WEBHOOKS(
      "--allow-unsigned-webhooks",
      "LAYER_ALLOW_UNSIGNED_WEBHOOKS",
      "false",
      false,
      "Accept webhooks without X-Hub-Signature-256 (local trials only; logged loudly at start). A signature"
          + " that is present is still checked."),
  ALLOW_PRIVATE_TARGETS(
      "--allow-private-targets",
      "LAYER_ALLOW_PRIVATE_TARGETS",
      "false",
      false,
      "Allow subscriptions to deliver to loopback, private, link-local and other non-public addresses"
          + " (e.g. an on-premises Chatwoot on the same network)."),
  ALLOWED_TARGET_CIDRS(
      "--allowed-target-cidrs",
      "LAYER_ALLOWED_TARGET_CIDRS",
      null,
      false,
      "Comma-separated address ranges that subscriptions may deliver to even though they are not public,"
          + " e.g. 10.1.2.0/24,fd12::/16. Narrower than LAYER_ALLOW_PRIVATE_TARGETS."),
  CALL_TTL(
      "--call-ttl",
      "LAYER_CALL_TTL",
      "45s",
      false,
      "How long a calls event may still be delivered after its receipt (a ring: after the earlier of its"
          + " receipt and Meta's timestamp); later it is recorded as expired and never sent, so a late"
          + " connect is no ghost ring. 1s to 1h."),
  RETENTION(
      "--retention",
      "LAYER_RETENTION",
      "14d",
      false,
      "How long the relay keeps finished deliveries (delivered, expired, dead), their attempts and the"
          + " envelopes received from Meta; older ones are purged about every hour. Pending deliveries are"
          + " always kept. At least 8d: Meta redelivers for up to 7 days, and a redelivery is recognised by"
          + " the rows kept."),
  DELIVERY_CONCURRENCY(
      "--delivery-concurrency",
      "LAYER_DELIVERY_CONCURRENCY",
      "4",
      false,
      "Deliveries in flight per subscription and lane: a slow subscriber holds at most this many workers."),
  DELIVERY_CONCURRENCY_PER_NUMBER(
      "--delivery-concurrency-per-number",
      "LAYER_DELIVERY_CONCURRENCY_PER_NUMBER",
      "8",
      false,
      "Deliveries in flight per number and lane (each lane has 16 workers), claimed fairly: whatever one"
          + " number does, the rest of the lane serves the others."),
  MAX_SUBSCRIPTIONS_PER_NUMBER(
      "--max-subscriptions-per-number",
      "LAYER_MAX_SUBSCRIPTIONS_PER_NUMBER",
      "25",
      false,
      "Webhook subscriptions one number may have (1 to 1000); each change is delivered to each of them."),
  ;

  private final String flag;
  private final String env;
  private final String defaultValue;
  private final boolean secret;
  private final String help;

  Option(String flag, String env, String defaultValue, boolean secret, String help) {
    this.flag = flag;
    this.env = env;
    this.defaultValue = defaultValue;
    this.secret = secret;
    this.help = help;
  }

  /** The command-line flag, or empty for secrets (environment only). */
  public Optional<String> flag() {
    return Optional.ofNullable(flag);
  }

  public String env() {
    return env;
  }

  public Optional<String> defaultValue() {
    return Optional.ofNullable(defaultValue);
  }

  public boolean secret() {
    return secret;
  }

  public String help() {
    return help;
  }

  static Optional<Option> byFlag(String flag) {
    return Arrays.stream(values()).filter(o -> flag.equals(o.flag)).findFirst();
  }
}

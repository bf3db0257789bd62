package dev.metalayer.jetty;

import dev.metalayer.MetaLayer;
import dev.metalayer.graph.Surface;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every setting of the standalone layer, each declared once: its command-line flag, its environment
 * variable, its default, how its text is read ({@link Kind}), its meaning, and, for a setting of the
 * core, the {@link MetaLayer.Builder} method it goes to. {@link Settings} resolves and reads them, the
 * command line ({@link Main}) offers the flags, {@code --help} and {@code docs/configuration.md} print
 * this table (a test keeps the page equal to {@code markdown()}); a flag always wins over the
 * environment.
 *
 * <p>Adding an option: declare it here (with {@link #core} when the builder takes it), add the builder
 * method, use it. Options without {@code core} are the launcher's own (port, data directory…) and are
 * read where they are used, through {@link Settings}.
 *
 * <p>Secrets ({@link #secret()}) are read from the environment only, never from a flag, so that they do
 * not show in process listings or shell history.
 */
public enum Option {
  PORT(Section.SERVER, "--port", "LAYER_PORT", is("8080"), launcher(Kind.PORT),
      "TCP port to listen on (0 picks a free one)."),
  HOST(Section.SERVER, "--host", "LAYER_HOST", is("0.0.0.0"), launcher(Kind.TEXT), "Address to bind."),
  PUBLIC_URL(Section.SERVER, "--public-url", "LAYER_PUBLIC_URL", unset("unset (warned at start)"),
      core(Kind.HTTP_URL, MetaLayer.Builder::publicUrl),
      "Public base URL of the layer (e.g. `https://layer.example.com`): the only base of the media and paging"
          + " URLs the layer writes into answers, never a request's `Host`. Unset: those URLs are relative"
          + " (`/api/layer/meta/…`) and paging URLs carry no key. Set it for Chatwoot, which follows them as"
          + " absolute URLs."),
  DATA_DIR(Section.SERVER, "--data-dir", "LAYER_DATA_DIR", is("./data"), launcher(Kind.TEXT),
      "Directory of the embedded H2 database (when `LAYER_DB_URL` is unset) and of the generated master key"
          + " (created owner-only). One layer at a time: a second one started on the same directory is refused at"
          + " start, on PostgreSQL too (each instance has its own)."),
  MASTER_KEY(Section.SERVER, null, "LAYER_MASTER_KEY", unset("generated into the data directory"),
      launcher(Kind.SECRET),
      "Base64 of 32 bytes: seals Meta tokens and subscription secrets at rest (AES-256-GCM). Every instance on one"
          + " PostgreSQL database needs the same key: set this on each, or copy the one key file into each data"
          + " directory; an instance with another key is refused at start."),
  ADMIN_TOKEN(Section.SERVER, null, "LAYER_ADMIN_TOKEN", unset("unset: admin API off (403)"),
      launcher(Kind.ADMIN_TOKEN),
      "Bearer token of the admin API under `/admin/v1`, at least 32 characters (`openssl rand -hex 32`); a"
          + " shorter one is refused at start. 10 failures per address per minute, then `429`. Unset, the"
          + " admin API answers `403`. The CLI sends it to `LAYER_URL`."),
  LAYER_URL(Section.SERVER, "--layer-url", "LAYER_URL", unset("unset: the CLI opens the store file"),
      launcher(Kind.HTTP_URL),
      "CLI only: base URL of a running layer (e.g. `http://127.0.0.1:8080`). The `numbers` and `keys` commands"
          + " then go through its admin API with `LAYER_ADMIN_TOKEN` instead of opening the store file, which a"
          + " running layer holds."),
  SHUTDOWN_GRACE(Section.SERVER, "--shutdown-grace", "LAYER_SHUTDOWN_GRACE", is("10s"),
      launcher(Kind.durationFrom(Duration.ZERO, Duration.ofMinutes(10))),
      "On `SIGTERM` (or Ctrl-C), how long the layer waits for work in flight (`0s`–`10m`): it stops accepting"
          + " connections, lets the requests in flight finish, then lets its delivery attempts finish; what still"
          + " runs when this has passed is cut off (a request) or released for the next start (an attempt). Then it"
          + " closes the store and exits 0. See [operations](operations.md#shutdown)."),
  PLAIN_HTTP(Section.TLS, "--plain-http", "LAYER_PLAIN_HTTP", is("true"), launcher(Kind.BOOLEAN),
      "Serve plain HTTP on `LAYER_PORT`. `false` serves HTTPS only (`LAYER_TLS_PORT` must then be set)."),
  TLS_PORT(Section.TLS, "--tls-port", "LAYER_TLS_PORT", unset("unset: no HTTPS listener"), launcher(Kind.PORT),
      "TCP port of the HTTPS listener (on `LAYER_HOST`; 0 picks a free one). It speaks HTTP/2 to clients that offer"
          + " it (ALPN `h2`) and HTTP/1.1 to the others, with the same limits as plain HTTP. Needs a certificate:"
          + " `LAYER_TLS_CERT` and `LAYER_TLS_KEY`, or `LAYER_TLS_KEYSTORE`. See"
          + " [operations](operations.md#tls-and-http2)."),
  TLS_CERT(Section.TLS, "--tls-cert", "LAYER_TLS_CERT", unset("unset"), launcher(Kind.TEXT),
      "PEM file of the certificate chain, the server's certificate first (e.g. Let's Encrypt's `fullchain.pem`)."
          + " Read again when it changes: a renewed certificate serves the next connections without a restart."),
  TLS_KEY(Section.TLS, "--tls-key", "LAYER_TLS_KEY", unset("unset"), launcher(Kind.TEXT),
      "PEM file of the certificate's private key, RSA or EC, unencrypted PKCS#8 (`-----BEGIN PRIVATE KEY-----`;"
          + " convert another form with `openssl pkcs8 -topk8 -nocrypt`). Keep it readable by the layer's user only."),
  TLS_KEYSTORE(Section.TLS, "--tls-keystore", "LAYER_TLS_KEYSTORE", unset("unset"), launcher(Kind.TEXT),
      "Instead of the PEM files: a PKCS12 file (`.p12`, `.pfx`) holding one private key and its certificate chain."
          + " Read again when it changes, as the PEM files are."),
  TLS_KEYSTORE_PASSWORD(Section.TLS, null, "LAYER_TLS_KEYSTORE_PASSWORD", unset("unset: empty"), launcher(Kind.SECRET),
      "The password of `LAYER_TLS_KEYSTORE` (and of its key). Never logged."),
  // ---- the database
  DB_URL(Section.DATABASE, "--db-url", "LAYER_DB_URL", unset("unset: the embedded H2 file in the data directory"),
      launcher(Kind.DATABASE_URL),
      "The database: `jdbc:postgresql://host:5432/db` runs the layer on PostgreSQL, where several layer instances"
          + " may share one database (see [scaling](scaling.md)); unset, the embedded H2 file in the data directory"
          + " holds everything and one layer runs on it. Only `jdbc:postgresql:` and `jdbc:h2:` URLs are accepted (an"
          + " H2 database is one layer's alone: `tcp:`, `ssl:` and `AUTO_SERVER` URLs are refused);"
          + " the password goes in `LAYER_DB_PASSWORD`, never in the URL."),
  DB_USER(Section.DATABASE, "--db-user", "LAYER_DB_USER", unset("unset: the driver's default"), launcher(Kind.TEXT),
      "The database user (PostgreSQL)."),
  DB_PASSWORD(Section.DATABASE, null, "LAYER_DB_PASSWORD", unset("unset: none"), launcher(Kind.SECRET),
      "The database user's password (PostgreSQL). Never logged, never printed in an error."),
  DB_POOL_SIZE(Section.DATABASE, "--db-pool-size", "LAYER_DB_POOL_SIZE", is("16"), launcher(Kind.intFrom(1, 1000)),
      "Most connections this instance opens to PostgreSQL (1–1000; two are kept open when idle); a request or a"
          + " relay worker waits for a free one at most `LAYER_DB_CONNECT_TIMEOUT`. Every instance may open this many:"
          + " keep their sum under PostgreSQL's `max_connections` (see [scaling](scaling.md#pool-sizing))."),
  DB_CONNECT_TIMEOUT(Section.DATABASE, "--db-connect-timeout", "LAYER_DB_CONNECT_TIMEOUT", is("10s"),
      launcher(Kind.durationFrom(Duration.ofMillis(250), Duration.ofMinutes(10))),
      "Longest wait for a PostgreSQL connection (`250ms`–`10m`). At start, the layer tries for this long, then"
          + " stops with one line naming the host and the reason; later, a request that waits this long for a"
          + " connection fails (webhook ingest answers `503`, which Meta retries)."),
  DB_STATEMENT_TIMEOUT(Section.DATABASE, "--db-statement-timeout", "LAYER_DB_STATEMENT_TIMEOUT", is("5s"),
      launcher(Kind.durationFrom(Duration.ofSeconds(1), Duration.ofHours(1))),
      "Longest run of one SQL statement, on PostgreSQL and on the H2 file (whole seconds, `1s` to `1h`), so that"
          + " a lock held elsewhere or a slow disk fails a request instead of holding its thread. Schema migrations"
          + " at start run without it."),
  LOG_LEVEL(Section.SERVER, null, "LAYER_LOG_LEVEL", is("INFO"), launcher(Kind.LOG_LEVEL),
      "Root log level (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`); read by logback at start. At `DEBUG`, a"
          + " refused start also prints its stack trace (as `--debug` does)."),
  LOG_FORMAT(Section.SERVER, null, "LAYER_LOG_FORMAT", is("text"), launcher(Kind.LOG_FORMAT),
      "Log line format on stderr: `text`, or `json` (one JSON object per line: `timestamp`, `level`, `threadName`,"
          + " `loggerName`, `mdc` with `request_id`, `kvpList` with the fields of the access and delivery lines,"
          + " `formattedMessage`, `throwable`); read by logback at start. See"
          + " [operations](operations.md#request-logs-and-tracing)."),
  METRICS(Section.SERVER, "--metrics", "LAYER_METRICS", is("true"), launcher(Kind.BOOLEAN),
      "Serve the layer's metrics in Prometheus's text format at `/metrics` (see [operations](operations.md#metrics)):"
          + " requests, Meta's latency, webhooks, deliveries, backlog, store pool, JVM. `false`: nothing is counted"
          + " and `/metrics` is an unknown path."),
  METRICS_TOKEN(Section.SERVER, null, "LAYER_METRICS_TOKEN", unset("unset: `/metrics` open to whoever reaches it"),
      launcher(Kind.METRICS_TOKEN),
      "Bearer token `/metrics` requires (`Authorization: Bearer …`, compared in constant time), at least 16"
          + " characters; a scrape without it gets `401`. Unset, `/metrics` answers anyone who reaches its port:"
          + " set this, or `LAYER_METRICS_PORT` on an address only Prometheus reaches."),
  METRICS_PORT(Section.SERVER, "--metrics-port", "LAYER_METRICS_PORT", unset("unset: `/metrics` on `LAYER_PORT`"),
      launcher(Kind.PORT),
      "Serve `/metrics` on this port (of `LAYER_HOST`) instead of `LAYER_PORT`, which then does not serve it (0"
          + " picks a free one); that port serves nothing else. `LAYER_METRICS_TOKEN` applies there too."),
  // ---- Graph proxy
  GRAPH_URL(Section.GRAPH, "--graph-url", "LAYER_GRAPH_URL", is("https://graph.facebook.com"),
      core(Kind.GRAPH_URL, (b, url) -> {
        if (!url.equals(Kind.DEMO)) {
          b.graphUrl(URI.create(url));
        }
      }),
      "Upstream Graph API base (may carry a path)."),
  GRAPH_PREFIX(Section.GRAPH, "--graph-prefix", "LAYER_GRAPH_PREFIX", is("/api/layer/meta"),
      core(Kind.TEXT, MetaLayer.Builder::graphPrefix), "Path under which the Graph API is served."),
  APP_SECRET(Section.GRAPH, null, "META_APP_SECRET", unset("unset"), core(Kind.SECRET_LIST, MetaLayer.Builder::appSecrets),
      "Meta app secret(s), comma-separated for rotation. The first computes `appsecret_proof` on every upstream"
          + " request; all are accepted on incoming webhook signatures."),
  APP_ID(Section.GRAPH, "--meta-app-id", "META_APP_ID", unset("unset"), core(Kind.TEXT, MetaLayer.Builder::appId),
      "The Meta app's numeric id. With `META_APP_SECRET`, the [Meta doctor](operations.md#the-meta-doctor) checks"
          + " each number's token with the app's own token and recognises the app among those subscribed to the"
          + " number's WABA."),
  MEDIA_HOSTS(Section.GRAPH, "--media-hosts", "LAYER_MEDIA_HOSTS",
      is("lookaside.fbsbx.com,*.fbsbx.com,*.fbcdn.net,*.whatsapp.net"), core(Kind.LIST, MetaLayer.Builder::mediaHosts),
      "Hosts media is fetched from with the Meta token, redirects included, over `https` only; `*.example.com`"
          + " matches any subdomain. An entry written `http://host` also allows plain `http` for that host (local"
          + " test set-ups only: the token travels with the request)."),
  MEDIA_DOWNLOADS_PER_KEY(Section.GRAPH, "--media-downloads-per-key", "LAYER_MEDIA_DOWNLOADS_PER_KEY", is("8"),
      core(Kind.INT, MetaLayer.Builder::mediaDownloadsPerKey),
      "Media transfers one key may have in flight at once: downloads through the layer's media URLs and"
          + " multipart uploads (`POST /{phone-number-id}/media`) counted together; one more is a 429 with"
          + " `Retry-After: 2`, before anything goes upstream. Both go through an upstream connection pool of"
          + " their own, apart from Graph calls."),
  UPSTREAM_CONNECT_TIMEOUT(Section.GRAPH, "--upstream-connect-timeout", "LAYER_UPSTREAM_CONNECT_TIMEOUT", is("5s"),
      core(Kind.DURATION, MetaLayer.Builder::upstreamConnectTimeout), "Time to open a connection upstream."),
  UPSTREAM_IDLE_TIMEOUT(Section.GRAPH, "--upstream-idle-timeout", "LAYER_UPSTREAM_IDLE_TIMEOUT", is("30s"),
      core(Kind.DURATION, MetaLayer.Builder::upstreamIdleTimeout),
      "Longest silence on an upstream connection during an exchange (then 504)."),
  UPSTREAM_TIMEOUT(Section.GRAPH, "--upstream-timeout", "LAYER_UPSTREAM_TIMEOUT", is("30s"),
      core(Kind.DURATION, MetaLayer.Builder::upstreamTimeout),
      "Total time of one Graph request (then 504). Never retried."),
  MEDIA_TIMEOUT(Section.GRAPH, "--media-timeout", "LAYER_MEDIA_TIMEOUT", is("5m"),
      core(Kind.DURATION, MetaLayer.Builder::mediaTimeout), "Total time of one media download, bytes included."),
  MAX_BODY_BYTES(Section.GRAPH, "--max-body-bytes", "LAYER_MAX_BODY_BYTES", is("104857600"),
      core(Kind.LONG, MetaLayer.Builder::maxBodyBytes), "Largest request body, declared or streamed (then 413)."),
  MAX_JSON_ANSWER_BYTES(Section.GRAPH, "--max-json-answer-bytes", "LAYER_MAX_JSON_ANSWER_BYTES", is("8388608"),
      core(Kind.INT, MetaLayer.Builder::maxJsonAnswerBytes), "Largest JSON answer buffered for rewriting (then 502)."),
  MERGE_CALLING_SETTINGS(Section.GRAPH, "--merge-calling-settings", "LAYER_MERGE_CALLING_SETTINGS", is("true"),
      core(Kind.BOOLEAN, MetaLayer.Builder::mergeCallingSettings),
      "Merge a partial `calling` object written to `/{phone-number-id}/settings` into the current settings"
          + " (read first), so that omitted hours and schedules are kept; `false` forwards the body as sent."),
  SURFACE_WIDENING(Section.GRAPH, "--surface-widening", "LAYER_SURFACE_WIDENING", unset("unset: none"),
      core(Kind.WIDENING, MetaLayer.Builder::surfaceWidening),
      "Rows of the [Graph surface](graph-api.md#the-graph-surface) granted to chosen numbers:"
          + " `<phone-number-id>:<group>[+<group>],…`, e.g. `106540352242922:templates-delete`. Groups:"
          + " `number-admin` (register, deregister, two-step PIN, verification codes), `waba-admin`"
          + " (`subscribed_apps`, `assigned_users`), `templates-delete`, `shared-waba-writes` (WABA writes when"
          + " several registered numbers share the WABA). Every key of that number gets them; an unknown group"
          + " stops the layer at start."),
  KEY_RATE(Section.GRAPH, "--key-rate", "LAYER_KEY_RATE", is("50"), core(Kind.RATE, MetaLayer.Builder::keyRate),
      "Graph requests per second one key may send on average (fractional allowed: `0.5` is one every 2 s), in"
          + " a token bucket of `LAYER_KEY_BURST`; past it a `429` (code 4) with `Retry-After`, before anything"
          + " goes upstream. `0` or `off` (here or in `LAYER_KEY_BURST`): no default limit. A key's own limit"
          + " (`keys create --rate --burst`, `keys limit`) replaces it. Counted per instance (see"
          + " [operations](operations.md#per-key-limits))."),
  KEY_BURST(Section.GRAPH, "--key-burst", "LAYER_KEY_BURST", is("100"), core(Kind.BURST, MetaLayer.Builder::keyBurst),
      "Graph requests one key may send at once before `LAYER_KEY_RATE` paces it (the bucket's size); `0` or"
          + " `off`: no default limit."),
  DOCTOR_INTERVAL(Section.GRAPH, "--doctor-interval", "LAYER_DOCTOR_INTERVAL", is("15m"),
      core(Kind.durationFrom(Duration.ZERO, Duration.ofDays(1)), MetaLayer.Builder::doctorInterval),
      "How often the background [Meta doctor](operations.md#the-meta-doctor) checks every number at Meta and in"
          + " the layer (`0` turns it off; else `1m` to `1d`). A check failing 3 runs in a row logs one WARN naming"
          + " the number, the check and the fix. Each run reads Graph four times per number. Off with"
          + " `LAYER_GRAPH_URL=demo`, whose stand-in answers none of these reads."),
  // ---- request bodies held in memory (webhooks, Graph forms)
  BODY_BUFFER_BYTES(Section.BODIES, "--body-buffer-bytes", "LAYER_BODY_BUFFER_BYTES", is("33554432"),
      launcher(Kind.POSITIVE_LONG),
      "Bytes of such bodies held at once, over all requests (default 32 MiB). When full: `503` with"
          + " `Retry-After` (Meta retries webhooks). Keep it a small share of the heap (`-Xmx`), e.g. an eighth."),
  BODY_READ_TIMEOUT(Section.BODIES, "--body-read-timeout", "LAYER_BODY_READ_TIMEOUT", is("10s"),
      launcher(Kind.DURATION),
      "Longest time to receive one such body, however fast its bytes come (each byte would reset an idle"
          + " timeout); then `408` and the connection closes. No thread waits meanwhile."),
  // ---- webhook relay
  VERIFY_TOKEN(Section.RELAY, null, "META_VERIFY_TOKEN", unset("unset: the handshake always fails"),
      launcher(Kind.SECRET),
      "The verify token set in Meta's App Dashboard; `GET /webhooks/meta` answers the handshake only when"
          + " `hub.verify_token` equals it."),
  ALLOW_UNSIGNED_WEBHOOKS(Section.RELAY, "--allow-unsigned-webhooks", "LAYER_ALLOW_UNSIGNED_WEBHOOKS", is("false"),
      core(Kind.BOOLEAN, MetaLayer.Builder::allowUnsignedWebhooks),
      "Accept webhooks without a signature (local trials only; a loud warning is logged at start). A"
          + " signature that is present is still checked. Without an app secret and without this, every webhook"
          + " is refused."),
  ALLOW_PRIVATE_TARGETS(Section.RELAY, "--allow-private-targets", "LAYER_ALLOW_PRIVATE_TARGETS", is("false"),
      launcher(Kind.BOOLEAN),
      "Let subscriptions deliver to loopback, private, link-local and other non-public addresses."),
  ALLOWED_TARGET_CIDRS(Section.RELAY, "--allowed-target-cidrs", "LAYER_ALLOWED_TARGET_CIDRS", unset("unset"),
      launcher(Kind.LIST),
      "Comma-separated ranges subscriptions may deliver to although they are not public, e.g."
          + " `10.1.2.0/24,fd12::/16` (on-premises Chatwoot): network addresses written in full (not `10/8`), or"
          + " single addresses. Narrower than `LAYER_ALLOW_PRIVATE_TARGETS`."),
  CALL_TTL(Section.RELAY, "--call-ttl", "LAYER_CALL_TTL", is("45s"), core(Kind.DURATION, MetaLayer.Builder::callTtl),
      "How long a `calls` event may still be delivered after its receipt (`1s`–`1h`); for a ring (`connect`),"
          + " after the earlier of its receipt and Meta's `timestamp`. Later it is recorded as `expired` and never"
          + " sent, so a late `connect` is no ghost ring."),
  CALL_TERMINATE_HOLD(Section.RELAY, "--call-terminate-hold", "LAYER_CALL_TERMINATE_HOLD", is("2s"),
      core(Kind.DURATION, MetaLayer.Builder::callTerminateHold),
      "How long a `terminate` that is the first delivery of its call to a subscription waits for its `connect`"
          + " (`0s`–`10s`, shorter than `LAYER_CALL_TTL`; `0s` turns it off): a connect that arrives within it is"
          + " delivered first and the terminate right after it. See [webhooks](webhooks.md#order-on-the-calls-lane)."),
  RETENTION(Section.RELAY, "--retention", "LAYER_RETENTION", is("14d"), core(Kind.DURATION, MetaLayer.Builder::retention),
      "How long the relay keeps finished deliveries (`delivered`, `expired`, `dead`, `superseded`), their attempts"
          + " and the"
          + " envelopes received from Meta; older ones are purged about every hour. Pending deliveries are always"
          + " kept. At least `8d` (the layer refuses to start with less): Meta redelivers for up to 7 days, and a"
          + " redelivery is recognised by the rows kept."),
  DELIVERY_CONCURRENCY(Section.RELAY, "--delivery-concurrency", "LAYER_DELIVERY_CONCURRENCY", is("4"),
      core(Kind.INT, MetaLayer.Builder::concurrencyPerSubscription),
      "Attempts in flight per subscription and lane: a slow subscriber holds at most this many workers."),
  DELIVERY_CONCURRENCY_PER_NUMBER(Section.RELAY, "--delivery-concurrency-per-number",
      "LAYER_DELIVERY_CONCURRENCY_PER_NUMBER", is("8"), core(Kind.INT, MetaLayer.Builder::concurrencyPerNumber),
      "Attempts in flight per number and lane (of the lane's 16 workers), claimed fairly: the number with the"
          + " fewest in flight goes first. See [security](security.md#fairness)."),
  MAX_SUBSCRIPTIONS_PER_NUMBER(Section.RELAY, "--max-subscriptions-per-number", "LAYER_MAX_SUBSCRIPTIONS_PER_NUMBER",
      is("25"), core(Kind.INT, MetaLayer.Builder::maxSubscriptionsPerNumber),
      "Webhook subscriptions one number may have (1–1000); a create past it is refused with 400 naming the cap."),
  ;

  /** The groups of options, in the order of {@code --help} and of {@code docs/configuration.md}. */
  enum Section {
    SERVER("Server and store"),
    TLS("HTTPS (TLS)"),
    DATABASE("Database"),
    GRAPH("Graph proxy"),
    BODIES("Request bodies held in memory"),
    RELAY("Webhook relay");

    final String title;

    Section(String title) {
      this.title = title;
    }
  }

  private final Section section;
  private final String flag;
  private final String env;
  private final Default defaults;
  private final Binding<?> binding;
  private final String help;

  Option(Section section, String flag, String env, Default defaults, Binding<?> binding, String help) {
    this.section = section;
    this.flag = flag;
    this.env = env;
    this.defaults = defaults;
    this.binding = binding;
    this.help = help;
  }

  /** The command-line flag, or empty for options read from the environment only. */
  public Optional<String> flag() {
    return Optional.ofNullable(flag);
  }

  public String env() {
    return env;
  }

  /** The value used when neither a flag nor the environment sets one. */
  public Optional<String> defaultValue() {
    return Optional.ofNullable(defaults.value());
  }

  /** A secret: environment only, never printed, never echoed in an error. */
  public boolean secret() {
    return binding.kind().secret();
  }

  /** The meaning, as Markdown (code in backticks, links relative to {@code docs/}). */
  public String help() {
    return help;
  }

  Section section() {
    return section;
  }

  Kind<?> kind() {
    return binding.kind();
  }

  /** How the option reads in messages when the operator did not write it: its flag and variable. */
  String names() {
    return flag().map(f -> f + " / ").orElse("") + env;
  }

  /** The default as documented: the value in backticks, or what unset means. */
  String defaultText() {
    return defaults.value() != null ? "`" + defaults.value() + "`" : defaults.text();
  }

  /** Parses this option's text. @throws Kind.Invalid naming what is wrong and what to write */
  Object parse(String text) {
    return binding.kind().parse(text);
  }

  /** Whether the core's builder takes this option ({@link #applyTo}); else the launcher reads it itself. */
  boolean forCore() {
    return binding.toBuilder() != null;
  }

  /** Gives the builder this option's parsed value. @throws IllegalArgumentException from the builder's check */
  void applyTo(MetaLayer.Builder builder, Object value) {
    binding.applyTo(builder, value);
  }

  static Optional<Option> byFlag(String flag) {
    return Arrays.stream(values()).filter(o -> flag.equals(o.flag)).findFirst();
  }

  static Optional<Option> byEnv(String env) {
    return Arrays.stream(values()).filter(o -> env.equals(o.env)).findFirst();
  }

  /** The tables of {@code docs/configuration.md} for one section, generated from this declaration. */
  static String markdown(Section section) {
    StringBuilder b = new StringBuilder("| Variable | Flag | Default | Meaning |\n|---|---|---|---|\n");
    for (Option o : values()) {
      if (o.section == section) {
        b.append("| `").append(o.env).append("` | ")
            .append(o.flag().map(f -> "`" + f + "`").orElse("(environment only)")).append(" | ")
            .append(o.defaultText()).append(" | ")
            .append(o.help.replace("|", "\\|")).append(" |\n");
      }
    }
    return b.toString();
  }

  // ---- the declaration's parts

  private record Default(String value, String text) {}

  private static Default is(String value) {
    return new Default(value, null);
  }

  private static Default unset(String text) {
    return new Default(null, text);
  }

  /** How an option's text is read, and where its value goes: to the builder, or to the launcher. */
  private record Binding<T>(Kind<T> kind, BiConsumer<MetaLayer.Builder, T> toBuilder) {
    @SuppressWarnings("unchecked")
    void applyTo(MetaLayer.Builder builder, Object value) {
      toBuilder.accept(builder, (T) value);
    }
  }

  private static <T> Binding<T> core(Kind<T> kind, BiConsumer<MetaLayer.Builder, T> toBuilder) {
    return new Binding<>(kind, toBuilder);
  }

  private static <T> Binding<T> launcher(Kind<T> kind) {
    return new Binding<>(kind, null);
  }

  /**
   * How an option's text becomes a value. Only the form is checked here; what the core accepts
   * (ranges, minimums) is checked once, by the builder.
   */
  static final class Kind<T> {
    private static final Pattern DURATION_TEXT = Pattern.compile("([0-9]{1,12})(ms|s|m|h|d)?");

    /** The {@code --graph-url} that selects the built-in Graph stand-in instead of a URL. */
    static final String DEMO = "demo";

    static final Kind<String> TEXT = new Kind<>("TEXT", false, t -> t);
    static final Kind<String> SECRET = new Kind<>("SECRET", true, t -> t);
    static final Kind<List<String>> LIST = new Kind<>("LIST", false, Kind::list);
    static final Kind<List<String>> SECRET_LIST = new Kind<>("SECRETS", true, Kind::list);
    static final Kind<Integer> INT = new Kind<>("NUMBER", false, t -> (int) number(t, Integer.MAX_VALUE));
    static final Kind<Long> LONG = new Kind<>("NUMBER", false, t -> number(t, Long.MAX_VALUE));
    static final Kind<Long> POSITIVE_LONG = new Kind<>("NUMBER", false, t -> {
      long n = number(t, Long.MAX_VALUE);
      if (n < 1) {
        throw new Invalid("'" + t + "' is not a positive number", "write a whole number of at least 1");
      }
      return n;
    });
    static final Kind<Integer> PORT = new Kind<>("PORT", false, t -> {
      long n = number(t, 65_535);
      return (int) n;
    });
    static final Kind<Boolean> BOOLEAN = new Kind<>("BOOLEAN", false, t -> switch (t.toLowerCase(Locale.ROOT)) {
      case "true", "1", "yes", "on" -> true;
      case "false", "0", "no", "off" -> false;
      default -> throw new Invalid("'" + t + "' is not true or false", "write true or false");
    });
    static final Kind<Duration> DURATION = new Kind<>("DURATION", false, Kind::duration);
    /** Requests per second, decimal; {@code off} is 0. The builder checks the range. */
    static final Kind<Double> RATE = new Kind<>("RATE", false, t -> {
      try {
        return dev.metalayer.keys.Grant.RateLimit.rate(t);
      } catch (IllegalArgumentException e) {
        throw new Invalid("'" + t + "' is not a rate", "write requests per second like 50 or 0.5, or off");
      }
    });
    /** Whole requests; {@code off} is 0. */
    static final Kind<Integer> BURST = new Kind<>("NUMBER", false, t -> {
      if (t.equalsIgnoreCase("off")) {
        return 0;
      }
      long n = number(t, dev.metalayer.keys.Grant.RateLimit.MAX);
      return (int) n;
    });
    static final Kind<URI> HTTP_URL = new Kind<>("URL", false, Kind::httpUrl);
    static final Kind<String> GRAPH_URL = new Kind<>("URL", false, t -> {
      if (t.equals(DEMO)) {
        return t;
      }
      return httpUrl(t).toString();
    });
    static final Kind<Map<String, Set<Surface.Group>>> WIDENING = new Kind<>("WIDENING", false, t -> {
      try {
        return Surface.parseWidening(t);
      } catch (IllegalArgumentException e) {
        throw new Invalid(e.getMessage(), "write <phone-number-id>:<group>[+<group>],… (see docs/graph-api.md)");
      }
    });
    static final Kind<String> ADMIN_TOKEN = new Kind<>("SECRET", true, t -> {
      if (t.length() < LayerServer.MIN_ADMIN_TOKEN_CHARS) {
        throw new Invalid("the admin token is too short (length " + t.length() + ", at least "
            + LayerServer.MIN_ADMIN_TOKEN_CHARS + " characters)",
            "generate one with 'openssl rand -base64 32', or unset it to turn the admin API off");
      }
      return t;
    });
    static final Kind<String> METRICS_TOKEN = new Kind<>("SECRET", true, t -> {
      if (t.length() < LayerServer.MIN_METRICS_TOKEN_CHARS) {
        throw new Invalid("the metrics token is too short (length " + t.length() + ", at least "
            + LayerServer.MIN_METRICS_TOKEN_CHARS + " characters)",
            "generate one with 'openssl rand -hex 16', or unset it to leave /metrics without a token");
      }
      return t;
    });
    static final Kind<String> DATABASE_URL = new Kind<>("JDBC_URL", false, t -> {
      // the text is never echoed: a URL may carry a password, which is refused without being shown
      String lower = t.toLowerCase(Locale.ROOT);
      if (!lower.startsWith("jdbc:postgresql:") && !lower.startsWith("jdbc:h2:")) {
        throw new Invalid("the URL is not a jdbc:postgresql: or jdbc:h2: URL",
            "write it like jdbc:postgresql://db.example.com:5432/metalayer, or unset it for the embedded H2 file");
      }
      if (lower.matches("(?s).*[?&;:]password=.*") || lower.matches("(?s)jdbc:[a-z0-9]+://[^/?]*@.*")) {
        throw new Invalid("the URL carries a password", "remove the password from it and set LAYER_DB_PASSWORD (and LAYER_DB_USER) instead");
      }
      // a layer on H2 delivers alone (it resumes every lease at start, and takes turns in its own JVM):
      // an H2 database that other processes reach too would let two layers deliver the same rows
      if (lower.startsWith("jdbc:h2:tcp:") || lower.startsWith("jdbc:h2:ssl:")
          || lower.matches("(?s).*;\\s*auto_server\\s*=\\s*true.*")) {
        throw new Invalid("an H2 database that several processes share (tcp:, ssl:, AUTO_SERVER) is not supported",
            "give one layer its own jdbc:h2:file: URL, or run several on jdbc:postgresql:");
      }
      return t;
    });

    /** A whole number from {@code min} to {@code max}. */
    static Kind<Integer> intFrom(int min, int max) {
      return new Kind<>("NUMBER", false, t -> {
        long n;
        try {
          n = Long.parseLong(t);
        } catch (NumberFormatException e) {
          n = Long.MIN_VALUE;
        }
        if (n < min || n > max) {
          throw new Invalid("'" + t + "' is not a whole number from " + min + " to " + max,
              "write a whole number from " + min + " to " + max);
        }
        return (int) n;
      });
    }

    /** A duration from {@code min} to {@code max}, written as {@link #DURATION} reads it. */
    static Kind<Duration> durationFrom(Duration min, Duration max) {
      return new Kind<>("DURATION", false, t -> {
        Duration d = duration(t);
        if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
          throw new Invalid("'" + t + "' is not from " + text(min) + " to " + text(max),
              // no fixed examples: "like 500ms" under a 1 s minimum would suggest a value refused again
              "write a duration from " + text(min) + " to " + text(max));
        }
        return d;
      });
    }

    private static String text(Duration d) {
      return d.isZero() ? "0" : d.toMillis() % 1000 != 0 ? d.toMillis() + "ms"
          : d.toSeconds() % 60 != 0 || d.toSeconds() < 60 ? d.toSeconds() + "s"
          : d.toMinutes() % 60 != 0 ? d.toMinutes() + "m" : d.toHours() + "h";
    }

    static final Kind<String> LOG_LEVEL = new Kind<>("LEVEL", false, t -> {
      String level = t.toUpperCase(Locale.ROOT);
      if (!List.of("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF").contains(level)) {
        throw new Invalid("'" + t + "' is not a log level", "write TRACE, DEBUG, INFO, WARN or ERROR");
      }
      return level;
    });

    /** Exactly as logback's configuration names its appenders ({@code STDERR_text}, {@code STDERR_json}). */
    static final Kind<String> LOG_FORMAT = new Kind<>("FORMAT", false, t -> {
      if (!List.of("text", "json").contains(t)) {
        throw new Invalid("'" + t + "' is not a log format", "write text or json (lower case)");
      }
      return t;
    });

    private final String label;
    private final boolean secret;
    private final Function<String, T> parser;

    private Kind(String label, boolean secret, Function<String, T> parser) {
      this.label = label;
      this.secret = secret;
      this.parser = parser;
    }

    /** The placeholder of the value in {@code --help}, e.g. {@code DURATION}. */
    String label() {
      return label;
    }

    boolean secret() {
      return secret;
    }

    /** @throws Invalid when the text is not of this kind (trimmed first) */
    T parse(String text) {
      return parser.apply(text.strip());
    }

    /** A value of the wrong form: what is wrong, and what to write instead. */
    static final class Invalid extends IllegalArgumentException {
      private static final long serialVersionUID = 1L;
      private final String fix;

      Invalid(String what, String fix) {
        super(what);
        this.fix = fix;
      }

      String fix() {
        return fix;
      }
    }

    private static List<String> list(String t) {
      return Arrays.stream(t.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    private static long number(String t, long max) {
      try {
        long n = Long.parseLong(t);
        if (n >= 0 && n <= max) {
          return n;
        }
      } catch (NumberFormatException e) {
        // below
      }
      throw new Invalid("'" + t + "' is not a whole number from 0 to " + max, "write a whole number from 0 to " + max);
    }

    /** {@code 500ms}, {@code 30s}, {@code 5m}, {@code 2h}, {@code 1d}; a bare number is seconds. */
    private static Duration duration(String t) {
      Matcher m = DURATION_TEXT.matcher(t.toLowerCase(Locale.ROOT));
      if (!m.matches()) {
        throw new Invalid("'" + t + "' is not a duration", "write it like 500ms, 30s, 5m, 2h or 1d");
      }
      long n = Long.parseLong(m.group(1));
      String unit = m.group(2) == null ? "s" : m.group(2);
      return switch (unit) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        default -> Duration.ofDays(n);
      };
    }

    private static URI httpUrl(String t) {
      try {
        URI uri = new URI(t);
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if ((scheme.equals("http") || scheme.equals("https")) && uri.getHost() != null) {
          return uri;
        }
      } catch (URISyntaxException e) {
        // below
      }
      throw new Invalid("'" + t + "' is not an http(s) URL", "write it like https://host.example.com");
    }
  }
}

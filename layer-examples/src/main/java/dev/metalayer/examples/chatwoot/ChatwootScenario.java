package dev.metalayer.examples.chatwoot;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.examples.chatwoot.FakeChatwoot.Answer;
import dev.metalayer.examples.chatwoot.FakeChatwoot.Received;
import dev.metalayer.examples.chatwoot.OneNumberGraph.Seen;
import dev.metalayer.jetty.LayerServer;
import dev.metalayer.jetty.Settings;
import dev.metalayer.json.Json;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The Chatwoot voice-calls story, end to end on one machine: Meta (a {@link OneNumberGraph} and {@link MetaWebhooks}),
 * the real layer in between, and Chatwoot (a {@link FakeChatwoot}). Every hop is written to a
 * timeline, and every fact a test needs is collected in the {@link Report}.
 *
 * <ol>
 *   <li>setup: a number and its key; Chatwoot enables calling and subscribes to
 *       {@code ["calls","call_permission_replies"]} with a secret equal to its inbox {@code app_secret};
 *   <li>inbound call: a signed {@code connect} → Chatwoot → {@code pre_accept} + {@code accept} →
 *       {@code terminate};
 *   <li>outbound call: {@code 138006} → permission request → the user's reply on {@code messages} reaches
 *       the calls subscription → {@code connect} succeeds → {@code ACCEPTED};
 *   <li>media: an inbound image's id is looked up through the layer and the rewritten URL downloaded;
 *   <li>calls the layer understands: a second surface of the number (a softphone with a key of its own)
 *       tries to answer a call Chatwoot picked up and is refused by the layer, Meta seeing only
 *       Chatwoot's actions; a {@code terminate} that Meta sends before its {@code connect} reaches both
 *       surfaces after it; a call permission request over Meta's daily limit is refused by Meta once
 *       ({@code 138009}) and its retry answered by the layer from memory, never reaching Meta.
 * </ol>
 */
public final class ChatwootScenario {
  static final String PHONE = "+15550783881";
  static final String PNID = "106540352242922";
  static final String WABA = "102290129340398";
  static final String META_TOKEN = "EAAGm0PX4ZCpsBAMetaLayerDemoTokenNeverShownToClients";
  static final String META_APP_SECRET = "meta-app-secret-of-the-demo";
  static final String CHATWOOT_APP_SECRET = "chatwoot-inbox-app-secret";
  static final String ADMIN_TOKEN = "demo-admin-token-0123456789abcdef"; // the layer requires 32+ characters
  static final String USER = "15551234567";
  static final String SDP_OFFER = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n";
  static final String SDP_ANSWER = "v=0\r\no=- 7669997803033704573 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=setup:actpass\r\n";
  /** The softphone's own SDP answer: were its pre_accept to reach Meta, Chatwoot's accept would no longer match. */
  static final String SOFTPHONE_SDP_ANSWER = "v=0\r\no=- 1111111111111111111 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
  static final String SOFTPHONE_APP_SECRET = "softphone-app-secret";
  /** A user whose call permission request of the day the business already spent. */
  static final String USER_OVER_LIMIT = "15557654321";
  /**
   * The layer's Graph error code for a {@code pre_accept}, {@code accept} or {@code reject} of a call that
   * another surface of the number answers (HTTP 409).
   */
  public static final int ANSWERED_ELSEWHERE = dev.metalayer.graph.GraphError.ANSWERED_ELSEWHERE;

  /** What happened, for assertions. */
  public record Report(
      String apiKey,
      List<Seen> metaSaw,
      List<Received> chatwootGot,
      List<Answer> chatwootAnswers,
      JsonNode settingsAfter,
      long[] callDeliveryMicros,
      boolean mediaBytesMatch,
      String rewrittenMediaUrl,
      List<String> timeline,
      CallsScene scene) {}

  /**
   * What the scene of the calls the layer understands showed.
   *
   * @param call the call both surfaces tried to answer
   * @param chatwootActions Chatwoot's pre_accept, accept and terminate of it
   * @param softphoneActions the softphone's pre_accept and reject of it
   * @param metaSawOfCall the {@code /calls} requests Meta received for that call
   * @param callRecord the layer's record of the call ({@code GET /v1/calls/{wacid}} with Chatwoot's key)
   * @param chatwootKeyId the id of Chatwoot's key, which the record names as the answering one
   * @param chatwootGot and {@code softphoneGot}: what each surface received during the scene, in order
   * @param lateCall the call whose terminate Meta sent before its connect
   * @param permissionAnswers Chatwoot's two call permission requests to the user over the limit
   * @param metaPermissionRequests how many of them reached Meta
   */
  public record CallsScene(
      String call,
      List<Answer> chatwootActions,
      List<Answer> softphoneActions,
      List<Seen> metaSawOfCall,
      JsonNode callRecord,
      String chatwootKeyId,
      List<Received> chatwootGot,
      List<Received> softphoneGot,
      String lateCall,
      List<Answer> permissionAnswers,
      long metaPermissionRequests) {}

  private final PrintStream out;
  private final List<String> timeline = new ArrayList<>();
  private final List<Answer> answers = new ArrayList<>();
  private final List<Received> got = new ArrayList<>();
  private final List<Long> callLatencies = new ArrayList<>();
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private long t0;

  public ChatwootScenario(PrintStream out) {
    this.out = out;
  }

  public Report run(Path dataDir) throws Exception {
    t0 = System.nanoTime();
    try (OneNumberGraph meta = new OneNumberGraph(PNID, WABA, META_TOKEN).start();
        FakeChatwoot chatwoot = new FakeChatwoot(PHONE, PNID, WABA, CHATWOOT_APP_SECRET).start()) {
      meta.onRequest(s -> log("meta", "layer → Meta      " + s.method() + " " + s.path()
          + (s.query().isEmpty() ? "" : "?" + s.query()) + describeAuth(s) + summary(s.body())));
      Map<String, String> env = new HashMap<>();
      // Chatwoot follows media and paging URLs as absolute URLs: the layer needs its public URL
      int port;
      try (java.net.ServerSocket free = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
        port = free.getLocalPort();
      }
      env.put("LAYER_PORT", Integer.toString(port));
      env.put("LAYER_PUBLIC_URL", "http://127.0.0.1:" + port);
      env.put("LAYER_HOST", "127.0.0.1");
      env.put("LAYER_DATA_DIR", dataDir.toString());
      // a master key of its own for this run's data, which lives no longer than the run
      byte[] masterKey = new byte[32];
      new java.security.SecureRandom().nextBytes(masterKey);
      env.put("LAYER_MASTER_KEY", java.util.Base64.getEncoder().encodeToString(masterKey));
      env.put("LAYER_GRAPH_URL", meta.baseUri().toString());
      env.put("META_APP_SECRET", META_APP_SECRET);
      env.put("LAYER_ADMIN_TOKEN", ADMIN_TOKEN);
      env.put("LAYER_MEDIA_HOSTS", "http://127.0.0.1");
      env.put("LAYER_ALLOW_PRIVATE_TARGETS", "true");
      try (LayerServer layer = LayerServer.start(Settings.parse(new String[0], env))) {
        URI base = layer.localUri();
        MetaWebhooks webhooks = new MetaWebhooks(base.resolve("/webhooks/meta"), META_APP_SECRET, WABA,
            PHONE.substring(1), PNID);

        // 1. setup
        admin(base, "/admin/v1/numbers", "{\"phone\":\"" + PHONE + "\",\"phone_number_id\":\"" + PNID
            + "\",\"waba_id\":\"" + WABA + "\",\"business_id\":\"555\",\"meta_token\":\"" + META_TOKEN + "\"}");
        JsonNode created = Json.mapper().readTree(admin(base, "/admin/v1/keys", "{\"phone_number_id\":\"" + PNID + "\"}"));
        String key = created.get("key").asText();
        log("setup", "number " + PHONE + " registered with its Meta token; key " + key.substring(0, 8) + "… created");
        chatwoot.configure(URI.create(base + "/api/layer/meta"), key);
        log("setup", "Chatwoot WHATSAPP_CLOUD_BASE_URL=" + base + "/api/layer/meta, inbox api_key=" + key.substring(0, 8) + "…");
        Answer enabled = record(chatwoot.enableVoiceCalling());
        log("setup", "Chatwoot → layer  POST /v22.0/" + PNID + "/settings {\"calling\":{\"status\":\"ENABLED\"}} → "
            + enabled.status() + "; Meta now holds " + meta.settings().path("calling"));
        String subscription = subscribe(base, key, "{\"name\":\"Chatwoot Voice (calls)\",\"url\":\"" + chatwoot.webhookUrl()
            + "\",\"events\":[\"calls\",\"call_permission_replies\"],\"secret\":\"" + CHATWOOT_APP_SECRET
            + "\",\"chatwoot_terminate_reason\":true}");
        log("setup", "Chatwoot → layer  POST /v1/webhooks events [calls, call_permission_replies] → " + subscription);

        // 2. inbound call
        long now = System.currentTimeMillis() / 1000;
        String inboundCall = "wacid.HBgLMTU1NTEyMzQ1NjcVAgARGCA5QkI3";
        metaPosts(webhooks, webhooks.envelope(webhooks.inboundConnect(inboundCall, USER, "Jane Doe", SDP_OFFER, now)),
            "connect " + inboundCall + " (user calls the business)");
        Received ring = deliver(chatwoot, true);
        String offer = ring.change().at("/value/calls/0/session/sdp").asText();
        log("inbound", "Chatwoot rings: caller " + ring.change().at("/value/contacts/0/profile/name").asText()
            + ", SDP offer of " + offer.length() + " bytes");
        Answer pre = record(chatwoot.preAccept(inboundCall, SDP_ANSWER));
        log("inbound", "Chatwoot → layer  pre_accept → " + pre.status() + " " + pre.raw());
        Answer acc = record(chatwoot.accept(inboundCall, SDP_ANSWER));
        log("inbound", "Chatwoot → layer  accept (same SDP) → " + acc.status() + " " + acc.raw());
        log("inbound", "… two-way audio flows browser ↔ Meta, never through the layer …");
        metaPosts(webhooks, webhooks.envelope(webhooks.terminate(inboundCall, USER, "USER_INITIATED", "COMPLETED", now, now + 80)),
            "terminate " + inboundCall + " COMPLETED, 80 s");
        Received end = deliver(chatwoot, true);
        log("inbound", "Chatwoot logs the call: terminate_reason=" + end.change().at("/value/calls/0/terminate_reason").asText()
            + ", duration=" + end.change().at("/value/calls/0/duration").asText());

        // 3. outbound call without permission
        Answer refused = record(chatwoot.connect(USER, SDP_OFFER));
        log("outbound", "Chatwoot → layer  connect to " + USER + " → " + refused.status() + " error.code="
            + refused.body().at("/error/code").asText() + " \"" + refused.body().at("/error/error_user_msg").asText() + "\"");
        Answer request = record(chatwoot.requestCallPermission(USER));
        String requestWamid = request.body().at("/messages/0/id").asText();
        log("outbound", "Chatwoot → layer  call_permission_request → " + request.status() + " messages[0].id=" + requestWamid);
        meta.grantCallPermission(USER);
        metaPosts(webhooks, webhooks.envelope(webhooks.permissionReply(USER, "Jane Doe", requestWamid, "accept", now + 100)),
            "messages: call_permission_reply accept (context " + requestWamid + ")");
        Received reply = deliver(chatwoot, false);
        log("outbound", "Chatwoot sees the reply on its calls subscription: "
            + reply.change().at("/value/messages/0/interactive/call_permission_reply/response").asText());
        Answer connected = record(chatwoot.connect(USER, SDP_OFFER));
        String outboundCall = connected.body().at("/calls/0/id").asText();
        log("outbound", "Chatwoot → layer  connect again → " + connected.status() + " calls[0].id=" + outboundCall);
        metaPosts(webhooks, webhooks.envelope(webhooks.outboundAnswer(outboundCall, USER, SDP_ANSWER, now + 110)),
            "connect " + outboundCall + " with the user's SDP answer");
        deliver(chatwoot, true);
        metaPosts(webhooks, webhooks.envelope(webhooks.callStatus(outboundCall, USER, "ACCEPTED", now + 111)),
            "statuses: " + outboundCall + " ACCEPTED");
        Received accepted = deliver(chatwoot, true);
        log("outbound", "Chatwoot marks the call in progress: " + accepted.change().at("/value/statuses/0/status").asText());

        // 4. media
        byte[] photo = new byte[48 * 1024];
        new java.util.Random(7).nextBytes(photo);
        meta.putMedia("1037543291543636", photo);
        subscribe(base, key, "{\"name\":\"Chatwoot messages\",\"url\":\"" + chatwoot.webhookUrl()
            + "\",\"events\":[\"messages\"],\"secret\":\"" + CHATWOOT_APP_SECRET + "\"}");
        metaPosts(webhooks, webhooks.envelope(webhooks.imageMessage(USER, "Jane Doe", "1037543291543636",
            "Olá, a foto do café", now + 200)), "messages: image 1037543291543636");
        Received image = deliver(chatwoot, false);
        String mediaId = image.change().at("/value/messages/0/image/id").asText();
        Answer lookup = record(chatwoot.lookupMedia(mediaId));
        String url = lookup.body().path("url").asText();
        log("media", "Chatwoot → layer  GET /v13.0/" + mediaId + " → url " + url);
        HttpResponse<byte[]> download = chatwoot.download(url);
        boolean match = MessageDigest.isEqual(download.body(), photo);
        log("media", "Chatwoot → layer  GET <that url> → " + download.statusCode() + ", " + download.body().length
            + " bytes, " + download.headers().firstValue("content-type").orElse("?") + ", identical=" + match);

        // 5. calls the layer understands
        CallsScene scene = callsScene(base, meta, webhooks, chatwoot, key, created.get("id").asText());

        long[] micros = callLatencies.stream().mapToLong(Long::longValue).toArray();
        log("summary", "call events, Meta post → Chatwoot delivery (µs): " + java.util.Arrays.toString(micros));
        return new Report(key, meta.seen(), List.copyOf(got), List.copyOf(answers), meta.settings(), micros, match, url,
            List.copyOf(timeline), scene);
      }
    }
  }

  /**
   * The scene of the calls the layer understands: one answering surface, a terminate before its connect,
   * a permission request over the limit answered from memory. Its deliveries are kept apart from the
   * story's (its own lists in the {@link CallsScene}).
   */
  private CallsScene callsScene(URI base, OneNumberGraph meta, MetaWebhooks webhooks, FakeChatwoot chatwoot, String key,
      String keyId) throws Exception {
    List<Received> chatwootGot = new ArrayList<>();
    List<Received> softphoneGot = new ArrayList<>();
    try (FakeChatwoot softphone = new FakeChatwoot(PHONE, PNID, WABA, SOFTPHONE_APP_SECRET).start()) {
      String softphoneKey = Json.mapper().readTree(admin(base, "/admin/v1/keys", "{\"phone_number_id\":\"" + PNID + "\"}"))
          .get("key").asText();
      softphone.configure(URI.create(base + "/api/layer/meta"), softphoneKey);
      subscribe(base, softphoneKey, "{\"name\":\"softphone\",\"url\":\"" + softphone.webhookUrl()
          + "\",\"events\":[\"calls\"],\"secret\":\"" + SOFTPHONE_APP_SECRET + "\"}");
      log("scene", "a softphone with a key of its own (" + softphoneKey.substring(0, 8) + "…) also answers the number's calls");

      // one answering surface
      long now = System.currentTimeMillis() / 1000;
      String call = "wacid.HBgLMTU1NTEyMzQ1NjcVAgARGCA5QkI5";
      metaPosts(webhooks, webhooks.envelope(webhooks.inboundConnect(call, USER, "Jane Doe", SDP_OFFER, now)),
          "connect " + call + " (user calls the business)");
      chatwootGot.add(sceneDelivery("Chatwoot", chatwoot));
      softphoneGot.add(sceneDelivery("softphone", softphone));
      int metaBefore = meta.seen().size();
      List<Answer> chatwootActions = new ArrayList<>();
      List<Answer> softphoneActions = new ArrayList<>();
      chatwootActions.add(record(chatwoot.preAccept(call, SDP_ANSWER)));
      log("scene", "Chatwoot → layer  pre_accept → " + chatwootActions.get(0).status());
      softphoneActions.add(record(softphone.preAccept(call, SOFTPHONE_SDP_ANSWER)));
      log("scene", "softphone → layer pre_accept → " + softphoneActions.get(0).status() + " " + softphoneActions.get(0).raw());
      chatwootActions.add(record(chatwoot.accept(call, SDP_ANSWER)));
      log("scene", "Chatwoot → layer  accept (its own SDP, untouched at Meta) → " + chatwootActions.get(1).status());
      softphoneActions.add(record(softphone.reject(call)));
      log("scene", "softphone → layer reject → " + softphoneActions.get(1).status() + " (refused: the call is Chatwoot's)");
      chatwootActions.add(record(chatwoot.terminate(call)));
      log("scene", "Chatwoot → layer  terminate → " + chatwootActions.get(2).status());
      List<Seen> metaSawOfCall = meta.seen().subList(metaBefore, meta.seen().size()).stream()
          .filter(s -> s.path().endsWith("/calls") && s.body().contains(call)).toList();
      log("scene", "Meta received " + metaSawOfCall.size() + " actions for " + call + ", all Chatwoot's");
      metaPosts(webhooks, webhooks.envelope(webhooks.terminate(call, USER, "USER_INITIATED", "COMPLETED", now, now + 12)),
          "terminate " + call + " COMPLETED, 12 s");
      chatwootGot.add(sceneDelivery("Chatwoot", chatwoot));
      softphoneGot.add(sceneDelivery("softphone", softphone));
      HttpResponse<String> record = http.send(HttpRequest.newBuilder(base.resolve("/v1/calls/" + call))
          .timeout(Duration.ofSeconds(10)).header("x-api-key", key).GET().build(), HttpResponse.BodyHandlers.ofString());
      JsonNode callRecord = Json.mapper().readTree(record.body());
      log("scene", "layer → Chatwoot  GET /v1/calls/" + call + " → " + record.statusCode() + " state="
          + callRecord.path("state").asText() + " answered_by=" + callRecord.path("answered_by").asText()
          + " state_changes=" + callRecord.path("state_changes").size());

      // a terminate before its connect
      long later = System.currentTimeMillis() / 1000;
      String lateCall = "wacid.HBgLMTU1NTEyMzQ1NjcVAgARGCA5QkJB";
      metaPosts(webhooks, webhooks.envelope(webhooks.terminate(lateCall, USER, "USER_INITIATED", "FAILED", later, later)),
          "terminate " + lateCall + " FAILED (overtook its connect)");
      metaPosts(webhooks, webhooks.envelope(webhooks.inboundConnect(lateCall, USER, "Jane Doe", SDP_OFFER, later)),
          "connect " + lateCall + " (late)");
      for (int i = 0; i < 2; i++) {
        chatwootGot.add(sceneDelivery("Chatwoot", chatwoot));
        softphoneGot.add(sceneDelivery("softphone", softphone));
      }

      // a permission request over the limit, answered from memory
      meta.permissionRequestSpent(USER_OVER_LIMIT, java.time.Instant.now().plus(Duration.ofHours(20)));
      long metaRequestsBefore = permissionRequests(meta);
      List<Answer> permissionAnswers = new ArrayList<>();
      for (String when : List.of("now", "5 minutes later (Chatwoot's throttle)")) {
        Answer a = record(chatwoot.requestCallPermission(USER_OVER_LIMIT));
        permissionAnswers.add(a);
        log("scene", "Chatwoot → layer  call_permission_request to " + USER_OVER_LIMIT + ", " + when + " → " + a.status()
            + " error.code=" + a.body().at("/error/code").asText() + "; Meta received "
            + (permissionRequests(meta) - metaRequestsBefore) + " so far");
      }
      return new CallsScene(call, List.copyOf(chatwootActions), List.copyOf(softphoneActions), metaSawOfCall, callRecord,
          keyId, List.copyOf(chatwootGot), List.copyOf(softphoneGot), lateCall, List.copyOf(permissionAnswers),
          permissionRequests(meta) - metaRequestsBefore);
    }
  }

  private static long permissionRequests(OneNumberGraph meta) {
    return meta.seen().stream().filter(s -> s.path().endsWith("/messages") && s.body().contains("call_permission_request"))
        .count();
  }

  private Received sceneDelivery(String surface, FakeChatwoot to) throws Exception {
    Received r = to.nextWebhook(Duration.ofSeconds(10))
        .orElseThrow(() -> new IllegalStateException(surface + " received no webhook within 10 s"));
    log("scene", "layer → " + surface + " " + r.change().at("/value/calls/0/event").asText() + " "
        + r.change().at("/value/calls/0/id").asText() + " signature=" + (r.signatureValid() ? "valid" : "INVALID"));
    return r;
  }

  private void metaPosts(MetaWebhooks webhooks, String envelope, String what) throws Exception {
    pendingSentAt = System.nanoTime();
    int status = webhooks.post(envelope);
    log("webhook", "Meta → layer      POST /webhooks/meta (signed) " + what + " → " + status);
  }

  private volatile long pendingSentAt;

  private Received deliver(FakeChatwoot chatwoot, boolean call) throws Exception {
    Received r = chatwoot.nextWebhook(Duration.ofSeconds(10))
        .orElseThrow(() -> new IllegalStateException("Chatwoot received no webhook within 10 s"));
    long micros = (r.arrivedNanos() - pendingSentAt) / 1000;
    if (call) {
      callLatencies.add(micros);
    }
    got.add(r);
    log("webhook", "layer → Chatwoot  POST /webhooks/whatsapp/" + PHONE + " field=" + r.field() + " entries=" + r.entries()
        + " changes=" + r.changes() + " signature=" + (r.signatureValid() ? "valid" : "INVALID") + " webhook-id="
        + r.webhookId() + " (" + micros + " µs after Meta's post)");
    return r;
  }

  private Answer record(Answer a) {
    answers.add(a);
    return a;
  }

  private String admin(URI base, String path, String json) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + ADMIN_TOKEN).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 201) {
      throw new IllegalStateException("admin " + path + " answered " + r.statusCode() + ": " + r.body());
    }
    return r.body();
  }

  private String subscribe(URI base, String key, String json) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve("/v1/webhooks")).timeout(Duration.ofSeconds(10))
        .header("x-api-key", key).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 201) {
      throw new IllegalStateException("POST /v1/webhooks answered " + r.statusCode() + ": " + r.body());
    }
    return r.statusCode() + " " + Json.mapper().readTree(r.body()).path("id").asText();
  }

  private static String describeAuth(Seen s) {
    String auth = s.headers().getOrDefault("authorization", "");
    String shown = auth.startsWith("Bearer " + META_TOKEN) ? "Bearer <real Meta token>" : auth.isEmpty() ? "no auth" : "UNEXPECTED auth";
    boolean keyLeak = (s.query() + s.body() + s.headers()).contains("ps_");
    return "  [" + shown + (keyLeak ? ", ps_ KEY LEAKED" : ", no ps_ key") + "]";
  }

  private static String summary(String body) {
    if (body == null || body.isEmpty()) {
      return "";
    }
    String oneLine = body.replace("\\r\\n", "⏎");
    return " " + (oneLine.length() > 110 ? oneLine.substring(0, 110) + "…" : oneLine);
  }

  private synchronized void log(String phase, String line) {
    String entry = String.format("[%8.3f s] %-8s %s", (System.nanoTime() - t0) / 1e9, phase, line);
    timeline.add(entry);
    out.println(entry);
  }

}

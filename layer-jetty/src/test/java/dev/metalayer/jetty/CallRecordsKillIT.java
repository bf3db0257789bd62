package dev.metalayer.jetty;

import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import dev.metalayer.testing.MetaFixtures;
import dev.metalayer.testing.RecordingSubscriber;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Call records survive a {@code kill -9} of the real jar: a call rung by Meta's signed {@code connect},
 * picked up by a key through the proxy ({@code pre_accept}, {@code accept}, WireMock as Meta) and ended by
 * Meta's {@code terminate}; the process is killed right after the terminate's {@code 200}, without waiting
 * for anything else; restarted on the same data directory, {@code GET /v1/calls/{wacid}} shows the
 * record with every transition, who caused it and the whole timeline. What Meta and the key got an
 * answer for was durable (H2 with {@code WRITE_DELAY=0}, the record in the ingest's transaction).
 */
class CallRecordsKillIT {
  static final String APP_SECRET = "calls-kill-app-secret";
  static final String PNID = "106540352242922";
  static final String WABA = "102290129340398";
  static final String PHONE = "15550783881";
  static final String WACID = "wacid.HBgLMTU1NTEyMzQ1NjcVAgARGCA5QkI4S0lMTA==";
  static final Duration CALL_TIMEOUT = Duration.ofSeconds(20);
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  @Test
  void aCallsRecordTransitionsAndTimelineSurviveAKill9RightAfterItsTerminate() throws Exception {
    WireMockServer meta = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    meta.start();
    meta.stubFor(post(urlPathMatching("/v[0-9.]+/" + PNID + "/calls"))
        .willReturn(okJson("{\"messaging_product\":\"whatsapp\",\"success\":true}")));
    LayerJar jar = LayerJar.in(dir).env("META_APP_SECRET", APP_SECRET).env("LAYER_ALLOWED_TARGET_CIDRS", "127.0.0.0/8");
    jar.addNumber("+" + PHONE, PNID, WABA, "900", "EAAG-calls-kill");
    String key = jar.createKey(PNID);
    String firstLog;
    String keyId;
    try (RecordingSubscriber subscriber = RecordingSubscriber.start()) {
      try (LayerJar.Running first = jar.start("--graph-url", meta.baseUrl())) {
        URI base = first.base();
        keyId = keyId(base);
        HttpResponse<String> sub = send(base, "POST", "/v1/webhooks", "Bearer " + key,
            "{\"name\":\"helpdesk\",\"url\":\"" + subscriber.url("/hook") + "\",\"events\":[\"calls\"]}");
        assertThat(sub.statusCode()).as(sub.body()).isEqualTo(201);

        assertThat(webhook(base, CallWebhooks.connect(WABA, PHONE, PNID, WACID))).isEqualTo(200);
        subscriber.await(1, CALL_TIMEOUT); // the ring reached the helpdesk, which picks up
        for (String action : List.of("pre_accept", "accept")) {
          HttpResponse<String> r = send(base, "POST", "/api/layer/meta/v23.0/" + PNID + "/calls", "Bearer " + key,
              "{\"messaging_product\":\"whatsapp\",\"call_id\":\"" + WACID + "\",\"action\":\"" + action + "\","
                  + "\"session\":{\"sdp_type\":\"answer\",\"sdp\":\"v=0\\r\\no=- 7 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\n\"}}");
          assertThat(r.statusCode()).as(action + ": " + r.body()).isEqualTo(200);
        }
        meta.verify(2, postRequestedFor(urlPathMatching("/v[0-9.]+/" + PNID + "/calls")));
        assertThat(webhook(base, CallWebhooks.terminate(WABA, PHONE, PNID, WACID, "COMPLETED"))).isEqualTo(200);
        first.kill(); // SIGKILL right after the 200: no shutdown hook, nothing flushed at stop
        firstLog = first.log();
      }

      try (LayerJar.Running second = jar.start("--graph-url", meta.baseUrl())) {
        HttpResponse<String> r = send(second.base(), "GET", "/v1/calls/" + WACID, "Bearer " + key, null);
        assertThat(r.statusCode()).as(r.body() + "\nfirst layer:\n" + firstLog + "\nsecond layer:\n" + second.log())
            .isEqualTo(200);
        JsonNode call = JSON.readTree(r.body());
        assertThat(call.path("wacid").asText()).isEqualTo(WACID);
        assertThat(call.path("phone_number_id").asText()).isEqualTo(PNID);
        assertThat(call.path("direction").asText()).isEqualTo("user_initiated");
        assertThat(call.path("user_wa_id").asText()).isEqualTo(CallWebhooks.USER);
        assertThat(call.path("state").asText()).isEqualTo("terminated");
        assertThat(call.path("terminate_status").asText()).isEqualTo("COMPLETED");
        assertThat(call.path("duration_seconds").asLong()).isEqualTo(120);
        assertThat(call.path("answered_by").asText()).isEqualTo(keyId);

        List<String> transitions = new ArrayList<>();
        call.path("state_changes").forEach(t -> transitions.add(t.path("state").asText() + " by " + t.path("actor").asText()));
        assertThat(transitions).containsExactly("ringing by meta", "pre_accepted by key:" + keyId,
            "accepted by key:" + keyId, "terminated by meta");
        List<String> timeline = new ArrayList<>();
        call.path("timeline").forEach(e -> timeline.add(e.path("source").asText() + ":" + e.path("name").asText()));
        // Meta's events are placed at Meta's time, which has whole seconds: the terminate may show before an
        // action of the same second; each half keeps its own order
        assertThat(timeline).containsExactlyInAnyOrder("webhook:connect", "action:pre_accept", "action:accept",
            "webhook:terminate");
        assertThat(timeline).containsSubsequence("webhook:connect", "webhook:terminate")
            .containsSubsequence("webhook:connect", "action:pre_accept", "action:accept");
        call.path("timeline").forEach(e -> {
          if (e.path("source").asText().equals("action")) {
            assertThat(e.path("actor").asText()).isEqualTo("key:" + keyId);
            assertThat(e.path("http_status").asInt()).isEqualTo(200);
          }
        });
        assertThat(r.body()).doesNotContain("v=0", "IN IP4", key);
        assertThat(call.path("deliveries").size()).as(r.body()).isGreaterThanOrEqualTo(1);

        // and in the number's list, with the operator's view agreeing
        HttpResponse<String> list = send(second.base(), "GET", "/v1/calls?state=terminated", "Bearer " + key, null);
        assertThat(JSON.readTree(list.body()).path("data").get(0).path("wacid").asText()).as(list.body()).isEqualTo(WACID);
        HttpResponse<String> admin = send(second.base(), "GET", "/admin/v1/numbers/" + PNID + "/calls/" + WACID,
            "Bearer " + LayerJar.ADMIN_TOKEN, null);
        assertThat(JSON.readTree(admin.body()).path("state_changes")).isEqualTo(call.path("state_changes"));
      }
    } finally {
      meta.stop();
    }
  }

  /** The id of the number's one key, from the admin API. */
  private String keyId(URI base) throws Exception {
    HttpResponse<String> keys = send(base, "GET", "/admin/v1/keys", "Bearer " + LayerJar.ADMIN_TOKEN, null);
    assertThat(keys.statusCode()).as(keys.body()).isEqualTo(200);
    JsonNode data = JSON.readTree(keys.body()).path("data");
    assertThat(data.size()).isEqualTo(1);
    return data.get(0).path("id").asText();
  }

  private int webhook(URI base, byte[] body) throws Exception {
    return http.send(HttpRequest.newBuilder(base.resolve("/webhooks/meta")).timeout(CALL_TIMEOUT)
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", MetaFixtures.metaSignature(APP_SECRET, body))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  private HttpResponse<String> send(URI base, String method, String path, String authorization, String json)
      throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(CALL_TIMEOUT)
        .header("Authorization", authorization);
    if (json == null) {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    } else {
      b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }
}

package dev.metalayer.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.examples.chatwoot.ChatwootScenario;
import dev.metalayer.examples.chatwoot.ChatwootScenario.Report;
import dev.metalayer.examples.chatwoot.FakeChatwoot.Answer;
import dev.metalayer.examples.chatwoot.FakeChatwoot.Received;
import dev.metalayer.examples.chatwoot.OneNumberGraph.Seen;
import dev.metalayer.json.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Chatwoot voice-calls scenario as a test: every step of {@link ChatwootScenario} asserted, with the real layer
 * between a fake Graph and a fake Chatwoot.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ChatwootScenarioTest {
  static final String META_TOKEN = "EAAGm0PX4ZCpsBAMetaLayerDemoTokenNeverShownToClients";
  static final String CHATWOOT_APP_SECRET = "chatwoot-inbox-app-secret";

  Report report;
  String printed;

  @BeforeAll
  void play(@TempDir Path dir) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    report = new ChatwootScenario(new PrintStream(out, true, StandardCharsets.UTF_8)).run(dir);
    printed = out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void theKeyNeverReachesMetaAndEveryRequestCarriesTheRealToken() {
    assertThat(report.metaSaw()).hasSizeGreaterThanOrEqualTo(9);
    for (Seen s : report.metaSaw()) {
      assertThat(s.headers().get("authorization")).as(s.path()).isEqualTo("Bearer " + META_TOKEN);
      assertThat(s.query() + s.body() + s.headers()).as(s.path()).doesNotContain(report.apiKey()).doesNotContain("ps_");
    }
  }

  @Test
  void theTokenNeverReachesChatwoot() {
    for (Answer a : report.chatwootAnswers()) {
      assertThat(a.raw()).doesNotContain(META_TOKEN);
    }
    for (Received r : report.chatwootGot()) {
      assertThat(r.rawBody()).doesNotContain(META_TOKEN);
    }
    assertThat(printed).doesNotContain(META_TOKEN);
  }

  @Test
  void everyDeliveryIsOneSignedChangeThatChatwootAccepts() throws Exception {
    assertThat(report.chatwootGot()).hasSize(6);
    for (Received r : report.chatwootGot()) {
      assertThat(r.entries()).isEqualTo(1);
      assertThat(r.changes()).isEqualTo(1);
      assertThat(r.signatureValid()).isTrue();
      assertThat(r.webhookId()).startsWith("msg_");
      JsonNode envelope = Json.mapper().readTree(r.rawBody());
      assertThat(envelope.get("object").asText()).isEqualTo("whatsapp_business_account");
      // what Chatwoot's events job matches the channel on
      assertThat(r.change().at("/value/metadata/display_phone_number").asText()).isEqualTo("15550783881");
      assertThat(r.change().at("/value/metadata/phone_number_id").asText()).isEqualTo("106540352242922");
    }
  }

  @Test
  void theInboundCallIsAnsweredWithPreAcceptThenAcceptOfTheSameSdp() {
    Received ring = report.chatwootGot().get(0);
    assertThat(ring.field()).isEqualTo("calls");
    assertThat(ring.change().at("/value/calls/0/event").asText()).isEqualTo("connect");
    assertThat(ring.change().at("/value/calls/0/session/sdp_type").asText()).isEqualTo("offer");
    List<Seen> calls = report.metaSaw().stream().filter(s -> s.path().endsWith("/calls")).toList();
    assertThat(calls.get(0).body()).contains("\"action\":\"pre_accept\"");
    assertThat(calls.get(1).body()).contains("\"action\":\"accept\"");
    assertThat(calls.get(0).body().replace("pre_accept", "accept")).isEqualTo(calls.get(1).body());
    Received end = report.chatwootGot().get(1);
    assertThat(end.change().at("/value/calls/0/event").asText()).isEqualTo("terminate");
    assertThat(end.change().at("/value/calls/0/terminate_reason").asText()).isEqualTo("completed");
  }

  @Test
  void theOutboundCallAsksPermissionAndTheReplyReachesTheCallsSubscription() {
    List<Answer> answers = report.chatwootAnswers();
    Answer refused = answers.stream().filter(a -> a.status() == 400).findFirst().orElseThrow();
    assertThat(refused.body().at("/error/code").asInt()).isEqualTo(138006);
    assertThat(refused.body().at("/error/message").asText()).isNotBlank();
    Received reply = report.chatwootGot().get(2);
    assertThat(reply.field()).isEqualTo("messages");
    assertThat(reply.change().at("/value/messages/0/interactive/type").asText()).isEqualTo("call_permission_reply");
    Answer connected = answers.stream().filter(a -> a.body().at("/calls/0/id").isTextual()).findFirst().orElseThrow();
    assertThat(connected.status()).isEqualTo(200);
    assertThat(report.chatwootGot().get(4).change().at("/value/statuses/0/status").asText()).isEqualTo("ACCEPTED");
  }

  @Test
  void settingsAreMergedNotReplaced() {
    assertThat(report.settingsAfter().at("/calling/status").asText()).isEqualTo("ENABLED");
    assertThat(report.settingsAfter().at("/calling/call_hours/holiday_schedule/0/date").asText()).isEqualTo("2026-12-25");
    assertThat(report.settingsAfter().at("/calling/call_hours/weekly_operating_hours")).hasSize(1);
  }

  @Test
  void mediaIsLookedUpAndDownloadedThroughTheLayer() {
    assertThat(report.rewrittenMediaUrl()).contains("/api/layer/meta/media/1037543291543636/download");
    assertThat(report.mediaBytesMatch()).isTrue();
    Received image = report.chatwootGot().get(5);
    assertThat(image.rawBody()).contains("caf\\u00e9").contains("image\\/jpeg");
  }

  @Test
  void theTimelineShowsEveryHopAndEachCallEventsLatency() {
    assertThat(report.callDeliveryMicros()).hasSize(4);
    assertThat(java.util.Arrays.stream(report.callDeliveryMicros()).min().orElseThrow()).isPositive();
    assertThat(printed).contains("Meta → layer", "layer → Chatwoot", "Chatwoot → layer", "layer → Meta", "µs after Meta's post");
  }

  // ---- the scene of the calls the layer understands (needs the core's call records, order and answering)

  @Test
  void oneSurfaceAnswersTheCallTheOthersTriesAreRefusedByTheLayerAndNeverReachMeta() {
    ChatwootScenario.CallsScene scene = report.scene();
    for (Answer a : scene.chatwootActions()) {
      assertThat(a.status()).as(a.raw()).isEqualTo(200);
      assertThat(a.success()).as(a.raw()).isTrue();
    }
    assertThat(scene.softphoneActions()).hasSize(2);
    for (Answer a : scene.softphoneActions()) {
      assertThat(a.status()).as(a.raw()).isEqualTo(409);
      assertThat(a.body().at("/error/code").asInt()).as(a.raw()).isEqualTo(ChatwootScenario.ANSWERED_ELSEWHERE);
      assertThat(a.body().at("/error/type").asText()).isEqualTo("MetaLayerException");
      assertThat(a.body().at("/error/message").asText()).isNotBlank();
      assertThat(a.body().at("/error/fbtrace_id").asText()).isNotBlank();
    }
    // Meta saw Chatwoot's pre_accept, accept and terminate, and nothing of the softphone's
    List<String> actions = scene.metaSawOfCall().stream()
        .map(s -> action(s.body())).toList();
    assertThat(actions).containsExactly("pre_accept", "accept", "terminate");
    assertThat(scene.metaSawOfCall()).noneMatch(s -> s.body().contains("1111111111111111111"));
    // the layer's record names Chatwoot's key as the one that answered
    assertThat(scene.callRecord().path("wacid").asText()).isEqualTo(scene.call());
    assertThat(scene.callRecord().path("answered_by").asText()).isEqualTo(scene.chatwootKeyId());
    assertThat(scene.callRecord().path("state").asText()).isEqualTo("terminated");
    assertThat(scene.callRecord().path("timeline").toString()).contains("\"refused\"");
  }

  @Test
  void aTerminateThatOvertakesItsConnectReachesEverySurfaceAfterIt() {
    ChatwootScenario.CallsScene scene = report.scene();
    for (List<Received> got : List.of(scene.chatwootGot(), scene.softphoneGot())) {
      List<String> late = got.stream().filter(r -> r.change().at("/value/calls/0/id").asText().equals(scene.lateCall()))
          .map(r -> r.change().at("/value/calls/0/event").asText()).toList();
      assertThat(late).containsExactly("connect", "terminate");
      got.forEach(r -> assertThat(r.signatureValid()).isTrue());
      got.forEach(r -> assertThat(r.changes()).isEqualTo(1));
    }
  }

  @Test
  void aPermissionRequestOverTheLimitIsRefusedByMetaOnceThenAnsweredFromTheLayersMemory() {
    ChatwootScenario.CallsScene scene = report.scene();
    assertThat(scene.permissionAnswers()).hasSize(2);
    Answer meta = scene.permissionAnswers().get(0);
    Answer remembered = scene.permissionAnswers().get(1);
    assertThat(meta.status()).isEqualTo(400);
    assertThat(meta.body().at("/error/code").asInt()).isEqualTo(138009);
    assertThat(remembered.status()).isEqualTo(400);
    assertThat(remembered.body().at("/error/code").asInt()).isEqualTo(138009);
    assertThat(remembered.body().at("/error/error_data")).isEqualTo(meta.body().at("/error/error_data"));
    assertThat(scene.metaPermissionRequests()).as("the retry never reached Meta").isEqualTo(1);
  }

  private static String action(String body) {
    try {
      return Json.mapper().readTree(body).path("action").asText();
    } catch (Exception e) {
      return "(not JSON) " + body;
    }
  }
}

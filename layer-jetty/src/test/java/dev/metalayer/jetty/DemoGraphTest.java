package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.json.Json;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code LAYER_GRAPH_URL=demo}: the real layer with its built-in Graph stand-in, driven through the
 * Graph prefix with a provider key, as a newcomer's first try would be.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DemoGraphTest {
  static final String SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";

  Layer layer;

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    layer = Layer.start(dir, "demo", Map.of());
  }

  @AfterAll
  void stop() throws Exception {
    layer.close();
  }

  @Test
  void aMessageSentThroughTheLayerGetsMetasAnswer() throws Exception {
    HttpResponse<String> r = layer.post("/v22.0/" + Layer.PNID + "/messages", "Bearer " + layer.key,
        "{\"messaging_product\":\"whatsapp\",\"to\":\"+1 555-123-4567\",\"type\":\"text\",\"text\":{\"body\":\"Hello\"}}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode answer = Json.mapper().readTree(r.body());
    assertThat(answer.path("messaging_product").asText()).isEqualTo("whatsapp");
    assertThat(answer.at("/contacts/0/input").asText()).isEqualTo("+1 555-123-4567");
    assertThat(answer.at("/contacts/0/wa_id").asText()).isEqualTo("15551234567");
    assertThat(answer.at("/messages/0/id").asText()).startsWith("wamid.");
    assertThat(answer.at("/messages/0/message_status").isMissingNode()).isTrue();

    JsonNode template = json(layer.post("/v13.0/" + Layer.PNID + "/messages", "Bearer " + layer.key,
        "{\"messaging_product\":\"whatsapp\",\"to\":\"15551234567\",\"type\":\"template\","
            + "\"template\":{\"name\":\"hello_world\",\"language\":{\"code\":\"en_US\"}}}"), 200);
    assertThat(template.at("/messages/0/message_status").asText()).isEqualTo("accepted");
  }

  @Test
  void aCallIsPlacedAcceptedAndEnded() throws Exception {
    String calls = "/v22.0/" + Layer.PNID + "/calls";
    JsonNode connect = json(layer.post(calls, "Bearer " + layer.key, "{\"messaging_product\":\"whatsapp\",\"to\":"
        + "\"15551234567\",\"action\":\"connect\",\"session\":{\"sdp_type\":\"offer\",\"sdp\":\"" + esc(SDP) + "\"}}"), 200);
    assertThat(connect.at("/calls/0/id").asText()).startsWith("wacid.");
    for (String action : new String[] {"pre_accept", "accept"}) {
      JsonNode answer = json(layer.post(calls, "Bearer " + layer.key, "{\"messaging_product\":\"whatsapp\",\"call_id\":"
          + "\"wacid.ABGGFjFVU2AfAgo6V\",\"action\":\"" + action + "\",\"session\":{\"sdp_type\":\"answer\",\"sdp\":\""
          + esc(SDP) + "\"}}"), 200);
      assertThat(answer).as(action).isEqualTo(Json.mapper().readTree("{\"messaging_product\":\"whatsapp\",\"success\":true}"));
    }
    for (String action : new String[] {"reject", "terminate"}) {
      assertThat(json(layer.post(calls, "Bearer " + layer.key, "{\"messaging_product\":\"whatsapp\",\"call_id\":"
          + "\"wacid.ABGGFjFVU2AfAgo6V\",\"action\":\"" + action + "\"}"), 200).path("success").asBoolean()).isTrue();
    }
    JsonNode bad = json(layer.post(calls, "Bearer " + layer.key, "{\"messaging_product\":\"whatsapp\",\"action\":\"hold\"}"), 400);
    assertThat(bad.at("/error/code").asInt()).isEqualTo(100);
  }

  @Test
  void callPermissionsAndCallingSettings() throws Exception {
    JsonNode permissions = json(layer.get("/v22.0/" + Layer.PNID + "/call_permissions?user_wa_id=15551234567",
        "Bearer " + layer.key), 200);
    assertThat(permissions.at("/permission/status").asText()).isEqualTo("temporary");
    assertThat(permissions.at("/actions/1/action_name").asText()).isEqualTo("start_call");
    assertThat(permissions.at("/actions/1/can_perform_action").asBoolean()).isTrue();

    String settings = "/v22.0/" + Layer.PNID_B + "/settings";
    assertThat(json(layer.get(settings, "Bearer " + layer.keyB), 200).at("/calling/status").asText()).isEqualTo("DISABLED");
    assertThat(json(layer.post(settings, "Bearer " + layer.keyB, "{\"calling\":{\"status\":\"ENABLED\"}}"), 200)
        .path("success").asBoolean()).isTrue();
    JsonNode after = json(layer.get(settings, "Bearer " + layer.keyB), 200);
    assertThat(after.at("/calling/status").asText()).isEqualTo("ENABLED");
    // the layer merged the write with what it read first: the other fields survive Meta's replace rule
    assertThat(after.at("/calling/call_icon_visibility").asText()).isEqualTo("DEFAULT");
    // another number's settings are its own
    assertThat(json(layer.get("/v22.0/" + Layer.PNID + "/settings", "Bearer " + layer.key), 200)
        .at("/calling/status").asText()).isEqualTo("DISABLED");
  }

  /**
   * Meta allows one call permission request a day per user: the stand-in refuses the second with
   * 138009 naming the next allowed time, so that the layer's remembered refusal shows on the demo too;
   * another user, or another number's request to the same user, is sent.
   */
  @Test
  void aSecondCallPermissionRequestToAUserWithinADayIsRefusedWith138009() throws Exception {
    String request = "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\",\"to\":\"%s\","
        + "\"type\":\"interactive\",\"interactive\":{\"type\":\"call_permission_request\","
        + "\"action\":{\"name\":\"call_permission_request\"},\"body\":{\"text\":\"May we call you?\"}}}";
    String messages = "/v22.0/" + Layer.PNID + "/messages";
    assertThat(json(layer.post(messages, "Bearer " + layer.key, request.formatted("15557770001")), 200)
        .at("/messages/0/id").asText()).startsWith("wamid.");
    Instant before = Instant.now();
    for (String to : new String[] {"15557770001", "+1 555-777-0001"}) {
      JsonNode refused = json(layer.post(messages, "Bearer " + layer.key, request.formatted(to)), 400);
      assertThat(refused.at("/error/code").asInt()).as(to).isEqualTo(138009);
      String details = refused.at("/error/error_data/details").asText();
      Instant next = Instant.parse(details.replaceAll(".* after ([^ ]+)\\.$", "$1"));
      assertThat(next).isAfter(before.plusSeconds(24 * 3600 - 60)).isBefore(Instant.now().plusSeconds(24 * 3600));
    }
    // a text to the same user is a message, not a permission request; other pairs have their own limit
    json(layer.post(messages, "Bearer " + layer.key,
        "{\"messaging_product\":\"whatsapp\",\"to\":\"15557770001\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}"), 200);
    json(layer.post(messages, "Bearer " + layer.key, request.formatted("15557770002")), 200);
    json(layer.post("/v22.0/" + Layer.PNID_B + "/messages", "Bearer " + layer.keyB, request.formatted("15557770001")), 200);
  }

  @Test
  void thePhoneNumberAndTemplatesAreReadable() throws Exception {
    JsonNode phone = json(layer.get("/v22.0/" + Layer.PNID, "Bearer " + layer.key), 200);
    assertThat(phone.path("display_phone_number").asText()).isEqualTo("15550783881");
    assertThat(phone.path("id").asText()).isEqualTo(Layer.PNID);
    assertThat(phone.path("code_verification_status").asText()).isEqualTo("VERIFIED");
    JsonNode some = json(layer.get("/v22.0/" + Layer.PNID + "?fields=quality_rating", "Bearer " + layer.key), 200);
    assertThat(some.properties()).extracting(Map.Entry::getKey).containsExactlyInAnyOrder("quality_rating", "id");

    JsonNode templates = json(layer.get("/v14.0/" + Layer.WABA + "/message_templates?access_token=" + layer.key, null), 200);
    assertThat(templates.at("/data/0/name").asText()).isEqualTo("hello_world");
    assertThat(templates.at("/data/0/status").asText()).isEqualTo("APPROVED");
  }

  @Test
  void mediaIsUploadedLookedUpAndDownloadedThroughTheLayer() throws Exception {
    String boundary = "demo-boundary-0123";
    String multipart = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nimage/png\r\n"
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
        + "Content-Type: image/png\r\n\r\nnot really a png\r\n--" + boundary + "--\r\n";
    HttpResponse<String> upload = layer.send(HttpRequest.newBuilder(URI.create(layer.base() + "/v22.0/" + Layer.PNID + "/media"))
        .header("Authorization", "Bearer " + layer.key)
        .header("Content-Type", "multipart/form-data; boundary=" + boundary)
        .POST(HttpRequest.BodyPublishers.ofString(multipart)));
    String mediaId = json(upload, 200).path("id").asText();
    assertThat(mediaId).matches("[0-9]+");

    JsonNode lookup = json(layer.get("/v22.0/" + mediaId, "Bearer " + layer.key), 200);
    assertThat(lookup.path("mime_type").asText()).isEqualTo("image/png");
    assertThat(lookup.path("file_size").asInt()).isEqualTo(DemoGraph.IMAGE.length);
    String url = lookup.path("url").asText();
    assertThat(url).startsWith(layer.base() + "/media/" + mediaId + "/download");
    HttpResponse<byte[]> image = layer.sendBytes(HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + layer.key).GET());
    assertThat(image.statusCode()).isEqualTo(200);
    assertThat(image.headers().firstValue("Content-Type")).hasValue("image/png");
    assertThat(image.body()).isEqualTo(DemoGraph.IMAGE);
  }

  @Test
  void theStandInRefusesWhatMetaRefuses() throws Exception {
    URI standIn = layer.server.localUri().resolve(DemoGraph.PATH + "/v22.0/" + Layer.PNID + "/messages");
    String body = "{\"messaging_product\":\"whatsapp\",\"to\":\"15551234567\",\"type\":\"text\",\"text\":{\"body\":\"Hi\"}}";
    HttpResponse<String> bare = layer.send(HttpRequest.newBuilder(standIn).POST(HttpRequest.BodyPublishers.ofString(body)));
    assertThat(json(bare, 401).at("/error/code").asInt()).isEqualTo(190);
    assertThat(json(bare, 401).at("/error/type").asText()).isEqualTo("OAuthException");
    HttpResponse<String> withKey = layer.send(HttpRequest.newBuilder(standIn).header("Authorization", "Bearer " + layer.key)
        .POST(HttpRequest.BodyPublishers.ofString(body)));
    assertThat(json(withKey, 401).at("/error/code").asInt()).isEqualTo(190);
    assertThat(withKey.body()).doesNotContain(layer.key);
    HttpResponse<String> withToken = layer.send(HttpRequest.newBuilder(standIn).header("Authorization", "Bearer EAAGsomething")
        .POST(HttpRequest.BodyPublishers.ofString(body)));
    assertThat(withToken.statusCode()).isEqualTo(200);
    // an unknown edge gets Meta's error for it
    JsonNode unknown = json(layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve(DemoGraph.PATH + "/v22.0/"
        + Layer.PNID + "/register")).header("Authorization", "Bearer EAAGsomething").GET()), 400);
    assertThat(unknown.at("/error/code").asInt()).isEqualTo(100);
  }

  @Test
  void theDemoSubscriberKeepsWhatTheLayerDelivers() throws Exception {
    URI subscriber = layer.server.localUri().resolve(DemoGraph.SUBSCRIBER_PATH);
    HttpResponse<String> posted = layer.send(HttpRequest.newBuilder(subscriber).header("X-Hub-Signature-256", "sha256=00")
        .POST(HttpRequest.BodyPublishers.ofString("{\"object\":\"whatsapp_business_account\",\"entry\":[]}")));
    assertThat(posted.statusCode()).isEqualTo(200);
    JsonNode kept = json(layer.send(HttpRequest.newBuilder(subscriber).GET()), 200);
    assertThat(kept.at("/data/0/headers/x-hub-signature-256").asText()).isEqualTo("sha256=00");
    assertThat(kept.at("/data/0/body/object").asText()).isEqualTo("whatsapp_business_account");
    HttpResponse<String> last = layer.send(HttpRequest.newBuilder(subscriber.resolve(DemoGraph.SUBSCRIBER_PATH + "/last")).GET());
    assertThat(last.statusCode()).isEqualTo(200);
    assertThat(last.headers().firstValue("X-Hub-Signature-256")).hasValue("sha256=00");
    assertThat(last.body()).isEqualTo("{\"object\":\"whatsapp_business_account\",\"entry\":[]}");
  }

  @Test
  void aRequestAReverseProxyPassedOnIsRefusedThoughItComesFromLoopback() throws Exception {
    for (String path : new String[] {DemoGraph.PATH + "/v22.0/" + Layer.WABA + "/phone_numbers", DemoGraph.SUBSCRIBER_PATH}) {
      URI uri = layer.server.localUri().resolve(path);
      assertThat(layer.send(HttpRequest.newBuilder(uri).header("Authorization", "Bearer EAAGsomething").GET()).statusCode())
          .as(path).isEqualTo(200);
      for (String[] header : new String[][] {{"X-Forwarded-For", "203.0.113.7"}, {"Forwarded", "for=203.0.113.7"},
          {"Via", "1.1 proxy"}, {"X-Forwarded-Host", "layer.example.com"}}) {
        HttpResponse<String> r = layer.send(HttpRequest.newBuilder(uri).header("Authorization", "Bearer EAAGsomething")
            .header(header[0], header[1]).GET());
        assertThat(json(r, 403).at("/error/message").asText()).as(path + " " + header[0]).contains("this machine only");
        assertThat(r.body()).doesNotContain(Layer.PNID);
      }
    }
    // the layer's own calls through the Graph prefix still reach it, whatever the client sent
    HttpResponse<String> viaLayer = layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/api/layer/meta/v22.0/"
        + Layer.PNID)).header("Authorization", "Bearer " + layer.key).header("X-Forwarded-For", "203.0.113.7")
        .header("Forwarded", "for=203.0.113.7").GET());
    assertThat(json(viaLayer, 200).path("id").asText()).isEqualTo(Layer.PNID);
  }

  @Test
  void onPortZeroTheStandInIsOnThePortTheLayerBound(@TempDir Path dir) throws Exception {
    Map<Option, String> options = new java.util.EnumMap<>(Option.class);
    options.put(Option.PORT, "0");
    options.put(Option.HOST, "127.0.0.1");
    options.put(Option.DATA_DIR, dir.toString());
    options.put(Option.GRAPH_URL, "demo");
    try (LayerServer server = LayerServer.start(Settings.of(options))) {
      server.layer().keys().addNumber("+15550783881", Layer.PNID, Layer.WABA, Layer.BUSINESS, Layer.TOKEN);
      String key = server.layer().keys().createKey(Layer.PNID).orElseThrow().key();
      HttpResponse<String> r = layer.send(HttpRequest.newBuilder(server.localUri().resolve("/api/layer/meta/v22.0/" + Layer.PNID))
          .header("Authorization", "Bearer " + key).GET());
      assertThat(json(r, 200).path("display_phone_number").asText()).isEqualTo("15550783881");
    }
  }

  private static JsonNode json(HttpResponse<String> r, int status) throws Exception {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    return Json.mapper().readTree(r.body());
  }

  private static String esc(String sdp) {
    return sdp.replace("\r", "\\r").replace("\n", "\\n");
  }
}

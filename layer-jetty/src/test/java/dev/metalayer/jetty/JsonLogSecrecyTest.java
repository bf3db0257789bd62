package dev.metalayer.jetty;

import static dev.metalayer.jetty.Layer.PNID;
import static dev.metalayer.jetty.Layer.TOKEN;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.metalayer.testing.MetaFixtures;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The JSON log form ({@code LAYER_LOG_FORMAT=json}) is as secret as the text one. The encoder is the
 * one the layer's own {@code logback.xml} builds for {@code json}; a whole session (Graph calls with a
 * key, the admin API with its token, a signed webhook, refusals of each) runs with the layer's and
 * Jetty's loggers at DEBUG, and every line, encoded as the operator would read it, must parse as JSON
 * (Jackson), carry the request id where one was being handled, and name no key, Meta token, admin token
 * or app secret.
 */
class JsonLogSecrecyTest {

  /** The encoder of the appender that logback.xml picks for {@code LAYER_LOG_FORMAT=json}. */
  @SuppressWarnings("unchecked")
  static Encoder<ILoggingEvent> layersJsonEncoder() throws Exception {
    LoggerContext fresh = new LoggerContext();
    fresh.putProperty("LAYER_LOG_FORMAT", "json");
    JoranConfigurator configurator = new JoranConfigurator();
    configurator.setContext(fresh);
    configurator.doConfigure(JsonLogSecrecyTest.class.getResource("/logback.xml"));
    ConsoleAppender<ILoggingEvent> appender =
        (ConsoleAppender<ILoggingEvent>) fresh.getLogger(Logger.ROOT_LOGGER_NAME).getAppender("STDERR_json");
    assertThat(appender).as("logback.xml routes LAYER_LOG_FORMAT=json to STDERR_json").isNotNull();
    assertThat(appender.getEncoder()).isInstanceOf(ch.qos.logback.classic.encoder.JsonEncoder.class);
    return appender.getEncoder();
  }

  @Test
  void everyJsonLineParsesCarriesItsRequestIdAndNamesNoSecret(@TempDir Path dir) throws Exception {
    Encoder<ILoggingEvent> json = layersJsonEncoder();
    HttpServer meta = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    meta.createContext("/", x -> {
      x.getRequestBody().readAllBytes();
      boolean refused = x.getRequestURI().getPath().endsWith("/call_permissions");
      byte[] body = (refused
          ? "{\"error\":{\"message\":\"Error validating access token " + TOKEN + "\",\"code\":190}}"
          : "{\"id\":\"" + PNID + "\"}").getBytes(StandardCharsets.UTF_8);
      x.getResponseHeaders().add("Content-Type", "application/json");
      x.sendResponseHeaders(refused ? 401 : 200, body.length);
      x.getResponseBody().write(body);
      x.close();
    });
    meta.start();

    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    List<String> names = List.of(Logger.ROOT_LOGGER_NAME, "dev.metalayer", "org.eclipse.jetty");
    Map<String, Level> before = new HashMap<>();
    List<String> encoded = new CopyOnWriteArrayList<>();
    // encoded as logged, on the logging thread: the MDC is read then, as the console appender reads it
    AppenderBase<ILoggingEvent> appender = new AppenderBase<>() {
      @Override
      protected void append(ILoggingEvent e) {
        encoded.add(new String(json.encode(e), StandardCharsets.UTF_8));
      }
    };
    appender.setContext(context);
    appender.start();
    for (String name : names) {
      before.put(name, context.getLogger(name).getLevel());
      context.getLogger(name).setLevel(Level.DEBUG);
    }
    Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    root.addAppender(appender);
    String key;
    try (Layer layer = Layer.start(dir, "http://127.0.0.1:" + meta.getAddress().getPort(), Map.of())) {
      key = layer.key;
      String bearer = "Bearer " + key;
      assertThat(layer.send(HttpRequest.newBuilder(URI.create(layer.base() + "/v13.0/" + PNID)).header("Authorization", bearer)
          .header("X-Request-Id", "json-graph-1").GET()).statusCode()).isEqualTo(200);
      assertThat(layer.get("/v13.0/" + PNID + "?access_token=" + key, null).statusCode()).isEqualTo(200);
      assertThat(layer.get("/v13.0/" + PNID + "/call_permissions", bearer).statusCode()).isEqualTo(401);
      assertThat(layer.get("/v13.0/" + PNID, "Bearer ps_wrong" + key.substring(8)).statusCode()).isEqualTo(401);
      HttpRequest.Builder admin = HttpRequest.newBuilder(layer.server.localUri().resolve("/admin/v1/numbers"))
          .header("Authorization", "Bearer " + Layer.ADMIN_TOKEN).header("X-Request-Id", "json-admin-1").GET();
      assertThat(layer.send(admin).statusCode()).isEqualTo(200);
      assertThat(layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/admin/v1/numbers"))
          .header("Authorization", "Bearer " + Layer.ADMIN_TOKEN + "x").GET()).statusCode()).isEqualTo(401);
      byte[] webhook = ("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"" + Layer.WABA + "\",\"changes\":"
          + "[{\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"phone_number_id\":\"" + PNID + "\"},"
          + "\"statuses\":[]},\"field\":\"messages\"}]}]}").getBytes(StandardCharsets.UTF_8);
      assertThat(layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/webhooks/meta"))
          .header("Content-Type", "application/json").header("X-Request-Id", "json-webhook-1")
          .header("X-Hub-Signature-256", MetaFixtures.metaSignature(Layer.APP_SECRET, webhook))
          .POST(HttpRequest.BodyPublishers.ofByteArray(webhook))).statusCode()).isEqualTo(200);
      assertThat(layer.send(HttpRequest.newBuilder(layer.server.localUri().resolve("/webhooks/meta"))
          .header("Content-Type", "application/json")
          .header("X-Hub-Signature-256", MetaFixtures.metaSignature("not-" + Layer.APP_SECRET, webhook))
          .POST(HttpRequest.BodyPublishers.ofByteArray(webhook))).statusCode()).isEqualTo(401);
      // the access line is written as the answer ends: wait for the last one
      long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
      while (encoded.stream().filter(l -> l.contains(AccessLog.LOGGER)).count() < 4 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
    } finally {
      root.detachAppender(appender);
      for (String name : names) {
        context.getLogger(name).setLevel(before.get(name));
      }
      meta.stop(0);
    }

    ObjectMapper mapper = new ObjectMapper();
    List<JsonNode> parsed = new ArrayList<>();
    for (String line : encoded) {
      assertThat(line).as("one JSON object per line").endsWith("\n").doesNotContain("\r");
      assertThat(line.strip()).doesNotContain("\n");
      parsed.add(mapper.readTree(line));
      assertThat(line).doesNotContain(key).doesNotContain(TOKEN).doesNotContain(Layer.ADMIN_TOKEN)
          .doesNotContain(Layer.APP_SECRET).doesNotContain("older-secret");
    }
    assertThat(parsed.size()).as("DEBUG logging really ran").isGreaterThan(100);
    assertThat(parsed).allSatisfy(n -> assertThat(n.path("level").asText()).isNotEmpty());

    JsonNode access = parsed.stream().filter(n -> n.path("loggerName").asText().equals(AccessLog.LOGGER))
        .filter(n -> fields(n).getOrDefault("request_id", "").equals("json-graph-1")).findFirst().orElseThrow();
    assertThat(fields(access)).containsEntry("number_id", PNID).containsEntry("status", "200").containsEntry("outcome", "ok")
        .containsKey("latency_ms");
    // lines logged while a request was handled carry its id in the MDC
    assertThat(parsed).anySatisfy(n -> assertThat(n.at("/mdc/request_id").asText()).isEqualTo("json-admin-1"));
    assertThat(parsed).anySatisfy(n -> assertThat(n.at("/mdc/request_id").asText()).isEqualTo("json-webhook-1"));
  }

  /** The key-value pairs of a JSON line ({@code kvpList}: objects of one pair each). */
  private static Map<String, String> fields(JsonNode line) {
    Map<String, String> out = new HashMap<>();
    for (JsonNode pair : line.path("kvpList")) {
      pair.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
    }
    return out;
  }
}

package dev.metalayer.jetty;

import static dev.metalayer.jetty.Layer.PNID;
import static dev.metalayer.jetty.Layer.TOKEN;
import static dev.metalayer.jetty.Layer.WABA;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.metalayer.json.Json;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Runs a whole session (sends, calls, templates with paging, media lookup and download, refusals and
 * upstream errors) with the layer's and Jetty's loggers at DEBUG, and checks that neither the key nor
 * the token appears in any log line, message or stack trace. Meta is a JDK server here, so every Jetty
 * log line comes from the layer's own server and client.
 */
class DebugLogSecrecyTest {

  @Test
  void neitherKeyNorTokenIsEverLogged(@TempDir Path dir) throws Exception {
    HttpServer meta = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    String metaBase = "http://127.0.0.1:" + meta.getAddress().getPort();
    meta.createContext("/", x -> answer(x, metaBase));
    meta.start();

    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    List<String> names = List.of(Logger.ROOT_LOGGER_NAME, "dev.metalayer", "org.eclipse.jetty");
    Map<String, Level> before = new java.util.HashMap<>();
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.setContext(context);
    appender.start();
    Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    for (String name : names) {
      before.put(name, context.getLogger(name).getLevel());
      context.getLogger(name).setLevel(Level.DEBUG);
    }
    root.addAppender(appender);
    String key;
    try (Layer layer = Layer.start(dir, metaBase, Map.of())) {
      key = layer.key;
      String bearer = "Bearer " + key;
      assertThat(layer.post("/v13.0/" + PNID + "/messages", bearer, "{\"messaging_product\":\"whatsapp\",\"context\":null,\"to\":\"1\",\"text\":{\"body\":\"hi\"},\"type\":\"text\"}").statusCode()).isEqualTo(200);
      assertThat(layer.post("/v22.0/" + PNID + "/calls", bearer, "{\"messaging_product\":\"whatsapp\",\"call_id\":\"wacid.1\",\"action\":\"accept\"}").statusCode()).isEqualTo(200);
      var templates = layer.get("/v14.0/" + WABA + "/message_templates?access_token=" + key, null);
      String next = Json.mapper().readTree(templates.body()).at("/paging/next").asText();
      assertThat(layer.send(HttpRequest.newBuilder(URI.create(next)).GET()).statusCode()).isEqualTo(200);
      var media = layer.get("/v13.0/1037543291543636", bearer);
      String url = Json.mapper().readTree(media.body()).get("url").asText();
      assertThat(layer.sendBytes(HttpRequest.newBuilder(URI.create(url)).header("Authorization", bearer).GET()).statusCode()).isEqualTo(200);
      assertThat(layer.get("/v13.0/" + Layer.PNID_B, bearer).statusCode()).isEqualTo(403);
      assertThat(layer.get("/v13.0/" + PNID, "Basic " + key).statusCode()).isEqualTo(401);
      assertThat(layer.get("/v13.0/" + PNID + "/call_permissions", bearer).statusCode()).isEqualTo(401);
      assertThat(layer.raw("GET /api/layer/meta/v13.0/..%2F" + PNID + "?access_token=" + key + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).startsWith("HTTP/1.1 400");
    } finally {
      root.detachAppender(appender);
      for (String name : names) {
        context.getLogger(name).setLevel(before.get(name));
      }
      meta.stop(0);
    }
    List<ILoggingEvent> events = List.copyOf(appender.list);
    assertThat(events.size()).as("DEBUG logging really ran").isGreaterThan(100);
    assertThat(events).anyMatch(e -> e.getLoggerName().startsWith("org.eclipse.jetty.client"));
    assertThat(events).anyMatch(e -> e.getLoggerName().startsWith("dev.metalayer.jetty"));
    for (ILoggingEvent e : events) {
      StringBuilder text = new StringBuilder(e.getFormattedMessage() == null ? "" : e.getFormattedMessage());
      IThrowableProxy t = e.getThrowableProxy();
      if (t != null) {
        text.append(ThrowableProxyUtil.asString(t));
      }
      assertThat(text.toString()).as(e.getLoggerName()).doesNotContain(key).doesNotContain(TOKEN);
    }
  }

  private static void answer(HttpExchange x, String metaBase) throws IOException {
    x.getRequestBody().readAllBytes();
    String path = x.getRequestURI().getPath();
    String body;
    int status = 200;
    String type = "application/json";
    if (path.endsWith("/message_templates")) {
      body = x.getRequestURI().getQuery().contains("after=")
          ? "{\"data\":[]}"
          : "{\"data\":[],\"paging\":{\"next\":\"" + metaBase + path + "?access_token=" + TOKEN + "&after=MjQZD\"}}";
    } else if (path.equals("/v13.0/1037543291543636")) {
      body = "{\"messaging_product\":\"whatsapp\",\"url\":\"" + metaBase + "/cdn/file?token=" + TOKEN + "\",\"id\":\"1037543291543636\"}";
    } else if (path.equals("/cdn/file")) {
      body = "bytes " + TOKEN;
      type = "image/png";
    } else if (path.endsWith("/call_permissions")) {
      status = 401;
      body = "{\"error\":{\"message\":\"Error validating access token " + TOKEN + "\",\"code\":190}}";
    } else {
      body = "{\"messaging_product\":\"whatsapp\",\"messages\":[{\"id\":\"wamid.1\"}],\"success\":true}";
    }
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    x.getResponseHeaders().add("Content-Type", type);
    x.sendResponseHeaders(status, bytes.length);
    x.getResponseBody().write(bytes);
    x.close();
  }
}

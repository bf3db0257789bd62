package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.sun.net.httpserver.HttpServer;
import dev.metalayer.MetaLayer;
import dev.metalayer.keys.Grant.Scope;
import dev.metalayer.keys.KeyService.CreatedKey;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * A settings write that turns SIP on (which stops Graph calling and call webhooks for every client of the
 * number) needs the {@code settings} scope and is an operator event: one WARN naming the key's id and the
 * number, never the key; at most one per key and minute on the injected clock. Meta is a JDK
 * {@link HttpServer}; the core proxy runs whole requests ({@link GraphProxy#handle}).
 */
class SipOnEventTest {
  static final String PNID = "106540352242922";
  static final String TOKEN = "EAAtokenOfNumberA0123456789";
  static final String SIP_ON = "{\"calling\":{\"sip\":{\"status\":\"ENABLED\",\"servers\":[{\"hostname\":\"sip.example.com\"}]}}}";

  final MutableClock clock = MutableClock.at("2026-01-01T00:00:00Z");
  final ConcurrentLinkedQueue<String> seen = new ConcurrentLinkedQueue<>();
  final ListAppender<ILoggingEvent> logged = new ListAppender<>();
  final Logger proxyLog = (Logger) LoggerFactory.getLogger(GraphProxy.class);
  HttpServer meta;
  MetaLayer layer;
  CreatedKey settingsKey;
  CreatedKey callsKey;

  @BeforeEach
  void start() throws IOException {
    meta = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    meta.createContext("/", x -> {
      seen.add(x.getRequestMethod() + " " + x.getRequestURI().getPath() + " " + new String(x.getRequestBody().readAllBytes(),
          StandardCharsets.UTF_8));
      byte[] answer = (x.getRequestMethod().equals("GET") ? "{\"calling\":{\"status\":\"ENABLED\"}}" : "{\"success\":true}")
          .getBytes(StandardCharsets.UTF_8);
      x.getResponseHeaders().add("Content-Type", "application/json");
      x.sendResponseHeaders(200, answer.length);
      x.getResponseBody().write(answer);
      x.close();
    });
    meta.start();
    layer = MetaLayer.builder()
        .keyStore(Stores.inMemoryKeys())
        .masterKey(new byte[32])
        .clock(clock)
        .graphUrl(URI.create("http://127.0.0.1:" + meta.getAddress().getPort()))
        .upstreamTimeout(Duration.ofSeconds(5))
        .build();
    layer.keys().addNumber("+15550783881", PNID, "102290129340398", "900000000000001", TOKEN);
    settingsKey = layer.keys().createKey(PNID, EnumSet.of(Scope.SETTINGS)).orElseThrow();
    callsKey = layer.keys().createKey(PNID, EnumSet.complementOf(EnumSet.of(Scope.SETTINGS))).orElseThrow();
    logged.start();
    proxyLog.addAppender(logged);
  }

  @AfterEach
  void stop() {
    proxyLog.detachAppender(logged);
    meta.stop(0);
  }

  GraphAnswer post(CreatedKey key, String query, String contentType, String body) {
    ClientRequest r = new ClientRequest("POST", "/v22.0/" + PNID + "/settings", query, Optional.of("Bearer " + key.key()),
        Optional.empty(), "http://layer.test");
    return layer.graphProxy().handle(r, Map.of("Content-Type", List.of(contentType)), body.getBytes(StandardCharsets.UTF_8));
  }

  List<String> sipLines() {
    return logged.list.stream().filter(e -> e.getFormattedMessage().contains("turns SIP on"))
        .map(e -> e.getLevel() + " " + e.getFormattedMessage()).toList();
  }

  @Test
  void turningSipOnIsLoggedOnceNamingTheKeyIdAndTheNumberNeverTheKey() {
    GraphAnswer a = post(settingsKey, "", "application/json", SIP_ON);

    assertThat(a.status()).isEqualTo(200);
    assertThat(seen).anySatisfy(s -> assertThat(s).startsWith("POST /v22.0/" + PNID + "/settings").contains("sip.example.com"));
    assertThat(sipLines()).singleElement().satisfies(line -> assertThat(line)
        .startsWith("WARN Key " + settingsKey.record().id() + " of phone number ID " + PNID + " sends a settings write that"
            + " turns SIP on")
        .contains("Graph calling and call webhooks stop for every client of this number")
        .doesNotContain(settingsKey.key()).doesNotContain(TOKEN));
  }

  @Test
  void aFormWriteCountsAndARepeatWithinAMinuteIsCountedNotLogged() {
    String form = "calling=" + URLEncoder.encode("{\"sip\":{\"status\":\"ENABLED\"}}", StandardCharsets.UTF_8);
    post(settingsKey, "", "application/x-www-form-urlencoded", form);
    post(settingsKey, "", "application/json", SIP_ON);
    post(settingsKey, "calling%5Bsip%5D%5Bstatus%5D=ENABLED", "application/json", "{}");
    assertThat(sipLines()).hasSize(1);
    clock.advance(Duration.ofMinutes(1));
    post(settingsKey, "", "application/json", SIP_ON);
    assertThat(sipLines()).hasSize(2).last().asString().contains("(2 more suppressed since the last such line)");
  }

  @Test
  void otherSettingsWritesAreNotEvents() {
    post(settingsKey, "", "application/json", "{\"calling\":{\"status\":\"ENABLED\"}}");
    post(settingsKey, "", "application/json", "{\"calling\":{\"sip\":{\"status\":\"DISABLED\"}}}");
    assertThat(seen).isNotEmpty();
    assertThat(sipLines()).isEmpty();
  }

  @Test
  void aKeyWithoutTheSettingsScopeCannotTurnSipOnAndNothingIsSentOrLogged() throws Exception {
    GraphAnswer a = post(callsKey, "", "application/json", SIP_ON);

    assertThat(a.status()).isEqualTo(403);
    assertThat(a.text()).contains("(rule scope) This key lacks the scope settings").doesNotContain(callsKey.key());
    assertThat(seen).isEmpty();
    assertThat(sipLines()).isEmpty();
    assertThat(logged.list).noneMatch(e -> e.getLevel().isGreaterOrEqual(Level.WARN));
  }
}

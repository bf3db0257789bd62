package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.metalayer.MetaLayer;
import dev.metalayer.json.Json;
import dev.metalayer.keys.Grant;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Per-key rate limits through {@link GraphProxy#handle} and {@link GraphProxy#prepare}, with a JDK
 * {@link HttpServer} playing Meta and a fake clock: a key past its limit never reaches Meta, and other
 * keys, of its number and of another, are not affected.
 */
class KeyRateLimitProxyTest {
  static final String PNID = "106540352242922";
  static final String PNID_B = "206540352242922";

  final MutableClock clock = MutableClock.at("2026-01-01T00:00:00Z");
  final AtomicInteger metaCalls = new AtomicInteger();
  HttpServer meta;
  MetaLayer layer;

  @BeforeEach
  void start() throws IOException {
    meta = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    meta.createContext("/", x -> {
      x.getRequestBody().readAllBytes();
      metaCalls.incrementAndGet();
      byte[] answer = "{\"messages\":[{\"id\":\"wamid.1\"}]}".getBytes(StandardCharsets.UTF_8);
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
        .keyRate(1)
        .keyBurst(3)
        .build();
    layer.keys().addNumber("+15550783881", PNID, "102290129340398", "900000000000001", "EAAtokenA0123456789");
    layer.keys().addNumber("+15550783882", PNID_B, "202290129340398", "900000000000002", "EAAtokenB0123456789");
  }

  @AfterEach
  void stop() {
    meta.stop(0);
  }

  GraphAnswer send(String key, String pnid) {
    ClientRequest r = new ClientRequest("POST", "/v22.0/" + pnid + "/messages", "", Optional.of("Bearer " + key),
        Optional.empty(), "http://layer.test");
    return layer.graphProxy().handle(r, Map.of("Content-Type", List.of("application/json")),
        "{\"messaging_product\":\"whatsapp\",\"to\":\"15551234567\",\"type\":\"text\",\"text\":{\"body\":\"Hi\"}}"
            .getBytes(StandardCharsets.UTF_8));
  }

  String key(String pnid) {
    return layer.keys().createKey(pnid).orElseThrow().key();
  }

  @Test
  void aKeyPastItsBurstIs429WithRetryAfterWhileOtherKeysOfItsNumberAndOthersPass() throws Exception {
    String hot = key(PNID);
    String sameNumber = key(PNID);
    String otherNumber = key(PNID_B);
    for (int i = 0; i < 3; i++) {
      assertThat(send(hot, PNID).status()).isEqualTo(200);
    }
    GraphAnswer refused = send(hot, PNID);
    assertThat(refused.status()).isEqualTo(429);
    assertThat(refused.header("retry-after")).isEqualTo("1");
    assertThat(refused.header("content-type")).startsWith("application/json");
    JsonNode error = Json.mapper().readTree(refused.body()).path("error");
    assertThat(error.path("code").asInt()).isEqualTo(4);
    assertThat(error.path("type").asText()).isEqualTo("OAuthException");
    assertThat(error.path("message").asText()).startsWith("(#4) Application request limit reached");
    assertThat(error.path("fbtrace_id").asText()).isNotBlank();
    assertThat(refused.text()).doesNotContain(hot).doesNotContain("EAAtoken");
    assertThat(metaCalls.get()).as("the refused request never reached Meta").isEqualTo(3);

    assertThat(send(sameNumber, PNID).status()).as("another key of the same number").isEqualTo(200);
    assertThat(send(otherNumber, PNID_B).status()).as("a key of another number").isEqualTo(200);

    clock.advance(Duration.ofSeconds(1));
    assertThat(send(hot, PNID).status()).as("one token refilled").isEqualTo(200);
    assertThat(send(hot, PNID).status()).isEqualTo(429);
  }

  @Test
  void theRefusalCarriesItsReasonForCountingAndRefusedRequestsCountToo() {
    String hot = key(PNID);
    ClientRequest outOfScope = new ClientRequest("GET", "/v22.0/" + PNID_B, "", Optional.of("Bearer " + hot),
        Optional.empty(), "http://layer.test");
    for (int i = 0; i < 3; i++) {
      Outcome<GraphExchange> o = layer.graphProxy().prepare(outOfScope);
      assertThat(o).isInstanceOfSatisfying(Outcome.Refused.class, r -> assertThat(r.reason()).isEmpty());
    }
    Outcome<GraphExchange> limited = layer.graphProxy().prepare(outOfScope);
    assertThat(limited).isInstanceOfSatisfying(Outcome.Refused.class, r -> {
      assertThat(r.reason()).contains(Outcome.RATE_LIMITED);
      assertThat(r.error().status()).isEqualTo(429);
    });
  }

  @Test
  void invalidKeysGetNoBucket() {
    for (int i = 0; i < 50; i++) {
      GraphAnswer a = send("ps_" + "x".repeat(40) + String.format("%03d", i), PNID);
      assertThat(a.status()).isEqualTo(401);
    }
    assertThat(metaCalls.get()).isZero();
    assertThat(layer.graphProxy().rateLimits().size()).as("no bucket for a key the layer did not accept").isZero();
    assertThat(send(key(PNID), PNID).status()).isEqualTo(200);
    assertThat(layer.graphProxy().rateLimits().size()).isEqualTo(1);
  }

  @Test
  void aKeysOwnLimitAndItsChangeApplyAtOnce() {
    String own = layer.keys().createKey(PNID, Grant.Scope.ALL, Optional.of(new Grant.RateLimit(1, 5))).orElseThrow().key();
    String keyId = layer.keys().listKeys().get(0).id();
    int passed = 0;
    for (int i = 0; i < 10; i++) {
      passed += send(own, PNID).status() == 200 ? 1 : 0;
    }
    assertThat(passed).isEqualTo(5);
    assertThat(layer.keys().setRateLimit(keyId, Optional.of(Grant.RateLimit.OFF))).isTrue();
    for (int i = 0; i < 10; i++) {
      assertThat(send(own, PNID).status()).as("off for this key, at once: its cached grant was dropped").isEqualTo(200);
    }
    assertThat(layer.keys().setRateLimit(keyId, Optional.empty())).isTrue();
    assertThat(send(own, PNID).status()).as("the default again (3, and the bucket held 0)").isEqualTo(429);
    assertThat(layer.keys().setRateLimit("key_unknown", Optional.empty())).isFalse();
  }

  @Test
  void theDefaultOffLeavesKeysUnlimited() {
    MetaLayer unlimited = MetaLayer.builder()
        .keyStore(Stores.inMemoryKeys())
        .masterKey(new byte[32])
        .clock(clock)
        .graphUrl(URI.create("http://127.0.0.1:" + meta.getAddress().getPort()))
        .keyRate(0)
        .build();
    unlimited.keys().addNumber("+15550783881", PNID, "102290129340398", "900000000000001", "EAAtokenA0123456789");
    layer = unlimited;
    String k = key(PNID);
    for (int i = 0; i < 20; i++) {
      assertThat(send(k, PNID).status()).isEqualTo(200);
    }
  }
}

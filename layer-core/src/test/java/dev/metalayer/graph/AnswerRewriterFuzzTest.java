package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.testing.FuzzInputs;
import dev.metalayer.testing.FuzzRuns;
import dev.metalayer.testing.MutableClock;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes the rewriting of Graph's JSON answers (paging links, media lookups) with the Meta token planted
 * where Graph writes it. Invariant: a rewritten answer never contains the token, in its bytes or in
 * any JSON string once unescaped and percent-decoded; a rewritten paging link points at the layer and
 * carries exactly one credential, the client's key; a rewritten media link points at the layer, for
 * the looked-up media, and its {@code ref} opens for that number and media only.
 */
class AnswerRewriterFuzzTest {
  static final FuzzRuns RUNS = new FuzzRuns("AnswerRewriter");
  static final String BASE = "https://layer.test/api/layer/meta";
  static final String MEDIA_ID = "1037543291543636";
  static final MediaLinks LINKS =
      new MediaLinks(new TokenCipher(new byte[32], new SecureRandom()), MutableClock.at("2026-03-01T10:00:00Z"));

  @AfterAll
  static void figures() {
    RUNS.report();
  }

  @FuzzTest(maxDuration = "10s")
  void aRewrittenAnswerNeverContainsTheToken(FuzzedDataProvider data) {
    RUNS.executed();
    String token = FuzzInputs.token(data);
    boolean lookup = data.consumeBoolean();
    AnswerRewriter rewriter = new AnswerRewriter(BASE, data.pickValue(new String[] {"", "/graph"}), Optional.of(FuzzInputs.CLIENT_KEY),
        FuzzInputs.A.phoneNumberId(), lookup ? Optional.of(MEDIA_ID) : Optional.empty(), LINKS, new TokenScrubber(token));
    int status = data.pickValue(new Integer[] {200, 200, 400, 500});
    byte[] body = FuzzInputs.graphAnswer(data, token).getBytes(StandardCharsets.UTF_8);

    RewrittenAnswer answer = rewriter.rewrite(status, body);
    if (!(answer instanceof RewrittenAnswer.Send send)) {
      return; // refused or not JSON: the client gets the layer's own error, none of these bytes
    }
    String text = new String(send.body(), StandardCharsets.UTF_8);
    assertThat(FuzzInputs.mentions(text, token)).as("the token in %s", text).isFalse();
    Optional<JsonNode> tree = FuzzInputs.strictTree(send.body());
    if (tree.isEmpty()) {
      return;
    }
    for (String s : strings(tree.get())) {
      assertThat(FuzzInputs.mentions(s, token)).as("the token in the string %s", s).isFalse();
    }
    JsonNode paging = tree.get().path("paging");
    for (String field : new String[] {"next", "previous"}) {
      String link = paging.path(field).asText("");
      if (link.startsWith(BASE + "/")) {
        String query = URI.create(link).getRawQuery();
        assertThat(FuzzInputs.parameterNames(query).stream().filter(FuzzInputs::namedLikeAccessToken)).hasSize(1);
        assertThat(query).endsWith("access_token=" + FuzzInputs.CLIENT_KEY).doesNotContain("appsecret_proof");
      }
    }
    String url = tree.get().path("url").asText("");
    if (lookup && url.startsWith(BASE)) {
      assertThat(url).startsWith(BASE + "/media/" + MEDIA_ID + "/download?ref=");
      String ref = url.substring(url.indexOf("ref=") + 4);
      // Fresh, or Stale when Graph's url was no absolute URL (the download then looks the media up again)
      assertThat(LINKS.open(ref, FuzzInputs.A.phoneNumberId(), MEDIA_ID)).isNotInstanceOf(MediaLinks.Opened.Foreign.class);
      assertThat(LINKS.open(ref, FuzzInputs.B.phoneNumberId(), MEDIA_ID)).isInstanceOf(MediaLinks.Opened.Foreign.class);
    }
  }

  /** Every field name and string value of a tree, unescaped. */
  private static List<String> strings(JsonNode node) {
    List<String> out = new ArrayList<>();
    if (node.isTextual()) {
      out.add(node.asText());
    }
    for (Map.Entry<String, JsonNode> e : node.properties()) {
      out.add(e.getKey());
      out.addAll(strings(e.getValue()));
    }
    if (node.isArray()) {
      node.forEach(n -> out.addAll(strings(n)));
    }
    return out;
  }
}

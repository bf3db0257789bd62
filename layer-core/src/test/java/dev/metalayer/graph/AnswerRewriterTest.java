package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.testing.MutableClock;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class AnswerRewriterTest {
  static final String TOKEN = "EAAGm0PX4ZCpsBAtokenForTheRewriterTest";
  final AnswerRewriter rewriter = new AnswerRewriter("http://layer.test/api/layer/meta", "", Optional.of("ps_clientkey"), "111",
      Optional.empty(), new MediaLinks(new TokenCipher(new byte[32], new SecureRandom()), MutableClock.at("2026-01-01T00:00:00Z")),
      new TokenScrubber(TOKEN));

  /** The body sent to the client; empty when the answer is not JSON. */
  private Optional<String> rewrite(String body) {
    return sent(rewriter, body);
  }

  private static Optional<String> sent(AnswerRewriter rewriter, String body) {
    return sent(rewriter, 200, body);
  }

  private static Optional<String> sent(AnswerRewriter rewriter, int status, String body) {
    RewrittenAnswer answer = rewriter.rewrite(status, body.getBytes(StandardCharsets.UTF_8));
    assertThat(answer).isNotInstanceOf(RewrittenAnswer.Refuse.class);
    return answer instanceof RewrittenAnswer.Send send ? Optional.of(new String(send.body(), StandardCharsets.UTF_8)) : Optional.empty();
  }

  private AnswerRewriter mediaLookup(String mediaId) {
    return new AnswerRewriter("http://layer.test/api/layer/meta", "", Optional.of("ps_clientkey"), "111",
        Optional.of(mediaId), new MediaLinks(new TokenCipher(new byte[32], new SecureRandom()), MutableClock.at("2026-01-01T00:00:00Z")),
        new TokenScrubber(TOKEN));
  }

  @Test
  void aMediaLookupGetsItsUrlOnTheLayerAndAnErrorPassesAsItIs() {
    AnswerRewriter lookup = mediaLookup("1037543291543636");
    Optional<String> media = sent(lookup, "{\"messaging_product\":\"whatsapp\",\"url\":\"https:\\/\\/lookaside.fbsbx.com\\/x?mid=1\","
        + "\"mime_type\":\"image\\/jpeg\",\"id\":\"1037543291543636\"}");
    assertThat(media).hasValueSatisfying(v -> assertThat(v)
        .contains("\"url\":\"http://layer.test/api/layer/meta/media/1037543291543636/download?ref=")
        .doesNotContain("lookaside"));
    String error = "{\"error\":{\"message\":\"(#100) Unsupported get request.\",\"code\":100,\"fbtrace_id\":\"A\"}}";
    assertThat(sent(lookup, 400, error)).contains(error);
  }

  @Test
  void aMediaLookupThatFindsAnotherKindOfObjectIsRefusedWithNoneOfItsBytes() {
    AnswerRewriter lookup = mediaLookup("1234567890123");
    for (String other : new String[] {
        "{\"name\":\"Another tenant's app\",\"id\":\"1234567890123\"}",
        "{\"url\":\"https://example.com\",\"id\":\"1234567890123\"}",
        "{\"messaging_product\":\"whatsapp\",\"id\":\"1234567890123\",\"display_phone_number\":\"+1 555\"}",
        "[{\"messaging_product\":\"whatsapp\",\"url\":\"https://lookaside.fbsbx.com/x\"}]",
        "\"1234567890123\"",
        // a field named "error" (an alias a client could ask for) is no Graph error, whatever the status
        "{\"error\":\"Another business's app\",\"id\":\"1234567890123\"}",
        "{\"error\":{\"message\":\"x\"},\"name\":\"Another business's app\"}"}) {
      RewrittenAnswer answer = lookup.rewrite(200, other.getBytes(StandardCharsets.UTF_8));
      assertThat(answer).as(other).isInstanceOf(RewrittenAnswer.Refuse.class);
      GraphError error = ((RewrittenAnswer.Refuse) answer).error();
      assertThat(error.status()).isEqualTo(403);
      assertThat(error.code()).isEqualTo(200);
    }
    for (int status : new int[] {400, 403, 500}) {
      assertThat(lookup.rewrite(status, "{\"error\":\"Another business's app\",\"id\":\"1\"}".getBytes(StandardCharsets.UTF_8)))
          .isInstanceOf(RewrittenAnswer.Refuse.class);
    }
    // a real error envelope with a 200 status is not an error either: a lookup's 200 must be media
    assertThat(lookup.rewrite(200, "{\"error\":{\"message\":\"x\",\"code\":1}}".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(RewrittenAnswer.Refuse.class);
    assertThat(lookup.rewrite(200, "<html>".getBytes(StandardCharsets.UTF_8))).isInstanceOf(RewrittenAnswer.NotJson.class);
  }

  @Test
  void anAnswerWithNothingToRewriteKeepsItsBytesButNotTheToken() {
    String send = "{\"messaging_product\":\"whatsapp\",\"messages\":[{\"id\":\"wamid.1\"}],  \"n\":1.50}";
    assertThat(rewrite(send)).contains(send);
    assertThat(rewrite("{\"echo\":\"" + TOKEN + "\"}")).hasValueSatisfying(v -> assertThat(v).doesNotContain(TOKEN));
    assertThat(rewrite("[1,2]")).contains("[1,2]");
  }

  @Test
  void anythingThatIsNotOneJsonValueIsReported() {
    for (String bad : new String[] {"", "<html>oops</html>", "{\"messages\":[", "{} trailing", "{\"a\":1}{\"b\":2}"}) {
      assertThat(rewrite(bad)).as(bad).isEmpty();
    }
  }

  @Test
  void pagingIsRewrittenToTheLayerWithTheClientsKey() {
    Optional<String> out = rewrite("{\"data\":[],\"paging\":{\"next\":\"https://graph.facebook.com/v14.0/9/message_templates?access_token="
        + TOKEN + "&after=X\"}}");
    assertThat(out).hasValueSatisfying(v -> assertThat(v)
        .contains("http://layer.test/api/layer/meta/v14.0/9/message_templates?after=X&access_token=ps_clientkey")
        .doesNotContain(TOKEN));
  }

  @Test
  void aListOfTheWabasNumbersKeepsOnlyTheKeysOwn() {
    AnswerRewriter list = new AnswerRewriter("http://layer.test/api/layer/meta", "", Optional.of("ps_clientkey"), "111", Optional.empty(), true,
        new MediaLinks(new TokenCipher(new byte[32], new SecureRandom()), MutableClock.at("2026-01-01T00:00:00Z")),
        new TokenScrubber(TOKEN));
    Optional<String> own = sent(list, "{\"data\":[{\"id\":\"222\",\"verified_name\":\"Other tenant\"},{\"id\":\"111\","
        + "\"verified_name\":\"Mine\"},{\"verified_name\":\"no id\"},{\"id\":222}],\"paging\":{\"cursors\":{\"before\":\"a\"}}}");
    assertThat(own).hasValueSatisfying(v -> assertThat(v)
        .isEqualTo("{\"data\":[{\"id\":\"111\",\"verified_name\":\"Mine\"}]}")); // paging would count the others
  }

  /** Another number's ID, name or quality, or how many numbers share the WABA, must not reach the key even when nothing else changes. */
  @Test
  void aListOfOnlyTheKeysOwnNumberStillLosesItsCountAndPaging() {
    AnswerRewriter list = new AnswerRewriter("http://layer.test/api/layer/meta", "", Optional.of("ps_clientkey"), "111", Optional.empty(), true,
        new MediaLinks(new TokenCipher(new byte[32], new SecureRandom()), MutableClock.at("2026-01-01T00:00:00Z")),
        new TokenScrubber(TOKEN));
    assertThat(sent(list, "{\"data\":[{\"id\":\"111\"}],\"summary\":{\"total_count\":7}}"))
        .contains("{\"data\":[{\"id\":\"111\"}]}");
    assertThat(sent(list, "{\"data\":[{\"id\":111}],\"paging\":{\"cursors\":{\"after\":\"QVFI\"}}}"))
        .contains("{\"data\":[{\"id\":111}]}");
    assertThat(sent(list, "{\"data\":[{\"id\":\"111\"}],\"x\":1}")).contains("{\"data\":[{\"id\":\"111\"}],\"x\":1}");
  }

  @Test
  void aPagingUrlLosesTheGraphUrlsPathButNotAPathThatOnlyBeginsLikeIt() {
    AnswerRewriter behindPath = new AnswerRewriter("http://layer.test/api/layer/meta", "/graph", Optional.of("ps_clientkey"), "111",
        Optional.empty(), new MediaLinks(new TokenCipher(new byte[32], new SecureRandom()), MutableClock.at("2026-01-01T00:00:00Z")),
        new TokenScrubber(TOKEN));
    assertThat(behindPath.pagingUrl("https://meta.test/graph/v14.0/9/message_templates?after=X"))
        .contains("http://layer.test/api/layer/meta/v14.0/9/message_templates?after=X&access_token=ps_clientkey");
    assertThat(behindPath.pagingUrl("https://meta.test/graphs/v14.0/9?after=X"))
        .contains("http://layer.test/api/layer/meta/graphs/v14.0/9?after=X&access_token=ps_clientkey");
    assertThat(rewriter.pagingUrl("https://graph.facebook.com/graph/v14.0/9?after=X"))
        .contains("http://layer.test/api/layer/meta/graph/v14.0/9?after=X&access_token=ps_clientkey");
    assertThat(rewriter.pagingUrl("/v14.0/9?after=X")).isEmpty();
    assertThat(rewriter.pagingUrl("ftp://graph.facebook.com/v14.0/9")).isEmpty();
  }

  /** The rule of {@link #anythingThatIsNotOneJsonValueIsReported}, for answers the layer rewrites too. */
  @Test
  void anAnswerToRewriteThatIsNotOneJsonValueIsReportedToo() {
    for (String bad : new String[] {"{\"data\":[]}{\"paging\":{}}", "{\"paging\":{}} <html>", "{\"paging\":{\"next\":\"https://x.test/a\"}} 1"}) {
      assertThat(rewrite(bad)).as(bad).isEmpty();
    }
    assertThat(rewrite("[\"paging\",\"" + TOKEN + "\"]")).contains("[\"paging\",\"[redacted]\"]"); // JSON, but no object: only scrubbed
    AnswerRewriter lookup = mediaLookup("1037543291543636");
    assertThat(lookup.rewrite(200, new byte[0])).isInstanceOf(RewrittenAnswer.NotJson.class);
    assertThat(lookup.rewrite(200, ("{\"messaging_product\":\"whatsapp\",\"url\":\"https://lookaside.fbsbx.com/x\"} {\"echo\":\"" + TOKEN
        + "\"}").getBytes(StandardCharsets.UTF_8))).isInstanceOf(RewrittenAnswer.NotJson.class);
  }
}

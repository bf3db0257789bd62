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
  final AnswerRewriter rewriter = new AnswerRewriter("http://layer.test/api/layer/meta", "", "ps_clientkey", "111",
      Optional.empty(), new MediaLinks(new TokenCipher(new byte[32], new SecureRandom()), MutableClock.at("2026-01-01T00:00:00Z")),
      new TokenScrubber(TOKEN));

  private Optional<String> rewrite(String body) {
    return rewriter.rewrite(body.getBytes(StandardCharsets.UTF_8)).map(b -> new String(b, StandardCharsets.UTF_8));
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
}

package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.graph.CallGuard.CallRequest;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The action a body names, read as a lenient reader of Graph's could read it (the guard errs on the side of guarding). */
class CallRequestsTest {
  private static String action(String body) {
    Outcome<CallRequest> read = CallRequests.read(body.getBytes(StandardCharsets.UTF_8));
    return ((Outcome.Ok<CallRequest>) read).value().action().orElse("");
  }

  private static String quoted(String text) throws Exception {
    return dev.metalayer.json.Json.mapper().writeValueAsString(text);
  }

  @Test
  void anActionPaddedWithAnyUnicodeSpaceOrInvisibleCharacterIsThatAction() throws Exception {
    for (String pad : new String[] {" ", "\t", "\u00a0", "\u2007", "\u202f", "\u3000", "\u200b", "\ufeff", "\u2028"}) {
      assertThat(action("{\"call_id\":\"wacid.X\",\"action\":" + quoted(pad + "accept" + pad) + "}")).as("U+%04X", (int) pad.charAt(0))
          .isEqualTo("accept");
      assertThat(action("call_id=wacid.X&action=" + java.net.URLEncoder.encode(pad + "Reject", StandardCharsets.UTF_8)))
          .isEqualTo("reject");
    }
    assertThat(action("{\"action\":\"ac cept\"}")).isEqualTo("ac cept");
  }
}

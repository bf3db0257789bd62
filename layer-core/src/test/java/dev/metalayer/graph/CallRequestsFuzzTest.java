package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.metalayer.graph.CallGuard.CallRequest;
import dev.metalayer.testing.FuzzRuns;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes the reading of call bodies ({@link CallGuard.CallRequest#read}) with bodies that name the call
 * several times, in every spelling Graph reads as {@code call_id}, as JSON or as a form, among noise.
 * Invariant: the layer guards the call Meta acts on. A body is read only when it names one call
 * ({@code call_id} given once, in whatever spelling), and then the call read is exactly the one given;
 * any body naming it twice is refused with a 400; reading is deterministic and never throws.
 */
class CallRequestsFuzzTest {
  static final FuzzRuns RUNS = new FuzzRuns("CallRequests");
  static final String[] SPELLINGS = {"call_id", "CALL_ID", "call.id", "call id", " call_id", "call_id[]", "Call_Id", "call_idx"};

  @AfterAll
  static void figures() {
    RUNS.report();
  }

  @FuzzTest(maxDuration = "10s")
  void theCallReadIsTheCallMetaActsOn(FuzzedDataProvider data) {
    RUNS.executed();
    boolean json = data.consumeBoolean();
    int pairs = data.consumeInt(0, 5);
    List<String> parts = new ArrayList<>();
    List<String> planted = new ArrayList<>();
    for (int i = 0; i < pairs; i++) {
      String name = data.consumeBoolean() ? data.pickValue(SPELLINGS) : data.pickValue(new String[] {"action", "to", "session", "x"});
      String value = data.consumeBoolean() ? "wacid." + data.consumeAsciiString(8).replaceAll("[^A-Za-z0-9]", "A")
          : data.consumeString(12);
      if (!name.equals("call_idx") && name.trim().toLowerCase().replace('.', '_').replace(' ', '_').startsWith("call_id")) {
        planted.add(value);
      }
      parts.add(json
          ? "\"" + escape(name) + "\":\"" + escape(value) + "\""
          : URLEncoder.encode(name, StandardCharsets.UTF_8) + "=" + URLEncoder.encode(value, StandardCharsets.UTF_8));
    }
    String body = json ? "{" + String.join(",", parts) + "}" : String.join("&", parts);
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);

    Outcome<CallRequest> read = CallRequest.read(bytes);
    Outcome<CallRequest> again = CallRequest.read(bytes.clone());
    assertThat(again.getClass()).as("deterministic").isEqualTo(read.getClass());
    if (read instanceof Outcome.Refused<CallRequest> refused) {
      assertThat(refused.error().status()).isEqualTo(400);
      return;
    }
    CallRequest r = ((Outcome.Ok<CallRequest>) read).value();
    assertThat(((Outcome.Ok<CallRequest>) again).value()).isEqualTo(r);
    assertThat(planted).as("a call named twice is never read").hasSizeLessThanOrEqualTo(1);
    if (planted.isEmpty()) {
      assertThat(r.callId()).isEmpty();
    } else {
      assertThat(r.callId()).contains(planted.get(0));
    }
  }

  private static String escape(String s) {
    StringBuilder b = new StringBuilder();
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }
}

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

  private static CallRequest read(String body) {
    Outcome<CallRequest> read = CallRequests.read(body.getBytes(StandardCharsets.UTF_8));
    assertThat(read).as(body).isInstanceOf(Outcome.Ok.class);
    return ((Outcome.Ok<CallRequest>) read).value();
  }

  private static String refusal(String body) {
    Outcome<CallRequest> read = CallRequests.read(body.getBytes(StandardCharsets.UTF_8));
    assertThat(read).as(body).isInstanceOf(Outcome.Refused.class);
    GraphError e = ((Outcome.Refused<CallRequest>) read).error();
    assertThat(e.status()).isEqualTo(400);
    return e.message();
  }

  private static boolean asks(String body) {
    return read(body).permissionRequest();
  }

  private static String form(String text) {
    return java.net.URLEncoder.encode(text, StandardCharsets.UTF_8);
  }

  private static String withQuery(String query, String body) {
    Outcome<byte[]> both = CallRequests.withQuery(query, body.getBytes(StandardCharsets.UTF_8));
    if (both instanceof Outcome.Refused<byte[]> r) {
      return "refused: " + r.error().message();
    }
    return new String(((Outcome.Ok<byte[]>) both).value(), StandardCharsets.UTF_8);
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

  @Test
  void anActionOfInvisibleCharactersAloneIsAnEmptyAction() {
    assertThat(CallRequests.stripped(" \u00a0\u200b ")).isEmpty();
    assertThat(CallRequests.stripped("")).isEmpty();
    assertThat(CallRequests.stripped("\u3000a b\u2028")).isEqualTo("a b");
    assertThat(read("{\"call_id\":\"wacid.X\",\"action\":\"   \"}").action()).contains("");
  }

  @Test
  void anEmptyBodyNamesNothing() {
    assertThat(CallRequests.read(new byte[0])).isEqualTo(Outcome.ok(CallRequest.NONE));
  }

  @Test
  void aJsonBodyGivesTheCallItsActionAndTheUserAddressed() {
    CallRequest r = read(" {\"messaging_product\":\"whatsapp\",\"Call_Id\":\"wacid.X\",\"ACTION\":\" Pre_Accept \","
        + "\"session\":{\"sdp\":\"v=0\"},\"to\":\"+1 (408) 555-1234\"}");
    assertThat(r).isEqualTo(new CallRequest(java.util.Optional.of("pre_accept"), java.util.Optional.of("wacid.X"),
        java.util.Optional.of("14085551234"), false));
    assertThat(read("{\"to\":14085551234}").user()).as("a number").contains("14085551234");
    assertThat(read("{\"to\":\"1.408.555.1234\"}").user()).contains("14085551234");
    assertThat(read("{\"recipient\":\"US.13491208655302741918\"}").user()).contains("US.13491208655302741918");
    assertThat(read("{\"to\":\" BR.77 \"}").user()).as("a user id in to").contains("BR.77");
    assertThat(read("{\"to\":\"()\",\"recipient\":\"US.1\"}").user()).as("a to without digits names nobody").contains("US.1");
    assertThat(read("{\"to\":\"a b\",\"recipient\":\"US.1\"}").user()).contains("US.1");
    assertThat(read("{\"to\":{\"id\":\"1408\"},\"recipient\":\"US.1\"}").user()).contains("US.1");
    assertThat(read("{\"to\":1.5}").user()).isEmpty();
    assertThat(read("{\"to\":\"a b\"}").user()).isEmpty();
    assertThat(read("{\"recipient\":true}").user()).isEmpty();
    assertThat(read("{\"type\":\"text\"}")).isEqualTo(CallRequest.NONE);
  }

  @Test
  void aFormBodyIsReadLikeAJsonOne() {
    assertThat(read("&call_id=wacid.X&&action=ACCEPT&to=%2B1+408+555+1234&x")).isEqualTo(new CallRequest(
        java.util.Optional.of("accept"), java.util.Optional.of("wacid.X"), java.util.Optional.of("14085551234"), false));
    assertThat(read("action").action()).as("a name without a value").contains("");
    assertThat(read("call_id=wacid.X&recipient=US.1").user()).contains("US.1");
  }

  @Test
  void aCallValueGivenTwiceOrOfTheWrongKindIsRefused() {
    assertThat(refusal("{\"call_id\":\"wacid.A\",\"Call.Id\":\"wacid.B\"}")).isEqualTo("(rule call-body) The parameter call_id is given twice.");
    assertThat(refusal("{\"to\":\"1\",\"to\":\"2\"}")).isEqualTo("(rule call-body) The parameter to is given twice.");
    assertThat(refusal("action=accept&ACTION=reject")).isEqualTo("(rule call-body) The parameter action is given twice.");
    assertThat(refusal("{\"interactive\":{},\"interactive\":{}}")).isEqualTo("(rule call-body) The parameter interactive is given twice.");
    assertThat(refusal("{\"call_id\":\"wacid.X\",\"action\":1}")).isEqualTo("(rule call-body) action and call_id must be strings.");
    assertThat(refusal("{\"call_id\":[\"wacid.X\"]}")).isEqualTo("(rule call-body) action and call_id must be strings.");
    assertThat(refusal("{\"call_id\":\"wacid.a b\"}")).isEqualTo("(rule call-body) call_id must be 1 to 256 visible ASCII characters.");
    assertThat(refusal("call_id=")).isEqualTo("(rule call-body) call_id must be 1 to 256 visible ASCII characters.");
    assertThat(read("{\"call_id\":\"" + "w".repeat(256) + "\"}").callId()).hasValueSatisfying(id -> assertThat(id).hasSize(256));
    assertThat(refusal("{\"call_id\":\"" + "w".repeat(257) + "\"}")).contains("call_id must be 1 to 256");
  }

  @Test
  void aBodyThatStartsAsJsonMustBeJsonAndCarryNoCallValueAsAForm() {
    assertThat(refusal("{\"call_id\":\"wacid.X\",\"action\":\"accept\"")).isEqualTo("The body must be a JSON object.");
    assertThat(refusal("\n{\"call_id\":\"wacid.X\",}")).isEqualTo("The body must be a JSON object.");
    assertThat(refusal("{\"x\":\"&call_id=wacid.X&action=accept\"}"))
        .isEqualTo("(rule call-body) A JSON body must not also carry call parameters when read as a form.");
    assertThat(refusal("{\"x\":\"&action=a&action=b\"}"))
        .isEqualTo("(rule call-body) A JSON body must not also carry call parameters when read as a form.");
    assertThat(read("{\"x\":\"&session=1\",\"action\":\"accept\"}").action()).contains("accept");
  }

  @Test
  void anInteractiveOfTheCallPermissionTypeIsAPermissionRequest() throws Exception {
    assertThat(asks("{\"to\":\"1\",\"type\":\"interactive\",\"interactive\":{\"type\":\" Call_Permission_Request \","
        + "\"body\":{\"text\":\"May we call?\"},\"action\":{\"name\":\"call_permission_request\"}}}")).isTrue();
    assertThat(asks("{\"interactive\":{\"action\":\"x\",\"Type\":\"call_permission_request\",\"footer\":\"y\"}}")).isTrue();
    assertThat(asks("{\"interactive\":" + quoted("{\"type\":\"call_permission_request\"}") + "}")).as("as JSON text").isTrue();
    assertThat(asks("interactive=" + form("{\"type\":\"CALL_PERMISSION_REQUEST\"}"))).as("in a form").isTrue();
    assertThat(asks("{\"interactive\":{\"type\":\"button\",\"action\":{\"type\":\"call_permission_request\"}}}")).isFalse();
    assertThat(asks("{\"interactive\":{\"type\":\"call_permission_request\",\"body\":\"button\"}}"))
        .as("only the type names the kind").isTrue();
    assertThat(asks("{\"interactive\":{\"type\":[\"call_permission_request\"]}}")).isFalse();
    assertThat(asks("{\"interactive\":\"call_permission_request\"}")).as("text that is no JSON").isFalse();
    assertThat(asks("{\"interactive\":[{\"type\":\"call_permission_request\"}]}")).isFalse();
    assertThat(asks("interactive=" + form("{\"type\":\"call_permission_request\""))).isFalse();
    assertThat(asks("{\"type\":\"call_permission_request\"}")).as("a type outside interactive").isFalse();
  }

  @Test
  void aTemplateWithACallPermissionComponentIsAPermissionRequest() throws Exception {
    String components = "[{\"type\":\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"x\"}]},\"header\","
        + "{\"type\":\"CALL_PERMISSION_REQUEST\"}]";
    assertThat(asks("{\"to\":\"1\",\"type\":\"template\",\"template\":{\"name\":\"ask\",\"language\":{\"code\":\"en\"},"
        + "\"components\":" + components + "}}")).isTrue();
    assertThat(asks("{\"template\":{\"components\":[{\"type\":\"call_permission_request\"},{\"type\":\"body\"}]}}"))
        .as("any component, not only the last").isTrue();
    assertThat(asks("{\"template\":" + quoted("{\"components\":" + components + "}") + "}")).as("the template as JSON text").isTrue();
    assertThat(asks("{\"template\":{\"components\":" + quoted(components) + "}}")).as("its components as JSON text").isTrue();
    assertThat(asks("template=" + form("{\"name\":\"ask\",\"components\":" + components + "}"))).as("in a form").isTrue();
    assertThat(asks("template=" + form("{\"components\":" + quoted(components) + "}"))).isTrue();
    assertThat(asks("{\"template\":{\"name\":\"call_permission_request\",\"components\":[{\"type\":\"body\"}]}}")).isFalse();
    assertThat(asks("{\"template\":{\"components\":" + quoted("[{\"type\":\"body\"}]") + "}}")).isFalse();
    assertThat(asks("{\"template\":{\"components\":{\"type\":\"call_permission_request\"}}}")).as("not a list").isFalse();
    assertThat(asks("{\"template\":{\"components\":[[{\"type\":\"call_permission_request\"}]]}}")).isFalse();
    assertThat(asks("{\"template\":{\"components\":[]}}")).isFalse();
    assertThat(asks("{\"template\":7}")).isFalse();
    assertThat(asks("{\"template\":\"ask\"}")).isFalse();
  }

  @Test
  void aPermissionRequestNeedsOnlyOneOfInteractiveOrTemplate() {
    String interactive = "\"interactive\":{\"type\":\"call_permission_request\"}";
    String template = "\"template\":{\"components\":[{\"type\":\"call_permission_request\"}]}";
    assertThat(asks("{" + interactive + ",\"template\":{\"name\":\"x\"}}")).isTrue();
    assertThat(asks("{\"interactive\":{\"type\":\"list\"}," + template + "}")).isTrue();
    assertThat(asks("{\"interactive\":{\"type\":\"list\"},\"template\":{\"name\":\"x\"}}")).isFalse();
  }

  @Test
  void aQueryNamingCallValuesIsReadWithAFormBodyAsOneForm() {
    assertThat(withQuery("", "action=accept")).isEqualTo("action=accept");
    assertThat(withQuery("session=1&x=2", "{\"action\":\"accept\"}")).as("no call value in the query").isEqualTo("{\"action\":\"accept\"}");
    assertThat(withQuery("action=accept", "call_id=wacid.X&to=1")).isEqualTo("action=accept&call_id=wacid.X&to=1");
    assertThat(withQuery("action=accept", "")).isEqualTo("action=accept");
    assertThat(withQuery("action=accept&Action=reject", "")).isEqualTo("refused: (rule call-body) The parameter action is given twice.");
    assertThat(withQuery("to=1&action=accept", " {\"call_id\":\"wacid.X\"}"))
        .isEqualTo("refused: (rule call-body) A JSON body's call parameters (action, to) must be in the body, not the query.");
    assertThat(refusal(withQuery("action=accept", "call_id=wacid.X&ACTION=reject")))
        .isEqualTo("(rule call-body) The parameter action is given twice.");
  }
}

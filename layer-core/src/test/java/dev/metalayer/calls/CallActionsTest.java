package dev.metalayer.calls;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.metalayer.calls.CallStore.Direction;
import dev.metalayer.calls.CallStore.Event;
import dev.metalayer.calls.CallStore.Limit;
import dev.metalayer.calls.CallStore.Source;
import dev.metalayer.keys.Grant;
import dev.metalayer.keys.WhatsAppNumber;
import dev.metalayer.store.Database;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The rules {@link Calls#before} and {@link Calls#after} apply to the keys' call actions, called as the
 * Graph proxy calls them (the request body, Meta's status and answer), over the in-memory store on a clock
 * moved by hand. {@link CallGuardTest} runs the same rules through the proxy with Meta played by a server.
 */
class CallActionsTest {
  static final String PNID = "106540352242922";
  static final String WACID = "wacid.HBgLMTU1NTEyMzQ1NjcVAgARGCA5QkI3";
  static final String USER = "15551234567";
  static final WhatsAppNumber NUMBER =
      new WhatsAppNumber("+15550783881", PNID, "102290129340398", "900000000000001", Instant.EPOCH);
  static final Grant ONE = new Grant("k1", NUMBER, "EAAtokenOfNumberA0123456789");
  static final Grant TWO = new Grant("k2", NUMBER, "EAAtokenOfNumberA0123456789");
  static final String OK = "{\"messaging_product\":\"whatsapp\",\"success\":true}";

  final MutableClock clock = MutableClock.at("2026-03-02T10:00:00Z");
  final Calls calls = new Calls(Stores.inMemoryCalls(), clock);

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static String action(String action) {
    return "{\"messaging_product\":\"whatsapp\",\"call_id\":\"" + WACID + "\",\"action\":\"" + action + "\"}";
  }

  static String metaError(int code) {
    return "{\"error\":{\"message\":\"(#" + code + ") refused\",\"type\":\"OAuthException\",\"code\":" + code + "}}";
  }

  /** A key's action as the proxy runs it: the check before, Meta's answer, the record after. */
  int act(Grant key, String action, int metaStatus, String metaAnswer) {
    byte[] body = bytes(action(action));
    Optional<dev.metalayer.graph.GraphAnswer> refused = calls.before(key, "calls", body);
    if (refused.isPresent()) {
      return refused.get().status();
    }
    calls.after(key, "calls", body, metaStatus, bytes(metaAnswer));
    return metaStatus;
  }

  void ringing() {
    calls.store().record(List.of(new Event(PNID, WACID, clock.instant(), Source.WEBHOOK, "meta", "connect",
        Optional.of(Direction.USER_INITIATED), Optional.of(USER), OptionalInt.empty(), Optional.empty())));
  }

  void rememberPermissionRequestRefusal() {
    calls.store().remember(new Limit(PNID, USER, Calls.PERMISSION_REQUEST, 138009, 400, metaError(138009),
        clock.instant(), clock.instant().plus(Duration.ofHours(24))));
  }

  @Test
  void metaRefusingTheFirstAnswerOfARingingCallFreesItForAnotherSurface() {
    ringing();
    assertThat(act(ONE, "pre_accept", 400, metaError(100))).isEqualTo(400);
    assertThat(calls.store().find(PNID, WACID).orElseThrow().answeredBy()).isEmpty();
    assertThat(act(TWO, "pre_accept", 200, OK)).isEqualTo(200);
    assertThat(act(ONE, "accept", 200, OK)).isEqualTo(409);
    assertThat(calls.store().find(PNID, WACID).orElseThrow().answeredBy()).contains("k2");
  }

  @Test
  void anAcceptedCallForgetsItsUsersPermissionRequestRefusalsAndNothingElseDoes() {
    ringing();
    rememberPermissionRequestRefusal();
    act(ONE, "pre_accept", 200, OK);
    act(ONE, "accept", 400, metaError(138007));
    act(ONE, "accept", 302, "");
    assertThat(calls.store().rememberedFor(PNID, USER, clock.instant())).as("no call connected yet").hasSize(1);

    act(ONE, "accept", 200, OK);
    assertThat(calls.store().rememberedFor(PNID, USER, clock.instant())).isEmpty();
  }

  @Test
  void anAcceptAnsweredWithAnotherSuccessStatusConnectsTheCallToo() {
    ringing();
    rememberPermissionRequestRefusal();
    act(ONE, "accept", 204, "");
    assertThat(calls.store().rememberedFor(PNID, USER, clock.instant())).isEmpty();
  }

  @Test
  void aConnectAnsweredWithAnIdThatIsNoCallIdMakesNoRecord() {
    byte[] connect = bytes("{\"messaging_product\":\"whatsapp\",\"to\":\"" + USER + "\",\"action\":\"connect\"}");
    for (String id : List.of("wacid.a b", "w".repeat(Calls.MAX_CALL_ID + 1), "", "wacid.\u00e9")) {
      calls.after(ONE, "calls", connect, 200, bytes("{\"calls\":[{\"id\":\"" + id + "\"}]}"));
      assertThat(calls.store().find(PNID, id)).as(id).isEmpty();
    }
    String longest = "w".repeat(Calls.MAX_CALL_ID);
    calls.after(ONE, "calls", connect, 200, bytes("{\"calls\":[{\"id\":\"" + longest + "\"}]}"));
    assertThat(calls.store().find(PNID, longest)).isPresent();
  }

  @Test
  void permissionRequestsInEveryCaseAndAtTheVeryEndOfTheBodyAreRead() {
    assertThat(CallActions.mayAskPermission(bytes("{\"type\":\"CALL_PERMISSION_REQUEST\"}"))).isTrue();
    assertThat(CallActions.mayAskPermission(bytes("type=call_permission_request"))).isTrue();
    assertThat(CallActions.mayAskPermission(bytes("call_permission_request"))).isTrue();
    assertThat(CallActions.mayAskPermission(bytes("type=call_permission_reques"))).isFalse();
    assertThat(CallActions.mayAskPermission(bytes("{\"type\":\"call_permission_\"}"))).isFalse();
    assertThat(CallActions.mayAskPermission(bytes("{\"type\":\"@ALL_PERMISSION_REQUEST\"}"))).isFalse();
  }

  // ---- a store that fails: the request goes on, and the operator is told once a minute per number


  @Test
  void aStoreThatFailsLetsEveryRequestGoOnAndIsToldOnceAMinute() {
    Logger logger = (Logger) LoggerFactory.getLogger(CallActions.class);
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    logged.start();
    logger.addAppender(logged);
    try {
      // the layer's H2 call store, whose database goes away
      JdbcConnectionPool pool = JdbcConnectionPool.create("jdbc:h2:mem:calls-down;DB_CLOSE_DELAY=-1", "sa", "");
      Calls down = new Calls(Stores.relay(Database.open(pool)).calls(), clock);
      pool.dispose();
      byte[] request = bytes("{\"to\":\"" + USER + "\",\"type\":\"interactive\",\"interactive\":{\"type\":"
          + "\"call_permission_request\"}}");
      assertThat(down.before(ONE, "messages", request)).as("limits not read").isEmpty();
      assertThat(warnings(logged)).singleElement().asString().contains(PNID).contains("the calling limits were not read")
          ;

      clock.advance(Duration.ofMinutes(1));
      assertThat(down.before(ONE, "calls", bytes(action("accept")))).as("surface not checked").isEmpty();
      assertThat(warnings(logged)).hasSize(2).last().asString().contains("the answering surface was not checked");

      clock.advance(Duration.ofMinutes(1));
      down.after(ONE, "calls", bytes(action("accept")), 200, bytes(OK));
      assertThat(warnings(logged)).hasSize(3).last().asString().contains("a call action was not recorded");

      down.after(ONE, "calls", bytes(action("terminate")), 200, bytes(OK));
      assertThat(warnings(logged)).as("once a minute").hasSize(3);
    } finally {
      logger.detachAppender(logged);
    }
  }

  static List<String> warnings(ListAppender<ILoggingEvent> logged) {
    return logged.list.stream().filter(e -> e.getLevel() == Level.WARN).map(ILoggingEvent::getFormattedMessage).toList();
  }
}

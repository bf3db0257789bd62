package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.keys.Grant;
import dev.metalayer.keys.WhatsAppNumber;
import java.time.Instant;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ScopeTest {
  static final WhatsAppNumber A = new WhatsAppNumber("+15550783881", "106540352242922", "102290129340398", "900000000000001", Instant.EPOCH);
  static final WhatsAppNumber B = new WhatsAppNumber("+15550783882", "206540352242922", "202290129340398", "900000000000002", Instant.EPOCH);
  static final Grant GRANT = new Grant("key_a", A, "EAAtoken");
  static final Set<String> REGISTERED =
      Set.of(A.phoneNumberId(), A.wabaId(), A.businessId(), B.phoneNumberId(), B.wabaId(), B.businessId());
  final Scope scope = new Scope(REGISTERED::contains);

  Outcome<Scope.Target> check(String method, String path) {
    return scope.check(GRANT, method, GraphPathTest.ok(path));
  }

  @Test
  void ownPhoneNumberAndWabaWithAnyMethodAndEdge() {
    assertThat(check("POST", "/v13.0/106540352242922/messages")).isEqualTo(Outcome.ok(Scope.Target.PHONE_NUMBER));
    assertThat(check("POST", "/v22.0/106540352242922/calls")).isEqualTo(Outcome.ok(Scope.Target.PHONE_NUMBER));
    assertThat(check("GET", "/106540352242922")).isEqualTo(Outcome.ok(Scope.Target.PHONE_NUMBER));
    assertThat(check("DELETE", "/v14.0/102290129340398/message_templates")).isEqualTo(Outcome.ok(Scope.Target.WABA));
  }

  @Test
  void mediaIsGetOrDeleteWithoutEdges() {
    assertThat(check("GET", "/v13.0/1037543291543636")).isEqualTo(Outcome.ok(Scope.Target.MEDIA));
    assertThat(check("DELETE", "/1037543291543636")).isEqualTo(Outcome.ok(Scope.Target.MEDIA));
    assertRefused(check("POST", "/v13.0/1037543291543636"));
    assertRefused(check("GET", "/v13.0/1037543291543636/subscribed_apps"));
  }

  @Test
  void otherNumbersObjectsAreRefused() {
    for (String id : new String[] {B.phoneNumberId(), B.wabaId(), B.businessId(), A.businessId()}) {
      assertRefused(check("GET", "/v13.0/" + id));
      assertRefused(check("POST", "/v13.0/" + id + "/messages"));
      assertRefused(check("DELETE", "/" + id));
    }
  }

  @Test
  void sensitiveNodesAreRefused() {
    for (String node : new String[] {"me", "debug_token", "oauth", "app", "v13.0abc", "12a"}) {
      assertRefused(check("GET", "/v13.0/" + node));
    }
    assertRefused(check("GET", "/v13.0/oauth/access_token"));
  }

  @Test
  void mediaDownloadRule() {
    assertThat(scope.mayUseMedia(GRANT, "1037543291543636")).isTrue();
    assertThat(scope.mayUseMedia(GRANT, B.phoneNumberId())).isFalse();
    assertThat(scope.mayUseMedia(GRANT, A.phoneNumberId())).isFalse();
    assertThat(scope.mayUseMedia(GRANT, "me")).isFalse();
  }

  static void assertRefused(Outcome<Scope.Target> o) {
    assertThat(o).isInstanceOf(Outcome.Refused.class);
    GraphError e = ((Outcome.Refused<Scope.Target>) o).error();
    assertThat(e.status()).isEqualTo(403);
    assertThat(e.code()).isEqualTo(200);
  }
}

package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.metalayer.testing.FuzzInputs;
import dev.metalayer.testing.FuzzRuns;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes credential extraction over the {@code Authorization} header, the query and a form body. The
 * client's key is planted only in parameters whose name means a credential (in any spelling a lenient
 * server accepts) and in the header. Invariant: what goes upstream (query and form) never holds the key,
 * raw or decoded, nor a parameter named like {@code access_token} or {@code appsecret_proof};
 * extraction is deterministic; a refusal is a 400 or 401.
 */
class CredentialsFuzzTest {
  static final FuzzRuns RUNS = new FuzzRuns("Credentials");

  @AfterAll
  static void figures() {
    RUNS.report();
  }

  @FuzzTest(maxDuration = "10s")
  void theClientsKeyNeverTravelsUpstream(FuzzedDataProvider data) {
    RUNS.executed();
    String key = data.consumeBoolean() ? FuzzInputs.CLIENT_KEY : "ps_" + data.consumeAsciiString(12).replaceAll("[^A-Za-z0-9_-]", "x") + "key";
    String authorization = FuzzInputs.authorization(data, key);
    String query = FuzzInputs.parameters(data, key);
    byte[] form = data.consumeBoolean() ? FuzzInputs.parameters(data, key).getBytes(StandardCharsets.UTF_8) : null;

    Outcome<Credentials> outcome = Credentials.extract(authorization, query, form == null ? null : form.clone());
    Outcome<Credentials> again = Credentials.extract(authorization, query, form == null ? null : form.clone());
    if (outcome instanceof Outcome.Refused<Credentials> refused) {
      assertThat(again).as("deterministic").isInstanceOfSatisfying(Outcome.Refused.class,
          r -> assertThat(r.error().message()).isEqualTo(refused.error().message()));
      assertThat(refused.error().status()).isIn(400, 401);
      assertThat(refused.error().message()).doesNotContain(key);
      return;
    }
    Credentials c = ((Outcome.Ok<Credentials>) outcome).value();
    Credentials d = ((Outcome.Ok<Credentials>) again).value();
    assertThat(d.credential()).as("deterministic").isEqualTo(c.credential());
    assertThat(d.upstreamQuery()).isEqualTo(c.upstreamQuery());
    assertThat(d.upstreamForm().map(Arrays::toString)).isEqualTo(c.upstreamForm().map(Arrays::toString));

    String upstreamForm = c.upstreamForm().map(b -> new String(b, StandardCharsets.UTF_8)).orElse("");
    for (String upstream : new String[] {c.upstreamQuery(), upstreamForm}) {
      assertThat(FuzzInputs.mentions(upstream, key)).as("the key travels upstream in %s", upstream).isFalse();
      assertThat(FuzzInputs.parameterNames(upstream))
          .noneMatch(FuzzInputs::namedLikeAccessToken)
          .doesNotContain(Credentials.APPSECRET_PROOF);
    }
  }
}

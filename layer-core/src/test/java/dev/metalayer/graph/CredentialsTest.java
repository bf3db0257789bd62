package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class CredentialsTest {
  static final String KEY = "ps_abcdefghijklmnopqrstuvwxyzABCDEF0123";

  static Credentials ok(String auth, String query, String form) {
    Outcome<Credentials> o =
        Credentials.extract(auth, query, form == null ? null : form.getBytes(StandardCharsets.UTF_8));
    assertThat(o).isInstanceOf(Outcome.Ok.class);
    return ((Outcome.Ok<Credentials>) o).value();
  }

  static GraphError refused(String auth, String query, String form) {
    Outcome<Credentials> o =
        Credentials.extract(auth, query, form == null ? null : form.getBytes(StandardCharsets.UTF_8));
    assertThat(o).isInstanceOf(Outcome.Refused.class);
    return ((Outcome.Refused<Credentials>) o).error();
  }

  @Test
  void bearerHeaderAnyCase() {
    assertThat(ok("Bearer " + KEY, "", null).credential()).contains(KEY);
    assertThat(ok("bearer " + KEY, "", null).credential()).contains(KEY);
    assertThat(ok("BEARER  " + KEY + " ", "", null).credential()).contains(KEY);
    assertThat(ok("OAuth " + KEY, "", null).credential()).contains(KEY);
  }

  @Test
  void queryTokenIsRemovedAndTheRestKeptRaw() {
    Credentials c = ok(null, "limit=25&access_token=" + KEY + "&after=MjQ%3D&appsecret_proof=abc", null);
    assertThat(c.credential()).contains(KEY);
    assertThat(c.upstreamQuery()).isEqualTo("limit=25&after=MjQ%3D");
  }

  @Test
  void queryWithoutCredentialIsUntouched() {
    Credentials c = ok("Bearer " + KEY, "name=csat_survey&x=a%20b", null);
    assertThat(c.upstreamQuery()).isEqualTo("name=csat_survey&x=a%20b");
  }

  @Test
  void encodedParameterNameIsStillFound() {
    Credentials c = ok(null, "access%5Ftoken=" + KEY, null);
    assertThat(c.credential()).contains(KEY);
    assertThat(c.upstreamQuery()).isEmpty();
  }

  @Test
  void formFieldIsFoundAndRemoved() {
    Credentials c = ok(null, "", "messaging_product=whatsapp&access_token=" + KEY + "&type=image%2Fpng");
    assertThat(c.credential()).contains(KEY);
    assertThat(new String(c.upstreamForm().orElseThrow(), StandardCharsets.UTF_8))
        .isEqualTo("messaging_product=whatsapp&type=image%2Fpng");
  }

  @Test
  void formWithoutCredentialKeepsItsVeryBytes() {
    byte[] form = "a=1&b=2".getBytes(StandardCharsets.UTF_8);
    Outcome<Credentials> o = Credentials.extract("Bearer " + KEY, "", form);
    assertThat(((Outcome.Ok<Credentials>) o).value().upstreamForm().orElseThrow()).isSameAs(form);
  }

  @Test
  void sameCredentialTwiceIsFine() {
    assertThat(ok("Bearer " + KEY, "access_token=" + KEY, null).credential()).contains(KEY);
  }

  @Test
  void differentCredentialsAre400AndNotEchoed() {
    GraphError e = refused("Bearer " + KEY, "access_token=ps_other", null);
    assertThat(e.status()).isEqualTo(400);
    assertThat(new String(e.toJson(), StandardCharsets.UTF_8)).doesNotContain(KEY).doesNotContain("ps_other");
    assertThat(refused(null, "access_token=" + KEY, "access_token=ps_other").status()).isEqualTo(400);
  }

  @Test
  void malformedAuthorizationIs401() {
    for (String bad : new String[] {"Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "", KEY, "Bearer a b"}) {
      GraphError e = refused(bad, "", null);
      assertThat(e.status()).as(bad).isEqualTo(401);
      assertThat(e.code()).isEqualTo(190);
    }
  }

  @Test
  void noCredentialAnywhereIsEmpty() {
    assertThat(ok(null, "a=b", null).credential()).isEmpty();
    assertThat(ok(null, "access_token=", null).credential()).isEmpty();
  }

  @Test
  void toStringHidesTheCredential() {
    assertThat(ok("Bearer " + KEY, "", null).toString()).doesNotContain(KEY);
  }

  @Test
  void credentialNameVariantsAreRefusedNotForwarded() {
    for (String name : new String[] {"ACCESS_TOKEN", "access_token[]", "%20access_token", "access_token%20", "Access_Token",
        "access.token", "access+token", "access_token_x", "APPSECRET_PROOF", "appsecret_proof[0]"}) {
      GraphError q = refused("Bearer " + KEY, "limit=1&" + name + "=" + KEY, null);
      assertThat(q.status()).as(name).isEqualTo(400);
      assertThat(q.message()).contains("(rule credential-name)");
      assertThat(new String(q.toJson(), StandardCharsets.UTF_8)).doesNotContain(KEY);
      assertThat(refused("Bearer " + KEY, "", name + "=" + KEY).status()).as(name).isEqualTo(400);
    }
  }

  @Test
  void aFormIsScannedOnceAndItsParameterCountIsBounded() {
    // a 1 MiB "a&a&a…" form was once split into 500,000 strings
    String flood = "a&".repeat(512 * 1024);
    GraphError e = refused("Bearer " + KEY, "", flood);
    assertThat(e.status()).isEqualTo(400);
    assertThat(e.message()).contains("at most " + Credentials.MAX_PARAMETERS);
    String many = "a=1&".repeat(Credentials.MAX_PARAMETERS);
    assertThat(ok("Bearer " + KEY, "", many).parameters().names()).containsExactly("a");
    assertThat(refused("Bearer " + KEY, many + "b=2", null).status()).isEqualTo(400);
  }

  @Test
  void parameterNamesAreCanonicalAndFieldsValuesKept() {
    Credentials c = ok("Bearer " + KEY, "F%49ELDS=id%2Cname&%20Limit=1&x[]=2", "batch=%5B%5D");
    assertThat(c.parameters().names()).containsExactly("fields", "limit", "x", "batch");
    assertThat(c.parameters().fields()).containsExactly("id,name");
  }

  @Test
  void theHeaderAndQueryCredentialIsFoundWithoutABody() {
    assertThat(((Outcome.Ok<java.util.Optional<String>>) Credentials.withoutBody("Bearer " + KEY, "")).value()).contains(KEY);
    assertThat(((Outcome.Ok<java.util.Optional<String>>) Credentials.withoutBody(null, "a=1")).value()).isEmpty();
    assertThat(Credentials.withoutBody("Basic x", "")).isInstanceOf(Outcome.Refused.class);
  }

  @Test
  void whatIsLeftAfterALeadingCredentialStartsWithoutASeparator() {
    assertThat(ok(null, "access_token=" + KEY + "&a=1&appsecret_proof=x&b=2", null).upstreamQuery()).isEqualTo("a=1&b=2");
    assertThat(ok(null, "a=1&&b=2&flag&", null).parameters().names()).containsExactly("a", "b", "flag");
    assertThat(ok(null, "a=1&b%4", null).parameters().names()).containsExactly("a", "b%4");
    // a query that starts with a separator or a pair with no name hides nothing
    Credentials leading = ok(null, "&access_token=" + KEY + "&a=1", null);
    assertThat(leading.credential()).contains(KEY);
    assertThat(leading.upstreamQuery()).isEqualTo("a=1");
    assertThat(ok(null, "=x&a=1", null).parameters().names()).containsExactly("", "a");
    assertThat(Credentials.canonicalName("[access_token]")).isEmpty();
    assertThat(Credentials.canonicalName(" Access.Token[0] ")).isEqualTo("access_token");
  }

  @Test
  void everyHexDigitDecodesAndOtherEscapesStayAsWritten() {
    assertThat(Credentials.decode("%30%39%61%66%41%46%7a+x")).isEqualTo("09afAFz x");
    assertThat(Credentials.decode("%4a%4f%4A%4F%3a%3A%3f%3F")).isEqualTo("JOJO::??");
    for (String literal : List.of("%4`", "%4g", "%4@", "%4G")) {
      assertThat(Credentials.decode(literal)).as(literal).isEqualTo(literal);
    }
    for (String literal : List.of("%/0", "%:0", "%`0", "%g0", "%@0", "%G0", "%0/", "%0:", "%0`", "%0g", "%0@", "%0G", "%4", "%")) {
      assertThat(Credentials.decode(literal)).as(literal).isEqualTo(literal);
    }
  }

  @Test
  void aGraphUrlLosesItsCredentialsOrItsWholeQuery() {
    String clean = "limit=25&after=MjQ%3D";
    assertThat(Credentials.withoutCredentials(clean)).isSameAs(clean);
    assertThat(Credentials.withoutCredentials("limit=25&access_token=" + KEY + "&after=x")).isEqualTo("limit=25&after=x");
    assertThat(Credentials.withoutCredentials("limit=25&Access_Token=" + KEY)).isEmpty();
  }

  @Test
  void theLayersOwnApiTakesTheKeyFromAuthorizationOrXApiKeyAndTheyMustAgree() {
    assertThat(((Outcome.Ok<java.util.Optional<String>>) Credentials.ofApiRequest(null, " " + KEY + " ")).value()).contains(KEY);
    assertThat(((Outcome.Ok<java.util.Optional<String>>) Credentials.ofApiRequest("Bearer " + KEY, KEY)).value()).contains(KEY);
    assertThat(((Outcome.Ok<java.util.Optional<String>>) Credentials.ofApiRequest("Bearer " + KEY, " ")).value()).contains(KEY);
    assertThat(((Outcome.Ok<java.util.Optional<String>>) Credentials.ofApiRequest(null, null)).value()).isEmpty();
    GraphError conflict = ((Outcome.Refused<java.util.Optional<String>>) Credentials.ofApiRequest("Bearer " + KEY, "ps_other")).error();
    assertThat(conflict.status()).isEqualTo(400);
    assertThat(((Outcome.Refused<java.util.Optional<String>>) Credentials.ofApiRequest("Basic x", KEY)).error().status()).isEqualTo(401);
  }

  @Test
  void aBodyReadAsAFormMayCarryNoCredential() {
    assertThat(((Outcome.Ok<Parameters>) Credentials.namesOf("a=1&b=2".getBytes(StandardCharsets.UTF_8))).value().names())
        .containsExactly("a", "b");
    GraphError e = ((Outcome.Refused<Parameters>) Credentials.namesOf(("a=1&access_token=" + KEY).getBytes(StandardCharsets.UTF_8))).error();
    assertThat(e.message()).contains("(rule credential-name)");
    GraphError variant = ((Outcome.Refused<Parameters>) Credentials.namesOf("a=1&ACCESS_TOKEN=x".getBytes(StandardCharsets.UTF_8))).error();
    assertThat(variant.message()).contains("(rule credential-name)");
  }

  @Test
  void toStringSaysWhetherACredentialCame() {
    assertThat(ok("Bearer " + KEY, "", null).toString()).isEqualTo("Credentials[credential=<present>]");
    assertThat(ok(null, "", null).toString()).isEqualTo("Credentials[credential=<none>]");
  }
}

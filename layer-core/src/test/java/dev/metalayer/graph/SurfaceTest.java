package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.keys.Grant;
import dev.metalayer.keys.WhatsAppNumber;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The Graph surface table, with no I/O: what a key may ask of Graph, and the rule each refusal names. */
class SurfaceTest {
  static final WhatsAppNumber A = new WhatsAppNumber("+15550783881", "106540352242922", "102290129340398", "900000000000001", Instant.EPOCH);
  static final WhatsAppNumber B = new WhatsAppNumber("+15550783882", "206540352242922", "202290129340398", "900000000000002", Instant.EPOCH);
  static final Grant GRANT = new Grant("key_a", A, "EAAtoken");
  static final String PNID = A.phoneNumberId();
  static final String WABA = A.wabaId();
  static final Set<String> REGISTERED =
      Set.of(A.phoneNumberId(), A.wabaId(), A.businessId(), B.phoneNumberId(), B.wabaId(), B.businessId());

  /** A registry naming {@code registered} as other numbers' objects and {@code sharedWabas} as WABAs several numbers use. */
  static Surface.Registry registry(Set<String> registered, Set<String> sharedWabas) {
    return new Surface.Registry() {
      @Override
      public boolean registeredElsewhere(String id) {
        return registered.contains(id);
      }

      @Override
      public boolean wabaShared(String wabaId) {
        return sharedWabas.contains(wabaId);
      }
    };
  }

  static Surface surface(Set<String> sharedWabas, Map<String, Set<Surface.Group>> widened) {
    return new Surface(registry(REGISTERED, sharedWabas), widened);
  }

  final Surface surface = surface(Set.of(), Map.of());

  Outcome<Surface.Allowed> check(Surface s, String method, String path, String query, String json, List<String> headers) {
    Credentials c = ((Outcome.Ok<Credentials>) Credentials.extract(null, query, null)).value();
    Parameters p = c.parameters();
    if (json != null) {
      Outcome<Parameters> body = BodyParameters.of(json.getBytes(StandardCharsets.UTF_8), "application/json");
      if (body instanceof Outcome.Refused<Parameters> r) {
        return Outcome.refused(r.error());
      }
      p = p.and(((Outcome.Ok<Parameters>) body).value());
    }
    return s.check(GRANT, new Surface.Request(method, GraphPathTest.ok(path), p, false, headers));
  }

  Outcome<Surface.Allowed> check(String method, String path, String query) {
    return check(surface, method, path, query, null, List.of());
  }

  static Surface.Target allowed(Outcome<Surface.Allowed> o) {
    assertThat(o).isInstanceOf(Outcome.Ok.class);
    return ((Outcome.Ok<Surface.Allowed>) o).value().target();
  }

  static void refused(Outcome<Surface.Allowed> o, int status, String rule) {
    assertThat(o).isInstanceOf(Outcome.Refused.class);
    GraphError e = ((Outcome.Refused<Surface.Allowed>) o).error();
    assertThat(e.status()).isEqualTo(status);
    assertThat(e.message()).contains("(rule " + rule + ")");
  }

  @Test
  void everyRequestChatwootMakesIsInTheTable() {
    assertThat(allowed(check("POST", "/v13.0/" + PNID + "/messages", ""))).isEqualTo(Surface.Target.PHONE_NUMBER);
    assertThat(allowed(check("POST", "/v24.0/" + PNID + "/messages", ""))).isEqualTo(Surface.Target.PHONE_NUMBER);
    assertThat(allowed(check("GET", "/v14.0/" + WABA + "/message_templates", "limit=1&after=MjQZD"))).isEqualTo(Surface.Target.WABA);
    assertThat(allowed(check("GET", "/v14.0/" + WABA + "/message_templates", "name=csat_survey_abc"))).isEqualTo(Surface.Target.WABA);
    assertThat(allowed(check("POST", "/v14.0/" + WABA + "/message_templates", ""))).isEqualTo(Surface.Target.WABA);
    assertThat(allowed(check("GET", "/v13.0/1037543291543636", ""))).isEqualTo(Surface.Target.MEDIA);
    assertThat(allowed(check("POST", "/v22.0/" + PNID + "/calls", ""))).isEqualTo(Surface.Target.PHONE_NUMBER);
    assertThat(allowed(check("POST", "/v22.0/" + PNID + "/settings", ""))).isEqualTo(Surface.Target.PHONE_NUMBER);
    assertThat(allowed(check("GET", "/v22.0/" + PNID,
        "fields=id,quality_rating,messaging_limit_tier,code_verification_status,account_mode,display_phone_number,name_status,"
            + "verified_name,webhook_configuration,throughput,last_onboarded_time,platform_type,certificate")))
        .isEqualTo(Surface.Target.PHONE_NUMBER);
    assertThat(allowed(check("GET", "/v22.0/" + WABA + "/phone_numbers", "fields=id"))).isEqualTo(Surface.Target.WABA);
  }

  @Test
  void otherWellKnownClientRequestsAreInTheTable() {
    assertThat(allowed(check("GET", "/v22.0/" + PNID + "/call_permissions", "user_wa_id=15551234567"))).isEqualTo(Surface.Target.PHONE_NUMBER);
    assertThat(allowed(check("GET", "/v22.0/" + PNID + "/settings", ""))).isEqualTo(Surface.Target.PHONE_NUMBER);
    assertThat(allowed(check("GET", "/v22.0/" + PNID + "/whatsapp_business_profile", "fields=about,email"))).isEqualTo(Surface.Target.PHONE_NUMBER);
    assertThat(allowed(check("POST", "/v22.0/" + PNID + "/whatsapp_business_profile", ""))).isEqualTo(Surface.Target.PHONE_NUMBER);
    assertThat(allowed(check("DELETE", "/v22.0/1037543291543636", ""))).isEqualTo(Surface.Target.MEDIA);
    assertThat(allowed(check("GET", "/v22.0/" + WABA, "fields=name,timezone_id"))).isEqualTo(Surface.Target.WABA);
    Outcome<Surface.Allowed> upload =
        surface.check(GRANT, new Surface.Request("POST", GraphPathTest.ok("/v22.0/" + PNID + "/media"), Parameters.NONE, true, List.of()));
    assertThat(((Outcome.Ok<Surface.Allowed>) upload).value().rule().parts()).containsExactlyInAnyOrder("messaging_product", "file", "type");
  }

  @Test
  void batchIdsAndMethodOverridesAreRefusedWherever() {
    refused(check("POST", "/v22.0/" + PNID, "batch=%5B%5D"), 403, "batch");
    refused(check(surface, "POST", "/v22.0/" + PNID + "/messages", "", "{\"batch\":[]}", List.of()), 403, "batch");
    refused(check(surface, "POST", "/v22.0/" + PNID + "/messages", "", "{\"b\\u0061tch\":[]}", List.of()), 403, "batch");
    refused(check("GET", "/v22.0/" + PNID, "ids=1,2"), 403, "ids");
    refused(check("GET", "/v22.0/" + PNID, "BATCH=x"), 403, "batch");
    refused(check("GET", "/v22.0/1037543291543636", "method=delete"), 403, "method-override");
    refused(check("GET", "/v22.0/1037543291543636", "_method=delete"), 403, "method-override");
    refused(check(surface, "POST", "/v22.0/" + PNID + "/messages", "", "{\"method\":\"DELETE\"}", List.of()), 403, "method-override");
    for (String header : List.of("X-HTTP-Method-Override", "x-http-method", "X-Method-Override")) {
      refused(check(surface, "GET", "/v22.0/1037543291543636", "", null, List.of(header)), 403, "method-override");
    }
  }

  @Test
  void aPlainFieldListIsReadInOnePassWhateverItsLength() {
    assertThat(Surface.plainFields("id")).isTrue();
    assertThat(Surface.plainFields(" id , verified_name ,quality_rating ")).isTrue();
    for (String bad : List.of("", " ", ",", "id,", ",id", "id,,name", "id name", "id{name}", "name.as(x)", "id\tname")) {
      assertThat(Surface.plainFields(bad)).as(bad).isFalse();
    }
    // 20,000 names: the regular expression this replaces overflowed the stack at about 2,000 (a 500)
    String many = String.join(",", java.util.Collections.nCopies(20_000, "id"));
    assertThat(Surface.plainFields(many)).isTrue();
    assertThat(allowed(check("GET", "/v22.0/" + PNID, "fields=" + many))).isEqualTo(Surface.Target.PHONE_NUMBER);
    refused(check("GET", "/v22.0/" + PNID, "fields=" + many + ",a{b}"), 403, "field-expansion");
  }

  @Test
  void fieldExpansionIsRefused() {
    for (String fields : List.of("phone_numbers%7Bid%7D", "name.as(x)", "phone_numbers.limit(5)", "a%7Bb%7Bc%7D%7D", "id,owner_business_info{name}")) {
      refused(check("GET", "/v22.0/" + WABA, "fields=" + fields), 403, "field-expansion");
    }
    refused(check(surface, "POST", "/v22.0/" + PNID + "/messages", "", "{\"fields\":{\"a\":1}}", List.of()), 403, "field-expansion");
    assertThat(allowed(check("GET", "/v22.0/" + PNID, "fields=id,%20verified_name"))).isEqualTo(Surface.Target.PHONE_NUMBER);
  }

  @Test
  void aWabaReadsOnlyItsOwnScalarFieldsNotItsNumbers() {
    refused(check("GET", "/v22.0/" + WABA, "fields=phone_numbers"), 403, "parameter");
    refused(check("GET", "/v22.0/" + WABA, "fields=subscribed_apps"), 403, "parameter");
  }

  @Test
  void numberAndWabaAdministrationNeedWidening() {
    refused(check("POST", "/v22.0/" + PNID + "/register", ""), 403, "widening");
    refused(check("POST", "/v22.0/" + PNID + "/deregister", ""), 403, "widening");
    refused(check("POST", "/v22.0/" + PNID, ""), 403, "widening"); // two-step PIN
    refused(check("POST", "/v22.0/" + WABA + "/subscribed_apps", "override_callback_uri=https://evil"), 403, "widening");
    refused(check("DELETE", "/v22.0/" + WABA + "/subscribed_apps", ""), 403, "widening");
    refused(check("GET", "/v22.0/" + WABA + "/assigned_users", ""), 403, "widening");
    refused(check("DELETE", "/v14.0/" + WABA + "/message_templates", "name=x"), 403, "widening");

    Surface widened = surface(Set.of(), Map.of(PNID, Set.of(Surface.Group.NUMBER_ADMIN, Surface.Group.TEMPLATES_DELETE, Surface.Group.WABA_ADMIN)));
    assertThat(allowed(check(widened, "POST", "/v22.0/" + PNID + "/register", "", null, List.of()))).isEqualTo(Surface.Target.PHONE_NUMBER);
    assertThat(allowed(check(widened, "DELETE", "/v14.0/" + WABA + "/message_templates", "name=x", null, List.of()))).isEqualTo(Surface.Target.WABA);
    assertThat(allowed(check(widened, "POST", "/v14.0/" + WABA + "/subscribed_apps", "", null, List.of()))).isEqualTo(Surface.Target.WABA);
    // widening never lets a batch or a foreign object through
    refused(check(widened, "POST", "/v22.0/" + PNID, "batch=x", null, List.of()), 403, "batch");
    refused(check(widened, "POST", "/v22.0/" + B.phoneNumberId() + "/register", "", null, List.of()), 403, "foreign-object");
  }

  @Test
  void aSharedWabaTakesWritesOnlyFromAWidenedNumber() {
    Surface shared = surface(Set.of(WABA), Map.of());
    refused(check(shared, "POST", "/v14.0/" + WABA + "/message_templates", "", null, List.of()), 403, "shared-waba");
    assertThat(allowed(check(shared, "GET", "/v14.0/" + WABA + "/message_templates", "", null, List.of()))).isEqualTo(Surface.Target.WABA);
    Surface both = surface(Set.of(WABA), Map.of(PNID, Set.of(Surface.Group.TEMPLATES_DELETE)));
    refused(check(both, "DELETE", "/v14.0/" + WABA + "/message_templates", "name=x", null, List.of()), 403, "shared-waba");
    Surface writer = surface(Set.of(WABA), Map.of(PNID, Set.of(Surface.Group.SHARED_WABA_WRITES)));
    assertThat(allowed(check(writer, "POST", "/v14.0/" + WABA + "/message_templates", "", null, List.of()))).isEqualTo(Surface.Target.WABA);
  }

  @Test
  void anIdWithALeadingZeroIsRefusedBeforeAnyComparison() {
    refused(check("GET", "/v22.0/0" + B.phoneNumberId(), ""), 400, "canonical-id");
    refused(check("POST", "/v22.0/00" + PNID + "/messages", ""), 400, "canonical-id");
    refused(check("GET", "/v22.0/0", ""), 400, "canonical-id");
    assertThat(surface.mediaDownload(GRANT, "0" + B.phoneNumberId())).isPresent();
    assertThat(surface.mediaDownload(GRANT, "1037543291543636")).isEmpty();
    assertThat(surface.mediaDownload(GRANT, B.phoneNumberId())).isPresent();
  }

  @Test
  void otherNumbersObjectsAndNamedNodesAreForeign() {
    for (String id : new String[] {B.phoneNumberId(), B.wabaId(), B.businessId(), A.businessId(), "me", "debug_token", "oauth", "app"}) {
      refused(check("GET", "/v13.0/" + id, ""), 403, "foreign-object");
    }
  }

  @Test
  void whatIsNotInTheTableIsRefused() {
    refused(check("POST", "/v13.0/1037543291543636", ""), 403, "not-in-table");
    refused(check("GET", "/v13.0/1037543291543636/subscribed_apps", ""), 403, "not-in-table");
    refused(check("GET", "/v13.0/" + PNID + "/messages/x", ""), 403, "not-in-table");
    refused(check("DELETE", "/v13.0/" + PNID + "/settings", ""), 403, "not-in-table");
    refused(check("GET", "/v13.0/" + PNID + "/mess%61ges", ""), 403, "not-in-table");
    refused(check("GET", "/v13.0/" + WABA + "/message_templates", "debug=all"), 403, "parameter");
  }

  @Test
  void multipartOnlyOnTheUploadRoute() {
    refused(surface.check(GRANT, new Surface.Request("POST", GraphPathTest.ok("/v22.0/" + PNID + "/messages"), Parameters.NONE, true, List.of())),
        403, "multipart-route");
  }

  @Test
  void wideningIsReadFromConfigurationAndFailsFast() {
    assertThat(Surface.parseWidening(" 0106540352242922:templates-delete+number-admin , 206540352242922:shared-waba-writes"))
        .containsEntry(PNID, Set.of(Surface.Group.TEMPLATES_DELETE, Surface.Group.NUMBER_ADMIN))
        .containsEntry(B.phoneNumberId(), Set.of(Surface.Group.SHARED_WABA_WRITES));
    assertThat(Surface.parseWidening("")).isEmpty();
    assertThatThrownBy(() -> Surface.parseWidening(PNID + ":everything")).hasMessageContaining("unknown widening group 'everything'");
    assertThatThrownBy(() -> Surface.parseWidening("templates-delete")).hasMessageContaining("<phone-number-id>:<group>");
  }

  @Test
  void anEncodedBodyAndControlCharactersInNamesAreRefused() {
    Outcome<Surface.Allowed> gzip = check(surface, "POST", "/v22.0/" + PNID + "/messages", "", null, List.of("Content-Encoding"));
    assertThat(((Outcome.Refused<Surface.Allowed>) gzip).error().status()).isEqualTo(415);
    refused(check("POST", "/v22.0/" + PNID + "/messages", "ba%00tch=1"), 403, "parameter");
    refused(check("POST", "/v22.0/" + PNID + "/messages", "batch%00=1"), 403, "batch");
  }

  @Test
  void aBodyIsReadTheWaysGraphMayReadIt() {
    byte[] both = "{\"text\":\"x&batch=1&\"}".getBytes(StandardCharsets.UTF_8);
    assertThat(((Outcome.Ok<Parameters>) BodyParameters.of(both, "application/json")).value().names()).containsExactly("text");
    assertThat(((Outcome.Ok<Parameters>) BodyParameters.of(both, "text/plain")).value().names()).contains("text", "batch");
    assertThat(((Outcome.Ok<Parameters>) BodyParameters.of(both, null)).value().names()).contains("batch");
    refused(check(surface, "POST", "/v22.0/" + PNID + "/messages", "", null, List.of("Content-Type", "content-type")), 400, "content-type");
    refused(check(surface, "POST", "/v22.0/" + PNID, "", "[{\"method\":\"GET\",\"relative_url\":\"me\"}]", List.of()), 400, "json-body");
  }

  @Test
  void oneContentTypeAndAHeadRequestPassAndACgiStyleOverrideHeaderIsRefused() {
    assertThat(allowed(check(surface, "POST", "/v22.0/" + PNID + "/messages", "", null, List.of("Content-Type", "Accept"))))
        .isEqualTo(Surface.Target.PHONE_NUMBER);
    assertThat(allowed(check("HEAD", "/v22.0/" + PNID, ""))).isEqualTo(Surface.Target.PHONE_NUMBER);
    refused(check(surface, "GET", "/v22.0/1037543291543636", "", null, List.of("X_HTTP_METHOD_OVERRIDE")), 403, "method-override");
    refused(check(surface, "GET", "/v22.0/1037543291543636", "", null, List.of("CONTENT-ENCODING")), 415, "content-encoding");
  }

  @Test
  void aNotInTableRefusalSaysWhatWasAsked() {
    assertThat(message(check("POST", "/v13.0/1037543291543636", "")))
        .contains("does not forward POST on this media ID (see");
    assertThat(message(check("GET", "/v13.0/" + PNID + "/messages", "")))
        .contains("does not forward GET on this phone number edge (see");
    assertThat(message(check("GET", "/v13.0/" + WABA + "/calls", "")))
        .contains("does not forward GET on this WABA edge (see");
    assertThat(message(check("GET", "/v13.0/" + PNID + "/messages/x", "")))
        .contains("does not forward GET on this phone number (see");
  }

  @Test
  void aParameterRefusalNamesTheParameterOnlyWhenItIsAPlainName() {
    assertThat(message(check("GET", "/v13.0/" + WABA + "/message_templates", "debug=all")))
        .endsWith("does not take the parameter debug.");
    assertThat(message(check("GET", "/v13.0/" + WABA + "/message_templates", "de-bug=all")))
        .endsWith("does not take the parameter sent.");
    assertThat(message(check("GET", "/v22.0/" + WABA, "fields=name,phone_numbers")))
        .contains("fields on a WABA takes its own scalar fields only (account_review_status, business_verification_status,");
    assertThat(allowed(check("GET", "/v22.0/" + WABA, "fields=ID,%20Name%20"))).isEqualTo(Surface.Target.WABA);
  }

  @Test
  void aControlCharacterIsAnyByteBelowSpaceOrDelete() {
    for (String name : List.of("a\u0001b", "a\u001fb", "a\u007fb")) {
      Parameters p = new Parameters(Set.of(name), List.of());
      refused(surface.check(GRANT, new Surface.Request("POST", GraphPathTest.ok("/v22.0/" + PNID + "/messages"), p, false, List.of())),
          403, "parameter");
    }
    Parameters spaced = new Parameters(Set.of("a b", "a~b"), List.of());
    assertThat(allowed(surface.check(GRANT,
        new Surface.Request("POST", GraphPathTest.ok("/v22.0/" + PNID + "/messages"), spaced, false, List.of()))))
        .isEqualTo(Surface.Target.PHONE_NUMBER);
  }

  @Test
  void aFieldNameTakesLettersDigitsAndUnderscoresAtTheEdgesOfTheirRanges() {
    assertThat(Surface.plainFields("a,z,0,9,_,az09_")).isTrue();
    assertThat(Surface.plainFields("id ,name")).isTrue();
    for (String bad : List.of("`", "{", "/", ":", "id,`", "a{", "id ,", "id , ")) {
      assertThat(Surface.plainFields(bad)).as(bad).isFalse();
    }
  }

  @Test
  void onlyTheWabasPhoneNumbersEdgeListsNumbersAndOnlyGetIsARead() {
    for (Surface.Rule row : Surface.TABLE) {
      assertThat(row.listsNumbers()).as(row.toString())
          .isEqualTo(row.target() == Surface.Target.WABA && row.edge().equals("phone_numbers"));
      assertThat(row.isWrite()).as(row.toString()).isEqualTo(!row.method().equals("GET"));
    }
    assertThat(Surface.TABLE.stream().filter(Surface.Rule::listsNumbers)).hasSize(1);
  }

  @Test
  void wideningSkipsEmptyEntriesAndReadsGroupNamesLoosely() {
    assertThat(Surface.parseWidening(null)).isEmpty();
    assertThat(Surface.parseWidening(" , ")).isEmpty();
    assertThat(Surface.parseWidening(",," + PNID + ": Templates-Delete ,,"))
        .isEqualTo(Map.of(PNID, Set.of(Surface.Group.TEMPLATES_DELETE)));
    assertThat(Surface.parseWidening(PNID + ":waba-admin," + PNID + ":number-admin"))
        .isEqualTo(Map.of(PNID, Set.of(Surface.Group.WABA_ADMIN, Surface.Group.NUMBER_ADMIN)));
    assertThat(Surface.Group.named(" WABA-ADMIN ")).contains(Surface.Group.WABA_ADMIN);
    for (Surface.Group g : Surface.Group.values()) {
      assertThat(Surface.Group.named(g.configName())).contains(g);
    }
    assertThat(message(check("POST", "/v22.0/" + PNID + "/register", ""))).endsWith("grant this number the group number-admin.");
    assertThatThrownBy(() -> Surface.parseWidening(":number-admin")).hasMessageContaining("<phone-number-id>:<group>");
    assertThatThrownBy(() -> Surface.parseWidening(PNID + ":+number-admin")).hasMessageContaining("unknown widening group ''");
  }

  static String message(Outcome<Surface.Allowed> o) {
    assertThat(o).isInstanceOf(Outcome.Refused.class);
    return ((Outcome.Refused<Surface.Allowed>) o).error().message();
  }
}

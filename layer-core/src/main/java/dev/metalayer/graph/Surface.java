package dev.metalayer.graph;

import dev.metalayer.keys.Grant;
import dev.metalayer.keys.Grant.Scope;
import dev.metalayer.keys.WhatsAppNumber;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The Graph surface: the one table of what a key may ask of Graph. The layer forwards only what it
 * knows to be its tenant's own business and refuses the rest with a Graph-shaped error that names the
 * rule ({@code (rule batch)}, {@code (rule not-in-table)}…). {@code docs/graph-api.md} shows this table.
 *
 * <p>A request passes when, in this order:
 *
 * <ol>
 *   <li>it carries one {@code Content-Type} at most (400, rule {@code content-type}), no {@code Content-Encoding} header (415, rule {@code content-encoding}: an encoded
 *       body would hide its parameters) and no method override header ({@code X-HTTP-Method-Override}, {@code X-HTTP-Method},
 *       {@code X-Method-Override}, case-insensitive, {@code _} read as {@code -}) and no parameter (query, form, JSON top-level field or multipart part)
 *       named {@code batch}, {@code ids}, {@code method} or {@code _method} (rules {@code batch},
 *       {@code ids}, {@code method-override}); every {@code fields} is a plain list of names
 *       ({@code a,b_c}): no {@code {…}}, {@code .as(…)}, {@code .limit(…)} or other modifier (rule
 *       {@code field-expansion}). Parameter names are compared {@linkplain Credentials#canonicalName
 *       canonically};
 *   <li>its object is a canonical numeric ID (no leading zero: Graph reads {@code 0123} as {@code 123};
 *       400, rule {@code canonical-id}) and the grant's phone number ID, the grant's WABA ID, or a media
 *       ID: a numeric ID that is no registered number's phone number, WABA or business ID (rule
 *       {@code foreign-object});
 *   <li>the table has a row for its target kind, method and edge (rule {@code not-in-table}), whose
 *       widening group, if any, the operator granted to the number (rule {@code widening});
 *   <li>a write on a WABA that several registered numbers share needs the group
 *       {@code shared-waba-writes} (rule {@code shared-waba});
 *   <li>every parameter is one the row takes, and {@code fields} on the WABA node names only its scalar
 *       fields, never {@code phone_numbers} (rule {@code parameter}); a multipart body only on a row
 *       that takes parts (rule {@code multipart-route}), whose part names {@link MultipartParts} checks
 *       as the body streams.
 * </ol>
 *
 * Widening is per number and set by the operator in configuration ({@link Group}), never per request.
 * Pure and thread-safe.
 */
public final class Surface {

  /** What an allowed request addresses. */
  public enum Target {
    PHONE_NUMBER,
    WABA,
    MEDIA
  }

  /** Rows of the table an operator may grant to a number (in configuration); none is granted by default. */
  public enum Group {
    /** {@code register}, {@code deregister}, {@code request_code}, {@code verify_code} and writes to the number node (two-step PIN). */
    NUMBER_ADMIN("number-admin"),
    /** {@code subscribed_apps} (webhook override) and {@code assigned_users} on the WABA. */
    WABA_ADMIN("waba-admin"),
    /** {@code DELETE /{waba}/message_templates}. */
    TEMPLATES_DELETE("templates-delete"),
    /** Any WABA write (template creation included) when several registered numbers share the WABA. */
    SHARED_WABA_WRITES("shared-waba-writes");

    private final String configName;

    Group(String configName) {
      this.configName = configName;
    }

    /** The name in configuration, e.g. {@code templates-delete}. */
    public String configName() {
      return configName;
    }

    public static Optional<Group> named(String name) {
      return Arrays.stream(values()).filter(g -> g.configName.equals(name.trim().toLowerCase(Locale.ROOT))).findFirst();
    }
  }

  /**
   * What the surface must know of the registered numbers. The default is built on
   * {@link dev.metalayer.keys.KeyService}; embedders with their own {@link dev.metalayer.keys.TokenResolver}
   * supply theirs.
   */
  public interface Registry {
    /** Whether {@code id} (canonical) is an object of a registered number other than the grant's own phone number and WABA. */
    boolean registeredElsewhere(String id);

    /** Whether more than one registered number uses the WABA {@code wabaId}. */
    boolean wabaShared(String wabaId);
  }

  /** Parameters every read takes (paging and field selection). */
  static final Set<String> READ = Set.of("fields", "limit", "after", "before", "pretty", "summary");
  /** A row whose parameters are the content the tenant writes (a message, a template): any name but the refused ones. */
  static final Set<String> CONTENT = Set.of("*");

  /**
   * One row of the table.
   *
   * @param edge the one edge after the object, {@code ""} for the object itself
   * @param params the parameter names taken, or {@link #CONTENT}
   * @param parts the multipart part names taken; empty: no multipart body
   * @param needs the widening group the number must have been granted, if any
   * @param scope the {@link Scope} the key must hold, if any (a plain read of the number or its WABA needs none)
   */
  public record Rule(Target target, String method, String edge, Set<String> params, Set<String> parts, Optional<Group> needs,
      Optional<Scope> scope) {
    /** Whether this row's answer is a list of the WABA's numbers, filtered to the key's own. */
    public boolean listsNumbers() {
      return target == Target.WABA && edge.equals("phone_numbers");
    }

    boolean isWrite() {
      return !method.equals("GET");
    }
  }

  /** A row any key may use. */
  private static Rule open(Target target, String method, String edge, Set<String> params) {
    return new Rule(target, method, edge, params, Set.of(), Optional.empty(), Optional.empty());
  }

  private static Rule rule(Target target, String method, String edge, Set<String> params, Scope scope) {
    return new Rule(target, method, edge, params, Set.of(), Optional.empty(), Optional.of(scope));
  }

  private static Rule rule(Target target, String method, String edge, Set<String> params, Scope scope, Group needs) {
    return new Rule(target, method, edge, params, Set.of(), Optional.of(needs), Optional.of(scope));
  }

  private static Set<String> read(String... more) {
    return java.util.stream.Stream.concat(READ.stream(), Arrays.stream(more)).collect(Collectors.toUnmodifiableSet());
  }

  /** Scalar fields of a WABA node a key may read ({@code phone_numbers} and other edges are not fields here). */
  static final Set<String> WABA_FIELDS =
      Set.of("id", "name", "currency", "timezone_id", "message_template_namespace", "account_review_status",
          "business_verification_status", "country", "ownership_type", "status", "health_status",
          "is_enabled_for_insights", "primary_business_location", "marketing_messages_lite_api_status");

  /**
   * The table. Each row names the {@link Scope} a key needs for it: {@code messages} to send, {@code media}
   * for uploads and media IDs (and the layer's download route, {@link #mediaDownload}), {@code calls} for
   * call actions and permissions, {@code templates} for the WABA's templates, {@code settings} for
   * everything that changes or reads the number's configuration (settings, business profile,
   * conversational automation, and the rows of the widening groups, which administer the number or the
   * WABA). Reading the number node, the WABA node and the WABA's {@code phone_numbers} needs no scope:
   * it shows what the key acts for (helpdesks read it to check a key).
   */
  public static final List<Rule> TABLE =
      List.of(
          // the number
          open(Target.PHONE_NUMBER, "GET", "", READ),
          rule(Target.PHONE_NUMBER, "POST", "messages", CONTENT, Scope.MESSAGES),
          new Rule(Target.PHONE_NUMBER, "POST", "media", Set.of("messaging_product", "type"),
              Set.of("messaging_product", "file", "type"), Optional.empty(), Optional.of(Scope.MEDIA)),
          rule(Target.PHONE_NUMBER, "POST", "calls", CONTENT, Scope.CALLS),
          rule(Target.PHONE_NUMBER, "GET", "call_permissions", read("user_wa_id"), Scope.CALLS),
          rule(Target.PHONE_NUMBER, "GET", "settings", read("include_sip_credentials"), Scope.SETTINGS),
          rule(Target.PHONE_NUMBER, "POST", "settings", CONTENT, Scope.SETTINGS),
          rule(Target.PHONE_NUMBER, "GET", "whatsapp_business_profile", READ, Scope.SETTINGS),
          rule(Target.PHONE_NUMBER, "POST", "whatsapp_business_profile", CONTENT, Scope.SETTINGS),
          rule(Target.PHONE_NUMBER, "GET", "conversational_automation", READ, Scope.SETTINGS),
          rule(Target.PHONE_NUMBER, "POST", "conversational_automation", CONTENT, Scope.SETTINGS),
          rule(Target.PHONE_NUMBER, "POST", "", CONTENT, Scope.SETTINGS, Group.NUMBER_ADMIN),
          rule(Target.PHONE_NUMBER, "POST", "register", CONTENT, Scope.SETTINGS, Group.NUMBER_ADMIN),
          rule(Target.PHONE_NUMBER, "POST", "deregister", CONTENT, Scope.SETTINGS, Group.NUMBER_ADMIN),
          rule(Target.PHONE_NUMBER, "POST", "request_code", CONTENT, Scope.SETTINGS, Group.NUMBER_ADMIN),
          rule(Target.PHONE_NUMBER, "POST", "verify_code", CONTENT, Scope.SETTINGS, Group.NUMBER_ADMIN),
          // the WABA
          open(Target.WABA, "GET", "", READ),
          rule(Target.WABA, "GET", "message_templates",
              read("name", "status", "category", "language", "content", "name_or_content", "quality_score"), Scope.TEMPLATES),
          rule(Target.WABA, "POST", "message_templates", CONTENT, Scope.TEMPLATES),
          rule(Target.WABA, "DELETE", "message_templates", Set.of("name", "hsm_id"), Scope.TEMPLATES, Group.TEMPLATES_DELETE),
          // no paging: the answer keeps only the key's own number, and pages would count the others
          open(Target.WABA, "GET", "phone_numbers", Set.of("fields", "pretty")),
          rule(Target.WABA, "GET", "subscribed_apps", READ, Scope.SETTINGS, Group.WABA_ADMIN),
          rule(Target.WABA, "POST", "subscribed_apps", CONTENT, Scope.SETTINGS, Group.WABA_ADMIN),
          rule(Target.WABA, "DELETE", "subscribed_apps", Set.of(), Scope.SETTINGS, Group.WABA_ADMIN),
          rule(Target.WABA, "GET", "assigned_users", read("business"), Scope.SETTINGS, Group.WABA_ADMIN),
          rule(Target.WABA, "POST", "assigned_users", CONTENT, Scope.SETTINGS, Group.WABA_ADMIN),
          rule(Target.WABA, "DELETE", "assigned_users", Set.of("user"), Scope.SETTINGS, Group.WABA_ADMIN),
          // a media ID (only its method goes upstream: the query is replaced by phone_number_id)
          rule(Target.MEDIA, "GET", "", READ, Scope.MEDIA),
          rule(Target.MEDIA, "DELETE", "", READ, Scope.MEDIA));

  /** The edges the table names: the route classes of metrics, besides {@code node}, {@code other} and {@code invalid}. */
  private static final Set<String> EDGES = TABLE.stream().map(Rule::edge).filter(e -> !e.isEmpty())
      .collect(Collectors.toUnmodifiableSet());

  /**
   * The route class of a Graph path (after the prefix): its one edge when the table names it
   * ({@code messages}, {@code media}, {@code settings}…), {@code node} for an object itself, {@code other}
   * for any other path, {@code invalid} for one {@link GraphPath#parse} refuses. A bounded label: never
   * an ID or any other text of the client's.
   */
  static String routeClass(String path) {
    if (!(GraphPath.parse(path) instanceof Outcome.Ok<GraphPath> ok)) {
      return "invalid";
    }
    List<String> edges = ok.value().edges();
    if (edges.isEmpty()) {
      return "node";
    }
    return edges.size() == 1 && EDGES.contains(edges.get(0)) ? edges.get(0) : "other";
  }

  /** The row whose scope the layer's media download route ({@code /media/{id}/download}) needs: reading a media ID. */
  private static final Rule MEDIA_DOWNLOAD_ROW = TABLE.stream()
      .filter(r -> r.target() == Target.MEDIA && r.method().equals("GET")).findFirst().orElseThrow();

  private static final Set<String> OVERRIDE_HEADERS = Set.of("x-http-method-override", "x-http-method", "x-method-override");
  private static final Pattern CANONICAL_ID = Pattern.compile("[1-9][0-9]{0,31}");
  private static final Pattern NAMEABLE = Pattern.compile("[a-z0-9_]{1,40}");

  private final Registry registry;
  private final Map<String, Set<Group>> widened;

  /**
   * @param widened the groups granted per phone number ID (canonical); numbers absent get none
   */
  Surface(Registry registry, Map<String, Set<Group>> widened) {
    this.registry = Objects.requireNonNull(registry, "registry");
    this.widened = Map.copyOf(widened);
  }

  /** A surface with no widening. */
  Surface(Registry registry) {
    this(registry, Map.of());
  }

  /** What the surface checks of one request. */
  record Request(String method, GraphPath path, Parameters parameters, boolean multipart, Collection<String> headerNames) {}

  /** An allowed request: what it addresses and the row that allowed it. */
  record Allowed(Target target, Rule rule) {}

  Outcome<Allowed> check(Grant grant, Request request) {
    int contentTypes = 0;
    for (String header : request.headerNames()) {
      String h = header.toLowerCase(Locale.ROOT);
      if (h.equals("content-type") && ++contentTypes > 1) {
        // the layer and Graph could read the body as different types
        return Outcome.refused(GraphError.invalidParameter("(rule content-type) A request may carry one Content-Type."));
      }
      if (OVERRIDE_HEADERS.contains(h.replace('_', '-'))) {
        // X_HTTP_METHOD_OVERRIDE too: a CGI-style server reads it as the same header
        return refuse("method-override", "Method override headers are refused: send the method itself.");
      }
      if (h.equals("content-encoding")) {
        // a compressed body hides its parameters from every check here, not from Graph
        return Outcome.refused(GraphError.of(415, 100, "OAuthException",
            "(rule content-encoding) A request body must not be encoded (Content-Encoding)."));
      }
    }
    Parameters parameters = request.parameters();
    Set<String> names = parameters.names();
    for (String name : names) {
      if (name.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
        return refuse("parameter", "A parameter name contains a control character.");
      }
    }
    if (names.contains("batch")) {
      return refuse("batch", "Batch requests are not forwarded: send each request on its own.");
    }
    if (names.contains("ids")) {
      return refuse("ids", "Multi-object reads (ids) are not forwarded.");
    }
    if (names.contains("method") || names.contains("_method")) {
      return refuse("method-override", "Method override parameters are refused: send the method itself.");
    }
    for (String fields : parameters.fields()) {
      if (!plainFields(fields.toLowerCase(Locale.ROOT))) {
        return refuse("field-expansion", "fields takes a plain list of field names: no expansion ({…}), alias (.as) or modifier.");
      }
    }
    GraphPath path = request.path();
    String object = path.object();
    if (WhatsAppNumber.isGraphId(object) && !CANONICAL_ID.matcher(object).matches()) {
      return Outcome.refused(GraphError.invalidParameter("(rule canonical-id) An object ID may not start with 0."));
    }
    Optional<Target> target = target(grant, object);
    if (target.isEmpty()) {
      return refuse("foreign-object", "This key may only address its own phone number, WABA and media.");
    }
    String method = request.method().equals("HEAD") ? "GET" : request.method();
    String edge = path.edges().isEmpty() ? "" : path.edges().size() == 1 ? path.edges().get(0) : null;
    Optional<Rule> row =
        TABLE.stream()
            .filter(r -> r.target() == target.get() && r.method().equals(method) && r.edge().equals(edge))
            .findFirst();
    if (row.isEmpty()) {
      return refuse("not-in-table", "The layer does not forward " + method + " on this " + describe(target.get())
          + (edge == null || edge.isEmpty() ? "" : " edge") + " (see the Graph surface in docs/graph-api.md).");
    }
    Rule rule = row.get();
    if (rule.scope().isPresent()) {
      Optional<GraphError> lacking = lacking(grant, rule.scope().get());
      if (lacking.isPresent()) {
        return Outcome.refused(lacking.get());
      }
    }
    String pnid = grant.number().phoneNumberId();
    Set<Group> granted = widened.getOrDefault(canonical(pnid), Set.of());
    if (rule.needs().isPresent() && !granted.contains(rule.needs().get())) {
      return refuse("widening", "This operation needs the operator to grant this number the group "
          + rule.needs().get().configName() + ".");
    }
    if (rule.target() == Target.WABA && rule.isWrite() && registry.wabaShared(grant.number().wabaId())
        && !granted.contains(Group.SHARED_WABA_WRITES)) {
      return refuse("shared-waba", "This WABA is shared by several numbers: its writes need the operator to grant this"
          + " number the group " + Group.SHARED_WABA_WRITES.configName() + ".");
    }
    if (!rule.params().equals(CONTENT)) {
      for (String name : names) {
        if (!rule.params().contains(name)) {
          return refuse("parameter", "This route does not take the parameter "
              + (NAMEABLE.matcher(name).matches() ? name : "sent") + ".");
        }
      }
    }
    if (rule.target() == Target.WABA && rule.edge().isEmpty()) {
      for (String fields : parameters.fields()) {
        for (String field : fields.toLowerCase(Locale.ROOT).split(",")) {
          if (!WABA_FIELDS.contains(field.trim())) {
            return refuse("parameter", "fields on a WABA takes its own scalar fields only ("
                + String.join(", ", new java.util.TreeSet<>(WABA_FIELDS)) + ").");
          }
        }
      }
    }
    if (request.multipart() && rule.parts().isEmpty()) {
      return refuse("multipart-route", "This route takes no multipart body.");
    }
    return Outcome.ok(new Allowed(target.get(), rule));
  }

  /**
   * Whether {@code grant} may download the media {@code id} through the layer's media download route: the
   * ID must be one it may address as media (else 403, {@code (#200) This key may not download this media.}),
   * and the key must hold the scope of reading a media ID (else 403, rule {@code scope}).
   *
   * @return the refusal, or empty when the download may go on
   */
  Optional<GraphError> mediaDownload(Grant grant, String id) {
    if (!CANONICAL_ID.matcher(id).matches() || target(grant, id).orElse(null) != Target.MEDIA) {
      return Optional.of(GraphError.outOfScope("(#200) This key may not download this media."));
    }
    return lacking(grant, MEDIA_DOWNLOAD_ROW.scope().orElseThrow());
  }

  /**
   * The rule of key scopes, for every route of the layer: the Graph surface's rows, the media download
   * route, and the layer's own APIs ({@code /v1/webhooks} needs {@link Scope#WEBHOOKS}, {@code /v1/calls}
   * {@link Scope#CALLS}). A key without {@code scope} gets a 403, code 200, naming the scope it lacks:
   * {@code (#200) (rule scope) This key lacks the scope calls (…).} Nothing must be sent or changed for it.
   *
   * @return the refusal to answer, or empty when the key holds {@code scope}
   */
  public static Optional<GraphError> lacking(Grant grant, Scope scope) {
    return grant.has(scope) ? Optional.empty() : Optional.of(refusal("scope", "This key lacks the scope "
        + scope.wireName() + " (the operator sets a key's scopes when creating it)."));
  }

  private Optional<Target> target(Grant grant, String object) {
    if (!CANONICAL_ID.matcher(object).matches()) {
      return Optional.empty();
    }
    WhatsAppNumber number = grant.number();
    if (object.equals(canonical(number.phoneNumberId()))) {
      return Optional.of(Target.PHONE_NUMBER);
    }
    if (object.equals(canonical(number.wabaId()))) {
      return Optional.of(Target.WABA);
    }
    if (object.equals(canonical(number.businessId())) || registry.registeredElsewhere(object)) {
      return Optional.empty();
    }
    return Optional.of(Target.MEDIA);
  }

  private static String describe(Target target) {
    return switch (target) {
      case PHONE_NUMBER -> "phone number";
      case WABA -> "WABA";
      case MEDIA -> "media ID";
    };
  }

  /**
   * Whether {@code fields} (lower case) is a plain list of field names: names of {@code [a-z0-9_]},
   * separated by commas, with spaces around them allowed. One pass over the text, in constant stack
   * (a regular expression with a repeated group recursed per name, and a list of 2,000 names
   * overflowed the stack).
   */
  static boolean plainFields(String fields) {
    boolean inName = false;
    boolean nameEnded = false;
    boolean any = false;
    for (int i = 0; i < fields.length(); i++) {
      char c = fields.charAt(i);
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
        if (nameEnded) {
          return false; // two names with only spaces between them
        }
        inName = true;
        any = true;
      } else if (c == ' ') {
        nameEnded = inName;
      } else if (c == ',') {
        if (!inName && !nameEnded) {
          return false; // an empty name
        }
        inName = false;
        nameEnded = false;
      } else {
        return false;
      }
    }
    return any && (inName || nameEnded);
  }

  /** A numeric ID without leading zeros, as Graph reads it ({@code "0"} stays {@code "0"}). */
  public static String canonical(String id) {
    return WhatsAppNumber.canonicalId(id);
  }

  /**
   * Parses the operator's widening: {@code <phone-number-id>:<group>+<group>,…}, e.g.
   * {@code 106540352242922:templates-delete+number-admin}. Blank means none.
   *
   * @throws IllegalArgumentException naming the entry that is not valid
   */
  public static Map<String, Set<Group>> parseWidening(String value) {
    Map<String, Set<Group>> out = new java.util.HashMap<>();
    if (value == null || value.isBlank()) {
      return Map.of();
    }
    for (String entry : value.split(",")) {
      String e = entry.trim();
      if (e.isEmpty()) {
        continue;
      }
      int colon = e.indexOf(':');
      String id = colon < 0 ? "" : e.substring(0, colon).trim();
      if (!WhatsAppNumber.isGraphId(id)) {
        throw new IllegalArgumentException(
            "widening entry '" + e + "' must be <phone-number-id>:<group>[+<group>…]");
      }
      java.util.EnumSet<Group> groups = java.util.EnumSet.noneOf(Group.class);
      for (String g : e.substring(colon + 1).split("\\+")) {
        groups.add(Group.named(g).orElseThrow(() -> new IllegalArgumentException(
            "unknown widening group '" + g.trim() + "'; known: "
                + Arrays.stream(Group.values()).map(Group::configName).collect(Collectors.joining(", ")))));
      }
      out.computeIfAbsent(canonical(id), k -> java.util.EnumSet.noneOf(Group.class)).addAll(groups);
    }
    return Map.copyOf(out);
  }

  /** The 403 (code 200) of a surface rule; the message names the rule. */
  static GraphError refusal(String rule, String why) {
    return GraphError.outOfScope("(#200) (rule " + rule + ") " + why);
  }

  private static <T> Outcome<T> refuse(String rule, String why) {
    return Outcome.refused(refusal(rule, why));
  }
}

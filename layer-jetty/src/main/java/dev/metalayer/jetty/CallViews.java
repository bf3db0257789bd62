package dev.metalayer.jetty;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.metalayer.MetaLayer;
import dev.metalayer.calls.CallStore;
import dev.metalayer.calls.CallStore.CallRecord;
import dev.metalayer.calls.CallStore.DeliveryEntry;
import dev.metalayer.calls.CallStore.Direction;
import dev.metalayer.calls.CallStore.Event;
import dev.metalayer.calls.CallStore.Limit;
import dev.metalayer.calls.CallStore.State;
import dev.metalayer.calls.CallStore.Transition;
import dev.metalayer.calls.Calls;
import dev.metalayer.graph.GraphError;
import dev.metalayer.json.Json;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reads of call records ({@code docs/calls.md}, "The API"), for a number's key on {@code /v1/calls}
 * ({@link CallsHandler}) and for the operator under {@code /admin/v1} ({@link AdminHandler}): the one
 * reader of their query ({@code state}, {@code direction}, {@code since}, {@code until}, {@code limit},
 * {@code after}) and the one JSON shape of a call, its timeline, deliveries and remembered refusals. A
 * bad parameter is a Graph-shaped 400 that names the parameter, never echoes its value. Never holds a
 * secret or an SDP (the records hold none).
 */
final class CallViews {
  private static final Logger log = LoggerFactory.getLogger(CallViews.class);
  static final int DEFAULT_LIMIT = 50;
  static final int MAX_LIMIT = 200;
  /** The longest call ID the layer records; a longer one is refused before the store is asked. */
  static final int MAX_WACID = Calls.MAX_CALL_ID;
  static final int MAX_CURSOR = 512;
  private static final Pattern WACID = Pattern.compile("[A-Za-z0-9._:=+/-]{1," + MAX_WACID + "}");
  private static final Pattern CURSOR = Pattern.compile("[\\x21-\\x7e]{1," + MAX_CURSOR + "}");
  private static final Pattern UNIX_SECONDS = Pattern.compile("[0-9]{1,11}");
  private static final Pattern PHONE_NUMBER_ID = Pattern.compile("[0-9]{1,32}");
  private static final Set<String> LIST_PARAMETERS = Set.of("state", "direction", "since", "until", "limit", "after");

  static final String BAD_STATE =
      "state must be one or more of ringing, pre_accepted, accepted, rejected, terminated, expired (repeated or comma-separated).";
  static final String BAD_DIRECTION = "direction must be user_initiated or business_initiated.";
  static final String BAD_LIMIT = "limit must be a number from 1 to " + MAX_LIMIT + ".";
  static final String BAD_CURSOR = "after must be the cursor of a previous page (paging.cursors.after).";
  static final String BAD_WACID = "Not a call ID.";
  static final String NO_CALL = "No such call.";
  static final String BAD_PHONE_NUMBER_ID = "phone_number_id must be a phone number ID (digits).";

  private final MetaLayer layer;

  /** @param layer the layer whose {@link MetaLayer#calls()} answers, asked on each request */
  CallViews(MetaLayer layer) {
    this.layer = layer;
  }

  // ---- the reads

  /**
   * Answers a page of calls, newest first: {@code {"data":[…],"paging":{"cursors":{"after"},"next"}}}
   * ({@code paging} only when there is a next page).
   *
   * @param phoneNumberId the one number, or empty for every number (the operator's view)
   * @param path the path the next page is read at
   * @param extra parameters the next page repeats besides the query's own ({@code phone_number_id})
   */
  void list(Optional<String> phoneNumberId, Request request, Set<String> allowed, String path, Map<String, String> extra,
      Response response, Callback callback) {
    Optional<CallStore.Query> query = query(phoneNumberId, request, allowed, response, callback);
    if (query.isEmpty()) {
      return;
    }
    Calls calls = layer.calls();
    CallStore.Page page;
    try {
      page = calls.list(query.get());
    } catch (IllegalArgumentException notACursor) {
      // the store reads the cursor it made; anything else (another list's, a forged one) is the client's mistake
      HttpIo.writeError(response, callback, GraphError.invalidParameter(BAD_CURSOR));
      return;
    }
    // the calls of one user share their refusals: read once a page
    Map<List<Object>, List<Limit>> remembered = new HashMap<>();
    List<Map<String, Object>> data = new ArrayList<>();
    for (CallRecord r : page.calls()) {
      data.add(call(r, remembered.computeIfAbsent(List.of(r.phoneNumberId(), r.userWaId()), k -> calls.remembered(r))));
    }
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("data", data);
    page.next().ifPresent(after -> {
      Map<String, Object> paging = new LinkedHashMap<>();
      paging.put("cursors", Map.of("after", after));
      paging.put("next", nextUrl(path, query.get(), extra, after));
      body.put("paging", paging);
    });
    HttpIo.writeJson(response, callback, 200, body);
  }

  /** Answers one call of {@code phoneNumberId} with its timeline, deliveries and refusals in force; 404 when it has none by that ID. */
  void one(String phoneNumberId, String wacid, Response response, Callback callback) {
    Optional<Calls.View> view = layer.calls().view(phoneNumberId, wacid);
    if (view.isEmpty()) {
      HttpIo.writeError(response, callback, GraphError.notFound(NO_CALL));
      return;
    }
    HttpIo.writeJson(response, callback, 200, view(view.get()));
  }

  // ---- the operator's reads (admin token), on /admin/v1 and /v1/calls alike, each logged at INFO

  /**
   * Answers the calls of every number, or of the number {@code phone_number_id} names (400 when it is
   * no phone number ID), for the admin token.
   *
   * @param path the path the next page is read at
   */
  void listForOperator(Request request, String path, Response response, Callback callback) {
    Optional<String> number = HttpIo.queryParameter(request, "phone_number_id");
    if (number.isPresent() && !phoneNumberId(number.get())) {
      HttpIo.writeError(response, callback, GraphError.invalidParameter(BAD_PHONE_NUMBER_ID));
      return;
    }
    Set<String> allowed = new java.util.HashSet<>(LIST_PARAMETERS);
    allowed.add("phone_number_id");
    log.info("Admin token: read the calls of {}", number.map(n -> "phone number ID " + n).orElse("every number"));
    list(number, request, allowed, path, number.map(n -> Map.of("phone_number_id", n)).orElse(Map.of()), response, callback);
  }

  /** Answers the calls of one number (a phone number ID), for the admin token. */
  void listForOperator(String phoneNumberId, Request request, String path, Response response, Callback callback) {
    log.info("Admin token: read the calls of phone number ID {}", phoneNumberId);
    list(Optional.of(phoneNumberId), request, LIST_PARAMETERS, path, Map.of(), response, callback);
  }

  /** Answers one call of a number (a phone number ID), for the admin token; 400 for a path rest that is no call ID. */
  void oneForOperator(String phoneNumberId, List<String> wacidSegments, Response response, Callback callback) {
    Optional<String> wacid = wacid(wacidSegments);
    if (wacid.isEmpty()) {
      HttpIo.writeError(response, callback, GraphError.invalidParameter(BAD_WACID));
      return;
    }
    log.info("Admin token: read call {} of phone number ID {}", wacid.get(), phoneNumberId);
    one(phoneNumberId, wacid.get(), response, callback);
  }

  /** The call ID of a path's rest (a call ID may hold a {@code /}: Meta's are base64), or empty when it is not one. */
  static Optional<String> wacid(List<String> segments) {
    String wacid = String.join("/", segments);
    return WACID.matcher(wacid).matches() ? Optional.of(wacid) : Optional.empty();
  }

  /** Whether {@code id} looks like a phone number ID (digits), for the operator's {@code phone_number_id}. */
  static boolean phoneNumberId(String id) {
    return PHONE_NUMBER_ID.matcher(id).matches();
  }

  // ---- the query

  /** The parameters of a list, {@code allowed} naming those it takes; answers 400 itself and returns empty on a bad one. */
  static Optional<CallStore.Query> query(Optional<String> phoneNumberId, Request request, Set<String> allowed,
      Response response, Callback callback) {
    Optional<String> problem = Optional.empty();
    Fields fields;
    try {
      fields = Request.extractQueryParameters(request, StandardCharsets.UTF_8);
    } catch (RuntimeException malformed) { // a bad %-escape or a query Jetty will not read
      HttpIo.writeError(response, callback, GraphError.invalidParameter("The query string is malformed."));
      return Optional.empty();
    }
    for (Fields.Field f : fields) {
      if (!allowed.contains(f.getName())) {
        problem = Optional.of("Unknown parameter: the calls list takes " + allowed.stream().sorted()
            .collect(Collectors.joining(", ")) + ".");
      } else if (!f.getName().equals("state") && f.getValues().size() > 1) {
        problem = Optional.of(f.getName() + " is given more than once.");
      }
      if (problem.isPresent()) {
        HttpIo.writeError(response, callback, GraphError.invalidParameter(problem.get()));
        return Optional.empty();
      }
    }
    Set<State> states = EnumSet.noneOf(State.class);
    Fields.Field stateField = fields.get("state");
    if (stateField != null) {
      for (String value : stateField.getValues()) {
        for (String one : value.split(",", -1)) {
          Optional<State> state = wire(State.values(), one.trim());
          if (state.isEmpty()) {
            return refuse(BAD_STATE, response, callback);
          }
          states.add(state.get());
        }
      }
    }
    Optional<Direction> direction = Optional.empty();
    String d = fields.getValue("direction");
    if (d != null) {
      direction = wire(Direction.values(), d.trim());
      if (direction.isEmpty()) {
        return refuse(BAD_DIRECTION, response, callback);
      }
    }
    Optional<Instant> since = Optional.empty();
    Optional<Instant> until = Optional.empty();
    try {
      since = Optional.ofNullable(fields.getValue("since")).map(CallViews::time);
    } catch (IllegalArgumentException e) {
      return refuse("since " + TIME, response, callback);
    }
    try {
      until = Optional.ofNullable(fields.getValue("until")).map(CallViews::time);
    } catch (IllegalArgumentException e) {
      return refuse("until " + TIME, response, callback);
    }
    if (since.isPresent() && until.isPresent() && since.get().isAfter(until.get())) {
      return refuse("since must not be after until.", response, callback);
    }
    int limit = DEFAULT_LIMIT;
    String l = fields.getValue("limit");
    if (l != null) {
      if (!l.matches("[0-9]{1,3}") || Integer.parseInt(l) < 1 || Integer.parseInt(l) > MAX_LIMIT) {
        return refuse(BAD_LIMIT, response, callback);
      }
      limit = Integer.parseInt(l);
    }
    Optional<String> after = Optional.ofNullable(fields.getValue("after"));
    if (after.isPresent() && !CURSOR.matcher(after.get()).matches()) {
      return refuse(BAD_CURSOR, response, callback);
    }
    return Optional.of(new CallStore.Query(phoneNumberId, states, direction, since, until, after, limit));
  }

  static final String TIME = "must be an RFC 3339 time (2026-12-01T09:30:00Z) or Unix seconds (1796117400).";

  /**
   * A time of a query: RFC 3339 with an offset ({@code 2026-12-01T09:30:00Z}, {@code …+01:00}) or Unix
   * seconds ({@code 1796117400}).
   *
   * @throws IllegalArgumentException when it is neither
   */
  static Instant time(String value) {
    String v = value.trim();
    if (UNIX_SECONDS.matcher(v).matches()) {
      return Instant.ofEpochSecond(Long.parseLong(v));
    }
    if (v.length() > 40) {
      throw new IllegalArgumentException("not a time");
    }
    try {
      return OffsetDateTime.parse(v, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException("not a time", e);
    }
  }

  private static <T> Optional<T> refuse(String message, Response response, Callback callback) {
    HttpIo.writeError(response, callback, GraphError.invalidParameter(message));
    return Optional.empty();
  }

  /** The value whose wire name (or Meta's upper-case name) is {@code text}; no other spelling. */
  private static <E extends Enum<E>> Optional<E> wire(E[] values, String text) {
    for (E e : values) {
      if (e.name().equals(text) || e.name().toLowerCase(java.util.Locale.ROOT).equals(text)) {
        return Optional.of(e);
      }
    }
    return Optional.empty();
  }

  /** The parameters of a list without {@code phone_number_id}. */
  static Set<String> listParameters() {
    return LIST_PARAMETERS;
  }

  private String nextUrl(String path, CallStore.Query q, Map<String, String> extra, String after) {
    StringBuilder query = new StringBuilder();
    extra.forEach((name, value) -> append(query, name, value));
    if (!q.states().isEmpty()) {
      append(query, "state", q.states().stream().map(State::wire).collect(Collectors.joining(",")));
    }
    q.direction().ifPresent(d -> append(query, "direction", d.wire()));
    q.since().ifPresent(t -> append(query, "since", t.toString()));
    q.until().ifPresent(t -> append(query, "until", t.toString()));
    append(query, "limit", Integer.toString(q.limit()));
    append(query, "after", after);
    Optional<URI> base = layer.graphProxy().settings().publicUrl();
    String prefix = base.map(u -> u.toString().replaceAll("/+$", "")).orElse("");
    return prefix + path + "?" + query;
  }

  private static void append(StringBuilder query, String name, String value) {
    if (query.length() > 0) {
      query.append('&');
    }
    query.append(name).append('=').append(URLEncoder.encode(value, StandardCharsets.UTF_8));
  }

  // ---- the JSON shapes

  /** A call as the list and the one-call answer show it. */
  static Map<String, Object> call(CallRecord r, List<Limit> remembered) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("wacid", r.wacid());
    m.put("phone_number_id", r.phoneNumberId());
    m.put("direction", r.direction().map(Direction::wire).orElse(null));
    m.put("user_wa_id", r.userWaId().orElse(null));
    m.put("state", r.state().wire());
    m.put("answered_by", r.answeredBy().orElse(null));
    m.put("terminate_status", r.terminateStatus().orElse(null));
    m.put("duration_seconds", r.durationSeconds().orElse(null));
    m.put("start_time", r.startTime().map(Instant::toString).orElse(null));
    m.put("end_time", r.endTime().map(Instant::toString).orElse(null));
    m.put("last_error", r.lastError().map(CallViews::json).orElse(null));
    m.put("created_at", r.createdAt().toString());
    m.put("updated_at", r.updatedAt().toString());
    m.put("state_changes", r.stateChanges().stream().map(CallViews::transition).toList());
    m.put("remembered", remembered.stream().map(CallViews::limit).toList());
    return m;
  }

  /** One call with its timeline and deliveries: {@code GET /v1/calls/{wacid}}. */
  static Map<String, Object> view(Calls.View v) {
    Map<String, Object> m = call(v.call(), v.remembered());
    m.put("timeline", v.timeline().stream().map(CallViews::event).toList());
    m.put("deliveries", v.deliveries().stream().map(CallViews::delivery).toList());
    return m;
  }

  private static Map<String, Object> transition(Transition t) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("state", t.state().wire());
    m.put("at", t.at().toString());
    m.put("actor", t.actor());
    return m;
  }

  private static Map<String, Object> event(Event e) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("at", e.at().toString());
    m.put("source", e.source().wire());
    m.put("actor", e.actor());
    m.put("name", e.name());
    m.put("direction", e.direction().map(Direction::wire).orElse(null));
    m.put("user_wa_id", e.userWaId().orElse(null));
    m.put("http_status", e.httpStatus().isPresent() ? e.httpStatus().getAsInt() : null);
    m.put("detail", e.detail().map(CallViews::json).orElse(null));
    return m;
  }

  private static Map<String, Object> delivery(DeliveryEntry d) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", d.deliveryId());
    m.put("subscription_id", d.subscriptionId());
    m.put("field", d.field());
    m.put("state", d.state());
    m.put("attempt_count", d.attempts());
    m.put("created_at", d.createdAt().toString());
    m.put("last_attempt_at", d.lastAttemptAt().map(Instant::toString).orElse(null));
    return m;
  }

  private static Map<String, Object> limit(Limit l) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("kind", l.kind());
    m.put("user_wa_id", l.userWaId());
    m.put("code", l.code());
    m.put("http_status", l.httpStatus());
    m.put("answer", json(l.answer()));
    m.put("at", l.at().toString());
    m.put("until", l.until().toString());
    return m;
  }

  /** A JSON text the store kept, as JSON in the answer (as text when it does not parse). */
  private static Object json(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (JsonProcessingException e) {
      return text;
    }
  }
}

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
import dev.metalayer.graph.Outcome;
import dev.metalayer.json.Json;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
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
 * ({@link CallsHandler}) and for the operator under {@code /admin/v1} ({@link AdminHandler}): hands the
 * query's parameters to the core's one reader ({@link Calls#query}: a bad one is its Graph-shaped 400,
 * naming the parameter, never echoing its value) and writes the one JSON shape of a call, its timeline,
 * deliveries and remembered refusals. Never holds a secret or an SDP (the records hold none).
 */
final class CallViews {
  private static final Logger log = LoggerFactory.getLogger(CallViews.class);
  /** The longest call ID the layer records; a longer one is refused before the store is asked. */
  static final int MAX_WACID = Calls.MAX_CALL_ID;
  private static final Pattern WACID = Pattern.compile("[A-Za-z0-9._:=+/-]{1," + MAX_WACID + "}");
  private static final Pattern PHONE_NUMBER_ID = Pattern.compile("[0-9]{1,32}");

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
    Outcome<CallStore.Page> read = calls.page(query.get());
    if (read instanceof Outcome.Refused<CallStore.Page> refused) {
      HttpIo.writeError(response, callback, refused.error());
      return;
    }
    CallStore.Page page = ((Outcome.Ok<CallStore.Page>) read).value();
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
    Set<String> allowed = new java.util.HashSet<>(Calls.LIST_PARAMETERS);
    allowed.add("phone_number_id");
    log.info("Admin token: read the calls of {}", number.map(n -> "phone number ID " + n).orElse("every number"));
    list(number, request, allowed, path, number.map(n -> Map.of("phone_number_id", n)).orElse(Map.of()), response, callback);
  }

  /** Answers the calls of one number (a phone number ID), for the admin token. */
  void listForOperator(String phoneNumberId, Request request, String path, Response response, Callback callback) {
    log.info("Admin token: read the calls of phone number ID {}", phoneNumberId);
    list(Optional.of(phoneNumberId), request, Calls.LIST_PARAMETERS, path, Map.of(), response, callback);
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

  /** The parameters of a list, {@code allowed} naming those it takes (read by the core); answers 400 itself and returns empty on a bad one. */
  static Optional<CallStore.Query> query(Optional<String> phoneNumberId, Request request, Set<String> allowed,
      Response response, Callback callback) {
    Fields fields;
    try {
      fields = Request.extractQueryParameters(request, StandardCharsets.UTF_8);
    } catch (RuntimeException malformed) { // a bad %-escape or a query Jetty will not read
      HttpIo.writeError(response, callback, GraphError.invalidParameter("The query string is malformed."));
      return Optional.empty();
    }
    Map<String, List<String>> parameters = new LinkedHashMap<>();
    for (Fields.Field f : fields) {
      parameters.put(f.getName(), f.getValues());
    }
    Outcome<CallStore.Query> query = Calls.query(phoneNumberId, parameters, allowed);
    if (query instanceof Outcome.Refused<CallStore.Query> refused) {
      HttpIo.writeError(response, callback, refused.error());
      return Optional.empty();
    }
    return Optional.of(((Outcome.Ok<CallStore.Query>) query).value());
  }

  /** The parameters of a list without {@code phone_number_id}. */
  static Set<String> listParameters() {
    return Calls.LIST_PARAMETERS;
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

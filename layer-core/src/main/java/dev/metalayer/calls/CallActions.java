package dev.metalayer.calls;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.metalayer.calls.CallStore.Event;
import dev.metalayer.calls.CallStore.Limit;
import dev.metalayer.calls.CallStore.Source;
import dev.metalayer.graph.CallGuard.CallRequest;
import dev.metalayer.graph.GraphAnswer;
import dev.metalayer.graph.GraphError;
import dev.metalayer.graph.Outcome;
import dev.metalayer.json.Json;
import dev.metalayer.keys.Grant;
import dev.metalayer.log.WarnLimiter;
import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The layer's rules for the call actions and call permission requests the keys send through the Graph
 * proxy ({@link Calls#before}, {@link Calls#after}): the one answering surface per call and the
 * calling limits remembered. {@code docs/calls.md} states them for users.
 *
 * <p>One answering surface: in a number's {@code single} mode, the first key to {@code pre_accept} or
 * {@code accept} a call claims it ({@link CallStore#claimAnswering}, atomic across instances) before
 * anything is sent; another key's {@code pre_accept}, {@code accept} or {@code reject} of that call is
 * refused ({@link GraphError#answeredElsewhere()}) and never reaches Meta; {@code terminate} passes from
 * any key. When Meta itself refuses the claiming action (an error answer of Meta's) and the key had no
 * earlier {@code pre_accept} or {@code accept} of the call accepted, the claim is released, so that
 * another surface can still answer the ringing call. A failure of the layer's own (Meta not reached, no
 * answer in time) keeps the claim: Meta may have acted, and the owner may retry. In {@code any} mode
 * nothing is claimed or refused.
 *
 * <p>Every action on a call (with a {@code call_id}), sent or refused, is a timeline event: source
 * {@code action} with the status the client got and Meta's error (never an SDP), or source
 * {@code layer} named {@code refused}; actor {@code key:<key id>}. A {@code connect} answered 2xx makes
 * the call's first event ({@code connect}, business-initiated, the user of {@code to}, the WACID of
 * {@code calls[0].id}).
 *
 * <p>A store that fails is told at WARN (once a minute) and the request goes on as if the layer knew
 * nothing of calls: a call is answered within seconds or lost, and Meta enforces its own rules.
 * Thread-safe.
 */
final class CallActions {
  private static final Logger log = LoggerFactory.getLogger(CallActions.class);

  static final String SINGLE = "single";
  static final String ANY = "any";
  private static final Set<String> CLAIMING = Set.of("pre_accept", "accept");
  private static final Set<String> ON_A_CALL = Set.of("pre_accept", "accept", "reject", "terminate");
  private static final Pattern WACID = Pattern.compile("[\\x21-\\x7e]{1," + Calls.MAX_CALL_ID + "}");
  private static final byte[] PERMISSION = "call_permission_request".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  private final CallStore store;
  private final Clock clock;
  private final WarnLimiter warnings;

  CallActions(CallStore store, Clock clock) {
    this.store = store;
    this.clock = clock;
    this.warnings = new WarnLimiter(clock, WarnLimiter.MINUTE, WarnLimiter.DEFAULT_SUBJECTS);
  }

  Optional<GraphAnswer> before(Grant grant, String edge, byte[] body) {
    String number = grant.number().phoneNumberId();
    if (edge.equals("messages")) {
      Optional<CallRequest> request = permissionRequest(body);
      if (request.isEmpty()) {
        return Optional.empty();
      }
      return fromMemory(number, request.get().user().get(), RememberedLimits.PERMISSION_REQUEST);
    }
    if (!edge.equals("calls")) {
      return Optional.empty();
    }
    Outcome<CallRequest> read = CallRequest.read(body);
    if (read instanceof Outcome.Refused<CallRequest> refused) {
      return Optional.of(GraphAnswer.of(refused.error()));
    }
    CallRequest request = ((Outcome.Ok<CallRequest>) read).value();
    String action = request.action().orElse("");
    if (action.equals("connect")) {
      return request.user().flatMap(user -> fromMemory(number, user, RememberedLimits.CONNECT));
    }
    if (request.callId().isEmpty() || !CLAIMING.contains(action) && !action.equals("reject")) {
      return Optional.empty();
    }
    String wacid = request.callId().get();
    try {
      if (!store.answering(number).equals(SINGLE)) {
        return Optional.empty();
      }
      Optional<String> owner = CLAIMING.contains(action)
          ? Optional.of(store.claimAnswering(number, wacid, grant.keyId(), clock.instant()))
          : store.find(number, wacid).flatMap(CallStore.CallRecord::answeredBy);
      if (owner.isEmpty() || owner.get().equals(grant.keyId())) {
        return Optional.empty();
      }
      GraphError error = GraphError.answeredElsewhere();
      ObjectNode detail = Json.mapper().createObjectNode();
      detail.put("action", action);
      detail.put("answered_by", actor(owner.get()));
      detail.set("error", errorOf(error.toJson()).orElseGet(Json.mapper()::createObjectNode));
      store.record(List.of(new Event(number, wacid, clock.instant(), Source.LAYER, actor(grant.keyId()), "refused",
          Optional.empty(), Optional.empty(), OptionalInt.of(error.status()), Optional.of(detail.toString()))));
      log.debug("Refused {} of a call of number {} to key {}: key {} answers it", action, number, grant.keyId(), owner.get());
      return Optional.of(GraphAnswer.of(error));
    } catch (RuntimeException e) {
      storeFailed(number, "the answering surface was not checked", e);
      return Optional.empty();
    }
  }

  void after(Grant grant, String edge, byte[] body, int status, byte[] answer) {
    String number = grant.number().phoneNumberId();
    try {
      if (edge.equals("messages")) {
        permissionRequest(body).ifPresent(request -> remember(number, request.user().get(),
            RememberedLimits.PERMISSION_REQUEST, status, answer));
        return;
      }
      if (!edge.equals("calls") || !(CallRequest.read(body) instanceof Outcome.Ok<CallRequest> ok)) {
        return;
      }
      CallRequest request = ok.value();
      String action = request.action().orElse("");
      if (action.equals("connect")) {
        connectAnswered(grant, request, status, answer);
      } else if (ON_A_CALL.contains(action) && request.callId().isPresent()) {
        acted(grant, action, request.callId().get(), status, answer);
      }
    } catch (RuntimeException e) {
      storeFailed(number, "a call action was not recorded", e);
    }
  }

  /** A call connected: Meta resets the user's permission request limits, and so does the layer. */
  void connected(String phoneNumberId, String user) {
    store.forget(phoneNumberId, user, RememberedLimits.PERMISSION_REQUEST);
  }

  /**
   * The user granted the number's call permission request: the refusals that the grant ends are
   * forgotten, those of permission requests and a {@code connect} refused for want of permission; a
   * {@code connect} refused for another limit stays until its time.
   */
  void permissionGranted(String phoneNumberId, String user, Instant at) {
    store.forget(phoneNumberId, user, RememberedLimits.PERMISSION_REQUEST);
    if (store.remembered(phoneNumberId, user, RememberedLimits.CONNECT, at)
        .filter(l -> l.code() == RememberedLimits.NO_PERMISSION).isPresent()) {
      store.forget(phoneNumberId, user, RememberedLimits.CONNECT);
    }
  }

  /** A {@code connect} answered: Meta's refusal for a limit remembered, or the call's first event. */
  private void connectAnswered(Grant grant, CallRequest request, int status, byte[] answer) {
    String number = grant.number().phoneNumberId();
    if (status >= 400) {
      request.user().ifPresent(user -> remember(number, user, RememberedLimits.CONNECT, status, answer));
      return;
    }
    if (status / 100 != 2) {
      return;
    }
    Optional<String> wacid = json(answer).map(a -> a.path("calls").path(0).path("id"))
        .filter(JsonNode::isTextual).map(JsonNode::textValue).filter(id -> WACID.matcher(id).matches());
    if (wacid.isEmpty()) {
      log.debug("A connect of number {} was answered {} without a call id: no call record", number, status);
      return;
    }
    store.record(List.of(new Event(number, wacid.get(), clock.instant(), Source.ACTION, actor(grant.keyId()), "connect",
        Optional.of(CallStore.Direction.BUSINESS_INITIATED), request.user(), OptionalInt.of(status), Optional.empty())));
  }

  private void acted(Grant grant, String action, String wacid, int status, byte[] answer) {
    String number = grant.number().phoneNumberId();
    Optional<JsonNode> error = status >= 400 ? errorOf(answer) : Optional.empty();
    if (CLAIMING.contains(action) && status >= 400 && error.filter(CallActions::isMetas).isPresent()
        && store.answering(number).equals(SINGLE) && !answeredBefore(number, wacid, grant.keyId())
        && store.releaseAnswering(number, wacid, grant.keyId())) {
      log.debug("Meta refused the {} of key {} on number {}: the call may be answered by another key", action,
          grant.keyId(), number);
    }
    ObjectNode detail = Json.mapper().createObjectNode();
    error.ifPresent(e -> detail.set("error", e));
    store.record(List.of(new Event(number, wacid, clock.instant(), Source.ACTION, actor(grant.keyId()), action,
        Optional.empty(), Optional.empty(), OptionalInt.of(status), detail.isEmpty() ? Optional.empty() : Optional.of(detail.toString()))));
    if (action.equals("accept") && status / 100 == 2) {
      store.find(number, wacid).flatMap(CallStore.CallRecord::userWaId).ifPresent(user -> connected(number, user));
    }
  }

  /** Whether the key had a {@code pre_accept} or {@code accept} of the call accepted before. */
  private boolean answeredBefore(String number, String wacid, String keyId) {
    String actor = actor(keyId);
    return store.timeline(number, wacid).stream().anyMatch(e -> e.source() == Source.ACTION && e.actor().equals(actor)
        && CLAIMING.contains(e.name()) && e.httpStatus().isPresent() && e.httpStatus().getAsInt() / 100 == 2);
  }

  private Optional<GraphAnswer> fromMemory(String number, String user, String kind) {
    try {
      Instant now = clock.instant();
      return store.remembered(number, user, kind, now).map(limit -> {
        log.debug("Answered a {} of number {} from memory (Meta's {} until {})", kind, number, limit.code(), limit.until());
        return RememberedLimits.answer(limit, now);
      });
    } catch (RuntimeException e) {
      storeFailed(number, "the calling limits were not read", e);
      return Optional.empty();
    }
  }

  private void remember(String number, String user, String kind, int status, byte[] answer) {
    Optional<Limit> limit = RememberedLimits.of(number, user, kind, status, answer, clock.instant());
    limit.ifPresent(store::remember);
  }

  /**
   * The permission request a {@code /messages} body is, with its user; empty for any other message
   * (read only when its bytes name the type or could hide it in an escape) and for a body whose values
   * are ambiguous (it goes to Meta, which answers it).
   */
  private static Optional<CallRequest> permissionRequest(byte[] body) {
    if (!mayAskPermission(body)) {
      return Optional.empty();
    }
    if (CallRequest.read(body) instanceof Outcome.Ok<CallRequest> ok && ok.value().permissionRequest()
        && ok.value().user().isPresent()) {
      return Optional.of(ok.value());
    }
    return Optional.empty();
  }

  /** Whether the body holds {@code call_permission_request} (any case) or an escape ({@code %}, a backslash) that could spell it. */
  static boolean mayAskPermission(byte[] body) {
    outer:
    for (int i = 0; i < body.length; i++) {
      byte b = body[i];
      if (b == '%' || b == '\\') {
        return true;
      }
      if (i + PERMISSION.length > body.length) {
        continue;
      }
      for (int j = 0; j < PERMISSION.length; j++) {
        int c = body[i + j];
        if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != PERMISSION[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }

  /** Meta's error of an answer, for the timeline: its code, type, message, subcode, user message and trace, and {@code error_data.details} cut to 500 characters. */
  private static Optional<JsonNode> errorOf(byte[] answer) {
    return json(answer).map(a -> a.path("error")).filter(JsonNode::isObject).map(e -> {
      ObjectNode kept = Json.mapper().createObjectNode();
      for (String field : List.of("message", "type", "code", "error_subcode", "error_user_title", "error_user_msg", "fbtrace_id")) {
        JsonNode value = e.get(field);
        if (value != null && value.isValueNode()) {
          kept.set(field, value.isTextual() && value.textValue().length() > 500 ? Json.mapper().getNodeFactory()
              .textNode(value.textValue().substring(0, 500)) : value);
        }
      }
      JsonNode details = e.path("error_data").path("details");
      if (details.isTextual()) {
        String text = details.textValue();
        kept.putObject("error_data").put("details", text.length() > 500 ? text.substring(0, 500) : text);
      }
      return kept;
    });
  }

  /** Whether an error is Meta's own, not one the layer made (Meta not reached, no answer in time). */
  private static boolean isMetas(JsonNode error) {
    return !GraphError.LAYER.equals(error.path("type").asText());
  }

  private static Optional<JsonNode> json(byte[] answer) {
    if (answer.length == 0) {
      return Optional.empty();
    }
    try {
      return Optional.of(Json.mapper().readTree(answer));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  static String actor(String keyId) {
    return "key:" + keyId;
  }

  private void storeFailed(String number, String what, RuntimeException e) {
    warnings.permit("call-store", number).ifPresent(suppressed -> log.warn(
        "Call store failed for number {}: {}; the request went on as without call rules ({}){}", number, what,
        e.toString(), WarnLimiter.suppressed(suppressed)));
  }
}

package dev.metalayer.jetty;

import dev.metalayer.graph.GraphError;
import dev.metalayer.relay.Attempt;
import dev.metalayer.relay.Delivery;
import dev.metalayer.relay.DeliveryState;
import dev.metalayer.relay.Subscription;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The JSON shapes of subscriptions and deliveries. Never holds a secret. A delivery comes in two views:
 * for the number's key (each attempt's status and error class only, see {@link Attempt}) and for the
 * operator (with latency, error text and answer excerpt).
 */
final class WebhookViews {

  /** The filters of a delivery log query: {@code ?status=&limit=} (default 50). */
  record DeliveryQuery(Optional<DeliveryState> state, int limit) {

    /**
     * Reads the query of {@code request}, or answers the client a 400 naming the bad parameter (and
     * completes {@code callback}) and returns empty.
     */
    static Optional<DeliveryQuery> read(Request request, Response response, Callback callback) {
      Optional<String> status = HttpIo.queryParameter(request, "status");
      Optional<DeliveryState> state = status.flatMap(DeliveryState::parse);
      if (status.isPresent() && state.isEmpty()) {
        HttpIo.writeError(response, callback, GraphError.invalidParameter(
            "status must be one of " + java.util.Arrays.stream(DeliveryState.values()).map(DeliveryState::wire)
                .collect(java.util.stream.Collectors.joining(", ")) + "."));
        return Optional.empty();
      }
      try {
        return Optional.of(new DeliveryQuery(state, HttpIo.queryParameter(request, "limit").map(Integer::parseInt).orElse(50)));
      } catch (NumberFormatException e) {
        HttpIo.writeError(response, callback, GraphError.invalidParameter("limit must be a number from 1 to 200."));
        return Optional.empty();
      }
    }
  }
  private WebhookViews() {}

  static Map<String, Object> subscription(Subscription s) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", s.id());
    m.put("name", s.name());
    m.put("url", s.url());
    m.put("events", s.events());
    m.put("active", s.active());
    m.put("chatwoot_terminate_reason", s.chatwootTerminateReason());
    m.put("has_secret", s.hasSecret());
    m.put("phone_number_id", s.phoneNumberId());
    m.put("created_at", s.createdAt().toString());
    m.put("updated_at", s.updatedAt().toString());
    return m;
  }

  /** The delivery as its number's key sees it. */
  static Map<String, Object> delivery(Delivery d) {
    return delivery(d, false);
  }

  /** The delivery as the operator sees it (the admin API). */
  static Map<String, Object> deliveryForOperator(Delivery d) {
    return delivery(d, true);
  }

  private static Map<String, Object> delivery(Delivery d, boolean operator) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", d.id());
    m.put("subscription_id", d.subscriptionId());
    m.put("webhook_id", d.webhookId());
    m.put("field", d.field());
    m.put("lane", d.lane().wire());
    m.put("state", d.state().wire());
    m.put("attempt_count", d.attempts().size());
    m.put("next_attempt_at", d.nextAttemptAt().map(Instant::toString).orElse(null));
    m.put("expires_at", d.expiresAt().map(Instant::toString).orElse(null));
    m.put("created_at", d.createdAt().toString());
    m.put("attempts", d.attempts().stream().map(a -> attempt(a, operator)).toList());
    return m;
  }

  private static Map<String, Object> attempt(Attempt a, boolean operator) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("number", a.number());
    m.put("at", a.at().toString());
    m.put("status_code", a.status().orElse(null));
    m.put("error_class", a.errorClass().orElse(null));
    if (operator) {
      m.put("latency_ms", a.latencyMs());
      m.put("error", a.error().orElse(null));
      m.put("response_excerpt", a.responseExcerpt().orElse(null));
    }
    return m;
  }
}

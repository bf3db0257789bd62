package dev.metalayer.relay;

import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.relay.RelayStore.AttemptRecord;
import dev.metalayer.relay.RelayStore.Claimed;
import dev.metalayer.relay.RelayStore.StoredSubscription;
import java.net.URI;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import dev.metalayer.log.RequestIds;
import dev.metalayer.log.WarnLimiter;
import dev.metalayer.metrics.LayerMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes one attempt of a claimed delivery and records its outcome: checks expiry and the
 * subscription, signs the body, sends it through the transport, asks the {@link DeliveryPolicy} what
 * follows and writes it to the store. Always ends the claim (never leaves a lease behind unless the
 * process dies). Thread-safe; one call per claimed delivery.
 *
 * <p>A claim may be lost: its lease ran out (the process stalled) and another claim, maybe of another
 * instance, took the row. Right before sending, the attempt renews its lease with its claim token and
 * sends nothing if that fails; its outcome is written only while the token still holds the row
 * ({@link RelayStore#finish}), else it is dropped (logged at DEBUG): the later claim's result stands.
 */
final class Attempter {
  private static final Logger log = LoggerFactory.getLogger(Attempter.class);

  /**
   * One INFO line per attempt sent, with key-value pairs: {@code request_id} (of the webhook POST that
   * caused it), {@code number_id}, {@code delivery_id}, {@code subscription_id}, {@code lane},
   * {@code attempt}, {@code method}, {@code status} (absent when no answer came), {@code outcome} (what
   * follows: {@code delivered}, {@code retry}, {@code expired}, {@code dead}, {@code gone}, or
   * {@code lease_lost} when another claim took the row meanwhile (its outcome stands)), {@code error} (the class of a failure) and
   * {@code latency_ms}. Never the subscriber's URL, its answer, or a secret.
   */
  static final Logger deliveries = LoggerFactory.getLogger("dev.metalayer.deliveries");

  private final RelayStore store;
  private final TokenCipher cipher;
  private final DeliveryTransport transport;
  private final DeliveryPolicy policy;
  private final Clock clock;
  private final String userAgent;
  private final WarnLimiter warnings;
  private final LayerMetrics metrics;

  /** @param warnings limits the warning of an expired call event to one per number and minute */
  Attempter(RelayStore store, TokenCipher cipher, DeliveryTransport transport, DeliveryPolicy policy, Clock clock,
      WarnLimiter warnings, LayerMetrics metrics) {
    this.metrics = metrics;
    this.warnings = warnings;
    this.store = store;
    this.cipher = cipher;
    this.transport = transport;
    this.policy = policy;
    this.clock = clock;
    String version = Attempter.class.getPackage().getImplementationVersion();
    this.userAgent = "MetaLayer/" + (version == null ? "dev" : version);
  }

  void attempt(Claimed c) {
    c.requestId().ifPresent(id -> org.slf4j.MDC.put(RequestIds.MDC_KEY, id));
    try {
      attemptTraced(c);
    } finally {
      org.slf4j.MDC.remove(RequestIds.MDC_KEY);
    }
  }

  private void attemptTraced(Claimed c) {
    Instant now = clock.instant();
    if (c.expiresAt().isPresent() && !now.isBefore(c.expiresAt().get())) {
      if (end(c, null, DeliveryState.EXPIRED, null, now)) {
        warnExpired(c, store.findSubscription(c.subscriptionId()).map(s -> s.subscription().phoneNumberId()),
            c.attempts(), "no attempt was left before its TTL");
      }
      return;
    }
    Optional<StoredSubscription> found = store.findSubscription(c.subscriptionId());
    if (found.isEmpty()) {
      end(c, null, DeliveryState.DEAD, null, now); // removed: its row is gone, or goes with it
      return;
    }
    if (!found.get().subscription().active()) {
      // turned off after this was claimed (or after a retry made it pending): kept paused, no attempt
      // made; should the subscription be on again by now, the store makes it pending instead (only while
      // this claim still holds the row)
      store.park(c, now);
      return;
    }
    // the lease counts from the send: the whole deadline fits in it (DeliveryPolicy#lease)
    if (!store.renew(c.id(), c.claimToken(), now.plus(policy.lease(c.lane())))) {
      log.debug("Delivery {} not sent: its lease ended and another claim holds it", c.id());
      return;
    }
    long started = System.nanoTime();
    DeliveryTransport.Result result = send(c, found.get(), now);
    long latencyMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
    AttemptRecord record;
    if (result instanceof DeliveryTransport.Result.Answered a) {
      record = new AttemptRecord(now, a.status(), latencyMs, null, a.excerpt());
    } else {
      DeliveryTransport.Result.Failed f = (DeliveryTransport.Result.Failed) result;
      record = new AttemptRecord(now, null, latencyMs, f.error(), null);
    }
    finish(c, found.get().subscription(), result, record, clock.instant());
  }

  /** Signs (when the subscription has a secret) and sends the body; a failure of either is a failed attempt. */
  private DeliveryTransport.Result send(Claimed c, StoredSubscription stored, Instant now) {
    Subscription sub = stored.subscription();
    long timestamp = now.getEpochSecond();
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("Content-Type", "application/json");
    headers.put("User-Agent", userAgent);
    headers.put("webhook-id", c.webhookId());
    headers.put("webhook-timestamp", Long.toString(timestamp));
    c.requestId().filter(RequestIds::valid).ifPresent(id -> headers.put(RequestIds.HEADER, id));
    try {
      if (stored.sealedSecret() != null) {
        String secret = cipher.open(stored.sealedSecret(), sub.id());
        headers.put("webhook-signature", Signatures.standard(secret, c.webhookId(), timestamp, c.body()));
        headers.put("X-Hub-Signature-256", Signatures.meta(secret, c.body()));
      }
      return transport.send(new DeliveryTransport.Request(URI.create(sub.url()), headers, c.body(), policy.timeout(c.lane())));
    } catch (TokenCipher.SecretUnreadableException e) {
      log.error("The secret of subscription {} does not open with this master key", sub.id(), e);
      return new DeliveryTransport.Result.Failed("the subscription secret cannot be read", false);
    } catch (RuntimeException e) {
      log.warn("Delivery transport failed for delivery {}", c.id(), e);
      return new DeliveryTransport.Result.Failed("transport failure: " + e.getClass().getSimpleName(), false);
    }
  }

  /** Records the attempt and what the policy decides follows it. */
  private void finish(Claimed c, Subscription sub, DeliveryTransport.Result result, AttemptRecord record, Instant end) {
    DeliveryPolicy.Decision decision =
        policy.decide(DeliveryPolicy.schedule(c.lane(), c.field()), c.attempts() + 1, c.maxAttempts(), c.expiresAt(),
            result, end);
    if (decision instanceof DeliveryPolicy.Delivered) {
      logAttempt(c, sub, record, end(c, record, DeliveryState.DELIVERED, null, end) ? "delivered" : "lease_lost");
    } else if (decision instanceof DeliveryPolicy.Retry retry) {
      logAttempt(c, sub, record, end(c, record, DeliveryState.PENDING, retry.at(), end) ? "retry" : "lease_lost");
    } else if (decision instanceof DeliveryPolicy.Expired) {
      boolean ended = end(c, record, DeliveryState.EXPIRED, null, end);
      logAttempt(c, sub, record, ended ? "expired" : "lease_lost");
      if (!ended) {
        return;
      }
      warnExpired(c, Optional.of(sub.phoneNumberId()), c.attempts() + 1, record.status() != null
          ? "the last attempt was answered HTTP " + record.status()
          : "the last attempt failed (" + new Attempt(0, end, Optional.empty(), 0, Optional.ofNullable(record.error()),
              Optional.empty()).errorClass().orElse("io_error") + ")");
    } else {
      boolean ended = end(c, record, DeliveryState.DEAD, null, end);
      logAttempt(c, sub, record, !ended ? "lease_lost" : ((DeliveryPolicy.Dead) decision).gone() ? "gone" : "dead");
      if (!ended) {
        return;
      }
      if (((DeliveryPolicy.Dead) decision).gone()) {
        // its other pending deliveries are kept, paused, until the subscription is turned back on
        store.setActive(sub.id(), false, end);
        log.warn("Subscription {} answered 410 Gone: deactivated, its pending deliveries paused", sub.id());
      } else {
        log.warn("Delivery {} to subscription {} is dead after {} attempts", c.id(), sub.id(), c.attempts() + 1);
      }
    }
  }

  /** The attempt's line on {@link #deliveries}. */
  private static void logAttempt(Claimed c, Subscription sub, AttemptRecord record, String outcome) {
    if (!deliveries.isInfoEnabled()) {
      return;
    }
    org.slf4j.spi.LoggingEventBuilder line = deliveries.atInfo()
        .addKeyValue("request_id", c.requestId().orElse("-"))
        .addKeyValue("number_id", sub.phoneNumberId())
        .addKeyValue("delivery_id", c.id())
        .addKeyValue("subscription_id", sub.id())
        .addKeyValue("lane", c.lane().wire())
        .addKeyValue("attempt", c.attempts() + 1)
        .addKeyValue("method", "POST");
    if (record.status() != null) {
      line = line.addKeyValue("status", record.status());
    }
    line = line.addKeyValue("outcome", outcome);
    if (record.error() != null) {
      line = line.addKeyValue("error", new Attempt(0, record.at(), Optional.empty(), 0, Optional.of(record.error()),
          Optional.empty()).errorClass().orElse("io_error"));
    }
    line.addKeyValue("latency_ms", record.latencyMs()).log("delivery attempt");
  }

  /**
   * Writes the end of the claim {@code c}, if it still holds its row. @return false when the claim was
   * lost: nothing was written, and the caller drops the outcome
   */
  private boolean end(Claimed c, AttemptRecord record, DeliveryState state, Instant next, Instant at) {
    if (store.finish(c.id(), c.claimToken(), record, state, next, at)) {
      count(c, state, at);
      return true;
    }
    log.debug("Outcome of delivery {} ({}) dropped: its lease ended and another claim took it, or it was removed",
        c.id(), state.wire());
    return false;
  }

  /** Counts the end of an attempt (or of a delivery without one) that was written. */
  private void count(Claimed c, DeliveryState state, Instant at) {
    switch (state) {
      case DELIVERED -> metrics.delivered(c.lane(), java.time.Duration.between(c.createdAt(), at));
      case PENDING -> metrics.delivery(c.lane(), "retried");
      default -> metrics.delivery(c.lane(), state.wire());
    }
  }

  /**
   * A call event that was never delivered: one warning per number and minute (the delivery log has
   * each one). Names the delivery, subscription and number, never the subscriber's URL or answer.
   */
  private void warnExpired(Claimed c, Optional<String> phoneNumberId, int attempts, String why) {
    String number = phoneNumberId.orElse("(removed)");
    warnings.permit("call-expired", number).ifPresent(suppressed -> log.warn(
        "Call event not delivered: delivery {} ({}) of phone number ID {} to subscription {} expired after {}"
            + " attempt(s): {}{}", c.id(), c.field(), number, c.subscriptionId(), attempts, why,
        WarnLimiter.suppressed(suppressed)));
  }
}

/**
 * The call webhook relay: verified ingest of Meta's webhooks ({@code Ingest}: size, signature, shape),
 * byte-exact splitting into single-change envelopes ({@code EnvelopeSplitter}), routing to
 * subscriptions ({@code Router}, with {@code NumberRouting}: the deliveries a change causes, queued in
 * the store; a subscription's test event is routed the same way), the delivery rules
 * ({@code DeliveryPolicy}: lanes, schedules, TTL, ordering), signing ({@code Signatures}), egress
 * safety ({@link dev.metalayer.relay.EgressGuard}) and the engine that claims stored deliveries and
 * attempts them ({@code DeliveryEngine}). {@code WebhookRelay} joins them behind
 * {@link dev.metalayer.relay.CallWebhookRelay}.
 *
 * <p>Public here: the relay itself ({@link dev.metalayer.relay.CallWebhookRelay}, with its one factory
 * {@link dev.metalayer.relay.CallWebhookRelay#builder}), the values an embedder sees
 * ({@link dev.metalayer.relay.CallWebhookRelay.IngestResult}, {@link dev.metalayer.relay.Subscription},
 * {@link dev.metalayer.relay.Delivery}…), the subscription service
 * {@link dev.metalayer.relay.WebhookSubscriptions}, the store SPI {@link dev.metalayer.relay.RelayStore}
 * with the values it speaks, and the HTTP extension point {@link dev.metalayer.relay.DeliveryTransport}.
 * Everything else is package-private.
 */
package dev.metalayer.relay;

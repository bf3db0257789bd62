/**
 * The call webhook relay: verified ingest of Meta's webhooks ({@code Ingest}), byte-exact splitting
 * into single-change envelopes ({@code EnvelopeSplitter}), routing to subscriptions ({@code Router}),
 * the delivery rules ({@code DeliveryPolicy}: lanes, schedules, TTL, ordering), signing
 * ({@code Signatures}), egress safety ({@link dev.metalayer.relay.EgressGuard}) and the engine that
 * claims stored deliveries and attempts them ({@code DeliveryEngine}).
 *
 * <p>Public here: the values an embedder sees ({@link dev.metalayer.relay.IngestResult},
 * {@link dev.metalayer.relay.Subscription}, {@link dev.metalayer.relay.Delivery}…), the subscription
 * service {@link dev.metalayer.relay.WebhookSubscriptions} and the HTTP extension point
 * {@link dev.metalayer.relay.DeliveryTransport}. Everything else is package-private.
 */
package dev.metalayer.relay;

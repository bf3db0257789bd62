/**
 * The layer's knowledge of WhatsApp calls: call records built from Meta's call webhooks and the keys'
 * call actions, their state machine, the one answering surface per call and the calling limits the
 * layer remembers. Above {@code graph} (it implements its {@link dev.metalayer.graph.CallGuard}) and
 * below {@code relay} (which hands it the call events of each ingest).
 */
package dev.metalayer.calls;

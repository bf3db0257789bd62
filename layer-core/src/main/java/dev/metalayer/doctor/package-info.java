/**
 * The Meta doctor ({@link dev.metalayer.doctor.Doctor}): per registered number, what must hold at Meta
 * (token, number, webhook subscription and callback, calling settings; read with the number's own token)
 * and in the layer (last webhook, deliveries) for its messages and calls to flow, as checks with fixes;
 * and the background doctor that warns the operator once per streak of failures. The rules are in
 * {@code Checks} (pure), the Graph reads in {@code MetaReads}. Depends on keys, graph and relay; beside
 * store, which it does not use (the relay store is reached through the relay's SPI).
 */
package dev.metalayer.doctor;

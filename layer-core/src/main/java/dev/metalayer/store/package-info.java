/**
 * Storage behind interfaces: {@link dev.metalayer.keys.KeyStore} for numbers and keys, and
 * {@link dev.metalayer.relay.RelayStore} for the webhook relay (envelopes, subscriptions, deliveries as
 * claimable rows with leases, the attempt log), and {@link dev.metalayer.calls.CallStore} for the call
 * records, which a relay store hands out sharing its transactions. Each has an in-memory and a JDBC implementation
 * ({@link dev.metalayer.store.Database}: H2 embedded by default, PostgreSQL for several instances) with
 * versioned migrations, and each pair passes one contract test suite.
 *
 * <p>{@code java.sql} is touched only here. The JDBC stores prepare, bind, run and map through one
 * helper, {@code Sql}; their SQL texts stay in the store that writes them, where a dialect can swap
 * them.
 */
package dev.metalayer.store;

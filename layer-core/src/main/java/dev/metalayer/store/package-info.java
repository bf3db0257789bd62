/**
 * Storage behind interfaces: {@link dev.metalayer.store.KeyStore} for numbers and keys, with an
 * in-memory and a JDBC implementation ({@link dev.metalayer.store.Database}: H2 embedded by default,
 * PostgreSQL for several instances) and versioned migrations.
 */
package dev.metalayer.store;

/**
 * The standalone layer on Jetty 12: {@link dev.metalayer.jetty.Main}, the {@link dev.metalayer.jetty.Option}
 * table, and thin handlers that translate HTTP to {@code layer-core} calls and back.
 */
package dev.metalayer.jetty;

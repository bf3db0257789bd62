/**
 * Meta Layer's embeddable core: {@link dev.metalayer.MetaLayer} and the extension points
 * {@link dev.metalayer.keys.TokenResolver}, {@code GraphForwarder} and {@code CallWebhookRelay}. Nothing in
 * this module depends on a web framework.
 */
package dev.metalayer;

package dev.metalayer.crypto;

/**
 * The master key given to the layer does not open the secrets its store holds: they were sealed with
 * another key. Thrown by {@link dev.metalayer.MetaLayer.Builder#build()} so that a layer with the wrong
 * key never starts (it could serve nothing: every proxied request would fail to open its Meta token).
 * The message names no key material.
 */
public final class WrongMasterKeyException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public WrongMasterKeyException() {
    super("the master key does not open the tokens sealed in this store: build with the masterKey that sealed"
        + " them, or with an empty store");
  }
}

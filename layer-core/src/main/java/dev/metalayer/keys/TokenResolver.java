package dev.metalayer.keys;


/**
 * Turns the credential a client presented (a provider key, without {@code Bearer }) into a grant: the
 * number it may act for and the Meta token to use upstream.
 *
 * <p>The default implementation is {@link dev.metalayer.keys.KeyService}, backed by the layer's store.
 * Embedders may supply their own, for instance one that reads keys from the host application's
 * database. Implementations must be thread-safe, must not log the credential or the token, and should
 * answer quickly: they run on every proxied request.
 */
@FunctionalInterface
public interface TokenResolver {

  /**
   * @param credential what the client presented, never null (an absent credential is not resolved)
   * @return {@link Resolution.Granted} or {@link Resolution.Refused}; never throws for a bad credential
   */
  Resolution resolve(String credential);
}

package dev.metalayer.keys;

/**
 * What else must go when a number goes: {@link KeyService#removeNumber} calls it for a registered number
 * <i>before</i> deleting the number and its keys, so that a failure here leaves the number in place and
 * the removal can simply be repeated. {@link dev.metalayer.MetaLayer} installs one that removes the
 * number's webhook subscriptions with their deliveries; the package stays free of the relay.
 */
@FunctionalInterface
public interface NumberRemovalListener {

  /**
   * Removes what belongs to the number outside the key store. Called on the removing thread; must be
   * idempotent (a repeated removal calls it again). An exception aborts the removal and reaches the
   * caller of {@code removeNumber}.
   */
  void removing(String phoneNumberId);
}

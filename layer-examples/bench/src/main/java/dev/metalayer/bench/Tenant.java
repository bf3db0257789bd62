package dev.metalayer.bench;

/**
 * One registered number of the benchmark with the key the load uses for it: {@code key} is a
 * {@code ps_…} provider key scoped to {@code phoneNumberId}, {@code metaToken} the token the layer (or
 * nginx) must put in its place.
 */
record Tenant(String phone, String phoneNumberId, String wabaId, String businessId, String metaToken, String key) {
  /** The {@code i}-th number of the benchmark (0-based); the key is filled in when it is created. */
  static Tenant number(int i) {
    return new Tenant(
        String.format("+1555%07d", i),
        String.format("1065403522%05d", i),
        String.format("1022901293%05d", i),
        String.format("9000000000%05d", i),
        InstantGraph.TOKEN_PREFIX + String.format("%05d", i) + "ZCZBbenchTokenNotARealOne",
        null);
  }

  Tenant withKey(String key) {
    return new Tenant(phone, phoneNumberId, wabaId, businessId, metaToken, key);
  }
}

package dev.metalayer.relay;

import dev.metalayer.keys.WhatsAppNumber;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The numbers Meta sent webhooks for that the layer does not know (answered 200 and routed nowhere), for
 * the operator: the last {@value #MAX_KEPT} seen, each with a count and when it was first and last seen,
 * and a total. A number is kept by its phone number ID, or, for a WABA-level change, by its WABA ID alone.
 * An ID that is not a Graph ID (digits) is kept as {@value #NOT_AN_ID}, so outside text never reaches the
 * operator's view. Bounded memory; thread-safe.
 */
public final class UnknownNumbers {
  /** How many numbers are kept; the one seen least recently gives way. */
  public static final int MAX_KEPT = 100;

  static final String NOT_AN_ID = "(not a Graph ID)";

  /**
   * One unknown number as seen.
   *
   * @param phoneNumberId Meta's phone number ID the change named; empty for a WABA-level change
   * @param wabaId the WABA ID of the change's entry; empty when it had none
   * @param count changes seen for it since the layer started
   */
  public record Seen(Optional<String> phoneNumberId, Optional<String> wabaId, long count, Instant firstSeen,
      Instant lastSeen) {}

  private record Key(String phoneNumberId, String wabaId) {}

  private final Clock clock;
  private final Map<Key, Seen> seen = new LinkedHashMap<>(16, 0.75f, true);
  private long total;

  UnknownNumbers(Clock clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * Counts one change for an unknown number. @param phoneNumberId null for a WABA-level change
   * @return what is now kept of it
   */
  synchronized Seen record(String phoneNumberId, String wabaId) {
    Instant now = clock.instant();
    Key key = phoneNumberId != null
        ? new Key(shown(phoneNumberId), null)
        : new Key(null, wabaId == null || wabaId.isEmpty() ? null : shown(wabaId));
    Seen before = seen.get(key);
    Seen after = before == null
        ? new Seen(Optional.ofNullable(key.phoneNumberId()), Optional.ofNullable(shownOrNull(wabaId)), 1, now, now)
        : new Seen(before.phoneNumberId(), before.wabaId(), before.count() + 1, before.firstSeen(), now);
    seen.put(key, after);
    total++;
    if (seen.size() > MAX_KEPT) {
      seen.remove(seen.keySet().iterator().next());
    }
    return after;
  }

  /** The numbers kept, the one seen last first. */
  public synchronized List<Seen> recent() {
    List<Seen> out = new ArrayList<>(seen.values()); // access order: the one recorded last is last
    java.util.Collections.reverse(out);
    return out;
  }

  /** Changes for unknown numbers seen since the layer started, including those of numbers no longer kept. */
  public synchronized long total() {
    return total;
  }

  private static String shownOrNull(String id) {
    return id == null || id.isEmpty() ? null : shown(id);
  }

  /** The ID as the operator sees it: a Graph ID in canonical form, else a fixed placeholder. */
  static String shown(String id) {
    return WhatsAppNumber.isGraphId(id) ? WhatsAppNumber.canonicalId(id) : NOT_AN_ID;
  }
}

package dev.metalayer.relay;

import dev.metalayer.keys.KeyService;
import dev.metalayer.keys.WhatsAppNumber;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The one rule that says which registered numbers a change is routed to, so that on a WABA shared by
 * several tenants one number's events never reach another's subscriptions:
 *
 * <ol>
 *   <li>a change with {@code value.metadata.phone_number_id} goes to that number;
 *   <li>a WABA-level change (no metadata) that names a number, by {@code value.display_phone_number} or
 *       {@code value.phone_number} (digits only, against the registered phone without its {@code +}) or
 *       by {@code value.phone_number_id}, {@code value.phone_number_settings.phone_number_id} or the
 *       {@code value.entity_id} of an {@code entity_type} {@code PHONE_NUMBER} (as a phone number ID), goes to
 *       that number only, if it is registered under the entry's WABA; when a name matches no number of
 *       that WABA, or two names disagree, it goes to no number;
 *   <li>a WABA-level change that names no number goes to every number of the WABA {@code entry[].id},
 *       except a field that is always about one number ({@link #PER_NUMBER_FIELDS}), which goes to none.
 * </ol>
 *
 * Stateless; the registry is read through {@link KeyService}. Thread-safe.
 */
final class NumberRouting {
  /** Fields about one phone number: without a name of it they cannot be routed to the right tenant. */
  static final Set<String> PER_NUMBER_FIELDS =
      Set.of("phone_number_quality_update", "phone_number_name_update", "account_settings_update");

  /**
   * Where a change goes.
   *
   * @param numbers the numbers whose subscriptions may receive it
   * @param unrouted why it goes to no number although it is WABA-level; empty otherwise (a fixed text
   *     without the number it names)
   */
  record Route(List<WhatsAppNumber> numbers, Optional<String> unrouted) {
    static Route to(List<WhatsAppNumber> numbers) {
      return new Route(List.copyOf(numbers), Optional.empty());
    }

    static Route none(String why) {
      return new Route(List.of(), Optional.of(why));
    }
  }

  static final String UNKNOWN_NUMBER = "name a number not registered under their WABA";
  static final String NO_NUMBER = "are about one number and name none";

  private NumberRouting() {}

  static Route route(Change change, KeyService keys) {
    if (change.phoneNumberId().isPresent()) {
      return Route.to(keys.findNumber(change.phoneNumberId().get()).map(List::of).orElse(List.of()));
    }
    if (change.entryId().isEmpty()) {
      return Route.to(List.of());
    }
    List<WhatsAppNumber> waba = keys.numbersOfWaba(change.entryId());
    if (change.namedPhones().isEmpty() && change.namedPhoneNumberIds().isEmpty()) {
      return PER_NUMBER_FIELDS.contains(change.field()) ? Route.none(NO_NUMBER) : Route.to(waba);
    }
    WhatsAppNumber named = null;
    for (String phone : change.namedPhones()) {
      Optional<WhatsAppNumber> n = byDigits(waba, phone);
      if (n.isEmpty() || (named != null && named != n.get())) {
        return Route.none(UNKNOWN_NUMBER);
      }
      named = n.get();
    }
    for (String id : change.namedPhoneNumberIds()) {
      Optional<WhatsAppNumber> n = byPhoneNumberId(waba, id);
      if (n.isEmpty() || (named != null && named != n.get())) {
        return Route.none(UNKNOWN_NUMBER);
      }
      named = n.get();
    }
    return Route.to(List.of(named));
  }

  /** The number whose phone, without {@code +}, is the digits of {@code phone} (spaces, dashes, {@code +} ignored). */
  private static Optional<WhatsAppNumber> byDigits(List<WhatsAppNumber> numbers, String phone) {
    String digits = phone.replaceAll("[^0-9]", "");
    return digits.isEmpty()
        ? Optional.empty()
        : numbers.stream().filter(n -> n.digits().equals(digits)).findFirst();
  }

  private static Optional<WhatsAppNumber> byPhoneNumberId(List<WhatsAppNumber> numbers, String id) {
    if (!WhatsAppNumber.isGraphId(id)) {
      return Optional.empty();
    }
    String canonical = WhatsAppNumber.canonicalId(id);
    return numbers.stream().filter(n -> WhatsAppNumber.canonicalId(n.phoneNumberId()).equals(canonical)).findFirst();
  }
}

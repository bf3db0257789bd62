package dev.metalayer.relay;

import java.util.Set;
import java.util.TreeSet;

/**
 * The event names a subscription may ask for: Meta's webhook fields, {@code call_permission_replies}
 * (the {@code messages} changes whose messages are interactive {@code call_permission_reply}
 * replies) and {@code *} (everything).
 */
final class Events {
  static final String ALL = "*";
  static final String CALLS = "calls";
  static final String MESSAGES = "messages";
  static final String CALL_PERMISSION_REPLIES = "call_permission_replies";
  /** The field of the synthetic event a subscription's test sends; not one a subscription may ask for. */
  static final String TEST = "test";

  /** Meta's WhatsApp Business Account webhook fields known to the relay. */
  static final Set<String> META_FIELDS =
      Set.of(
          "account_alerts",
          "account_review_update",
          "account_settings_update",
          "account_update",
          "automatic_events",
          "business_capability_update",
          CALLS,
          "history",
          "message_echoes",
          "message_template_components_update",
          "message_template_quality_update",
          "message_template_status_update",
          MESSAGES,
          "partner_solutions",
          "payment_configuration_update",
          "phone_number_name_update",
          "phone_number_quality_update",
          "security",
          "smb_app_state_sync",
          "smb_message_echoes",
          "template_category_update",
          "tracking_events",
          "user_preferences");

  private Events() {}

  static boolean isKnown(String event) {
    return ALL.equals(event) || CALL_PERMISSION_REPLIES.equals(event) || META_FIELDS.contains(event);
  }

  /** Every accepted name, sorted: for error messages and documentation. */
  static Set<String> known() {
    Set<String> all = new TreeSet<>(META_FIELDS);
    all.add(CALL_PERMISSION_REPLIES);
    all.add(ALL);
    return all;
  }
}

package dev.metalayer.keys;

import java.time.Instant;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A WhatsApp Cloud API number registered in the layer: its E.164 phone, Meta's phone number ID, the
 * WhatsApp Business Account (WABA) ID and the business portfolio ID. The Meta token used for it is
 * stored apart, sealed, and never part of this value.
 */
public record WhatsAppNumber(
    String phone, String phoneNumberId, String wabaId, String businessId, Instant createdAt) {
  private static final Pattern E164 = Pattern.compile("\\+[1-9][0-9]{6,14}");
  private static final Pattern GRAPH_ID = Pattern.compile("[0-9]{1,32}");

  public WhatsAppNumber {
    Objects.requireNonNull(createdAt, "createdAt");
    requireMatch(phone, E164, "phone", "an E.164 number with its leading +, e.g. +15551234567");
    requireMatch(phoneNumberId, GRAPH_ID, "phone_number_id", "Meta's numeric phone number ID");
    requireMatch(wabaId, GRAPH_ID, "waba_id", "the numeric WhatsApp Business Account ID");
    requireMatch(businessId, GRAPH_ID, "business_id", "the numeric business portfolio ID");
  }

  /** The phone without its {@code +}, as Meta writes {@code display_phone_number} and {@code wa_id}. */
  public String digits() {
    return phone.substring(1);
  }

  /** Whether {@code id} is one of this number's own Graph objects (phone number ID or WABA ID). */
  public boolean owns(String id) {
    return phoneNumberId.equals(id) || wabaId.equals(id);
  }

  /**
   * A numeric Graph ID as Graph reads it: without leading zeros ({@code "0"} stays {@code "0"}). Compare
   * IDs only in this form: Graph reads {@code 0123} as {@code 123}.
   */
  public static String canonicalId(String id) {
    int i = 0;
    while (i < id.length() - 1 && id.charAt(i) == '0') {
      i++;
    }
    return id.substring(i);
  }

  public static boolean isGraphId(String value) {
    return value != null && GRAPH_ID.matcher(value).matches();
  }

  private static void requireMatch(String value, Pattern pattern, String field, String expected) {
    if (value == null || !pattern.matcher(value).matches()) {
      throw new IllegalArgumentException(field + " must be " + expected);
    }
  }
}

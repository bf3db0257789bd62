package dev.metalayer.keys;

/** The outcome of registering a number. */
public sealed interface NumberRegistration {
  record Added(WhatsAppNumber number) implements NumberRegistration {}

  /** The phone number ID or the phone is already registered; nothing changed. */
  record Duplicate(String phoneNumberId) implements NumberRegistration {}

  /** The input is invalid; {@code reason} is safe to show (it never contains the token). */
  record Invalid(String reason) implements NumberRegistration {}
}

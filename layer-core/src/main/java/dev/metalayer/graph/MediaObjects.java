package dev.metalayer.graph;

import com.fasterxml.jackson.databind.JsonNode;
import dev.metalayer.json.Json;
import java.io.IOException;

/**
 * What a media object looks like, for the rule that a key reaches media by ID and nothing else by ID.
 *
 * <p>A media ID is only recognisable by elimination (numeric, and no registered number's object), so
 * a key could name any other numeric Graph object its number's token can see: an app, a user, another
 * WABA's template or phone number. Meta checks {@code phone_number_id} against media only. The layer
 * therefore sends a media request with none of the client's parameters or body (no {@code fields}, no
 * {@code method} override) and checks the answer: a lookup ({@code GET /{media-id}}) must answer a
 * WhatsApp media object ({@code "messaging_product":"whatsapp"} and a {@code url}) or a Graph error
 * (an error status and an {@code error} envelope), or the client gets a 403 and none of the bytes; a
 * deletion is preceded by such a lookup.
 */
final class MediaObjects {
  private MediaObjects() {}

  /** Whether {@code root} is a media lookup answer: a WhatsApp media object with a URL. */
  public static boolean isMedia(JsonNode root) {
    return root != null
        && root.isObject()
        && "whatsapp".equals(root.path("messaging_product").asText(null))
        && root.path("url").isTextual();
  }

  /** Whether {@code body} is a JSON media lookup answer ({@link #isMedia(JsonNode)}). */
  public static boolean isMedia(byte[] body) {
    try {
      return isMedia(Json.mapper().readTree(body));
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Whether an answer is a Graph error: an error status and an envelope whose only field is an
   * {@code error} object. An object that merely has a field called {@code error} (an alias a client
   * could ask Graph for) is not one.
   */
  static boolean isError(int status, JsonNode root) {
    return status >= 400 && root != null && root.isObject() && root.size() == 1 && root.path("error").isObject();
  }

  /** The 403 for an object addressed as media that is not one. */
  public static GraphError notMedia() {
    return GraphError.outOfScope("(#200) This key may only address its own phone number, WABA and media.");
  }
}

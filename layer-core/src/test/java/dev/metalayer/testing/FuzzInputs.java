package dev.metalayer.testing;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.core.StreamReadFeature;
import dev.metalayer.keys.Grant;
import dev.metalayer.keys.WhatsAppNumber;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The one place for what the fuzz targets ({@code *FuzzTest}) build from Jazzer's bytes: the numbers
 * registered in the layer, hostile-but-plausible Graph paths, queries, forms, answers and webhook
 * envelopes, and the independent readers the targets check the layer's parsers against. A target
 * takes its input from here and states its invariant itself, so that a changed signature in the class
 * under test costs a few lines in the target only.
 *
 * <p>Builders draw structure from the fuzzer's data (Jazzer steers the choices by coverage) and fall
 * back to short fixed texts when the data runs out; they never throw.
 */
public final class FuzzInputs {
  private FuzzInputs() {}

  /** The number whose key makes the requests. */
  public static final WhatsAppNumber A =
      new WhatsAppNumber("+15550783881", "106540352242922", "102290129340398", "900000000000001", Instant.EPOCH);
  /** Another tenant's number. */
  public static final WhatsAppNumber B =
      new WhatsAppNumber("+15550783882", "206540352242922", "202290129340398", "900000000000002", Instant.EPOCH);
  /** A third number, sharing A's business portfolio. */
  public static final WhatsAppNumber C =
      new WhatsAppNumber("+15550783883", "306540352242922", "302290129340398", "900000000000001", Instant.EPOCH);

  /** The Meta token behind A's key, in the shape Meta issues (it contains no {@code /}; see {@link #token}). */
  public static final String META_TOKEN = "EAAGm0PX4ZCpsBAfuzzTokenOfNumberA0123456789";
  /** A's key, as a client presents it. */
  public static final String CLIENT_KEY = "ps_fuzzClientKeyOfNumberA_0123456789abcdef";

  public static Grant grantA() {
    return new Grant("key_a", A, META_TOKEN);
  }

  /** Every Graph object of every registered number: what the layer's registry answers for. */
  public static Set<String> registeredObjects() {
    return Stream.of(A, B, C)
        .flatMap(n -> Stream.of(n.phoneNumberId(), n.wabaId(), n.businessId()))
        .collect(Collectors.toUnmodifiableSet());
  }

  /** The objects A's key must never address: other numbers' phone number IDs and WABAs, and every business. */
  public static Set<String> foreignObjects() {
    return Stream.concat(
            Stream.of(B, C).flatMap(n -> Stream.of(n.phoneNumberId(), n.wabaId())),
            Stream.of(A, B, C).map(WhatsAppNumber::businessId))
        .collect(Collectors.toUnmodifiableSet());
  }

  /**
   * A numeric id as Graph reads it: percent-decoded, and without leading zeros (Graph ids are
   * integers). Empty when it is not an all-digit id once decoded.
   */
  public static Optional<String> canonicalId(String raw) {
    String decoded = lenientDecode(raw);
    if (!decoded.matches("[0-9]{1,64}")) {
      return Optional.empty();
    }
    String stripped = decoded.replaceFirst("^0+(?=.)", "");
    return Optional.of(stripped);
  }

  // ---- Graph paths, queries and forms ----

  private static final String[] SEGMENTS = {
    "v22.0", "v13.0", "v1", A.phoneNumberId(), A.wabaId(), B.phoneNumberId(), B.wabaId(), A.businessId(),
    "1037543291543636", "0" + B.phoneNumberId(), "messages", "calls", "media", "subscribed_apps", "me",
    "debug_token", ".", "..", "%2e", "%2E%2e", "%2f", "%5C", "%00", "%252f", "%31", "\\", "", ";", "%3B",
    "..;", "%c0%ae", "\u2025", "\uFF0E\uFF0E", "?", "#", "%23", "%3F", "x"
  };

  /** A raw Graph path (after the prefix) assembled from segments a client or an attacker would send. */
  public static String graphPath(FuzzedDataProvider data) {
    StringBuilder b = new StringBuilder();
    int n = data.consumeInt(0, 6);
    for (int i = 0; i < n; i++) {
      b.append(data.consumeBoolean() ? "/" : data.pickValue(new String[] {"//", "/", "\\", "%2F", ""}));
      b.append(data.consumeBoolean() ? data.pickValue(SEGMENTS) : data.consumeString(12));
    }
    if (data.consumeBoolean()) {
      b.append('/');
    }
    return b.toString();
  }

  public static String method(FuzzedDataProvider data) {
    return data.pickValue(new String[] {"GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "get", "OPTIONS"});
  }

  /** Spellings of {@code access_token} a client might use, the exact one most often: they carry the key. */
  private static final String[] CREDENTIAL_NAMES = {
    "access_token", "access_token", "access_token", "access%5Ftoken", "%61ccess_token", "ACCESS_TOKEN",
    "Access_Token", "access_token[]", "access_token%5B%5D", "access_token[0]", " access_token", "access_token ",
    "access_token%20", "access+token", "access.token"
  };

  /** Other names, near misses of a credential's included: they never carry the key. */
  private static final String[] OTHER_NAMES = {
    "fields", "limit", "after", "before", "phone_number_id", "type", "q", "access_tokens", "accesstoken",
    "appsecret_proof", "APPSECRET_PROOF", "access_token_x"
  };

  /** The forms in which a client could write {@code key} as a parameter value. */
  public static String keyForm(FuzzedDataProvider data, String key) {
    return switch (data.consumeInt(0, 4)) {
      case 0 -> key;
      case 1 -> URLEncoder.encode(key, StandardCharsets.UTF_8);
      case 2 -> percentEncodeAll(key);
      case 3 -> " " + key + " ";
      default -> key.replace("_", "%5F");
    };
  }

  /**
   * A query or form: {@code name=value} pairs joined by {@code &}. The key only ever sits in a parameter
   * whose name means a credential (any spelling), so a target may demand that it never travels on;
   * other parameters get arbitrary values.
   */
  public static String parameters(FuzzedDataProvider data, String key) {
    StringBuilder b = new StringBuilder();
    int n = data.consumeInt(0, 6);
    for (int i = 0; i < n; i++) {
      if (i > 0 || data.consumeBoolean()) {
        b.append(data.consumeBoolean() ? "&" : data.pickValue(new String[] {"&&", "&"}));
      }
      if (data.consumeBoolean()) {
        b.append(data.pickValue(CREDENTIAL_NAMES));
        b.append('=');
        b.append(keyForm(data, key));
      } else {
        String name = data.consumeBoolean() ? data.pickValue(OTHER_NAMES) : data.consumeString(8);
        b.append(name).append('=').append(data.consumeString(16).replace(key, ""));
      }
    }
    return b.toString();
  }

  /** An {@code Authorization} header: usually {@code Bearer <key>}, sometimes malformed; null when absent. */
  public static String authorization(FuzzedDataProvider data, String key) {
    return switch (data.consumeInt(0, 5)) {
      case 0 -> null;
      case 1 -> "Bearer " + key;
      case 2 -> data.pickValue(new String[] {"bearer", "OAuth", "BEARER", "Basic", ""}) + " " + key;
      case 3 -> "Bearer  " + key + " ";
      case 4 -> data.consumeString(24);
      default -> "Bearer " + keyForm(data, key);
    };
  }

  /**
   * Whether a decoded parameter name means {@code access_token} to a lenient reader: any case,
   * surrounding spaces, an array suffix ({@code access_token[]}), and spaces or dots for the
   * underscore (as PHP reads names).
   */
  public static boolean namedLikeAccessToken(String decodedName) {
    String n = decodedName.strip().toLowerCase(Locale.ROOT).replace(' ', '_').replace('.', '_');
    int bracket = n.indexOf('[');
    if (bracket >= 0 && n.endsWith("]")) {
      n = n.substring(0, bracket);
    }
    return n.equals("access_token");
  }

  /** The decoded names of a raw query or form, split on {@code &}. */
  public static List<String> parameterNames(String raw) {
    return Stream.of(raw.split("&", -1))
        .filter(p -> !p.isEmpty())
        .map(p -> lenientDecode(p.indexOf('=') < 0 ? p : p.substring(0, p.indexOf('='))))
        .toList();
  }

  /** Whether {@code text} holds {@code secret} as written, once percent-decoded or once JSON-unescaped. */
  public static boolean mentions(String text, String secret) {
    return text.contains(secret) || lenientDecode(text).contains(secret) || text.replace("\\/", "/").contains(secret);
  }

  /** Percent-decoding (UTF-8, {@code +} as space) that keeps a malformed escape as written, as a lenient server would. */
  public static String lenientDecode(String s) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%' && i + 2 < s.length() && isHex(s.charAt(i + 1)) && isHex(s.charAt(i + 2))) {
        out.write(Integer.parseInt(s.substring(i + 1, i + 3), 16));
        i += 2;
      } else if (c == '+') {
        out.write(' ');
      } else {
        out.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
      }
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  private static boolean isHex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  private static String percentEncodeAll(String s) {
    StringBuilder b = new StringBuilder();
    for (byte x : s.getBytes(StandardCharsets.UTF_8)) {
      b.append('%').append(String.format("%02X", x & 0xff));
    }
    return b.toString();
  }

  // ---- JSON: answers and webhook envelopes ----

  /** A Meta-shaped token: {@code EAA} and 10–60 characters of Meta's alphabet, sometimes with {@code / + =}. */
  public static String token(FuzzedDataProvider data) {
    String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" + (data.consumeBoolean() ? "/+=" : "");
    int n = data.consumeInt(10, 60);
    StringBuilder b = new StringBuilder("EAA");
    for (int i = 0; i < n; i++) {
      b.append(alphabet.charAt(data.consumeInt(0, alphabet.length() - 1)));
    }
    return b.toString();
  }

  /** The ways Graph may write {@code secret} inside a JSON string. */
  public static String inJsonString(FuzzedDataProvider data, String secret) {
    return switch (data.consumeInt(0, 4)) {
      case 0 -> secret;
      case 1 -> secret.replace("/", "\\/");
      case 4 -> "\\u0045" + secret.substring(1); // E, as a JSON escape
      case 2 -> URLEncoder.encode(secret, StandardCharsets.UTF_8);
      default -> "https:\\/\\/graph.facebook.com\\/v22.0\\/1\\/x?access_token=" + URLEncoder.encode(secret, StandardCharsets.UTF_8);
    };
  }

  /**
   * A JSON text shaped like a Graph answer, with {@code secret} planted in some string values and
   * {@code paging} and media {@code url} fields often present. Not always valid JSON.
   */
  public static String graphAnswer(FuzzedDataProvider data, String secret) {
    StringBuilder b = new StringBuilder("{");
    int n = data.consumeInt(0, 5);
    for (int i = 0; i < n; i++) {
      if (i > 0) {
        b.append(',');
      }
      switch (data.consumeInt(0, 5)) {
        case 0 -> b.append("\"paging\":{\"cursors\":{\"after\":\"QVFIU\"},\"next\":\"")
            .append(pagingUrl(data, secret)).append("\",\"previous\":\"").append(pagingUrl(data, secret)).append("\"}");
        case 1 -> b.append("\"url\":\"https:\\/\\/lookaside.fbsbx.com\\/whatsapp_business\\/attachments\\/?mid=1&ext=2&hash=")
            .append(data.consumeString(10).replace("\"", "")).append("\",\"messaging_product\":\"whatsapp\",\"mime_type\":\"image\\/jpeg\"");
        case 2 -> b.append("\"data\":[").append(json(data, 3, secret)).append(']');
        case 3 -> b.append("\"error\":{\"message\":\"").append(inJsonString(data, secret)).append("\",\"code\":190}");
        case 4 -> b.append("\"id\":\"").append(data.pickValue(new String[] {"1037543291543636", A.phoneNumberId(), "x"})).append('"');
        default -> b.append(quote(data.consumeString(8))).append(':').append(json(data, 3, secret));
      }
    }
    b.append('}');
    return b.toString();
  }

  private static String pagingUrl(FuzzedDataProvider data, String secret) {
    String base = data.pickValue(new String[] {"https:\\/\\/graph.facebook.com", "https://graph.facebook.com", "http://127.0.0.1:1/graph", "ftp://x", ""});
    String path = data.pickValue(new String[] {"\\/v22.0\\/102290129340398\\/message_templates", "/v22.0/1/x", "", "/%2e%2e/x"});
    return base + path + "?" + data.pickValue(new String[] {"access_token=", "limit=25&access_token=", "appsecret_proof=ab&access_token=", "x="})
        + inJsonString(data, secret) + (data.consumeBoolean() ? "&after=QVFIU" : "");
  }

  /** A JSON value of limited depth; string values sometimes hold {@code secret} (null: never). */
  public static String json(FuzzedDataProvider data, int depth, String secret) {
    int kind = data.consumeInt(0, depth <= 0 ? 3 : 5);
    return switch (kind) {
      case 0 -> quote(data.consumeString(12));
      case 1 -> data.pickValue(new String[] {"0", "-1", "1e5", "12345678901234567890", "1.50", "true", "false", "null", "\"\\u00e9\\/\""});
      case 2 -> secret == null ? "\"x\"" : "\"" + inJsonString(data, secret) + "\"";
      case 3 -> quote(data.consumeString(4)) + "";
      case 4 -> {
        StringBuilder b = new StringBuilder("[");
        int n = data.consumeInt(0, 3);
        for (int i = 0; i < n; i++) {
          b.append(i > 0 ? "," : "").append(json(data, depth - 1, secret));
        }
        yield b.append(']').toString();
      }
      default -> {
        StringBuilder b = new StringBuilder("{");
        int n = data.consumeInt(0, 3);
        for (int i = 0; i < n; i++) {
          b.append(i > 0 ? "," : "").append(quote(data.consumeString(6))).append(data.consumeBoolean() ? ":" : " : ")
              .append(json(data, depth - 1, secret));
        }
        yield b.append('}').toString();
      }
    };
  }

  /** A webhook envelope in Meta's shape, with Meta's escaping, odd scalars and unknown fields mixed in. */
  public static byte[] envelope(FuzzedDataProvider data) {
    StringBuilder b = new StringBuilder("{");
    if (data.consumeBoolean()) {
      b.append("\"unknown\":").append(json(data, 2, null)).append(',');
    }
    b.append("\"object\":").append(data.pickValue(new String[] {"\"whatsapp_business_account\"", "\"whats\\u0061pp\"", "\"\"", "\"a\\\"b\""}));
    b.append(ws(data)).append(",\"entry\":[");
    int entries = data.consumeInt(0, 3);
    for (int e = 0; e < entries; e++) {
      b.append(e > 0 ? "," : "").append('{');
      boolean first = true;
      if (data.consumeBoolean()) {
        b.append("\"id\":").append(data.pickValue(new String[] {"\"" + A.wabaId() + "\"", A.wabaId(), "\"\\u0031\\/2\"", "1e3", "null", "true", "{\"x\":1}"}));
        first = false;
      }
      if (data.consumeBoolean()) {
        b.append(first ? "" : ",").append("\"time\":").append(data.pickValue(new String[] {"1735689600", "\"1735689600\"", "-1", "1.5", "[1]"}));
        first = false;
      }
      b.append(first ? "" : ",").append(ws(data)).append("\"changes\"").append(ws(data)).append(':').append(ws(data)).append('[');
      int changes = data.consumeInt(0, 3);
      for (int c = 0; c < changes; c++) {
        b.append(c > 0 ? "," : "").append(ws(data)).append(change(data)).append(ws(data));
      }
      b.append(']');
      if (data.consumeBoolean()) {
        b.append(",\"extra\":").append(json(data, 2, null));
      }
      b.append('}');
    }
    b.append("]}");
    if (data.consumeBoolean()) {
      b.append(data.pickValue(new String[] {"\n", " ", "x", "{}", "\u0000"}));
    }
    return b.toString().getBytes(StandardCharsets.UTF_8);
  }

  private static String change(FuzzedDataProvider data) {
    if (data.consumeBoolean()) {
      return json(data, 3, null);
    }
    String pnid = data.pickValue(new String[] {"\"" + A.phoneNumberId() + "\"", A.phoneNumberId(), "\"\"", "null"});
    return "{\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":\"15550783881\","
        + "\"phone_number_id\":" + pnid + "},\"calls\":[{\"id\":\"wacid.HBgLMTU1\\/\\u00e9\",\"event\":\"connect\","
        + "\"timestamp\":" + data.pickValue(new String[] {"\"1735689600\"", "1735689600", "\"x\"", "1e400"}) + "}],"
        + "\"extra\":" + json(data, 2, null) + "},\"field\":" + data.pickValue(new String[] {"\"calls\"", "\"messages\"", "1", "\"c\\u0061lls\""}) + "}";
  }

  private static String ws(FuzzedDataProvider data) {
    return data.consumeBoolean() ? "" : data.pickValue(new String[] {" ", "\n", "\t", "\r\n  "});
  }

  /** The JSON body a client sends to {@code /v1/webhooks}: known and odd fields, values of every type. */
  public static String subscriptionBody(FuzzedDataProvider data) {
    StringBuilder b = new StringBuilder("{");
    String[] fields = {"name", "url", "events", "secret", "chatwoot_terminate_reason", "active", "id", "phone_number_id"};
    int n = data.consumeInt(0, 7);
    for (int i = 0; i < n; i++) {
      String field = data.pickValue(fields);
      b.append(i > 0 ? "," : "").append(quote(field)).append(':');
      b.append(switch (data.consumeInt(0, 3)) {
        case 0 -> json(data, 2, null);
        case 1 -> data.pickValue(new String[] {"null", "true", "false", "\"\"", "\" \"", "[]"});
        default -> switch (field) {
          case "url" -> quote(data.pickValue(new String[] {
            "https://example.com/hook", " https://example.com/hook ", "http://127.0.0.1:9/x", "http://[::1]/x",
            "https://user:pw@example.com/", "https://example.com/#frag", "javascript:alert(1)", "file:///etc/passwd",
            "//example.com/x", "https://", "HTTPS://EXAMPLE.COM", "http://example.com/" + "a".repeat(2100),
            "https://example.com/\u0000"}) + data.consumeString(8));
          case "events" -> {
            StringBuilder e = new StringBuilder("[");
            int k = data.consumeInt(0, 4);
            for (int j = 0; j < k; j++) {
              e.append(j > 0 ? "," : "").append(quote(data.pickValue(new String[] {"calls", "messages", "*", "call_permission_replies", "Calls", "nope", ""})));
            }
            yield e.append(']').toString();
          }
          case "secret" -> quote(data.pickValue(new String[] {"short", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", " padded-secret ", "tab\tsecret1", ""}) + data.consumeString(12));
          case "name" -> quote(data.consumeBoolean() ? data.consumeString(120) : "Chatwoot");
          default -> json(data, 1, null);
        };
      });
    }
    return b.append('}').toString();
  }

  /** {@code s} as a JSON string literal. */
  public static String quote(String s) {
    try {
      return PLAIN.writeValueAsString(s);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static final ObjectMapper PLAIN = new ObjectMapper();

  /**
   * An independent, strict reading of a JSON text: duplicate keys and trailing tokens refused. Empty
   * when the text is not one strict JSON value.
   */
  public static Optional<JsonNode> strictTree(byte[] json) {
    try {
      JsonNode tree = STRICT.readTree(json);
      return tree == null || tree.isMissingNode() ? Optional.empty() : Optional.of(tree);
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static final ObjectMapper STRICT =
      JsonMapper.builder()
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .build();
}

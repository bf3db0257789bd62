package dev.metalayer.graph;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Removes a secret (the Meta token) from answer bytes, whatever upstream sent: the plain token, its
 * JSON-escaped form ({@code /} written {@code \/}, as Graph writes) and its URL-encoded form.
 *
 * <p>{@link #redact(byte[])} replaces each occurrence with {@code [redacted]} (for whole answers the
 * layer re-measures; {@link #redact(String)} does the same for a header value). {@link #stream()} gives a chunk-by-chunk scrubber that finds an occurrence split
 * across chunks and replaces it with the same number of bytes, so that a {@code Content-Length} stays
 * true. {@link #redactJson(byte[])} scrubs a JSON answer as a client reads it, after decoding: a token
 * written with backslash-u escapes inside a string or a field name is found too. Immutable and
 * thread-safe; a {@link Stream} is not.
 */
public final class TokenScrubber {
  static final byte[] REDACTED = "[redacted]".getBytes(StandardCharsets.US_ASCII);

  private final byte[][] needles;
  private final List<String> forms;
  private final int longest;

  /** @param secret the secret to remove; must not be empty */
  public TokenScrubber(String secret) {
    Objects.requireNonNull(secret, "secret");
    if (secret.isEmpty()) {
      throw new IllegalArgumentException("an empty secret cannot be scrubbed");
    }
    Set<String> forms = new LinkedHashSet<>();
    forms.add(secret);
    forms.add(secret.replace("/", "\\/"));
    forms.add(URLEncoder.encode(secret, StandardCharsets.UTF_8));
    List<byte[]> bytes = new ArrayList<>();
    for (String form : forms) {
      bytes.add(form.getBytes(StandardCharsets.UTF_8));
    }
    this.needles = bytes.toArray(new byte[0][]);
    this.forms = List.copyOf(forms);
    this.longest = bytes.stream().mapToInt(b -> b.length).max().orElse(1);
  }

  /** Whether {@code data} contains the secret in any of its forms. */
  public boolean foundIn(byte[] data) {
    for (int i = 0; i < data.length; i++) {
      if (matchAt(data, i, data.length) != null) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether {@code text} contains the secret in any of its forms: a header whose name holds it is
   * dropped (a name cannot be redacted into a valid one).
   */
  public boolean foundIn(String text) {
    for (String form : forms) {
      if (text.contains(form)) {
        return true;
      }
    }
    return false;
  }

  /** @return {@code data} itself when it holds no secret, else a copy with every occurrence replaced */
  public byte[] redact(byte[] data) {
    if (!foundIn(data)) {
      return data;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(data.length);
    int i = 0;
    while (i < data.length) {
      byte[] match = matchAt(data, i, data.length);
      if (match != null) {
        out.write(REDACTED, 0, REDACTED.length);
        i += match.length;
      } else {
        out.write(data[i]);
        i++;
      }
    }
    return out.toByteArray();
  }

  private static final ObjectMapper TREE =
      JsonMapper.builder().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS).build();

  /**
   * Scrubs a JSON document as a client will read it. When a body with a backslash-u escape holds the
   * secret once its strings and field names are decoded, it is parsed and written back (escapes
   * decoded, field order kept) and then scrubbed like any bytes; every other body keeps its exact bytes
   * (scrubbed).
   *
   * @return {@code json} itself when it holds no secret, else the scrubbed document; a body with an
   *     escape that is not JSON is scrubbed as bytes (the caller refuses what is not JSON)
   */
  public byte[] redactJson(byte[] json) {
    if (!hasUnicodeEscape(json) || !foundInDecodedStrings(json)) {
      return redact(json);
    }
    try {
      JsonNode root = TREE.readTree(json);
      return redact(TREE.writeValueAsBytes(root));
    } catch (JsonProcessingException e) {
      return redact(json);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("a JSON body in memory could not be read", e);
    }
  }

  /** Whether a string value or a field name of {@code json}, decoded, holds the secret (streaming, no tree). */
  private boolean foundInDecodedStrings(byte[] json) {
    try (JsonParser p = TREE.getFactory().createParser(json)) {
      for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
        if ((t == JsonToken.VALUE_STRING || t == JsonToken.FIELD_NAME) && foundIn(p.getText())) {
          return true;
        }
      }
      return false;
    } catch (IOException e) {
      return false; // not JSON: scrubbed as bytes, refused by the caller
    }
  }

  /** Whether {@code json} holds a backslash-u escape (a backslash, itself not escaped, then {@code u}). */
  static boolean hasUnicodeEscape(byte[] json) {
    for (int i = 0; i < json.length - 1; i++) {
      if (json[i] == '\\') {
        if (json[i + 1] == 'u') {
          return true;
        }
        i++; // skip the escaped character, e.g. the second of two backslashes
      }
    }
    return false;
  }

  /**
   * @return {@code value} itself when it holds no secret, else with every occurrence replaced: for
   *     header values, which the layer passes on from Meta
   */
  public String redact(String value) {
    String out = value;
    for (String form : forms) {
      if (out.contains(form)) {
        out = out.replace(form, "[redacted]");
      }
    }
    return out;
  }

  /** A new scrubber for one streamed body. */
  public Stream stream() {
    return new Stream();
  }

  private byte[] matchAt(byte[] data, int at, int end) {
    outer:
    for (byte[] needle : needles) {
      if (end - at < needle.length || data[at] != needle[0]) {
        continue;
      }
      for (int j = 1; j < needle.length; j++) {
        if (data[at + j] != needle[j]) {
          continue outer;
        }
      }
      return needle;
    }
    return null;
  }

  /**
   * Scrubs one body chunk by chunk, holding back at most {@code longest - 1} bytes between chunks.
   * Output length always equals input length.
   */
  public final class Stream {
    private byte[] carry = new byte[0];

    private Stream() {}

    /** @return the bytes that are safe to send now (possibly empty) */
    public byte[] feed(byte[] chunk, int offset, int length) {
      byte[] data = new byte[carry.length + length];
      System.arraycopy(carry, 0, data, 0, carry.length);
      System.arraycopy(chunk, offset, data, carry.length, length);
      int safe = Math.max(0, data.length - (longest - 1));
      int i = maskMatchesStartingBefore(data, safe);
      // i may pass 'safe' when a match straddles it: everything before i is final.
      int emit = Math.min(data.length, Math.max(i, safe));
      carry = Arrays.copyOfRange(data, emit, data.length);
      return emit == data.length ? data : Arrays.copyOf(data, emit);
    }

    /** @return the held-back tail, scrubbed; call once, at the end of the body */
    public byte[] finish() {
      byte[] data = carry;
      carry = new byte[0];
      maskMatchesStartingBefore(data, data.length);
      return data;
    }

    /**
     * Masks, in place, every match that starts before {@code limit} (a match may run past it).
     * @return the index after the last byte examined: {@code limit}, or the end of a straddling match
     */
    private int maskMatchesStartingBefore(byte[] data, int limit) {
      int i = 0;
      while (i < limit) {
        byte[] match = matchAt(data, i, data.length);
        if (match != null) {
          mask(data, i, match.length);
          i += match.length;
        } else {
          i++;
        }
      }
      return i;
    }

    private void mask(byte[] data, int at, int length) {
      for (int k = 0; k < length; k++) {
        data[at + k] = REDACTED[k % REDACTED.length];
      }
    }
  }
}

package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.testing.FuzzInputs;
import dev.metalayer.testing.FuzzRuns;
import dev.metalayer.testing.MutableClock;
import java.security.SecureRandom;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes the layer's media links, whose {@code ref} a client presents back on the download route.
 * Invariant: a link opens only for its own number and media (any other pair is {@code Foreign}), gives
 * back exactly the sealed URL while fresh and nothing after {@link MediaLinks#FRESH_FOR}, carries the
 * URL only sealed; a {@code ref} the client made up or altered never opens as a URL of its own choosing.
 */
class MediaLinksFuzzTest {
  static final FuzzRuns RUNS = new FuzzRuns("MediaLinks");
  static final String BASE = "https://layer.test/api/layer/meta";
  static final MutableClock CLOCK = MutableClock.at("2026-03-01T10:00:00Z");
  static final MediaLinks LINKS = new MediaLinks(new TokenCipher(new byte[32], new SecureRandom()), CLOCK);

  @AfterAll
  static void figures() {
    RUNS.report();
  }

  @FuzzTest(maxDuration = "10s")
  void aMediaLinkOpensOnlyForItsOwnNumberAndMedia(FuzzedDataProvider data) {
    RUNS.executed();
    String number = data.pickValue(new String[] {FuzzInputs.A.phoneNumberId(), FuzzInputs.B.phoneNumberId(), "1"});
    String media = digits(data);
    String url = data.consumeBoolean()
        ? "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=" + media + "&hash=" + data.consumeString(12)
        : data.consumeString(40);
    String link = LINKS.link(BASE, number, media, url);

    String prefix = BASE + "/media/" + media + "/download?ref=";
    assertThat(link).startsWith(prefix);
    String ref = link.substring(prefix.length());
    assertThat(ref).matches("[A-Za-z0-9_-]+");
    MediaLinks.Opened own = LINKS.open(ref, number, media);
    if (MediaLinks.parse(url).isPresent()) {
      assertThat(own).isEqualTo(new MediaLinks.Opened.Fresh(MediaLinks.parse(url).get()));
    } else {
      assertThat(own).isInstanceOf(MediaLinks.Opened.Stale.class);
    }

    String otherNumber = data.pickValue(new String[] {FuzzInputs.A.phoneNumberId(), FuzzInputs.B.phoneNumberId(), "1", number + "0"});
    String otherMedia = data.consumeBoolean() ? media : digits(data);
    if (!(otherNumber.equals(number) && otherMedia.equals(media))) {
      assertThat(LINKS.open(ref, otherNumber, otherMedia)).as("another number's or media's link").isInstanceOf(MediaLinks.Opened.Foreign.class);
    }

    String forged = data.consumeBoolean() ? alter(ref, data) : data.consumeString(80);
    MediaLinks.Opened opened = LINKS.open(forged, number, media);
    if (!opened.equals(own)) {
      assertThat(opened).as("a made-up or altered ref").isNotInstanceOf(MediaLinks.Opened.Fresh.class);
    }

    Duration later = Duration.ofSeconds(data.consumeLong(0, 3600));
    CLOCK.advance(later);
    try {
      MediaLinks.Opened after = LINKS.open(ref, number, media);
      if (later.compareTo(MediaLinks.FRESH_FOR) >= 0) {
        assertThat(after).isInstanceOf(MediaLinks.Opened.Stale.class);
      }
    } finally {
      CLOCK.advance(later.negated());
    }
  }

  /** A media id as the routes accept it: 1–20 digits. */
  private static String digits(FuzzedDataProvider data) {
    long id = data.consumeLong(0, Long.MAX_VALUE);
    return Long.toString(id);
  }

  private static String alter(String ref, FuzzedDataProvider data) {
    if (ref.isEmpty()) {
      return ref;
    }
    char[] chars = ref.toCharArray();
    int at = data.consumeInt(0, chars.length - 1);
    chars[at] = data.pickValue(new Character[] {'A', 'B', '_', '-', '0', 'z'});
    return data.consumeBoolean() ? new String(chars) : new String(chars, 0, data.consumeInt(0, chars.length));
  }
}

package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.testing.MutableClock;
import java.security.SecureRandom;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/** The parts of a {@code ref} the fuzz test cannot make: texts sealed under the master key that no link holds. */
class MediaLinksTest {
  static final String PNID = "106540352242922";
  static final String MEDIA = "1037543291543636";
  static final String CDN = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1";

  final TokenCipher cipher = new TokenCipher(new byte[32], new SecureRandom());
  final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  final MediaLinks links = new MediaLinks(cipher, clock);

  /** A ref sealing {@code plain} for this number and media, as another holder of the master key could make it. */
  String sealed(String plain) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(cipher.seal(plain, "media:" + PNID + ":" + MEDIA));
  }

  @Test
  void aSealedTextThatIsNoIssueTimeAndUrlIsForeign() {
    long now = clock.instant().getEpochSecond();
    assertThat(links.open(sealed(now + "\n" + CDN), PNID, MEDIA)).as("the form a link seals")
        .isInstanceOf(MediaLinks.Opened.Fresh.class);
    assertThat(links.open(sealed(CDN), PNID, MEDIA)).as("no issue time").isInstanceOf(MediaLinks.Opened.Foreign.class);
    assertThat(links.open(sealed("\n" + CDN), PNID, MEDIA)).as("an empty issue time").isInstanceOf(MediaLinks.Opened.Foreign.class);
    assertThat(links.open(sealed("yesterday\n" + CDN), PNID, MEDIA)).isInstanceOf(MediaLinks.Opened.Foreign.class);
  }
}

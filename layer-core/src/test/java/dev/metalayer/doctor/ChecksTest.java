package dev.metalayer.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.MissingNode;
import dev.metalayer.doctor.Doctor.Check;
import dev.metalayer.doctor.Doctor.Status;
import dev.metalayer.doctor.MetaReads.Read;
import dev.metalayer.graph.GraphForwarder.UpstreamFailure;
import dev.metalayer.keys.WhatsAppNumber;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The doctor's pure rules, without I/O (their answers to Meta's real HTTP are in layer-jetty's MetaDoctorTest). */
class ChecksTest {
  static final Instant NOW = Instant.parse("2026-12-01T12:00:00Z");
  static final WhatsAppNumber NUMBER = new WhatsAppNumber("+15550783881", "106540352242922", "102290129340398",
      "900000000000001", NOW);
  final Checks checks = new Checks(NUMBER, List.of("EAAGsecret-token"));

  @Test
  void aTiersLimitIsReadFromItsName() {
    assertThat(Checks.tierLimit("TIER_250")).contains(250L);
    assertThat(Checks.tierLimit("TIER_1K")).contains(1_000L);
    assertThat(Checks.tierLimit("TIER_2K")).contains(2_000L);
    assertThat(Checks.tierLimit("tier_100k")).contains(100_000L);
    assertThat(Checks.tierLimit("TIER_UNLIMITED")).contains(Long.MAX_VALUE);
    assertThat(Checks.tierLimit("")).isEmpty();
    assertThat(Checks.tierLimit("TIER_99999999999K")).as("no overflow").isEmpty();
    assertThat(Checks.tierLimit("LIMITED")).isEmpty();
  }

  @Test
  void callbacksCompareByOriginAndPathOnly() {
    assertThat(Checks.sameUrl("https://Layer.example.com/webhooks/meta/", "https://layer.example.com:443/webhooks/meta"))
        .isTrue();
    assertThat(Checks.sameUrl("http://layer.example.com/webhooks/meta", "https://layer.example.com/webhooks/meta")).isFalse();
    assertThat(Checks.sameUrl("https://layer.example.com/webhooks/other", "https://layer.example.com/webhooks/meta"))
        .isFalse();
    assertThat(Checks.sameUrl("not a url", "https://layer.example.com/webhooks/meta")).isFalse();
  }

  @Test
  void aQuotedUrlLosesItsQueryAndCredentials() {
    assertThat(Checks.shown("https://user:pw@hook.example.com/x?token=abc#f")).isEqualTo("https://hook.example.com/x");
    assertThat(Checks.shown("::")).isEqualTo("(not a URL)");
  }

  @Test
  void metasMessagesAreQuotedWithoutTheTokenOrControlCharactersAndBounded() {
    assertThat(checks.scrub("bad token EAAGsecret-token\nagain")).isEqualTo("bad token <redacted> again");
    assertThat(checks.scrub("x".repeat(1000))).hasSize(301);
  }

  @Test
  void everyNonOkCheckHasAFix() {
    List<Read> problems = List.of(new Read.Failed(UpstreamFailure.TIMEOUT), new Read.Failed(UpstreamFailure.UNREACHABLE),
        new Read.NoToken("it is not in the store"), new Read.Answered(200, MissingNode.getInstance()),
        new Read.Answered(502, MissingNode.getInstance()));
    for (Read read : problems) {
      Check c = checks.graphProblem(Checks.TOKEN, read, "x");
      assertThat(c.status()).isNotEqualTo(Status.OK);
      assertThat(c.fix()).isPresent();
    }
    assertThat(checks.graphProblem(Checks.TOKEN, new Read.Failed(UpstreamFailure.TIMEOUT), "x").status())
        .isEqualTo(Status.WARN);
    assertThat(checks.lastWebhook(Optional.of(NOW.minus(Duration.ofMinutes(3))), NOW).detail()).contains("3 min ago");
  }
}

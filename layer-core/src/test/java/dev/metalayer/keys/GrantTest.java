package dev.metalayer.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.keys.Grant.RateLimit;
import dev.metalayer.keys.Grant.Scope;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** A grant's values: its scopes, its own rate limit as an operator writes it, and what its toString shows. */
class GrantTest {
  private static final WhatsAppNumber NUMBER =
      new WhatsAppNumber("+15550783881", "106540352242922", "102290129340398", "555", Instant.EPOCH);

  @Test
  void aRateLimitIsOffOrWithinItsRangeAtBothEnds() {
    assertThat(new RateLimit(RateLimit.MIN_PER_SECOND, 1).limits()).isTrue();
    assertThat(new RateLimit(RateLimit.MAX, RateLimit.MAX).burst()).isEqualTo(RateLimit.MAX);
    assertThat(RateLimit.OFF.limits()).isFalse();
    assertThat(new RateLimit(0, 0)).isEqualTo(RateLimit.OFF);
    assertThatThrownBy(() -> new RateLimit(RateLimit.MIN_PER_SECOND / 2, 1)).hasMessageContaining("a rate must be");
    assertThatThrownBy(() -> new RateLimit(RateLimit.MAX + 0.5, 1)).hasMessageContaining("a rate must be");
    assertThatThrownBy(() -> new RateLimit(0, 1)).as("a burst without a rate").hasMessageContaining("a rate must be");
    assertThatThrownBy(() -> new RateLimit(1, 0)).as("a rate without a burst").hasMessageContaining("a burst must be");
    assertThatThrownBy(() -> new RateLimit(1, RateLimit.MAX + 1)).hasMessageContaining("a burst must be");
  }

  @Test
  void anOperatorWritesALimitAsARateAndABurstOrOff() {
    assertThat(RateLimit.parse("2.5", " 20 ")).isEqualTo(new RateLimit(2.5, 20));
    assertThat(RateLimit.parse("off", "20")).isEqualTo(RateLimit.OFF);
    assertThat(RateLimit.parse("5", " OFF ")).isEqualTo(RateLimit.OFF);
    assertThat(RateLimit.parse("0.0", "20")).isEqualTo(RateLimit.OFF);
    assertThat(RateLimit.parse("5", "0")).isEqualTo(RateLimit.OFF);
    assertThatThrownBy(() -> RateLimit.parse("5", "many")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("the burst 'many' is not a whole number of requests or off");
    assertThatThrownBy(() -> RateLimit.parse("5", null)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("the burst 'null'");
    assertThatThrownBy(() -> RateLimit.parse("fast", "5")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("the rate 'fast'");
    assertThatThrownBy(() -> RateLimit.parse(null, "5")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("the rate ''");
    assertThat(RateLimit.rate(" Off ")).isZero();
    assertThat(RateLimit.rate("0.5")).isEqualTo(0.5);
    assertThatThrownBy(() -> RateLimit.rate("1e3")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aLimitIsShownWithoutANeedlessDecimal() {
    assertThat(new RateLimit(50, 100)).hasToString("50/s burst 100");
    assertThat(new RateLimit(0.5, 3)).hasToString("0.5/s burst 3");
    assertThat(RateLimit.OFF).hasToString("off");
    assertThat(RateLimit.rateText(1e20)).as("too large for a long").isEqualTo("100000000000000000000");
  }

  @Test
  void aGrantShowsItsScopesAndLimitButNeverItsToken() {
    Grant limited = new Grant("key_1", NUMBER, "EAAG-secret", EnumSet.of(Scope.CALLS), Optional.of(new RateLimit(2, 5)));
    assertThat(limited.has(Scope.CALLS)).isTrue();
    assertThat(limited.has(Scope.MESSAGES)).isFalse();
    assertThat(limited.toString()).isEqualTo(
        "Grant[keyId=key_1, phoneNumberId=106540352242922, scopes=calls, rateLimit=2/s burst 5, metaToken=<redacted>]");
    assertThat(new Grant("key_2", NUMBER, "EAAG-secret").toString())
        .isEqualTo("Grant[keyId=key_2, phoneNumberId=106540352242922, scopes=messages,calls,settings,templates,media,"
            + "webhooks, metaToken=<redacted>]");
  }

  @Test
  void aScopeIsNamedExactlyAndAnUnknownNameIsShownCleanAndShort() {
    assertThat(Scope.named("calls")).contains(Scope.CALLS);
    assertThat(Scope.named("Calls")).isEmpty();
    assertThat(Scope.shown("a b\u001fc\u007fd")).isEqualTo("a b?c?d");
    assertThat(Scope.shown("x".repeat(40))).isEqualTo("x".repeat(40));
    assertThat(Scope.shown("x".repeat(41))).isEqualTo("x".repeat(40) + "…");
  }
}

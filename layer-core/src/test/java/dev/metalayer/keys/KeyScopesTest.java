package dev.metalayer.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.metalayer.crypto.TokenCipher;
import dev.metalayer.keys.Grant.Scope;
import dev.metalayer.keys.KeyService.CreatedKey;
import dev.metalayer.store.Stores;
import dev.metalayer.testing.MutableClock;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Key scopes in the key service: named at creation, carried by every grant, cached grants included. */
class KeyScopesTest {
  private static final String PNID = "106540352242922";
  private final MutableClock clock = MutableClock.at("2026-03-01T10:00:00Z");
  private final KeyService keys =
      new KeyService(Stores.inMemoryKeys(), new TokenCipher(new byte[32], new SecureRandom()), clock, new SecureRandom(),
          Duration.ofSeconds(30));

  private Grant resolve(String key) {
    return ((Resolution.Granted) keys.resolve(key)).grant();
  }

  @Test
  void aNewKeyHasEveryScopeUnlessFewerAreNamed() {
    keys.addNumber("+15550783881", PNID, "102290129340398", "555", "EAAG-meta-token");
    CreatedKey all = keys.createKey(PNID).orElseThrow();
    CreatedKey few = keys.createKey(PNID, EnumSet.of(Scope.MESSAGES, Scope.TEMPLATES)).orElseThrow();

    assertThat(all.record().scopes()).isEqualTo(Scope.ALL);
    assertThat(few.record().scopes()).containsExactly(Scope.MESSAGES, Scope.TEMPLATES);
    assertThat(resolve(all.key()).scopes()).isEqualTo(Scope.ALL);
    assertThat(resolve(few.key()).scopes()).containsExactly(Scope.MESSAGES, Scope.TEMPLATES);
    // the cached grant (within the cache time) and the one read again (past it) carry the same scopes
    assertThat(resolve(few.key()).has(Scope.CALLS)).isFalse();
    clock.advance(Duration.ofMinutes(5));
    assertThat(resolve(few.key()).scopes()).containsExactly(Scope.MESSAGES, Scope.TEMPLATES);
    assertThat(keys.listKeys()).extracting(KeyRecord::scopes)
        .containsExactly(Scope.ALL, EnumSet.of(Scope.MESSAGES, Scope.TEMPLATES));
    assertThat(resolve(few.key()).toString()).contains("scopes=messages,templates").doesNotContain("EAAG");
  }

  @Test
  void aKeyWithNoScopeIsNeverCreated() {
    keys.addNumber("+15550783881", PNID, "102290129340398", "555", "EAAG-meta-token");
    assertThatThrownBy(() -> keys.createKey(PNID, Set.of())).isInstanceOf(IllegalArgumentException.class);
    assertThat(keys.listKeys()).isEmpty();
    assertThatThrownBy(() -> new Grant("key_1", keys.listNumbers().get(0), "EAAG-meta-token", Set.of()))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void scopeNamesAreTheLowerCaseWireNamesAndAnUnknownOneIsNamed() {
    assertThat(Scope.ALL).extracting(Scope::wireName)
        .containsExactly("messages", "calls", "settings", "templates", "media", "webhooks");
    assertThat(Scope.parse("messages, calls")).containsExactly(Scope.MESSAGES, Scope.CALLS);
    assertThat(Scope.parse(List.of("webhooks", "webhooks"))).containsExactly(Scope.WEBHOOKS);
    assertThatThrownBy(() -> Scope.parse("messages,call")).hasMessageContaining("unknown scope 'call'")
        .hasMessageContaining("messages,calls,settings,templates,media,webhooks");
    assertThatThrownBy(() -> Scope.parse("MESSAGES")).hasMessageContaining("unknown scope 'MESSAGES'");
    assertThatThrownBy(() -> Scope.parse("messages,")).hasMessageContaining("unknown scope ''");
    assertThatThrownBy(() -> Scope.parse(" ")).hasMessageContaining("at least one scope");
    assertThatThrownBy(() -> Scope.parse(List.of())).hasMessageContaining("at least one scope");
    // an operator's hostile name comes back bounded and without control characters
    assertThatThrownBy(() -> Scope.parse("x\u001b[31m" + "y".repeat(500)))
        .hasMessageNotContaining("\u001b").hasMessageContaining("…")
        .satisfies(e -> assertThat(e.getMessage().length()).isLessThan(200));
    assertThat(Scope.names(EnumSet.of(Scope.WEBHOOKS, Scope.CALLS))).isEqualTo("calls,webhooks");
  }
}

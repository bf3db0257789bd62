package dev.metalayer.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.metalayer.MetaLayer;
import dev.metalayer.graph.GraphSettings;
import dev.metalayer.store.Stores;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The declaration of the options: its defaults agree with the builder's, and every option is used. */
class OptionTest {
  private static MetaLayer.Builder bare() {
    return MetaLayer.builder().keyStore(Stores.inMemoryKeys()).masterKey(new byte[32]);
  }

  @Test
  void theLaunchersDefaultsAreTheBuildersDefaults() {
    GraphSettings builderDefaults = bare().build().graphProxy().settings();
    GraphSettings declared = Settings.of(Map.of()).applyTo(bare()).build().graphProxy().settings();

    assertThat(declared.graphUrl()).isEqualTo(builderDefaults.graphUrl());
    assertThat(declared.prefix()).isEqualTo(builderDefaults.prefix());
    assertThat(declared.connectTimeout()).isEqualTo(builderDefaults.connectTimeout());
    assertThat(declared.idleTimeout()).isEqualTo(builderDefaults.idleTimeout());
    assertThat(declared.upstreamTimeout()).isEqualTo(builderDefaults.upstreamTimeout());
    assertThat(declared.mediaTimeout()).isEqualTo(builderDefaults.mediaTimeout());
    assertThat(declared.maxBodyBytes()).isEqualTo(builderDefaults.maxBodyBytes());
    assertThat(declared.maxJsonAnswerBytes()).isEqualTo(builderDefaults.maxJsonAnswerBytes());
    assertThat(declared.mergeCallingSettings()).isEqualTo(builderDefaults.mergeCallingSettings());
    assertThat(declared.mediaDownloadsPerKey()).isEqualTo(builderDefaults.mediaDownloadsPerKey());
    assertThat(declared.mediaHosts()).isEqualTo(builderDefaults.mediaHosts());
  }

  @Test
  void everyDefaultIsOfItsOwnKindAndEveryFlagIsUnique() {
    for (Option o : Option.values()) {
      o.defaultValue().ifPresent(d -> assertThat(o.parse(d)).as(o.name()).isNotNull());
      o.flag().ifPresent(f -> assertThat(Option.byFlag(f)).as(f).contains(o));
      assertThat(Option.byEnv(o.env())).as(o.env()).contains(o);
      assertThat(o.secret()).as(o.name() + ": a secret has no flag").isEqualTo(o.secret() && o.flag().isEmpty());
    }
  }
}

package dev.metalayer.graph;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.util.List;
import org.junit.jupiter.api.Test;

class MediaHostsTest {
  @Test
  void aBareHostNameAllowsHttpsOnly() {
    MediaHosts hosts = new MediaHosts(GraphSettings.META_MEDIA_HOSTS);
    assertThat(hosts.allows(URI.create("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"))).isTrue();
    assertThat(hosts.allows(URI.create("https://scontent.xx.fbcdn.net/v/t1"))).isTrue();
    assertThat(hosts.allows(URI.create("http://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"))).isFalse();
    assertThat(hosts.allows(URI.create("http://scontent.xx.fbcdn.net/v/t1"))).isFalse();
    assertThat(hosts.allows(URI.create("ftp://lookaside.fbsbx.com/x"))).isFalse();
    assertThat(hosts.allows(URI.create("https://fbcdn.net.evil.example/x"))).isFalse();
  }

  @Test
  void anEntryWrittenHttpAllowsPlainHttpForThatHostOnly() {
    MediaHosts hosts = new MediaHosts(List.of("http://127.0.0.1", "lookaside.fbsbx.com", "HTTP://*.Test.Example"));
    assertThat(hosts.allows(URI.create("http://127.0.0.1:8080/cdn/x"))).isTrue();
    assertThat(hosts.allows(URI.create("https://127.0.0.1:8443/cdn/x"))).isTrue();
    assertThat(hosts.allows(URI.create("http://media.test.example/x"))).isTrue();
    assertThat(hosts.allows(URI.create("http://lookaside.fbsbx.com/x"))).isFalse();
    assertThat(hosts.allows(URI.create("http://localhost/x"))).isFalse();
    assertThat(new MediaHosts(List.of("http://::1")).allows(URI.create("http://[::1]:8080/x"))).isTrue();
    assertThat(new MediaHosts(List.of("http://[::1]")).allows(URI.create("http://[::1]:8080/x"))).isTrue(); // written as in a URL
  }

  @Test
  void aUrlWithoutAHostOrSchemeIsNeverFetched() {
    MediaHosts hosts = new MediaHosts(List.of("lookaside.fbsbx.com", "http://127.0.0.1"));
    assertThat(hosts.allows(null)).isFalse();
    assertThat(hosts.allows(URI.create("/whatsapp_business/attachments/?mid=1"))).as("relative").isFalse();
    assertThat(hosts.allows(URI.create("//lookaside.fbsbx.com/x"))).as("no scheme").isFalse();
    assertThat(hosts.allows(URI.create("https:///x"))).as("no host").isFalse();
    assertThat(hosts.allows(URI.create("mailto:media@lookaside.fbsbx.com"))).as("opaque").isFalse();
  }

  @Test
  void blankEntriesAreIgnoredButAListOfNothingButBlanksIsRefused() {
    assertThat(new MediaHosts(List.of(" Lookaside.FBSBX.com ", "", "  ")).patterns()).containsExactly("lookaside.fbsbx.com");
    assertThatThrownBy(() -> new MediaHosts(List.of("", " "))).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least one media host");
  }

  @Test
  void anEntryThatIsNoHostIsRefusedAtStart() {
    for (String bad : new String[] {"https://lookaside.fbsbx.com", "http://", "lookaside.fbsbx.com/path", "127.0.0.1:8080", ":443"}) {
      assertThatThrownBy(() -> new MediaHosts(List.of(bad))).as(bad).isInstanceOf(IllegalArgumentException.class);
    }
  }
}

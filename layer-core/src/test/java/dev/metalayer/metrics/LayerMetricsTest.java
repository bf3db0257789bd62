package dev.metalayer.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

/** The label rules of the proxy's requests, with no I/O. */
class LayerMetricsTest {
  SimpleMeterRegistry registry = new SimpleMeterRegistry();
  LayerMetrics metrics = LayerMetrics.of(registry);

  double requests(String... tags) {
    Counter c = registry.find("metalayer.proxy.requests").tags(tags).counter();
    return c == null ? 0 : c.count();
  }

  @Test
  void metasAnswerIsForwardedWhateverItsStatusAndTheLayersOwnAnswerIsRefusedOrFailedByItsStatus() {
    metrics.proxyRequest("messages", "POST", 200, true);
    metrics.proxyRequest("messages", "POST", 400, true); // Meta refused: still forwarded
    metrics.proxyRequest("messages", "POST", 429, false); // e.g. a per-key limit
    metrics.proxyRequest("node", "GET", 401, false);
    metrics.proxyRequest("settings", "GET", 504, false);
    metrics.proxyRequest("settings", "POST", 200, false); // answered by the layer itself

    assertThat(requests("route", "messages", "status_class", "2xx", "outcome", "forwarded", "reason", "none")).isEqualTo(1);
    assertThat(requests("route", "messages", "status_class", "4xx", "outcome", "forwarded", "reason", "none")).isEqualTo(1);
    assertThat(requests("route", "messages", "status_class", "4xx", "outcome", "refused", "reason", "rate_limited")).isEqualTo(1);
    assertThat(requests("route", "node", "method", "GET", "outcome", "refused", "reason", "unauthorized")).isEqualTo(1);
    assertThat(requests("route", "settings", "status_class", "5xx", "outcome", "failed", "reason", "upstream_timeout")).isEqualTo(1);
    assertThat(requests("route", "settings", "method", "POST", "outcome", "answered", "reason", "none")).isEqualTo(1);
  }

  @Test
  void anUnknownRefusalIsNamedByItsStatusAndAnUnknownMethodIsOther() {
    assertThat(LayerMetrics.reason(418)).isEqualTo("status_418");
    assertThat(LayerMetrics.reason(99_999)).isEqualTo("status_0");
    metrics.proxyRequest("other", "PROPFIND-" + "x".repeat(100), 404, false);
    assertThat(requests("method", "OTHER", "reason", "not_found")).isEqualTo(1);
  }

  @Test
  void noneCountsIntoNothing() {
    LayerMetrics none = LayerMetrics.none();
    none.proxyRequest("messages", "POST", 200, true);
    assertThat(none.registry().getMeters()).allMatch(m -> m.measure().iterator().next().getValue() == 0
        || Double.isNaN(m.measure().iterator().next().getValue()));
  }
}

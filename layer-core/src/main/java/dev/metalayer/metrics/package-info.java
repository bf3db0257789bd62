/**
 * What the layer counts, and under which names and labels: {@link dev.metalayer.metrics.LayerMetrics}
 * over a Micrometer {@code MeterRegistry} the host supplies (the standalone layer's is Prometheus's). Below
 * every other package of the core, like the log rules: the graph and relay packages report facts to it, and
 * the label rules (route classes, refusal reasons, outcomes, bounded values only) live here once.
 */
package dev.metalayer.metrics;

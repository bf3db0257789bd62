/**
 * Meta Layer's framework-free core: the Graph compatibility layer and the call webhook relay, behind
 * the one entry point {@link dev.metalayer.MetaLayer}. See docs/embedding.md.
 */
module dev.metalayer.core {
  requires transitive java.net.http;
  // Database and Json hand out JDBC and Jackson types: a module that uses them reads these too
  requires transitive java.sql;
  requires org.slf4j;
  // the metrics facade: LayerMetrics hands out its MeterRegistry, which the host supplies
  requires transitive micrometer.core;
  // optional: PostgreSQL's notifications (LISTEN/NOTIFY wake-ups), read only on a PostgreSQL store
  requires static org.postgresql.jdbc;
  requires transitive com.fasterxml.jackson.databind;

  exports dev.metalayer;
  exports dev.metalayer.calls;
  exports dev.metalayer.crypto;
  exports dev.metalayer.doctor;
  exports dev.metalayer.graph;
  exports dev.metalayer.json;
  exports dev.metalayer.keys;
  exports dev.metalayer.log;
  exports dev.metalayer.metrics;
  exports dev.metalayer.relay;
  exports dev.metalayer.store;
}

/**
 * Meta Layer's framework-free core: the Graph compatibility layer and the call webhook relay, behind
 * the one entry point {@link dev.metalayer.MetaLayer}. See docs/embedding.md.
 */
module dev.metalayer.core {
  requires transitive java.net.http;
  requires java.sql;
  requires org.slf4j;
  requires com.fasterxml.jackson.databind;

  exports dev.metalayer;
  exports dev.metalayer.crypto;
  exports dev.metalayer.graph;
  exports dev.metalayer.json;
  exports dev.metalayer.keys;
  exports dev.metalayer.relay;
  exports dev.metalayer.store;
}

/**
 * The benchmark harness, run by {@code layer-examples/bench/run.sh} and never by
 * {@code mvn verify}: a fake Graph upstream ({@link dev.metalayer.bench.InstantGraph}), an
 * open-loop constant-rate load generator ({@link dev.metalayer.bench.OpenLoopLoad}), nginx
 * doing the same key check and token swap ({@link dev.metalayer.bench.Nginx}), a bare Jetty
 * proxy as the floor of a Jetty design ({@link dev.metalayer.bench.JettyFloor}), the layer as
 * a child process ({@link dev.metalayer.bench.ChildProcess}), a flight-recording summariser
 * ({@link dev.metalayer.bench.JfrTop}) and the orchestrator
 * ({@link dev.metalayer.bench.Bench}) that runs every measurement on loopback in one run and
 * writes the table, the JSON and the plot. {@code docs/performance.md} describes the method and the
 * figures.
 *
 * <p>Nothing here is part of the product: these classes are compiled by the build so that they cannot
 * rot, and they talk to the layer only over HTTP, or to its store through the public core API.
 */
package dev.metalayer.bench;

#!/usr/bin/env bash
# The benchmark of docs/performance.md, in one run, on loopback: builds the jar, installs nginx and wrk from Debian
# when missing, and runs dev.metalayer.bench.Bench (bench/src/main/java). Results go to layer-examples/bench/results/
# (summary.txt, results.json, percentiles.csv, latency.png). About seven minutes on two cores.
#
#   bash layer-examples/bench/run.sh            # the full run
#   bash layer-examples/bench/run.sh --quick    # a smoke test of every phase (about three minutes)
#
# Extra arguments go to Bench: --rate N (open-loop rate, default 1000/s), --connections N (32),
# --only proxy,keys,relay,media,startup, --out DIR, --profile (JFR on the layer processes; writes
# profile-*.txt summaries next to the results; the figures of such a run include the recorder).
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing from Debian: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"

echo "Building the jar (mvn -B -q -DskipTests package)"
mvn -B -q -DskipTests package

cp="layer-jetty/target/meta-layer.jar:layer-examples/target/classes"
# The harness JVM (load generator, webhook subscriber) gets a fixed heap so that GC does not wander.
exec java -Xms1g -Xmx1g -cp "$cp" dev.metalayer.bench.Bench "$@"

#!/usr/bin/env bash
# The benchmark of docs/performance.md, in one run, on loopback: builds the jar, installs nginx and wrk from Debian
# when missing, and runs dev.metalayer.bench.Bench (bench/src/main/java). Results go to layer-examples/bench/results/
# (summary.txt, results.json, percentiles.csv, latency.png). About seven minutes on two cores.
#
#   bash layer-examples/bench/run.sh            # the full run
#   bash layer-examples/bench/run.sh --quick    # a smoke test of every phase (about three minutes)
#
#   bash layer-examples/bench/run.sh --only observability --out layer-examples/bench/results/observability
#                                               # docs/performance.md: metrics and request logs on vs off (about 2 minutes)
#
#   bash layer-examples/bench/run.sh --only scaling --out layer-examples/bench/results/scaling
#                                               # docs/scaling.md: 2 layers on PostgreSQL vs 1 on H2 (about 6 minutes)
#
# Extra arguments go to Bench: --rate N (open-loop rate, default 1000/s), --connections N (32),
# --only proxy,keys,relay,media,scaling,startup,observability, --out DIR, --profile (JFR on the layer processes; writes
# profile-*.txt summaries next to the results; the figures of such a run include the recorder),
# --pg-url JDBC_URL and --pg-user NAME for the scaling phase (default LAYER_BENCH_PG_URL or
# jdbc:postgresql://127.0.0.1:5432/test, LAYER_BENCH_PG_USER or postgres; the password from
# LAYER_BENCH_PG_PASSWORD). The scaling phase makes a schema of its own there and drops it at the end; it is
# skipped, with one line, when PostgreSQL cannot be reached.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ " $* " == *" --help "* ]]; then
  sed -n '2,/^set -euo pipefail/p' layer-examples/bench/run.sh | grep '^#' | sed 's/^# \{0,1\}//'
  exit 0
fi

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

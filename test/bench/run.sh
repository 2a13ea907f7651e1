#!/usr/bin/env bash
# npm run bench: build, then measure a real daemon on the local Docker engine.
# BENCH_IDLE_SECONDS (default 300) sets the idle window; BENCH_PODS (default 20) the latency samples.
set -euo pipefail
cd "$(dirname "$0")/../.."
npm run --silent build
exec npx tsx test/bench/daemon.bench.ts "$@"

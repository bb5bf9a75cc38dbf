#!/usr/bin/env bash
# Runs the peer harness (../shared/peers-bench, or $PEERS_BENCH) with treeline
# as one more framework: copies the harness to a scratch directory, adds the
# `fw-treeline` runner pointing at this checkout, and runs it. Any variable
# the harness knows (REPS, ONLY, WORKLOADS, BENCH_SCALE, OUT) passes through.
#
#   benches/peers/run.sh                         # everything, 5 repetitions
#   ONLY=treeline,baseline-tokio-mpsc-unbounded WORKLOADS=fanout REPS=3 benches/peers/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source="${PEERS_BENCH:-$repo/../shared/peers-bench}"
scratch="${PEERS_SCRATCH:-${TMPDIR:-/tmp}/treeline-peers-bench}"
[ -d "$source" ] || { echo "no peer harness at $source (set PEERS_BENCH)" >&2; exit 1; }
mkdir -p "$scratch"
# Keep the scratch target directory between runs: the build is the slow part.
rsync -a --delete --exclude target --exclude results "$source/" "$scratch/" 2>/dev/null \
  || { find "$scratch" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +; cp -r "$source/." "$scratch/"; }
rm -rf "$scratch/fw-treeline"
cp -r "$here/fw-treeline" "$scratch/fw-treeline"
sed -i "s|TREELINE_PATH|$repo|" "$scratch/fw-treeline/Cargo.toml"
cd "$scratch"
OUT="${OUT:-$scratch/RESULTS.md}" ./run.sh

#!/usr/bin/env bash
# Before/after in one run: the peer harness with two treeline runners, this
# checkout (`treeline`) and the commit REV (`treeline-before`), interleaved
# repetition by repetition so that machine noise hits both alike.
#
#   benches/peers/compare.sh REV                       # every workload, REPS=15
#   REPS=5 WORKLOADS=counting,pingpong benches/peers/compare.sh HEAD~3
#
# REV is checked out as a git worktree under the scratch directory, with its
# package renamed so that both versions link into one harness workspace.
set -euo pipefail
rev="${1:?usage: compare.sh REV}"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source="${PEERS_BENCH:-$repo/../shared/peers-bench}"
scratch="${PEERS_SCRATCH:-${TMPDIR:-/tmp}/treeline-peers-compare}"
[ -d "$source" ] || { echo "no peer harness at $source (set PEERS_BENCH)" >&2; exit 1; }

before="$scratch/before-src"
git -C "$repo" worktree remove --force "$before" >/dev/null 2>&1 || true
rm -rf "$before"
mkdir -p "$scratch"
git -C "$repo" worktree add --detach "$before" "$rev" >/dev/null
# One workspace cannot hold two packages named `treeline`: rename the old one.
sed -i '0,/^name = "treeline"$/s//name = "treeline-before"/' "$before/Cargo.toml"
sed -i 's/^name = "treeline-macros"$/name = "treeline-macros-before"/' "$before/macros/Cargo.toml"
sed -i 's|^treeline-macros = { path = "macros"|treeline-macros = { package = "treeline-macros-before", path = "macros"|' \
  "$before/Cargo.toml"
# The topic grammar crate (since the macros validate topics), when the
# revision has it.
if [ -f "$before/macros/grammar/Cargo.toml" ]; then
  sed -i 's/^name = "treeline-grammar"$/name = "treeline-grammar-before"/' "$before/macros/grammar/Cargo.toml"
  sed -i 's|^treeline-grammar = { path = |treeline-grammar = { package = "treeline-grammar-before", path = |' \
    "$before/Cargo.toml" "$before/macros/Cargo.toml"
fi

harness="$scratch/harness"
mkdir -p "$harness"
# Keep the harness's target directory between runs: the build is the slow part.
find "$harness" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
cp -r "$source/." "$harness/"
rm -rf "$harness/results"
# Only the two treeline runners: the peers' builds are not needed for a diff.
find "$harness" -mindepth 1 -maxdepth 1 -name 'fw-*' -exec rm -rf {} +
for side in after before; do
  dir="$harness/fw-treeline"
  label="treeline"
  path="$repo"
  dependency="treeline = { path = \"$path\" }"
  if [ "$side" = before ]; then
    dir="$harness/fw-treeline-before"
    label="treeline-before"
    dependency="treeline = { package = \"treeline-before\", path = \"$before\" }"
  fi
  cp -r "$here/fw-treeline" "$dir"
  sed -i "s|^name = \"fw-treeline\"|name = \"fw-$label\"|" "$dir/Cargo.toml"
  sed -i "s|^treeline = { path = \"TREELINE_PATH\" }|$dependency|" "$dir/Cargo.toml"
  sed -i "s|const FW: &str = \"treeline\";|const FW: \&str = \"$label\";|" "$dir/src/main.rs"
done

cd "$harness"
REPS="${REPS:-15}" ONLY=treeline,treeline-before OUT="${OUT:-$scratch/COMPARE.md}" ./run.sh
git -C "$repo" worktree remove --force "$before" >/dev/null 2>&1 || true

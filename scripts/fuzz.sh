#!/usr/bin/env bash
# Runs every cargo-fuzz target of the workspace for a time budget each (default 20 s).
#   scripts/fuzz.sh            # all targets, 20 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh segment_recovery
# Installs cargo-fuzz first if missing (scripts/install-deps.sh --fuzz). The toolchain here is stable; cargo-fuzz
# needs nightly-only flags for its sanitizers, so RUSTC_BOOTSTRAP=1 unlocks them for this build only.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --fuzz
seconds="${FUZZ_SECONDS:-20}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/strata/fuzz-target}"
export RUSTC_BOOTSTRAP=1
for crate in hotlog; do
  targets=("$@")
  if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cd "$crate" && cargo fuzz list)
  fi
  for t in "${targets[@]}"; do
    echo "== fuzz $crate/$t for ${seconds}s"
    (cd "$crate" && cargo fuzz run "$t" -- -max_total_time="$seconds" -max_len=8192)
  done
done

#!/usr/bin/env bash
# Runs every cargo-fuzz target of the workspace (hotlog/fuzz, broker/fuzz, tiering/fuzz) for a time budget each
# (default 20 s).
#   scripts/fuzz.sh                                  # all targets, 20 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh segment_recovery request_decode
# Named targets run in whichever crate has them; a name no crate has is an error.
# libFuzzer fails a run on any single allocation of 512 MB or more and on an RSS above 2 GB, so
# an allocation sized by a count read from the input is a finding, not a slow run.
# A committed seed corpus in <crate>/fuzz/seeds/<target> is read alongside the working corpus
# <crate>/fuzz/corpus/<target> (git-ignored), where new inputs go.
# Installs cargo-fuzz first if missing (scripts/install-deps.sh --fuzz). The toolchain here is stable; cargo-fuzz
# needs nightly-only flags for its sanitizers, so RUSTC_BOOTSTRAP=1 unlocks them for this build only.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --fuzz
seconds="${FUZZ_SECONDS:-20}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/strata/fuzz-target}"
export RUSTC_BOOTSTRAP=1
crates=(hotlog broker tiering)
requested=("$@")
# Which targets run, as "crate target" lines; unknown names fail before anything builds.
plan=()
for crate in "${crates[@]}"; do
  while read -r t; do
    if [ ${#requested[@]} -eq 0 ] || printf '%s\n' "${requested[@]}" | grep -qxF -- "$t"; then
      plan+=("$crate $t")
    fi
  done < <(cd "$crate" && cargo fuzz list)
done
for t in "${requested[@]}"; do
  if ! printf '%s\n' "${plan[@]}" | grep -q " $t\$"; then
    echo "fuzz.sh: no crate (${crates[*]}) has a fuzz target named $t" >&2
    exit 1
  fi
done
for entry in "${plan[@]}"; do
  read -r crate t <<<"$entry"
  corpora=("fuzz/corpus/$t")
  mkdir -p "$crate/fuzz/corpus/$t"
  if [ -d "$crate/fuzz/seeds/$t" ]; then
    corpora+=("fuzz/seeds/$t")
  fi
  echo "== fuzz $crate/$t for ${seconds}s"
  (cd "$crate" && cargo fuzz run "$t" "${corpora[@]}" -- \
    -max_total_time="$seconds" -max_len=8192 -malloc_limit_mb=512 -rss_limit_mb=2048)
done

#!/usr/bin/env bash
# Runs Strata's whole test suite: the one test command, for developers and CI alike.
#
#   scripts/test.sh
#
# - Installs what the tests need first (scripts/install-deps.sh; a no-op when all is there).
# - Builds into $CARGO_TARGET_DIR, by default ~/.cache/strata/target: outside the clone, so
#   every clone and every run on this machine reuses one build cache.
# - Runs every unit and integration test with nextest (profile `ci` in .config/nextest.toml:
#   no fail-fast, hung tests are killed), after the doc tests (nextest does not run those).
#   nextest goes last so that its summary line closes the output.
#
# io engines: the hotlog tests instantiate every log test for both io engines, `std` and
# `uring`, so one run covers both; nothing needs to be set. On a machine where io_uring is
# blocked (Docker's default seccomp profile, kernel.io_uring_disabled=1), set
# STRATA_SKIP_URING=1 to skip the uring instances; the std instances still run.
#
# Exits non-zero if any step fails; nextest runs even if a doc test failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null 2>&1 && [ -x "${HOME:-/root}/.cargo/bin/cargo" ]; then
    export PATH="${HOME:-/root}/.cargo/bin:$PATH"
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${HOME:-/root}/.cache/strata/target}"
mkdir -p "$CARGO_TARGET_DIR"

scripts/install-deps.sh

status=0
echo "test.sh: cargo test --workspace --doc (target dir $CARGO_TARGET_DIR)"
cargo test --workspace --doc || status=$?
echo "test.sh: cargo nextest run --workspace --profile ci"
cargo nextest run --workspace --profile ci || status=$?

if [ "$status" -ne 0 ]; then
    echo "test.sh: FAILED (exit $status)" >&2
fi
exit "$status"

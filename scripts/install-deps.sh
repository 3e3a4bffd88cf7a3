#!/usr/bin/env bash
# Installs what Strata's build and test suite need on a fresh Debian machine.
#
# Idempotent and non-interactive: every dependency has an `ensure_*` function that checks first
# and installs only what is missing, so a second run does nothing and finishes in a second.
# `apt-get update` runs at most once, and only when an apt package is actually missing.
# Runs as root (CI, fresh machines) or through passwordless sudo.
#
# Adding a dependency: write an `ensure_<name>` function that checks, then installs with
# `apt_install`, `pip_install` or `cargo install --locked`, and call it from `main` at the bottom.
# Examples of what later issues will add: `apt_install kcat` for the client interop tests,
# `pip_install kafka-python` for Python clients, `pip_install 'moto[server]'` for a local
# S3-compatible server. Only add what a test actually uses.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# rustup's default location, for shells that were not started as login shells.
if ! command -v cargo >/dev/null 2>&1 && [ -x "${HOME:-/root}/.cargo/bin/cargo" ]; then
    export PATH="${HOME:-/root}/.cargo/bin:$PATH"
fi

log() { printf 'install-deps: %s\n' "$*"; }
die() {
    printf 'install-deps: error: %s\n' "$*" >&2
    exit 1
}

# Runs a command as root: directly when we are root, else through non-interactive sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        die "need root (or passwordless sudo) to run: $*"
    fi
}

APT_UPDATED=0

# apt_install PKG...: installs the Debian packages that are not installed yet.
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
    log "apt-get install ${missing[*]}"
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

# pip_install SPEC...: installs Python packages for the current python3 (for later issues).
pip_install() {
    command -v python3 >/dev/null 2>&1 || apt_install python3 python3-pip
    log "pip install $*"
    python3 -m pip install --quiet --disable-pip-version-check --no-input "$@"
}

ensure_rust_toolchain() {
    command -v cargo >/dev/null 2>&1 ||
        die "cargo is not on PATH; install Rust with rustup (the workspace needs Rust >= 1.90)"
    log "$(cargo --version)"
}

# rustfmt and clippy come with the toolchain; rustup cannot download components on machines
# without access to the Rust distribution server, so only check and explain.
ensure_rust_components() {
    local component missing=()
    for component in fmt clippy; do
        if ! cargo "$component" --version >/dev/null 2>&1; then
            missing+=("$component")
        fi
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        die "cargo ${missing[*]} not available: the toolchain lacks the rustfmt/clippy components; on a machine with network access run 'rustup component add rustfmt clippy'"
    fi
    log "$(cargo fmt --version | head -n1), $(cargo clippy --version | head -n1)"
}

# ensure_cargo_tool SUBCOMMAND CRATE: `cargo SUBCOMMAND` works, installing CRATE if it does not.
ensure_cargo_tool() {
    local sub="$1" crate="$2"
    if cargo "$sub" --version >/dev/null 2>&1; then
        log "$(cargo "$sub" --version | head -n1)"
        return 0
    fi
    log "cargo install --locked $crate (a few minutes, once per machine)"
    # Built in cargo's own temporary directory, not in the project's target directory.
    env -u CARGO_TARGET_DIR cargo install --locked "$crate" </dev/null
    cargo "$sub" --version >/dev/null 2>&1 || die "$crate installed but 'cargo $sub' still fails"
}

main() {
    ensure_rust_toolchain
    ensure_rust_components
    ensure_cargo_tool nextest cargo-nextest
    # Only for scripts/fuzz.sh (and so CI): `install-deps.sh --fuzz`.
    if [ "${1:-}" = "--fuzz" ]; then
        ensure_cargo_tool fuzz cargo-fuzz
    fi
    log "all dependencies present"
}

main "$@"

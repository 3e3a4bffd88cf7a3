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
# Only add what a test actually uses.
#
# The Kafka client tests (broker/tests/kcat_clients.rs, broker/tests/python_clients.rs) need
# `kcat` (Debian's, on its bundled librdkafka 2.0.2) and a Python venv outside the clone,
# at ${STRATA_VENV:-$HOME/.cache/strata/venv}, holding pinned Kafka clients; the tests find the
# venv's python through the same default or the same STRATA_VENV variable.
#
# The same venv holds moto's S3 server (`moto_server`), a real S3-compatible HTTP server that the
# cold tier's object-store tests start on a free loopback port (tiering/src/store/moto.rs).
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

# The client tests' Python venv: outside the clone so every clone and CI run reuses it.
STRATA_VENV="${STRATA_VENV:-${HOME:-/root}/.cache/strata/venv}"
# Pinned, so every machine runs the same clients. confluent-kafka bundles a recent librdkafka;
# kafka-python needs the codec packages for compressed batches (python-snappy >= 0.7 is a thin
# wrapper over cramjam) and crc32c to check v2 batch CRCs quickly.
VENV_PACKAGES=(
    confluent-kafka==2.16.1
    kafka-python==3.0.12
    lz4==4.4.5
    zstandard==0.25.0
    python-snappy==0.7.3
    crc32c==2.9.post0
    # moto's S3 server for the cold tier's tests: `moto_server` needs flask and flask-cors,
    # pinned too so the server is the same everywhere.
    moto[s3]==5.2.5
    flask==3.1.3
    flask-cors==6.0.5
)
# One import line that succeeds only when every package above works.
VENV_IMPORT_CHECK='import confluent_kafka, kafka, lz4.frame, zstandard, snappy, crc32c
assert confluent_kafka.__version__ == "2.16.1", confluent_kafka.__version__
assert kafka.__version__ == "3.0.12", kafka.__version__
assert snappy.decompress(snappy.compress(b"strata")) == b"strata"
import moto, moto.server, flask, flask_cors
assert moto.__version__ == "5.2.5", moto.__version__'

# The load reports' plots draw their text with DejaVu Sans (benches/src/report/font.rs); without
# it they are written without text.
ensure_plot_font() {
    apt_install fonts-dejavu-core
}

ensure_kcat() {
    apt_install kcat
    log "$(kcat -V 2>&1 | sed -n 's/^Version //p' | head -n1)"
}

# ensure_client_venv: the venv exists (created once) and imports every client; pip runs only
# when the import check fails.
ensure_client_venv() {
    local py="$STRATA_VENV/bin/python"
    # A venv whose base interpreter is gone (its python is a dangling link) is made anew.
    if ! "$py" -c '' >/dev/null 2>&1; then
        local base
        base="$(command -v python3 || true)"
        if [ -z "$base" ] || ! "$base" -c 'import venv, ensurepip' >/dev/null 2>&1; then
            apt_install python3 python3-venv
            base=/usr/bin/python3
        fi
        log "creating the client venv at $STRATA_VENV (with $base)"
        mkdir -p "$(dirname "$STRATA_VENV")"
        "$base" -m venv --clear "$STRATA_VENV"
    fi
    if ! "$py" -c "$VENV_IMPORT_CHECK" >/dev/null 2>&1; then
        log "pip install into $STRATA_VENV: ${VENV_PACKAGES[*]}"
        "$py" -m pip install --quiet --disable-pip-version-check --no-input "${VENV_PACKAGES[@]}" </dev/null
        "$py" -c "$VENV_IMPORT_CHECK" || die "the client venv at $STRATA_VENV still fails its import check"
    fi
    log "client venv $STRATA_VENV: $("$py" -c 'import confluent_kafka, kafka; print("confluent-kafka", confluent_kafka.__version__, "librdkafka", confluent_kafka.libversion()[0], "kafka-python", kafka.__version__)')"
}

# strata-bench's Kafka client: rdkafka-sys builds librdkafka from source with its configure
# script and make (zlib and zstd come vendored through their -sys crates).
ensure_c_build_tools() {
    apt_install gcc make
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
    ensure_c_build_tools
    ensure_cargo_tool nextest cargo-nextest
    ensure_kcat
    ensure_plot_font
    ensure_client_venv
    # Only for scripts/fuzz.sh (and so CI): `install-deps.sh --fuzz`.
    if [ "${1:-}" = "--fuzz" ]; then
        ensure_cargo_tool fuzz cargo-fuzz
    fi
    log "all dependencies present"
}

main "$@"

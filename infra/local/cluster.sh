#!/usr/bin/env bash
# A 3-broker Strata cluster on loopback: three `strata` processes in combined mode (broker and
# controller), each with its own data directory and log file, plus, with --tiering, a local
# S3-compatible server (moto's, from the project venv) as the cold tier.
#
#   infra/local/cluster.sh start [--tiering]   build (release) and start; prints the bootstrap
#   infra/local/cluster.sh status              which nodes run, and where
#   infra/local/cluster.sh stop                SIGTERM every node (and the S3 server), wait
#   infra/local/cluster.sh kill N              SIGKILL node N (to try failover)
#   infra/local/cluster.sh restart N           start node N again
#
# Settings (environment): STRATA_CLUSTER_DIR (default ./strata-cluster), STRATA_BIN (default:
# build target/release/strata), KAFKA_BASE_PORT (default 29092: nodes use 29092-29094),
# CONTROLLER_BASE_PORT (29192), METRICS_BASE_PORT (29464), S3_PORT (29500). Any STRATA_*
# setting given is passed to every node (e.g. STRATA_TOPICS_DEFAULT_PARTITIONS=6).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${STRATA_CLUSTER_DIR:-$PWD/strata-cluster}"
KAFKA_BASE_PORT="${KAFKA_BASE_PORT:-29092}"
CONTROLLER_BASE_PORT="${CONTROLLER_BASE_PORT:-29192}"
METRICS_BASE_PORT="${METRICS_BASE_PORT:-29464}"
S3_PORT="${S3_PORT:-29500}"
NODES=3
VENV="${STRATA_VENV:-$HOME/.cache/strata/venv}"

die() { echo "cluster.sh: $*" >&2; exit 1; }

binary() {
    if [[ -n "${STRATA_BIN:-}" ]]; then
        [[ -x "$STRATA_BIN" ]] || die "STRATA_BIN=$STRATA_BIN is not executable"
        echo "$STRATA_BIN"
        return
    fi
    local target="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"
    (cd "$ROOT" && CARGO_TARGET_DIR="$target" cargo build --release -p broker --bin strata >&2)
    echo "$target/release/strata"
}

voters() {
    local v="" i
    for i in $(seq 1 $NODES); do
        v+="${v:+,}$i@127.0.0.1:$((CONTROLLER_BASE_PORT + i - 1))"
    done
    echo "$v"
}

bootstrap() {
    local b="" i
    for i in $(seq 1 $NODES); do
        b+="${b:+,}127.0.0.1:$((KAFKA_BASE_PORT + i - 1))"
    done
    echo "$b"
}

running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_s3() {
    local pidfile="$DIR/s3.pid"
    running "$pidfile" && return
    local moto="$VENV/bin/moto_server"
    [[ -x "$moto" ]] || moto="$(command -v moto_server || true)"
    [[ -n "$moto" ]] || die "no moto_server: run scripts/install-deps.sh first"
    "$moto" -H 127.0.0.1 -p "$S3_PORT" >"$DIR/s3.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
        curl -sf -X PUT "http://127.0.0.1:$S3_PORT/strata" >/dev/null 2>&1 && return
        sleep 0.1
    done
    die "the S3 server did not answer on 127.0.0.1:$S3_PORT (see $DIR/s3.log)"
}

start_node() {
    local i="$1" bin="$2" pidfile="$DIR/node$1.pid"
    running "$pidfile" && { echo "node $i already runs (pid $(cat "$pidfile"))"; return; }
    mkdir -p "$DIR/node$i"
    local env=(
        STRATA_NODE_ID="$i"
        STRATA_CLUSTER_VOTERS="$(voters)"
        STRATA_METRICS_LISTEN="127.0.0.1:$((METRICS_BASE_PORT + i - 1))"
    )
    if [[ -f "$DIR/tiering" ]]; then
        env+=(
            STRATA_TIERING_STORE_URL="s3://strata/cluster"
            STRATA_TIERING_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
            STRATA_TIERING_S3_ALLOW_HTTP=true
            STRATA_TIERING_S3_ACCESS_KEY_ID=test
            STRATA_TIERING_S3_SECRET_ACCESS_KEY=test
        )
    fi
    env "${env[@]}" "$bin" --listen "127.0.0.1:$((KAFKA_BASE_PORT + i - 1))" \
        --data-dir "$DIR/node$i" </dev/null >>"$DIR/node$i.log" 2>&1 &
    echo $! >"$pidfile"
}

wait_started() {
    local i
    for i in $(seq 1 $NODES); do
        for _ in $(seq 1 300); do
            grep -q "strata node started" "$DIR/node$i.log" 2>/dev/null && break
            running "$DIR/node$i.pid" || die "node $i exited; see $DIR/node$i.log"
            sleep 0.1
        done
        grep -q "strata node started" "$DIR/node$i.log" || die "node $i did not start in 30 s"
    done
}

stop_pid() {
    local pidfile="$1" pid
    running "$pidfile" || { rm -f "$pidfile"; return; }
    pid="$(cat "$pidfile")"
    kill -TERM "$pid"
    for _ in $(seq 1 400); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    rm -f "$pidfile"
}

cmd="${1:-}"
case "$cmd" in
start)
    mkdir -p "$DIR"
    [[ "${2:-}" == "--tiering" ]] && touch "$DIR/tiering"
    bin="$(binary)"
    [[ -f "$DIR/tiering" ]] && start_s3
    for i in $(seq 1 $NODES); do
        # A fresh log per start (the previous one kept as .1), so wait_started sees this start.
        if ! running "$DIR/node$i.pid" && [[ -f "$DIR/node$i.log" ]]; then
            mv "$DIR/node$i.log" "$DIR/node$i.log.1"
        fi
        start_node "$i" "$bin"
    done
    wait_started
    echo "cluster up: bootstrap.servers=$(bootstrap)  (data and logs in $DIR)"
    ;;
stop)
    for i in $(seq 1 $NODES); do stop_pid "$DIR/node$i.pid"; done
    stop_pid "$DIR/s3.pid"
    echo "cluster stopped"
    ;;
status)
    for i in $(seq 1 $NODES); do
        if running "$DIR/node$i.pid"; then
            echo "node $i: running (pid $(cat "$DIR/node$i.pid")), kafka 127.0.0.1:$((KAFKA_BASE_PORT + i - 1))"
        else
            echo "node $i: stopped"
        fi
    done
    running "$DIR/s3.pid" && echo "s3: running on http://127.0.0.1:$S3_PORT (bucket strata)"
    echo "bootstrap.servers=$(bootstrap)"
    ;;
kill)
    [[ -n "${2:-}" ]] || die "kill needs a node number"
    running "$DIR/node$2.pid" || die "node $2 is not running"
    kill -KILL "$(cat "$DIR/node$2.pid")"
    rm -f "$DIR/node$2.pid"
    echo "node $2 killed"
    ;;
restart)
    [[ -n "${2:-}" ]] || die "restart needs a node number"
    stop_pid "$DIR/node$2.pid"
    start_node "$2" "$(binary)"
    echo "node $2 started"
    ;;
*)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac

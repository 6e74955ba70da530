#!/usr/bin/env bash
# A Dask cluster on this machine: one `dask scheduler` and N `dask worker` processes.
#
#   deploy/local/cluster.sh start N [--port P] [--dashboard-port P] [--threads T] [--host H]
#   deploy/local/cluster.sh status
#   deploy/local/cluster.sh stop
#
# `start` prints the scheduler address (tcp://127.0.0.1:8786) on stdout once the scheduler
# answers and all N workers have joined; everything else goes to stderr, so
#
#   ADDRESS=$(deploy/local/cluster.sh start 4)
#   daskflow run examples/quickstart.py:TaskTrain --scheduler "$ADDRESS"
#   deploy/local/cluster.sh stop
#
# works in scripts. If anything fails to start, `start` stops what it started, shows the end
# of the logs and exits with status 1.
#
# Pid files, the address, one log per process and the workers' scratch space live in the
# state directory ${DASKFLOW_CLUSTER_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/daskflow/cluster}:
# per user, not per folder, so `stop` and `status` find the cluster from any directory and
# nothing is left in your project (a relative DASKFLOW_CLUSTER_DIR is relative to the current
# directory; give one per cluster to run several). Other settings:
#   DASKFLOW_PYTHON           the Python whose `dask` and `distributed` to use (default:
#                             python3 on PATH, e.g. your activated virtualenv)
#   DASKFLOW_CLUSTER_TIMEOUT  seconds to wait for the scheduler and workers (default 60)
# The workers inherit this shell's environment: set PYTHONPATH (or install your pipeline
# package) so they can import your task modules, and AWS_* variables for S3.
#
# Exit status: 0 success; 1 failure; 2 usage error; `status` exits 3 when nothing runs.

set -Eeuo pipefail

STATE_DIR="${DASKFLOW_CLUSTER_DIR:-${XDG_STATE_HOME:-${HOME:?set DASKFLOW_CLUSTER_DIR or HOME}/.local/state}/daskflow/cluster}"
PYTHON="${DASKFLOW_PYTHON:-python3}"
TIMEOUT="${DASKFLOW_CLUSTER_TIMEOUT:-60}"
STOP_TIMEOUT=20

usage() {
    sed -n '4,6p' "$0" | sed 's/^# *//' >&2
    exit 2
}

say() { printf 'cluster.sh: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

# -- processes ---------------------------------------------------------------------------

is_ours() {
    # pid $1 is alive and is a dask process (not some later process that reused the pid)
    local pid=$1 args
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    args=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
    [[ "$args" == *dask* ]]
}

pid_files() {
    # workers first, the scheduler last: the order to stop them in
    local f
    for f in "$STATE_DIR"/worker-*.pid "$STATE_DIR"/scheduler.pid; do
        [[ -f "$f" ]] && printf '%s\n' "$f"
    done
    return 0
}

signal_group() {
    # send signal $2 to process $1 and, when it leads its own process group, to that group
    # (a `dask worker` runs its worker in a child process of the nanny)
    local pid=$1 sig=$2
    if [[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" == "$pid" ]]; then
        kill "-$sig" -- "-$pid" 2>/dev/null || true
    else
        kill "-$sig" "$pid" 2>/dev/null || true
    fi
}

stop_all() {
    local f pid waited
    local -a pids=()
    while IFS= read -r f; do
        pid=$(cat "$f" 2>/dev/null || true)
        if is_ours "$pid"; then
            signal_group "$pid" TERM
            pids+=("$pid")
        fi
    done < <(pid_files)
    for pid in "${pids[@]+"${pids[@]}"}"; do
        waited=0
        while kill -0 "$pid" 2>/dev/null && ((waited < STOP_TIMEOUT * 10)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            say "process $pid did not stop within ${STOP_TIMEOUT}s; killing it"
            signal_group "$pid" KILL
        fi
    done
    # a nanny's worker process leaves with its nanny; wait for the groups to empty
    for pid in "${pids[@]+"${pids[@]}"}"; do
        waited=0
        while pgrep -g "$pid" >/dev/null 2>&1 && ((waited < STOP_TIMEOUT * 10)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if pgrep -g "$pid" >/dev/null 2>&1; then
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
    done
    rm -f "$STATE_DIR"/*.pid "$STATE_DIR/address"
    echo "${#pids[@]}"
}

launch() {
    # launch NAME COMMAND...: in the background, in its own process group when setsid is
    # available, output to NAME.log, pid to NAME.pid
    local name=$1
    shift
    if command -v setsid >/dev/null 2>&1; then
        setsid "$@" >"$STATE_DIR/$name.log" 2>&1 </dev/null &
    else
        "$@" >"$STATE_DIR/$name.log" 2>&1 </dev/null &
    fi
    echo $! >"$STATE_DIR/$name.pid"
}

show_logs() {
    # the exception lines of each log (e.g. "OSError: [Errno 98] Address already in use"),
    # then its last lines
    local log
    for log in "$STATE_DIR"/scheduler.log "$STATE_DIR"/worker-*.log; do
        [[ -f "$log" ]] || continue
        say "--- $log:"
        { grep -E '^[A-Za-z_.]*(Error|Exception)[A-Za-z]*: ' "$log" | tail -n 3 || true; } >&2
        tail -n 5 "$log" >&2 || true
    done
}

# -- commands ----------------------------------------------------------------------------

abort_start() {
    trap - ERR INT TERM
    say "start failed; stopping what was started"
    show_logs
    stop_all >/dev/null || true
    exit 1
}

cmd_start() {
    local n="" port=8786 dashboard_port=8787 threads=1 host=127.0.0.1
    while (($#)); do
        case "$1" in
            --port) port=${2:?--port needs a value}; shift 2 ;;
            --dashboard-port) dashboard_port=${2:?--dashboard-port needs a value}; shift 2 ;;
            --threads) threads=${2:?--threads needs a value}; shift 2 ;;
            --host) host=${2:?--host needs a value}; shift 2 ;;
            -h|--help) usage ;;
            -*) say "unknown option $1"; usage ;;
            *) [[ -z "$n" ]] || usage; n=$1; shift ;;
        esac
    done
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { say "start needs the number of workers (>= 1)"; usage; }
    [[ "$port" =~ ^[1-9][0-9]*$ && "$dashboard_port" =~ ^[0-9]+$ && "$threads" =~ ^[1-9][0-9]*$ ]] \
        || { say "--port and --threads take numbers >= 1, --dashboard-port a number (0: any)"; usage; }
    "$PYTHON" -c "import distributed" 2>/dev/null \
        || fail "$PYTHON cannot import distributed; activate the virtualenv that has daskflow, \
or set DASKFLOW_PYTHON (python -m pip install 'dask[distributed]')"

    mkdir -p "$STATE_DIR"
    local f
    while IFS= read -r f; do
        if is_ours "$(cat "$f")"; then
            fail "a cluster is already running from $STATE_DIR ($(cat "$STATE_DIR/address" \
2>/dev/null || echo 'address unknown')); run '$0 stop' first"
        fi
    done < <(pid_files)
    rm -f "$STATE_DIR"/*.pid "$STATE_DIR"/*.log "$STATE_DIR/address"

    # a port already in use would let our workers join someone else's scheduler
    local p
    for p in "$port" "$dashboard_port"; do
        ((p == 0)) && continue
        "$PYTHON" - "$host" "$p" <<'PY' || fail "port $p on $host is in use; choose another \
with --port / --dashboard-port"
import socket
import sys

with socket.socket() as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the scheduler does
    try:
        s.bind((sys.argv[1], int(sys.argv[2])))
    except OSError:
        sys.exit(1)
PY
    done

    local address="tcp://$host:$port"
    # stop whatever was started if we do not get to the end (error, Ctrl-C)
    trap abort_start ERR INT TERM

    launch scheduler "$PYTHON" -m dask scheduler --host "$host" --port "$port" \
        --dashboard-address "$host:$dashboard_port"
    local i
    for ((i = 1; i <= n; i++)); do
        launch "worker-$i" "$PYTHON" -m dask worker "$address" --host "$host" \
            --nworkers 1 --nthreads "$threads" --name "worker-$i" --no-dashboard \
            --local-directory "$STATE_DIR/worker-$i" --death-timeout 60
    done

    # wait until the scheduler answers and every worker has joined; fail early when a
    # process exits
    local pids
    pids=$(cat "$STATE_DIR"/scheduler.pid "$STATE_DIR"/worker-*.pid | tr '\n' ' ')
    # shellcheck disable=SC2086
    if ! "$PYTHON" - "$address" "$n" "$TIMEOUT" $pids 2>"$STATE_DIR/wait.log" <<'PY'; then
import os
import sys
import time

from distributed import Client

address, n, timeout, scheduler_pid, *worker_pids = sys.argv[1:]
n, deadline = int(n), time.monotonic() + float(timeout)


def alive(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    return True


def check(what):
    if not alive(scheduler_pid):
        sys.exit(f"the scheduler exited while {what} (see scheduler.log)")
    dead = [i + 1 for i, pid in enumerate(worker_pids) if not alive(pid)]
    if dead:
        sys.exit(f"worker(s) {dead} exited while {what} (see worker-N.log)")
    if time.monotonic() > deadline:
        sys.exit(f"gave up after {timeout}s {what}")


while True:
    check(f"waiting for the scheduler at {address} to answer")
    try:
        client = Client(address, timeout=2, set_as_default=False)
        break
    except (OSError, TimeoutError):
        time.sleep(0.3)
with client:
    if client.run_on_scheduler(os.getpid) != int(scheduler_pid):
        sys.exit(f"{address} answers, but not from the scheduler started here")
    while len(client.nthreads()) < n:
        check(f"waiting for {n} workers to join (have {len(client.nthreads())})")
        time.sleep(0.3)
PY
        say "$(tail -n 1 "$STATE_DIR/wait.log")"
        false  # -> the ERR trap: logs, stop, exit 1
    fi
    trap - ERR INT TERM
    echo "$address" >"$STATE_DIR/address"
    local dashboard
    dashboard=$(grep -o 'http://[^ ]*/status' "$STATE_DIR/scheduler.log" | head -n 1 || true)
    say "scheduler and $n worker(s) running; dashboard ${dashboard:-(see scheduler.log)}"
    say "logs and pid files in $STATE_DIR; stop with: $0 stop"
    echo "$address"
}

cmd_stop() {
    (($# == 0)) || usage
    if [[ ! -d "$STATE_DIR" ]]; then
        say "nothing to stop (no $STATE_DIR)"
        return 0
    fi
    local stopped
    stopped=$(stop_all)
    say "stopped $stopped process(es)"
}

cmd_status() {
    (($# == 0)) || usage
    local sched_pid="" address running=0 total=0 f
    [[ -f "$STATE_DIR/scheduler.pid" ]] && sched_pid=$(cat "$STATE_DIR/scheduler.pid")
    if ! is_ours "$sched_pid"; then
        say "not running (no live scheduler in $STATE_DIR)"
        return 3
    fi
    address=$(cat "$STATE_DIR/address" 2>/dev/null || echo "starting")
    for f in "$STATE_DIR"/worker-*.pid; do
        [[ -f "$f" ]] || continue
        total=$((total + 1))
        is_ours "$(cat "$f")" && running=$((running + 1))
    done
    say "scheduler pid $sched_pid; $running of $total worker(s) alive"
    echo "$address"
    ((running == total)) || return 1
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    status) shift; cmd_status "$@" ;;
    *) usage ;;
esac

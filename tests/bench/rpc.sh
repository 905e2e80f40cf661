#!/usr/bin/env bash
# Benchmark: the control plane of supervisord (ours) against the reference
# Supervisor 4.3.0 from the test virtualenv, in one run, on the same config:
# 100 programs (/bin/sleep, logs off) behind a unix socket, no auth. Not
# part of the test suite: it loads the machine for about a minute.
#
# Run with:   cargo build --release --workspace
#             tests/bench/rpc.sh               (SECS=5 per figure by default)
#
# Figures:
#   getState     calls/s from 1 and from 16 keep-alive clients
#   allinfo      getAllProcessInfo (100 programs) calls/s from 1 client
#   plugin       ours only: getState of the builtin namespace loaded from its
#                cdylib as [rpcinterface:disk] against the linked-in one
#   ctl status   wall time of `supervisorctl status` (100 programs), median
#                of RUNS: our ctl against our daemon, the reference ctl
#                against the reference daemon
#   cpu/call     the daemon's own CPU time (user + system, from /proc) per
#                call, in microseconds: unlike calls/s it hardly moves when
#                other work shares the machine. The linked/cdylib pair runs
#                in alternating rounds so both see the same conditions.
# The load client is tests/src/bin/bench_rpc.rs (native, keep-alive), not
# Python's xmlrpc client, which is slower than either server.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# REL=DIR measures binaries copied elsewhere (a build from before a change):
# supervisord, supervisorctl, bench_rpc and libsupervisor_plugin_cdylib.so.
REL=${REL:-$ROOT/target/release}
for b in supervisord supervisorctl bench_rpc; do
    [ -x "$REL/$b" ] || { echo "build first: cargo build --release --workspace ($b missing)" >&2; exit 2; }
done
REF=$ROOT/tests/.venv/bin
SECS=${SECS:-5}
RUNS=${RUNS:-15}
WORK=$(mktemp -d /tmp/sv-rpc-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

conf() { # DIR [EXTRA SECTION TEXT]
    {
        printf '[unix_http_server]\nfile=%s/sv.sock\n\n' "$1"
        printf '[supervisord]\nlogfile=%s/main.log\npidfile=%s/sd.pid\nnodaemon=true\nminfds=1024\n\n' "$1" "$1"
        printf '[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n'
        printf '[supervisorctl]\nserverurl=unix://%s/sv.sock\n\n' "$1"
        printf '%s\n\n' "${2:-}"
        for i in $(seq 1 100); do
            printf '[program:p%d]\ncommand=/bin/sleep 100000\nstartsecs=0\nstdout_logfile=NONE\nstderr_logfile=NONE\n\n' "$i"
        done
    } > "$1/sd.conf"
}

start() { # LABEL BIN [EXTRA]: start a daemon, wait for 100 RUNNING
    local d=$WORK/$1
    mkdir -p "$d"; conf "$d" "${3:-}"
    "$2" -c "$d/sd.conf" >/dev/null 2>&1 &
    PIDS+=($!)
    DAEMON[$1]=$!
    local deadline=$(( $(date +%s) + 60 ))
    until [ "$(grep -c 'success:' "$d/main.log" 2>/dev/null)" = 100 ]; do
        [ "$(date +%s)" -gt "$deadline" ] && { echo "$1: daemon did not start 100 programs" >&2; exit 1; }
        sleep 0.05
    done
}

ratio() { echo "scale=2; $1 / $2" | bc -l; }

declare -A DAEMON
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# median wall time in ms of RUNS runs of: CMD...
wall_ms() {
    local t=() i t0 t1
    for i in $(seq 1 "$RUNS"); do
        # EPOCHREALTIME (bash 5): no fork of date(1) inside the timed span.
        t0=${EPOCHREALTIME/./}; "$@" >/dev/null 2>&1; t1=${EPOCHREALTIME/./}
        t+=($(( t1 - t0 )))
    done
    local us; us=$(printf '%s\n' "${t[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
    echo "scale=1; $us / 1000" | bc -l
}

CDYLIB=$REL/libsupervisor_plugin_cdylib.so
[ -f "$CDYLIB" ] || { echo "build first: cargo build --release --workspace ($CDYLIB missing)" >&2; exit 2; }
start ours "$REL/supervisord" "$(printf '[rpcinterface:disk]\nsupervisor.rpcinterface_factory = %s:make_main_rpcinterface' "$CDYLIB")"
start ref "$REF/supervisord"

# Calls of METHOD from CLIENTS clients for SECS seconds (LABEL's daemon),
# and that daemon's CPU ticks meanwhile: "CALLS TICKS".
run() { # LABEL METHOD CLIENTS SECS
    local pid=${DAEMON[$1]} c0 c1 r
    c0=$(ticks "$pid")
    r=$("$REL/bench_rpc" "$WORK/$1/sv.sock" "$2" "$3" "$4") || r=0
    c1=$(ticks "$pid")
    echo "$(( r * $4 )) $(( c1 - c0 ))"
}

cpu_us() { # CALLS TICKS
    if [ "$1" -gt 0 ]; then echo "scale=1; $2 * 1000000 / $HZ / $1" | bc -l; else echo -; fi
}

printf '%-34s %12s %12s %8s %12s %12s\n' "benchmark" "ours" "reference" "ratio" "cpu/call" "ref cpu/call"
for spec in "supervisor.getState 1" "supervisor.getState 16" "supervisor.getAllProcessInfo 1"; do
    set -- $spec
    read -r oc ot < <(run ours "$1" "$2" "$SECS"); read -r rc rt < <(run ref "$1" "$2" "$SECS")
    printf '%-34s %10s/s %10s/s %7sx %10sus %10sus\n' "${1#supervisor.} x$2 clients" \
        "$(( oc / SECS ))" "$(( rc / SECS ))" "$(ratio "$oc" "$rc")" "$(cpu_us "$oc" "$ot")" "$(cpu_us "$rc" "$rt")"
done

# Linked against cdylib in alternating rounds, so the machine's other load
# falls on both alike.
ROUND=$(( SECS > 3 ? SECS / 3 : 1 ))
bc_=0; bt=0; pc=0; pt=0
for _ in 1 2 3; do
    read -r c t < <(run ours supervisor.getState 1 "$ROUND"); bc_=$(( bc_ + c )); bt=$(( bt + t ))
    read -r c t < <(run ours disk.getState 1 "$ROUND"); pc=$(( pc + c )); pt=$(( pt + t ))
done
printf '%-34s %12s %12s %8s %12s %12s\n' "our daemon only" "linked" "cdylib" "ratio" "linked cpu" "cdylib cpu"
lcpu=$(cpu_us "$bc_" "$bt"); pcpu=$(cpu_us "$pc" "$pt")
printf '%-34s %10s/s %10s/s %7sx %10sus %10sus\n' "getState x1 clients" \
    "$(( bc_ / (3 * ROUND) ))" "$(( pc / (3 * ROUND) ))" "$(ratio "$bc_" "$pc")" "$lcpu" "$pcpu"

o=$(wall_ms "$REL/supervisorctl" -c "$WORK/ours/sd.conf" status)
r=$(wall_ms "$REF/supervisorctl" -c "$WORK/ref/sd.conf" status)
printf '%-34s %10sms %10sms %7sx\n' "ctl status, 100 programs (median)" "$o" "$r" "$(ratio "$r" "$o")"

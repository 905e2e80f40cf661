#!/usr/bin/env bash
# Benchmark: issue 16's speed figures (start order, readiness, health), ours
# beside the reference Supervisor 4.3.0 where it has the scenario. Not part
# of the test suite: it takes a few minutes and loads the machine.
#
# Run with:   cargo build --release -p supervisord --bin supervisord
#             cargo build -p supervisor-tests --bin fixture_notify
#             tests/bench/order.sh             (N=1000 programs by default)
#             N=300 tests/bench/order.sh       (a lighter run)
#
# Scenarios (startsecs=0 throughout; programs are /bin/sleep, logs off):
#   idle     context switches of every daemon thread over 10 s, 10 programs
#            up and no check configured (ours and the reference), and with 10
#            `ready_check = notify` programs ready and quiet (ours): no check
#            configured costs nothing, and a quiet notify child neither.
#   health   N programs, each with `health_check = tcp:` (the daemon's own
#            inet port) every 10 s: the daemon's CPU over 30 s, in % of one
#            core (the issue asks for under 1%).
#   notify   a notify program sending READY=1 at once: from its send (its
#            own clock, printed) to the main log's RUNNING line (millisecond
#            stamps), median of 10 starts (the issue asks for 5 ms).
#   chain    N programs in a dependency chain of depth 10 (10 programs of
#            N/10 processes, each depending on the one before), against the
#            same programs without depends_on: launch to N "success:" lines
#            (the issue asks for 1.2x at most), ROUNDS=5 rounds alternating
#            flat and chained, with the median and spread of the ratio and
#            the ratio of the medians. The daemon's CPU is printed too: on a
#            loaded machine the wall time varies 2x from run to run. The
#            reference (chainref): the flat one, once.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$ROOT/tests/bench/lib.sh"
OURS=${OURS:-$ROOT/target/release/supervisord}
CTL=${CTL:-$ROOT/target/release/supervisorctl}
[ -x "$CTL" ] || CTL=$ROOT/target/debug/supervisorctl
NOTIFY=${NOTIFY:-$ROOT/target/debug/fixture_notify}
[ -x "$OURS" ] || { echo "build first: cargo build --release -p supervisord --bin supervisord" >&2; exit 2; }
[ -x "$NOTIFY" ] || { echo "build first: cargo build -p supervisor-tests --bin fixture_notify" >&2; exit 2; }
REF=$ROOT/tests/.venv/bin/supervisord
N=${N:-1000}
WORK=$(mktemp -d /tmp/sv-order-bench.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
calc() { echo "$1" | bc -l; }

# conf DIR BODY: a config with its main log, pid file and socket in DIR.
conf() {
    supervisord_section "$1" info $((N * 4 + 100)) > "$1/sd.conf"
    cat >> "$1/sd.conf" <<CONF
[unix_http_server]
file=$1/sd.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://$1/sd.sock
$2
CONF
}

# launch BIN DIR: start a daemon on DIR/sd.conf; its pid in $PID.
launch() {
    "$1" -c "$2/sd.conf" >/dev/null 2>&1 &
    PID=$!
    PIDS+=("$PID")
}

stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

ctxt() { # voluntary + involuntary switches over all threads of $1
    cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '/ctxt_switches/ {s += $2} END {print s}'
}

cpu_ticks() { # utime + stime of $1, in clock ticks
    awk '{print $14 + $15}' /proc/"$1"/stat
}

# A main-log stamp (local time, `YYYY-MM-DD HH:MM:SS,mmm`) as UNIX seconds.
stamp() { date -d "$(echo "$1" | cut -c1-23 | tr , .)" +%s.%N; }

sleeper() { # sleeper NAME [EXTRA]: a quiet /bin/sleep program
    printf '[program:%s]\ncommand=/bin/sleep 100000\nstartsecs=0\nstdout_logfile=NONE\nstderr_logfile=NONE\n%s\n' "$1" "${2:-}"
}

echo "N=$N, work in $WORK"
ONLY=${ONLY:-idle health notify chain chainref}
want() { [[ " $ONLY " == *" $1 "* ]]; }

# ---- idle ---------------------------------------------------------------
idle() { # idle LABEL BIN BODY
    local dir=$WORK/idle-$1
    mkdir -p "$dir"
    conf "$dir" "$3"
    launch "$2" "$dir"
    local pid=$PID
    wait_count "$dir/main.log" "success:" 10 || return
    sleep 1
    local c0 c1
    c0=$(ctxt "$pid"); sleep 10; c1=$(ctxt "$pid")
    printf '%-52s %8s\n' "idle 10 s, context switches ($1)" "$((c1 - c0))"
    stop "$pid"
}
want idle && {
body=""
for i in $(seq 1 10); do body+="$(sleeper "p$i")"$'\n'; done
idle "ours, no check" "$OURS" "$body"
idle "reference, no check" "$REF" "$body"
body=""
for i in $(seq 1 10); do
    body+=$(printf '[program:n%s]\ncommand=%s 0\nstartsecs=0\nready_check=notify\nstdout_logfile=NONE\n' "$i" "$NOTIFY")$'\n'
done
idle "ours, 10 notify programs" "$OURS" "$body"
}

# ---- health ---------------------------------------------------------------
want health && {
dir=$WORK/health
mkdir -p "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
conf "$dir" "[inet_http_server]
port=127.0.0.1:$port
$(sleeper p "numprocs=$N
process_name=%(program_name)s_%(process_num)s
health_check=tcp:127.0.0.1:$port
health_interval=10")"
launch "$OURS" "$dir"
pid=$PID
wait_count "$dir/main.log" "success:" "$N" && {
    sleep 10 # every check task has run once: the steady state
    t0=$(cpu_ticks "$pid"); sleep 30; t1=$(cpu_ticks "$pid")
    hz=$(getconf CLK_TCK)
    printf '%-52s %7.2f%%\n' "health: $N tcp checks / 10 s, daemon CPU" \
        "$(calc "($t1 - $t0) / $hz / 30 * 100")"
    failed=$(grep -c "failed its health check" "$dir/main.log")
    printf '%-52s %8s\n' "health: restarts (should be 0)" "$failed"
}
stop "$pid"
}

# ---- notify ---------------------------------------------------------------
want notify && {
dir=$WORK/notify
mkdir -p "$dir"
conf "$dir" "[program:svc]
command=$NOTIFY 0
autostart=false
startsecs=0
ready_check=notify
stdout_logfile=$dir/svc.out"
launch "$OURS" "$dir"
pid=$PID
for _ in $(seq 1 100); do [ -S "$dir/sd.sock" ] && break; sleep 0.05; done
lags=()
for i in $(seq 1 10); do
    "$CTL" -c "$dir/sd.conf" start svc >/dev/null
    sent=$(grep "READY=1 sent at" "$dir/svc.out" | tail -1 | awk '{print $4}')
    line=$(grep "success: svc entered RUNNING" "$dir/main.log" | tail -1)
    lags+=("$(calc "($(stamp "$line") - $sent) * 1000")")
    "$CTL" -c "$dir/sd.conf" stop svc >/dev/null
done
median=$(printf '%s\n' "${lags[@]}" | sort -g | sed -n 5p)
printf '%-52s %7.1f ms\n' "notify: READY=1 to RUNNING, median of 10" "$median"
stop "$pid"
}

# ---- chain ----------------------------------------------------------------
chain() { # chain LABEL BIN DEPENDS(0|1)
    local dir=$WORK/chain-$1
    mkdir -p "$dir"
    local body="" per=$((N / 10)) k
    for k in $(seq 1 10); do
        local dep=""
        [ "$3" = 1 ] && [ "$k" -gt 1 ] && dep="depends_on=l$((k - 1))"
        body+="$(sleeper "l$k" "numprocs=$per
process_name=%(program_name)s_%(process_num)s
$dep")"$'\n'
    done
    conf "$dir" "$body"
    local t0 t1
    t0=$(now)
    launch "$2" "$dir"
    local pid=$PID
    wait_count "$dir/main.log" "success:" "$((per * 10))" 600 || return
    t1=$(now)
    MS=$(calc "($t1 - $t0) * 1000")
    # The daemon's own CPU too: the wall time follows the machine's load.
    printf '%-52s %7.0f ms (daemon CPU %s ms)\n' "chain: $((per * 10)) programs up ($1)" \
        "$MS" "$(( $(cpu_ticks "$pid") * 1000 / $(getconf CLK_TCK) ))"
    stop "$pid"
    rm -rf "$dir"
}
# ROUNDS rounds, flat and chained alternating (so both see the same load):
# the ratio chained/flat of each round, then their median and spread.
want chain && {
ratios=() flats=() chains=()
for round in $(seq 1 "${ROUNDS:-5}"); do
    chain "ours, flat, round $round" "$OURS" 0 || break
    flat=$MS
    chain "ours, chain of depth 10, round $round" "$OURS" 1 || break
    ratios+=("$(calc "$MS / $flat")") flats+=("$flat") chains+=("$MS")
done
median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
[ "${#ratios[@]}" -gt 0 ] && {
    printf '%-52s %8.2fx (%s rounds: %s)\n' "chain: chained / flat, median" \
        "$(median "${ratios[@]}")" "${#ratios[@]}" \
        "$(printf '%s\n' "${ratios[@]}" | sort -g | xargs printf '%.2f ' | sed 's/ $//')"
    # Less swayed by a load change within one round.
    printf '%-52s %8.2fx (%.0f / %.0f ms)\n' "chain: median chained / median flat" \
        "$(calc "$(median "${chains[@]}") / $(median "${flats[@]}")")" \
        "$(median "${chains[@]}")" "$(median "${flats[@]}")"
}
}
want chainref && chain "reference, flat" "$REF" 0

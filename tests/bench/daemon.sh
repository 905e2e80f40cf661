#!/usr/bin/env bash
# Benchmark: supervisord (ours) against the reference Supervisor 4.3.0 from
# the test virtualenv, in one run, on the same configs. Not part of the test
# suite: it takes a minute or two and loads the machine.
#
# Run with:   cargo build --release -p supervisord --bin supervisord
#             tests/bench/daemon.sh            (N=1000 programs by default)
#             N=300 tests/bench/daemon.sh      (a lighter run)
#             REFERENCE=0 tests/bench/daemon.sh  (ours only: a quick check
#                                                 while working on ours)
#
# Scenarios (every program is /bin/sleep with logs off, so process handling
# is what is measured):
#   start    N programs (numprocs=N, startsecs=0): time from launch until the
#            main log has N "success:" lines; plus the machine's own time to
#            fork/exec N sleeps from a shell, as the floor.
#   rss      RSS of the daemon with no program, with 100 and with N
#            programs running; and its anonymous part (heap, stacks), which
#            is what programs cost: the rest is the binary's and libraries'
#            pages, whose count moves with the binary's size and with which
#            pages the kernel happened to map around a fault.
#   stop     100 programs in 100 groups: time from SIGTERM to daemon exit.
#   respawn  a killed autorestart program: kill -9 to the new "spawned:" line
#            (main-log time stamps, millisecond resolution), median of 5.
#   idle     context switches of every daemon thread over 10 s, 10 programs up.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$ROOT/tests/bench/lib.sh"
OURS=${OURS:-$ROOT/target/release/supervisord}
[ -x "$OURS" ] || { echo "build first: cargo build --release -p supervisord --bin supervisord" >&2; exit 2; }
REF=$ROOT/tests/.venv/bin/supervisord
N=${N:-1000}
REFERENCE=${REFERENCE:-1}
WORK=$(mktemp -d /tmp/sv-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
ms() { printf '%.0f' "$(echo "$1 * 1000" | bc -l)"; }

# conf DIR BODY: a config with logs in DIR.
conf() {
    { supervisord_section "$1" info $((N * 4 + 100)); echo "$2"; } > "$1/sd.conf"
}

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
anon_kb() { awk '/RssAnon/ {print $2}' "/proc/$1/status"; }

ctxt() { # voluntary + involuntary switches over all threads of $1
    cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '/ctxt_switches/ {s += $2} END {print s}'
}

stop_daemon() { # PID: SIGTERM and wait, echo seconds
    local t0; t0=$(now)
    kill -TERM "$1"
    while kill -0 "$1" 2>/dev/null; do sleep 0.002; done
    elapsed "$t0" "$(now)"
}

program() { # NAME [extra]
    printf '[program:%s]\ncommand=/bin/sleep 100000\nstartsecs=0\nstdout_logfile=NONE\nstderr_logfile=NONE\n%s\n' "$1" "${2:-}"
}

declare -A R
run_scenarios() { # LABEL BIN
    local label=$1 bin=$2 d pid t0 t1
    # rss(0): the daemon alone
    d=$WORK/$label-empty; mkdir -p "$d"
    conf "$d" ""
    "$bin" -c "$d/sd.conf" >/dev/null 2>&1 & pid=$!
    wait_count "$d/main.log" "supervisord started" 1
    R[$label,rss0]=$(rss_kb "$pid")
    R[$label,rss0anon]=$(anon_kb "$pid")
    kill -TERM "$pid"; wait "$pid" 2>/dev/null

    # start + rss(N)
    d=$WORK/$label-start; mkdir -p "$d"
    conf "$d" "$(program p 'numprocs='"$N"$'\nprocess_name=p%(process_num)d')"
    t0=$(now)
    "$bin" -c "$d/sd.conf" >/dev/null 2>&1 & pid=$!
    wait_count "$d/main.log" "success:" "$N" && t1=$(now)
    R[$label,start]=$(elapsed "$t0" "$t1")
    R[$label,rssN]=$(rss_kb "$pid")
    R[$label,rssNanon]=$(anon_kb "$pid")
    kill -TERM "$pid"; wait "$pid" 2>/dev/null

    # rss(100) + stop with 100 groups
    d=$WORK/$label-stop; mkdir -p "$d"
    local body="" i
    for i in $(seq 1 100); do body+="$(program "g$i")"$'\n'; done
    conf "$d" "$body"
    "$bin" -c "$d/sd.conf" >/dev/null 2>&1 & pid=$!
    wait_count "$d/main.log" "success:" 100
    R[$label,rss100]=$(rss_kb "$pid")
    R[$label,rss100anon]=$(anon_kb "$pid")
    R[$label,stop]=$(stop_daemon "$pid")
    wait "$pid" 2>/dev/null

    # respawn + idle
    d=$WORK/$label-respawn; mkdir -p "$d"
    body="$(program victim 'autorestart=true')"$'\n'
    for i in $(seq 1 9); do body+="$(program "idle$i")"$'\n'; done
    conf "$d" "$body"
    "$bin" -c "$d/sd.conf" >/dev/null 2>&1 & pid=$!
    wait_count "$d/main.log" "success:" 10
    local lat=() k victim stamp spawned_ms kill_ms
    for k in 1 2 3 4 5; do
        victim=$(grep "spawned: 'victim'" "$d/main.log" | tail -1 | sed 's/.*with pid //')
        kill_ms=$(date +%s%3N)
        kill -KILL "$victim"
        wait_count "$d/main.log" "spawned: 'victim'" $((k + 1))
        stamp=$(grep "spawned: 'victim'" "$d/main.log" | tail -1 | cut -c1-23)
        spawned_ms=$(( $(date -d "${stamp%,*}" +%s) * 1000 + 10#${stamp#*,} ))
        lat+=($((spawned_ms - kill_ms)))
        wait_count "$d/main.log" "success: victim" $((k + 1))
    done
    R[$label,respawn]=$(printf '%s\n' "${lat[@]}" | sort -n | sed -n 3p)
    local c0 c1
    c0=$(ctxt "$pid"); sleep 10; c1=$(ctxt "$pid")
    R[$label,idle]=$((c1 - c0))
    kill -TERM "$pid"; wait "$pid" 2>/dev/null
}

# The machine's floor: a shell forks and execs N sleeps.
floor() {
    local t0 t1 pids=()
    t0=$(now)
    for _ in $(seq 1 "$N"); do /bin/sleep 100000 & pids+=($!); done
    t1=$(now)
    kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null
    elapsed "$t0" "$t1"
}

R[floor]=$(floor)
run_scenarios ours "$OURS"
if [ "$REFERENCE" = 1 ]; then
    run_scenarios reference "$REF"
fi

row() { # TITLE KEY UNIT SCALE
    local o=${R[ours,$2]} r=${R[reference,$2]:-0}
    printf '%-34s %12s %12s %10s\n' "$1" "$(printf "%.${4}f" "$o")$3" "$(printf "%.${4}f" "$r")$3" \
        "$(echo "scale=2; if ($o == 0) 0 else $r / $o" | bc -l)x"
}
echo
printf '%-34s %12s %12s %10s\n' "scenario" "ours" "reference" "ref/ours"
row "start $N programs (s)" start "" 3
row "RSS with no program (kB)" rss0 "" 0
row "RSS with 100 programs (kB)" rss100 "" 0
row "RSS with $N programs (kB)" rssN "" 0
row "  anonymous, no program (kB)" rss0anon "" 0
row "  anonymous, 100 programs (kB)" rss100anon "" 0
row "  anonymous, $N programs (kB)" rssNanon "" 0
row "shutdown, 100 groups (s)" stop "" 3
row "respawn after kill -9 (ms)" respawn "" 0
row "context switches, 10 s idle" idle "" 0
printf 'machine floor: a shell spawns %s sleeps in %.3f s (ours/floor %.2f)\n' \
    "$N" "${R[floor]}" "$(echo "${R[ours,start]} / ${R[floor]}" | bc -l)"

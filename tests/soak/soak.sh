#!/usr/bin/env bash
# Soak test (not in CI): our supervisord for a bounded time with many
# programs restarting at random, output flowing on both streams through log
# rotation, listeners consuming events and a client hammering the API; then
# the checks: bytes written == bytes logged, events sent == received (minus
# the documented buffer overflows), no zombie or orphan, descriptors and
# memory flat (the curve is printed).
#
# Usage: tests/soak/soak.sh [-d SECONDS] [-n PROGRAMS] [-r LINES_PER_SEC]
#                           [-b BIN_DIR] [-o OUT_DIR]
#   defaults: 1800 s, 100 programs, 20 lines/s each, target/release if built
#   (else target/debug), a fresh temp dir. Build first:
#   cargo build --workspace --release
# Exit status 0 when every check holds; the report is OUT_DIR/report.txt.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
duration=1800
programs=100
rate=20
bin=""
out=""
while getopts "d:n:r:b:o:" opt; do
    case $opt in
        d) duration=$OPTARG ;;
        n) programs=$OPTARG ;;
        r) rate=$OPTARG ;;
        b) bin=$OPTARG ;;
        o) out=$OPTARG ;;
        *) sed -n '2,14p' "$0"; exit 2 ;;
    esac
done
if [ -z "$bin" ]; then
    bin=$here/target/release
    [ -x "$bin/supervisord" ] && [ -x "$bin/fixture_soak_writer" ] || bin=$here/target/debug
fi
for b in supervisord supervisorctl fixture_soak_writer fixture_listener; do
    [ -x "$bin/$b" ] || { echo "missing $bin/$b: cargo build --workspace" >&2; exit 2; }
done
python=$here/tests/.venv/bin/python
[ -x "$python" ] || { echo "missing $python (tests/run.sh makes the venv)" >&2; exit 2; }
[ -n "$out" ] || out=$(mktemp -d /tmp/supervisor-soak-XXXXXX)
mkdir -p "$out/logs" "$out/counts"
conf=$out/supervisord.conf
{
    printf '[supervisord]\nlogfile=%s/main.log\nlogfile_maxbytes=0\npidfile=%s/sd.pid\n' "$out" "$out"
    printf 'nodaemon=true\nloglevel=info\nminfds=4096\n'
    printf '[unix_http_server]\nfile=%s/s.sock\n' "$out"
    printf '[supervisorctl]\nserverurl=unix://%s/s.sock\n' "$out"
    printf '[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n'
    for i in $(seq 1 "$programs"); do
        printf '[program:w%s]\ncommand=%s/fixture_soak_writer %s/counts/w%s %s\n' "$i" "$bin" "$out" "$i" "$rate"
        printf 'startsecs=0\nautorestart=true\nstopwaitsecs=30\n'
        printf 'stdout_logfile=%s/logs/w%s.out\nstdout_logfile_maxbytes=200KB\nstdout_logfile_backups=200\n' "$out" "$i"
        printf 'stderr_logfile=%s/logs/w%s.err\nstderr_logfile_maxbytes=100KB\nstderr_logfile_backups=200\n' "$out" "$i"
    done
    for l in 1 2; do
        printf '[eventlistener:lst%s]\ncommand=%s/fixture_listener --record %s/events-%s.txt\n' "$l" "$bin" "$out" "$l"
        printf 'events=PROCESS_STATE_RUNNING\nbuffer_size=100000\nautorestart=true\n'
    done
} >"$conf"

"$bin/supervisord" -c "$conf" </dev/null >"$out/supervisord.stdout" 2>&1 &
daemon=$!
for _ in $(seq 1 200); do
    [ -S "$out/s.sock" ] && "$bin/supervisorctl" -c "$conf" pid >/dev/null 2>&1 && break
    sleep 0.1
done

# The API hammer: status of everything, restarts at random, log tails.
cat >"$out/hammer.py" <<'PY'
import random, sys, time, xmlrpc.client
from supervisor.xmlrpc import SupervisorTransport
sock, programs, until = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
proxy = xmlrpc.client.ServerProxy('http://127.0.0.1', transport=SupervisorTransport(None, None, 'unix://' + sock))
calls = restarts = faults = 0
while time.time() < until:
    name = 'w%d' % random.randint(1, programs)
    try:
        proxy.supervisor.getAllProcessInfo(); calls += 1
        proxy.supervisor.tailProcessStdoutLog(name, 0, 4096); calls += 1
        if random.random() < 0.3:
            proxy.supervisor.stopProcess(name); proxy.supervisor.startProcess(name)
            calls += 2; restarts += 1
    except xmlrpc.client.Fault:
        faults += 1
    time.sleep(0.02)
print(calls, restarts, faults)
PY
start=$(date +%s)
until=$((start + duration))
"$python" "$out/hammer.py" "$out/s.sock" "$programs" "$until" >"$out/hammer.txt" 2>&1 &
hammer=$!

# The curve: every 10 s, the daemon's descriptors, RSS (KiB) and threads.
echo "seconds fds rss_kib threads" >"$out/curve.txt"
while [ "$(date +%s)" -lt "$until" ] && kill -0 "$daemon" 2>/dev/null; do
    fds=$(ls "/proc/$daemon/fd" 2>/dev/null | wc -l)
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$daemon/status")
    threads=$(awk '/^Threads/ {print $2}' "/proc/$daemon/status")
    echo "$(( $(date +%s) - start )) $fds $rss $threads" >>"$out/curve.txt"
    sleep 10
done
wait "$hammer"

# Stop every writer (each appends its counts on SIGTERM), let the
# listeners drain, then stop the daemon.
# shellcheck disable=SC2046
"$bin/supervisorctl" -c "$conf" stop $(seq -f 'w%g' 1 "$programs") >/dev/null 2>&1
records() { cat "$out"/events-*.txt 2>/dev/null | wc -c; }
last=-1
for _ in $(seq 1 60); do
    now=$(records)
    [ "$now" = "$last" ] && break
    last=$now
    sleep 1
done
zombies() {
    local n=0 stat
    for stat in /proc/[0-9]*/stat; do
        { read -r -a f <"$stat"; } 2>/dev/null || continue
        # pid (comm) state ppid: a comm with spaces shifts the fields, and
        # such a process is not one of ours.
        [ "${f[2]}" = Z ] && [ "${f[3]}" = "$daemon" ] && n=$((n + 1))
    done
    echo $n
}
idle_zombies=$(zombies)
pgid_members() { ps -eo pid=,args= | grep -F "$out/counts" | grep -v grep | wc -l; }
kill -TERM "$daemon"
wait "$daemon"
daemon_rc=$?

fail=0
report=$out/report.txt
: >"$report"
say() { echo "$*" | tee -a "$report"; }
say "soak: ${duration}s, $programs programs at $rate lines/s, binaries $bin, dir $out"
say "hammer (calls restarts faults): $(cat "$out/hammer.txt")"
say "daemon exit status: $daemon_rc"
[ "$daemon_rc" = 0 ] || fail=1

# Bytes written (each life's count) against bytes logged (log + backups).
bad=0
total_written=0
total_logged=0
for i in $(seq 1 "$programs"); do
    read -r w_out w_err < <(awk '{o += $1; e += $2} END {print o + 0, e + 0}' "$out/counts/w$i" 2>/dev/null || echo "0 0")
    l_out=$(cat "$out/logs/w$i.out"* 2>/dev/null | wc -c)
    l_err=$(cat "$out/logs/w$i.err"* 2>/dev/null | wc -c)
    total_written=$((total_written + w_out + w_err))
    total_logged=$((total_logged + l_out + l_err))
    if [ "$w_out" != "$l_out" ] || [ "$w_err" != "$l_err" ]; then
        bad=$((bad + 1))
        [ $bad -le 5 ] && say "  w$i: written $w_out/$w_err, logged $l_out/$l_err"
    fi
done
say "bytes written $total_written, logged $total_logged, programs differing: $bad"
[ $bad = 0 ] || fail=1

# Events: RUNNING transitions the daemon logged for writers, against the
# envelopes each listener recorded, minus documented overflow drops.
sent=$(grep -c 'success: w[0-9]* entered RUNNING' "$out/main.log")
overflow=$(grep -c 'event buffer overflowed' "$out/main.log")
for l in 1 2; do
    # A payload follows its header line and has no newline of its own.
    got=$(grep -c '^processname:w[0-9]* ' "$out/events-$l.txt" 2>/dev/null)
    say "listener lst$l: writer RUNNING events sent $sent, received $got, overflow drops (all pools) $overflow"
    [ "$got" -ge $((sent - overflow)) ] || fail=1
done

# No zombie, no orphan: nothing started from this soak outlives the daemon.
left=$(pgid_members)
say "processes of the soak left after the daemon exited: $left"
say "zombie children of the daemon once idle: $idle_zombies"
[ "$left" = 0 ] && [ "$idle_zombies" = 0 ] || fail=1

# Descriptors and memory: the curve, and first against last.
say "curve (seconds fds rss_kib threads):"
column -t "$out/curve.txt" | tee -a "$report"
# The baseline is the second sample: the first may fall mid start-up.
flat=$(awk 'NR == 3 {f0 = $2; r0 = $3} NR > 3 {f1 = $2; r1 = $3}
     END {printf "fds %d -> %d, rss %d -> %d KiB (from the 10 s sample to the last)", f0, f1, r0, r1;
          exit !(f1 <= f0 + 16 && r1 <= r0 * 1.5 + 4096)}' "$out/curve.txt") || fail=1
say "$flat"
if [ $fail = 0 ]; then say "soak: PASS"; else say "soak: FAIL"; fi
exit $fail

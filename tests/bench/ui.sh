#!/usr/bin/env bash
# Benchmark (not a test): the web UI with N processes (1000 by default)
# in a real headless chromium, and the JSON API against XML-RPC on the
# same daemon in one run. Our release daemon, an inet server with auth,
# N /bin/sleep programs with logs off. The browser part needs what
# tests/run.sh installs (chromium, node, tests/browser/node_modules).
#
# Run with:   cargo build --release --workspace
#             tests/bench/ui.sh            (N=1000 SECS=5 by default)
#
# Figures (tests/browser/bench.mjs):
#   first contentful paint   median of 5 loads of index.html (goal < 300 ms)
#   stop all / start all     from the call until the page shows every
#                            change, and the renderer's main-thread time
#                            meanwhile (per process change)
#   idle page                renderer time per second while nothing changes
#   calls/s                  getState and getAllProcessInfo over JSON and
#                            over XML-RPC, same client, same connection
#                            kind, one call at a time; the ratio
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REL=${REL:-$ROOT/target/release}
[ -x "$REL/supervisord" ] || { echo "build first: cargo build --release --workspace" >&2; exit 2; }
[ -d "$ROOT/tests/browser/node_modules/playwright-core" ] || { echo "run tests/run.sh first (or npm ci in tests/browser)" >&2; exit 2; }
N=${N:-1000}
WORK=$(mktemp -d /tmp/sv-ui-bench.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && { kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$WORK/sd.conf" <<CONF
[supervisord]
logfile=$WORK/main.log
pidfile=$WORK/sd.pid
nodaemon=true
minfds=4096
[inet_http_server]
port=127.0.0.1:$PORT
username=user
password=123
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[program:p]
command=/bin/sleep 100000
process_name=%(program_name)s%(process_num)04d
numprocs=$N
startsecs=0
stdout_logfile=NONE
stderr_logfile=NONE
CONF
"$REL/supervisord" -c "$WORK/sd.conf" >/dev/null 2>&1 &
PID=$!
deadline=$(( $(date +%s) + 120 ))
until [ "$(grep -c 'success:' "$WORK/main.log" 2>/dev/null)" = "$N" ]; do
    [ "$(date +%s)" -gt "$deadline" ] && { echo "the daemon did not start $N programs" >&2; exit 1; }
    sleep 0.1
done
cd "$ROOT/tests/browser" && SV_URL="http://127.0.0.1:$PORT/" SV_USER=user SV_PASS=123 SV_SECS=${SECS:-5} node bench.mjs

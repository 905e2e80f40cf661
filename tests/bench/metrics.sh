#!/usr/bin/env bash
# Scrape cost of the bundled metrics plugin (never run by the test suite):
# a daemon with N `sleep` processes (default 1000) and /metrics enabled is
# scraped S times (default 200); the daemon's CPU time (utime + stime from
# /proc, in clock ticks of 10 ms) over those scrapes, divided by S, is the
# figure. Usage: tests/bench/metrics.sh [path/to/supervisord] [N] [S]
# (default target/release/supervisord; build it with cargo build --release).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
. "$root/tests/bench/lib.sh"
bin=${1:-$root/target/release/supervisord}
count=${2:-1000}
scrapes=${3:-200}
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{ supervisord_section "$dir" info 4096; cat <<CONF
[inet_http_server]
port=127.0.0.1:$port
username=user
password=secret
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[rpcinterface:metrics]
supervisor.rpcinterface_factory = supervisor_rs.metrics:make_metrics_rpcinterface
[program:p]
command=sleep 3600
process_name=%(program_name)s_%(process_num)04d
numprocs=$count
startsecs=0
stdout_logfile=NONE
stderr_logfile=NONE
CONF
} >"$dir/supervisord.conf"
"$bin" -c "$dir/supervisord.conf" >/dev/null 2>&1 &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
url="http://user:secret@127.0.0.1:$port/metrics"
running() { curl -sf "$url" 2>/dev/null | grep -c "^supervisor_processes{state=\"RUNNING\"} $count\$" || true; }
for _ in $(seq 600); do
    [ "$(running)" = 1 ] && break
    sleep 0.1
done
[ "$(running)" = 1 ] || { echo "not all $count running (log: $dir/main.log)"; tail -3 "$dir/main.log"; exit 1; }
ticks() { awk '{print $14 " " $15}' "/proc/$daemon/stat"; }
size=$(curl -sf "$url" | wc -c)
before=$(ticks)
start=$(date +%s.%N)
for _ in $(seq "$scrapes"); do curl -sf -o /dev/null "$url"; done
end=$(date +%s.%N)
after=$(ticks)
python3 - "$before" "$after" "$scrapes" "$start" "$end" "$count" "$size" <<'PY'
import sys
before, after, scrapes, start, end, count, size = sys.argv[1:]
(u0, s0), (u1, s1) = [map(int, t.split()) for t in (before, after)]
user_ms, system_ms = (u1 - u0) * 10 / int(scrapes), (s1 - s0) * 10 / int(scrapes)
cpu_ms = user_ms + system_ms
wall_ms = (float(end) - float(start)) * 1000 / int(scrapes)
print(f"{count} processes, {size} bytes per scrape: daemon CPU {cpu_ms:.2f} ms per scrape "
      f"({user_ms:.2f} user, {system_ms:.2f} system), wall {wall_ms:.2f} ms (curl included)")
PY

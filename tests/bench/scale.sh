#!/usr/bin/env bash
# Scale benchmark (not run by the tests): what N programs cost, ours beside
# the reference Supervisor 4.3.0 and beside the machine's own spawn rate, in
# one run, alternating, ROUNDS times; it prints the median and the spread
# (min..max) of every figure and the ratios of the medians.
#
# Run with:  cargo build --release --workspace
#            tests/bench/scale.sh                  (SIZES="100 1000 4000" ROUNDS=3)
#            SIZES=4000 ROUNDS=5 tests/bench/scale.sh
#            REFERENCE=0 tests/bench/scale.sh       (ours and the floor only)
#            REFERENCE_MAX=1000 tests/bench/scale.sh  (no reference above 1000)
#            OURS_DIR=/tmp/old tests/bench/scale.sh  (another build's binaries)
#
# Every program is `/bin/sleep 100000` with startsecs=0 and its stdout in a
# log file of its own (stderr_logfile=NONE: 4000 programs with two logs and
# three pipes each would pass this machine's 20000-descriptor limit), as
# the issue measures:
#   start     from launching the daemon until its main log has N "success:"
#             lines (every program RUNNING).
#   floor     bench_spawner: std's Command starts the same sleeps with stdin
#             and stdout piped, stderr on /dev/null, closing its pipe ends at
#             once (the machine's own spawn rate, issue 22's limit).
#   files     creating N empty log files in a fresh directory (os.open,
#             O_CREAT|O_APPEND, closed at once): the file system's share of
#             a start, which both daemons pay and the floor does not (on an
#             ext4 /tmp without a journal that saw many files deleted in the
#             last minute, the inode allocator's scan, recently_deleted, is
#             most of it: so no run's files are deleted before the end).
#   std+fds   the floor, keeping the pipes and one open log file per child
#             as a daemon does: std's children inherit them close-on-exec
#             and each exec closes them all, so this grows with N squared.
#   info      getAllProcessInfo over the unix socket, from connect to the
#             last byte of the answer (a raw HTTP/1.0 client, so the client's
#             XML parsing is not counted), median of 11 calls.
#   status    `supervisorctl status`, each daemon's own supervisorctl, wall
#             time of the command, median of 5.
#   rss       VmRSS with N programs running, once the daemon is at rest
#             (RSS_SETTLE seconds after the last start, 2 by default: ours
#             hands freed memory back half a second after its last
#             publish); per program = (that - the empty daemon's) / N. The
#             empty daemon is measured once per round.
#   shutdown  SIGTERM to the daemon's exit with all N running; the floor is
#             bench_spawner's SIGTERM to its N sleeps until the last is reaped.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
release="$root/target/release"
for bin in supervisord supervisorctl bench_spawner; do
    [ -x "$release/$bin" ] || { echo "build first: cargo build --release --workspace" >&2; exit 2; }
done
export BENCH_ROOT="$root"
export SIZES="${SIZES:-100 1000 4000}"
export ROUNDS="${ROUNDS:-3}"
export REFERENCE="${REFERENCE:-1}"
export REFERENCE_MAX="${REFERENCE_MAX:-1000000}"
exec "$root/tests/.venv/bin/python" - <<'PY'
import atexit, os, shutil, signal, socket, statistics, subprocess, tempfile, time

root = os.environ["BENCH_ROOT"]
release = os.path.join(root, "target", "release")
venv = os.path.join(root, "tests", ".venv", "bin")
sizes = [int(s) for s in os.environ["SIZES"].split()]
rounds = int(os.environ["ROUNDS"])
reference = os.environ["REFERENCE"] == "1"
reference_max = int(os.environ["REFERENCE_MAX"])
rss_settle = float(os.environ.get("RSS_SETTLE", "2"))
ours_dir = os.environ.get("OURS_DIR") or release
daemons = {"ours": (os.path.join(ours_dir, "supervisord"), os.path.join(ours_dir, "supervisorctl")),
           "reference": (os.path.join(venv, "supervisord"), os.path.join(venv, "supervisorctl"))}


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def write_conf(d, n):
    body = [f"""[supervisord]
logfile={d}/main.log
pidfile={d}/sd.pid
childlogdir={d}
nodaemon=true
minfds=1024
loglevel=info
[unix_http_server]
file={d}/s.sock
[supervisorctl]
serverurl=unix://{d}/s.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
"""]
    if n:
        body.append(f"""[program:p]
command=/bin/sleep 100000
numprocs={n}
process_name=p%(process_num)d
startsecs=0
autorestart=false
stdout_logfile={d}/%(program_name)s-%(process_num)d.log
stderr_logfile=NONE
""")
    conf = os.path.join(d, "sd.conf")
    with open(conf, "w") as f:
        f.write("".join(body))
    return conf


class MainLog:
    """Counts a text in a growing file, reading only what is new."""

    def __init__(self, path):
        self.path, self.offset, self.count, self.rest = path, 0, 0, b""

    def poll(self, text):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self.count
        self.offset += len(data)
        data = self.rest + data
        cut = data.rfind(b"\n") + 1
        self.count += data[:cut].count(text)
        self.rest = data[cut:]
        return self.count


def wait_for(log, text, count, daemon, deadline_s=900):
    deadline = time.monotonic() + deadline_s
    while log.poll(text) < count:
        if daemon.poll() is not None:
            raise SystemExit(f"the daemon exited ({daemon.returncode}) before {count} x {text!r}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timeout: {count} x {text!r} in {log.path}")
        time.sleep(0.002)
    return time.monotonic()


def raw_call(sock_path, method):
    body = (f"<?xml version='1.0'?><methodCall><methodName>{method}</methodName>"
            "<params></params></methodCall>").encode()
    head = (f"POST /RPC2 HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    s.sendall(head + body)
    got = 0
    data = b""
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        if got < 4096:
            data += chunk[:4096]
        got += len(chunk)
    t1 = time.monotonic()
    s.close()
    if b"200 OK" not in data[:64] or b"fault" in data[:4096]:
        raise SystemExit(f"{method} failed: {data[:300]!r}")
    return t1 - t0, got


# Every run's directory is deleted only at the end. This machine's /tmp is
# ext4 without a journal, whose inode allocator skips (and scans past) the
# inodes deleted in the last minutes: deleting a run's thousands of log
# files made whichever run came next pay seconds to create its own (2.4 s
# for 4000 files right after 8000 deletions, 0.08 s without), a cost of the
# benchmark's clean-up that no user starting a daemon pays. The same holds
# between benchmarks: one started within about five minutes of another's
# clean-up (or of any mass deletion there) pays it again, and the
# "creating the N log files" row shows it.
leftovers = []


def scratch(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    leftovers.append(d)
    return d


def daemon_run(label, n):
    sd, ctl = daemons[label]
    d = scratch(f"sv-scale-{label}-")
    try:
        conf = write_conf(d, n)
        log = MainLog(os.path.join(d, "main.log"))
        t0 = time.monotonic()
        p = subprocess.Popen([sd, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = {}
        if n:
            out["start"] = wait_for(log, b"success:", n, p) - t0
        else:
            wait_for(log, b"supervisord started", 1, p)
        sock = os.path.join(d, "s.sock")
        deadline = time.monotonic() + 60
        while not os.path.exists(sock):
            if time.monotonic() > deadline:
                raise SystemExit("no socket")
            time.sleep(0.002)
        time.sleep(rss_settle)
        out["rss"] = rss_kb(p.pid)
        if n:
            calls = sorted(raw_call(sock, "supervisor.getAllProcessInfo")[0] for _ in range(11))
            out["info"] = calls[5]
            walls = []
            for _ in range(5):
                c0 = time.monotonic()
                subprocess.run([ctl, "-c", conf, "status"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                walls.append(time.monotonic() - c0)
            out["status"] = sorted(walls)[2]
        s0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=600)
        out["shutdown"] = time.monotonic() - s0
        return out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def files_run(n):
    d = scratch("sv-scale-files-")
    t0 = time.monotonic()
    for i in range(n):
        os.close(os.open(f"{d}/p-{i}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644))
    return {"start": time.monotonic() - t0}


def floor_run(n, hold):
    d = scratch("sv-scale-floor-")
    got = subprocess.run([os.path.join(release, "bench_spawner"), str(n)] + ([d] if hold else []),
                         check=True, capture_output=True, text=True)
    start, stop = got.stdout.split()
    return {"start": float(start), "shutdown": float(stop)}


labels = ["ours"] + (["reference"] if reference else [])
results = {}  # (label, n, key) -> [values]
atexit.register(lambda: [shutil.rmtree(d, ignore_errors=True) for d in leftovers])
for r in range(rounds):
    for label in labels:
        for k, v in daemon_run(label, 0).items():
            results.setdefault((label, 0, k), []).append(v)
    for n in sizes:
        for k, v in floor_run(n, False).items():
            results.setdefault(("floor", n, k), []).append(v)
        for k, v in files_run(n).items():
            results.setdefault(("files", n, k), []).append(v)
        for k, v in floor_run(n, True).items():
            results.setdefault(("std+fds", n, k), []).append(v)
        for label in labels:
            if label == "reference" and n > reference_max:
                continue
            for k, v in daemon_run(label, n).items():
                results.setdefault((label, n, k), []).append(v)
    print(f"round {r + 1}/{rounds} done", flush=True)


def stat(label, n, key, scale=1.0):
    vals = results.get((label, n, key))
    if not vals:
        return None, "-"
    vals = [v * scale for v in vals]
    med = statistics.median(vals)
    return med, f"{med:.3f} ({min(vals):.3f}..{max(vals):.3f})" if scale != 1 or med < 100 \
        else f"{med:.0f} ({min(vals):.0f}..{max(vals):.0f})"


def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"


print(f"\nscale benchmark, {rounds} rounds, median (min..max); "
      f"{os.uname().release}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
print(f"{'figure':<34} {'ours':>24} {'reference':>24} {'floor':>22} {'ours/ref':>9} {'ours/floor':>10}")


def row(title, key, n, scale=1.0, floor=False):
    o, os_ = stat("ours", n, key, scale)
    r, rs = stat("reference", n, key, scale)
    f, fs = stat("floor", n, key, scale) if floor else (None, "-")
    print(f"{title:<34} {os_:>24} {rs:>24} {fs:>22} {ratio(o, r):>9} {ratio(o, f):>10}")


row("RSS, empty daemon (kB)", "rss", 0)
for n in sizes:
    row(f"start {n} to RUNNING (s)", "start", n, floor=True)
    for label, title in (("files", "  creating the N log files (s)"),
                         ("std+fds", "  std spawner holding the fds (s)")):
        print(f"{title:<34} {stat(label, n, 'start')[1]:>24}")
    row(f"shutdown of {n} (s)", "shutdown", n, floor=True)
    row(f"getAllProcessInfo, {n} (ms)", "info", n, 1000)
    row(f"supervisorctl status, {n} (ms)", "status", n, 1000)
    row(f"RSS with {n} (kB)", "rss", n)
    for label in labels:
        if (label, n, "rss") in results:
            per = [(a - b) / n * 1024 for a, b in zip(results[(label, n, "rss")], results[(label, 0, "rss")])]
            results[(label, n, "per")] = per
    row(f"  bytes per program above empty", "per", n)
PY

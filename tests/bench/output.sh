#!/usr/bin/env bash
# Child output benchmark (not run by the tests): what a user pays, in
# supervisord's CPU, to get a child's output into its log, ours beside the
# reference Supervisor 4.3.0 and beside `cat` (the machine's limit), in one
# run, alternating, BENCH_RUNS rounds; median and spread (min..max) of each.
#
# The harness (issue 22's): one program, `bench_lines BYTES`, writes
# BENCH_MB MB of 100-byte numbered lines in 64 KiB write()s, with
# redirect_stderr=true, stdout_logfile=FILE and stdout_logfile_maxbytes=0
# or 1MB (10 backups). A run is timed from startProcess(name, false) over
# the daemon's unix socket until the log ends with the last line; its CPU
# is supervisord's utime+stime (every thread, /proc/PID/stat, 10 ms ticks:
# 500 MB is 25-50 ticks) over that interval. The floor is
# `bench_lines | cat > file`, cat's own CPU (wait4).
#
# Why the old version of this script reported a far larger lead (the
# reference at 1.28-1.71x cat's CPU, ours at 0.79-1.01x) than this harness
# finds: its headline "ours" rows were fixture_spew_pump, the output path
# run as a process of its own with no daemon around it (no tokio reactor,
# no supervisor task, no child to reap), not our supervisord; every row
# kept the best of its runs (noise only slows a run down, but so do the
# page-cache writeback stalls a user meets), where a user pays the median;
# and the reference's window began when the poller saw its "spawned:" line,
# up to a poll late, with its CPU counted from there. The pump rows are
# still there (BENCH_PUMP=1) to look at the output path alone.
#
# Run with:  cargo build --release --workspace
#            tests/bench/output.sh        (BENCH_MB=500 BENCH_RUNS=5 by default)
#            BENCH_PUMP=1 tests/bench/output.sh   (adds the in-process pump rows)
#            REFERENCE=0 tests/bench/output.sh    (ours and cat only)
#
# Where the time goes (perf, kernel 6.18, ext4, 1 GiB; from the pump rows):
# - no rotation: the page-cache write (ext4 delayed allocation, buffer heads,
#   the memcpy into the page cache) is most of both cat's and the splice's
#   CPU. A splice straight from the child's pipe into the file held that
#   pipe's lock for the whole copy, so child and reader took turns and spun
#   on the lock (a fifth of the reader's CPU); through a private pipe (see
#   core/src/logs/stage.rs) nobody waits and the splice is ~0.8x cat: it
#   saves cat's copy to user space, and nothing else is left to save.
# - 1 MB rotation, 10 backups: ~150 us of CPU a rotation, all of it in the
#   kernel: ten renames (~10 us each on this ext4; a C loop renaming empty
#   files measures the same), creating the new inode and deleting the
#   oldest (~55 us for an empty file, create + unlink), and freeing the
#   deleted backup's pages (the log-reaper thread). One backup: ~60 us.
#   Recycling the oldest backup's inode instead was measured slower: the
#   truncation it needs makes ext4 flush the file on its next close
#   (auto_da_alloc), and RENAME_EXCHANGE costs more than a rename.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
release="$root/target/release"
for bin in supervisord bench_lines fixture_spew fixture_spew_pump; do
    [ -x "$release/$bin" ] || { echo "build first: cargo build --release --workspace" >&2; exit 2; }
done

export BENCH_ROOT="$root"
export BENCH_MB="${BENCH_MB:-500}"
export BENCH_RUNS="${BENCH_RUNS:-5}"
export BENCH_PUMP="${BENCH_PUMP:-0}"
export REFERENCE="${REFERENCE:-1}"
exec "$root/tests/.venv/bin/python" - <<'PY'
import os, shutil, signal, socket, statistics, subprocess, tempfile, time

root = os.environ["BENCH_ROOT"]
mb = int(os.environ["BENCH_MB"])
runs = int(os.environ["BENCH_RUNS"])
pump_rows = os.environ["BENCH_PUMP"] == "1"
reference = os.environ["REFERENCE"] == "1"
total = mb * 1000 * 1000
lines = total // 100
last_line = (b"%015d " % (lines - 1)).ljust(99, b".") + b"\n"
release = os.path.join(root, "target", "release")
writer = os.path.join(release, "bench_lines")
spew = os.path.join(release, "fixture_spew")
pump = os.path.join(release, "fixture_spew_pump")
daemons = {"ours": os.path.join(release, "supervisord"),
           "reference": os.path.join(root, "tests", ".venv", "bin", "supervisord")}
ROTATE = 1024 * 1024
BACKUPS = 10
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def tail(path, n):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - n))
            return f.read()
    except FileNotFoundError:
        return b""


def rpc(sock_path, method, *params):
    body = "".join(f"<param><value>{p}</value></param>" for p in params)
    body = (f"<?xml version='1.0'?><methodCall><methodName>{method}</methodName>"
            f"<params>{body}</params></methodCall>").encode()
    head = (f"POST /RPC2 HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    s.sendall(head + body)
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    if b"200 OK" not in data[:64] or b"<fault>" in data:
        raise SystemExit(f"{method} failed: {data[:400]!r}")


def daemon(dir, label, maxbytes):
    """(seconds, supervisord CPU seconds) from startProcess(wait=false) until
    the log ends with the last line."""
    log = os.path.join(dir, "spew.log")
    conf = os.path.join(dir, "sd.conf")
    sock = os.path.join(dir, "s.sock")
    with open(conf, "w") as f:
        f.write(f"""[supervisord]
logfile={dir}/main.log
pidfile={dir}/sd.pid
childlogdir={dir}
loglevel=info
[unix_http_server]
file={sock}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[program:spew]
command={writer} {total}
autostart=false
autorestart=false
startsecs=0
redirect_stderr=true
stdout_logfile={log}
stdout_logfile_maxbytes={maxbytes}
stdout_logfile_backups={BACKUPS}
""")
    p = subprocess.Popen([daemons[label], "-n", "-c", conf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(sock):
            if time.monotonic() > deadline:
                raise SystemExit(f"{label}: no socket")
            time.sleep(0.005)
        time.sleep(0.2)  # let start-up CPU settle before the window opens
        cpu0 = proc_cpu(p.pid)
        t0 = time.monotonic()
        rpc(sock, "supervisor.startProcess", "<string>spew</string>", "<boolean>0</boolean>")
        deadline = time.monotonic() + 600
        while tail(log, 100) != last_line:
            if time.monotonic() > deadline:
                raise SystemExit(f"{label}: the last line never came")
            time.sleep(0.002)
        t1 = time.monotonic()
        cpu1 = proc_cpu(p.pid)
        if maxbytes == 0:
            assert os.path.getsize(log) == lines * 100, f"{label} lost bytes"
        return t1 - t0, cpu1 - cpu0
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()


def cat(dir):
    path = os.path.join(dir, "cat.log")
    with open(path, "wb") as out:
        t0 = time.monotonic()
        w = subprocess.Popen([writer, str(total)], stdout=subprocess.PIPE)
        r = subprocess.Popen(["cat"], stdin=w.stdout, stdout=out)
        w.stdout.close()
        _, status, usage = os.wait4(r.pid, 0)
        wall = time.monotonic() - t0
        w.wait()
    assert os.path.getsize(path) == lines * 100, "cat lost bytes"
    return wall, usage.ru_utime + usage.ru_stime


def pump_run(dir, maxbytes):
    """The output path alone: fixture_spew | fixture_spew_pump (no daemon)."""
    path = os.path.join(dir, "pump.log")
    t0 = time.monotonic()
    w = subprocess.Popen([spew, str(total)], stdout=subprocess.PIPE)
    r = subprocess.Popen([pump, path, str(maxbytes), str(BACKUPS), "0"], stdin=w.stdout,
                         stdout=subprocess.DEVNULL)
    w.stdout.close()
    _, status, usage = os.wait4(r.pid, 0)
    wall = time.monotonic() - t0
    w.wait()
    return wall, usage.ru_utime + usage.ru_stime


def once(fn, *args):
    dir = tempfile.mkdtemp(prefix="sv-output-bench-")
    try:
        return fn(dir, *args)
    finally:
        shutil.rmtree(dir)


cases = [("cat (the floor)", cat, ())]
for maxbytes, label in ((0, "no rotation"), (ROTATE, "1 MB rotation, 10 backups")):
    cases.append((f"ours, {label}", daemon, ("ours", maxbytes)))
    if reference:
        cases.append((f"reference, {label}", daemon, ("reference", maxbytes)))
    if pump_rows:
        cases.append((f"pump alone (no daemon), {label}", pump_run, (maxbytes,)))

# Round-robin: a slow spell of the machine hits every row alike.
results = {name: [] for name, _, _ in cases}
for r in range(runs):
    for name, fn, args in cases:
        results[name].append(once(fn, *args))
    print(f"round {r + 1}/{runs} done", flush=True)

gb = total / 1e9
print(f"\nchild output: {mb} MB of 100-byte lines in 64 KiB writes, {runs} rounds, median (min..max); "
      f"{os.uname().release}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
print(f"{'case':<44} {'CPU s/GB':>22} {'MB/s':>18} {'vs ref CPU':>10} {'vs cat CPU':>10}")
med = {name: statistics.median(c for _, c in v) / gb for name, v in results.items()}
for name, _, _ in cases:
    cpu = [c / gb for _, c in results[name]]
    mbs = [mb / w for w, _ in results[name]]
    ref_name = name.replace("ours", "reference")
    vs_ref = f"{med[name] / med[ref_name]:.2f}x" if name.startswith("ours") and ref_name in med else "-"
    print(f"{name:<44} {statistics.median(cpu):6.3f} ({min(cpu):.3f}..{max(cpu):.3f})"
          f" {statistics.median(mbs):5.0f} ({min(mbs):.0f}..{max(mbs):.0f})"
          f" {vs_ref:>10} {med[name] / med[cases[0][0]]:9.2f}x")
PY

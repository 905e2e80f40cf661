#!/usr/bin/env python3
"""Measure the findings of issue 18 against one supervisord binary.

Run with:   tests/bench/limits.py target/debug/supervisord
            tests/bench/limits.py /path/to/supervisord-before-the-change

Each figure starts a fresh daemon in a temp dir (unix socket, an inet
server with a password, one program that never reads stdin) under an
open-files limit of 1024, and prints one line:

  flood     1100 idle TCP connections: seconds for getState + stopProcess
            on the unix socket, accept-failure lines logged in 10 s, and
            the daemon's open descriptors
  stdin     eleven 10 MB sendProcessStdin calls: faults, RSS growth (MB)
  badbody   one 16 MB invalid body: main log growth (bytes)
  burst     eight parallel 15 MB bodies: how many were refused (503), RSS
            before, at peak, 3 s after (MB)
"""
import os, resource, socket, subprocess, sys, tempfile, threading, time
import xmlrpc.client

BIN = os.path.abspath(sys.argv[1])


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


class Unix(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def make_connection(self, host):
        import http.client

        class Conn(http.client.HTTPConnection):
            def connect(s):
                s.sock = socket.socket(socket.AF_UNIX)
                s.sock.connect(self.path)
                s.sock.settimeout(60)

        return Conn("localhost")


def start(d, port):
    conf = f"""[supervisord]
logfile={d}/main.log
pidfile={d}/sd.pid
childlogdir={d}
nodaemon=true
minfds=1024
[unix_http_server]
file={d}/s.sock
[inet_http_server]
port=127.0.0.1:{port}
username=admin
password=secret
[rpcinterface:supervisor]
supervisor.rpcinterface_factory=supervisor.rpcinterface:make_main_rpcinterface
[program:deaf]
command=/bin/sleep 1000
startsecs=0
stopwaitsecs=2
"""
    with open(f"{d}/s.conf", "w") as f:
        f.write(conf)

    def lower():
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

    proc = subprocess.Popen([BIN, "-c", f"{d}/s.conf"], preexec_fn=lower,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = xmlrpc.client.ServerProxy("http://x", transport=Unix(f"{d}/s.sock"))
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            if proxy.supervisor.getProcessInfo("deaf")["statename"] == "RUNNING":
                return proc, proxy
        except Exception:
            pass
        time.sleep(0.1)
    raise SystemExit("the daemon did not start")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(figure):
    with tempfile.TemporaryDirectory() as d:
        proc, proxy = start(d, free_port_holder[0])
        try:
            figure(d, proc, proxy)
        finally:
            proc.terminate()
            proc.wait(20)


def flood(d, proc, proxy):
    port = free_port_holder[0]
    conns = []
    for _ in range(1100):
        try:
            conns.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError:
            break
    t = time.time()
    try:
        proxy.supervisor.getState()
        proxy.supervisor.stopProcess("deaf")
        took = f"{time.time() - t:.2f}s"
    except Exception as e:
        took = f"failed after {time.time() - t:.1f}s ({type(e).__name__})"
    time.sleep(10)
    fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
    with open(f"{d}/main.log") as f:
        lines = f.read().count("accepting an HTTP connection failed")
    print(f"flood    connected={len(conns)} getState+stopProcess={took} "
          f"accept-failure-lines={lines} daemon-fds={fds}")
    for c in conns:
        c.close()


def stdin(d, proc, proxy):
    before = rss_mb(proc.pid)
    faults = 0
    data = "x" * (10 * 1024 * 1024)
    for _ in range(11):
        try:
            proxy.supervisor.sendProcessStdin("deaf", data)
        except xmlrpc.client.Fault:
            faults += 1
    print(f"stdin    faults={faults}/11 rss-growth={rss_mb(proc.pid) - before:.0f}MB")


def badbody(d, proc, proxy):
    before = os.path.getsize(f"{d}/main.log")
    s = socket.socket(socket.AF_UNIX)
    s.connect(f"{d}/s.sock")
    body = b"<" * (16 * 1024 * 1024 - 1024)
    s.sendall(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    s.recv(100)
    s.close()
    time.sleep(1)
    print(f"badbody  main-log-growth={os.path.getsize(f'{d}/main.log') - before}B")


def burst(d, proc, proxy):
    before = rss_mb(proc.pid)
    peak = [before]
    body = b"<" * (15 * 1024 * 1024)

    refused = []

    def send():
        s = socket.socket(socket.AF_UNIX)
        s.connect(f"{d}/s.sock")
        try:
            s.sendall(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            s.recv(100)
        except OSError:
            # Refused (503) before the body was sent.
            refused.append(1)
        s.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak[0] = max(peak[0], rss_mb(proc.pid))
        time.sleep(0.05)
    time.sleep(3)
    print(f"burst    refused={len(refused)}/8 rss before={before:.0f}MB peak={peak[0]:.0f}MB "
          f"after={rss_mb(proc.pid):.0f}MB")


free_port_holder = [free_port()]
for figure in (flood, stdin, badbody, burst):
    free_port_holder[0] = free_port()
    run(figure)

#!/usr/bin/env python3
"""Benchmark: argon2id logins and what a failed-login flood costs.

Run with:   cargo build --release --workspace
            tests/bench/auth.py target/release/supervisord   (SECS=5 per figure)

One daemon, an inet server whose admin password is an argon2id hash made by
`supervisord --hash-password` (the default parameters: 19 MiB, 2 passes).
Figures:
  login checks/s     new headers verified per second, from 4 clients: each
                     request carries the right password in a header never
                     seen before (the base64 padded with characters the
                     decoder skips, as Python's does), so each is a full
                     argon2 verification and none is slowed as a failure
  getState/s         an authenticated keep-alive client (its header is
                     remembered after the first call): alone, then while 8
                     other connections send wrong passwords as fast as the
                     daemon answers them
"""
import base64, http.client, os, socket, subprocess, sys, tempfile, threading, time

BIN = os.path.abspath(sys.argv[1])
SECS = float(os.environ.get("SECS", "5"))
BODY = b"<?xml version='1.0'?><methodCall><methodName>supervisor.getState</methodName><params></params></methodCall>"


def auth(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def call(conn, header):
    conn.request("POST", "/RPC2", BODY, {"Authorization": header, "Content-Type": "text/xml"})
    response = conn.getresponse()
    response.read()
    return response.status


def fresh_headers(header):
    """The same credentials in a new header each time: `*` is outside the
    base64 alphabet, so the decoder skips it but the header differs."""
    n = 0
    while True:
        n += 1
        yield header[:6] + "*" * (n % 64) + "!" * (n // 64) + header[6:]


def rate(port, header, stop, counter, source="127.0.0.1"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    headers = fresh_headers(header) if header.startswith("fresh:") else None
    if headers:
        header = header[len("fresh:"):]
        headers = fresh_headers(header)
    while not stop.is_set():
        try:
            call(conn, next(headers) if headers else header)
            counter[0] += 1
        except Exception:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))


def measure(port, header, sources):
    stop = threading.Event()
    counters = [[0] for _ in sources]
    threads = [threading.Thread(target=rate, args=(port, header, stop, c, s)) for c, s in zip(counters, sources)]
    for t in threads:
        t.start()
    time.sleep(SECS)
    stop.set()
    for t in threads:
        t.join()
    return sum(c[0] for c in counters) / SECS


def main():
    phc = subprocess.run([BIN, "--hash-password"], input="s3cret\n", capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as d:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        with open(f"{d}/s.conf", "w") as f:
            f.write(f"""[supervisord]
logfile={d}/main.log
pidfile={d}/sd.pid
nodaemon=true
[inet_http_server]
port=127.0.0.1:{port}
username=admin
password={phc}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory=supervisor.rpcinterface:make_main_rpcinterface
""")
        daemon = subprocess.Popen([BIN, "-c", f"{d}/s.conf"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 20
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port)).close()
                    break
                except OSError:
                    time.sleep(0.1)
            good = auth("admin", "s3cret")
            wrong = auth("admin", "wrong")
            sources = [f"127.0.0.{i}" for i in range(2, 6)]
            checks = measure(port, "fresh:" + good, sources)
            print(f"login checks/s (argon2id, 4 clients): {checks:.1f}")
            measure(port, good, ['127.0.0.1'])  # warm up
            print(f"getState/s alone:                     {measure(port, good, ['127.0.0.1']):.0f}")
            stop = threading.Event()
            flood_count = [0]
            flood = [threading.Thread(target=rate, args=(port, wrong, stop, flood_count, "127.0.0.9")) for _ in range(8)]
            for t in flood:
                t.start()
            under = measure(port, good, ["127.0.0.1"])
            stop.set()
            for t in flood:
                t.join()
            print(f"getState/s under a failed-login flood: {under:.0f} "
                  f"(the flood got {flood_count[0] / SECS:.1f} answers/s)")
            # Again alone: other load on the machine shows as a difference
            # between the two figures taken alone.
            print(f"getState/s alone, again:              {measure(port, good, ['127.0.0.1']):.0f}")
        finally:
            daemon.terminate()
            daemon.wait(20)


main()

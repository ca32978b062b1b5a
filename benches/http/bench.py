#!/usr/bin/env python3
"""cm-smartcard against libcurl, side by side in one run, against the same local nginx answering 201.

Prints per-call client CPU (getrusage of the child, start-up cost removed by differencing two call counts),
instructions (callgrind, differenced the same way), new connections per call (nginx's $connection), RSS,
TIME_WAIT sockets left behind, cold start, and ratios cm-smartcard / libcurl. A benchmark, not a test: it
asserts nothing and always exits 0 once it ran.

Usage: bench.py WORKDIR LIBDIR INCLUDEDIR   (scripts/bench.sh prepares all three)"""
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

work, libdir, incdir = sys.argv[1:4]
here = os.path.dirname(os.path.abspath(__file__))
env = dict(os.environ, LD_LIBRARY_PATH=libdir)


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# ---- server: nginx on loopback, http and https, keep-alive ------------------------------------------
os.makedirs(f"{work}/logs", exist_ok=True)
sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=bench CA",
   "-keyout", f"{work}/ca.key", "-out", f"{work}/ca.crt", stderr=subprocess.DEVNULL)
with open(f"{work}/leaf.ext", "w") as f:
    f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", f"{work}/leaf.key",
   "-out", f"{work}/leaf.csr", stderr=subprocess.DEVNULL)
sh("openssl", "x509", "-req", "-in", f"{work}/leaf.csr", "-CA", f"{work}/ca.crt", "-CAkey", f"{work}/ca.key",
   "-CAcreateserial", "-days", "2", "-extfile", f"{work}/leaf.ext", "-out", f"{work}/leaf.crt",
   stderr=subprocess.DEVNULL)
http_port, https_port = free_port(), free_port()
body = '"api/v1.0/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9"'
with open(f"{work}/nginx.conf", "w") as f:
    f.write(f"""
daemon off;
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  log_format conn '$connection';
  access_log {work}/logs/access.log conn;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  client_body_temp_path {work}/body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  ssl_certificate {work}/leaf.crt;
  ssl_certificate_key {work}/leaf.key;
  ssl_session_cache shared:SSL:1m;
  server {{
    listen 127.0.0.1:{http_port};
    listen 127.0.0.1:{https_port} ssl;
    location / {{
      default_type application/json;
      return 201 '{body}';
    }}
  }}
}}
""")
nginx = subprocess.Popen(["nginx", "-c", f"{work}/nginx.conf", "-p", work])
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", https_port), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.05)

try:
    # ---- clients ---------------------------------------------------------------------------------
    cflags = ["-O2", "-Wall", "-Wextra", "-Werror"]
    sh("cc", *cflags, "-o", f"{work}/curl_peer", f"{here}/curl_peer.c", "-lcurl")
    sh("cc", *cflags, "-std=c11", "-o", f"{work}/cm_peer", f"{here}/cm_peer.c", f"-I{incdir}", f"-L{libdir}",
       "-lcm_smartcard")
    http = f"http://127.0.0.1:{http_port}"
    https = f"https://localhost:{https_port}"
    ca = f"{work}/ca.crt"
    cases = {
        # name: (program, url, mode, ca)
        "cm session http": ("cm_peer", http, "session", None),
        "curl reuse http": ("curl_peer", http + "/CertificateManagement/api/v1.0/smartcards", "reuse", None),
        "cm one-shot http": ("cm_peer", http, "oneshot", None),
        "curl new http": ("curl_peer", http + "/CertificateManagement/api/v1.0/smartcards", "new", None),
        "cm session https": ("cm_peer", https, "session", ca),
        "curl reuse https": ("curl_peer", https + "/CertificateManagement/api/v1.0/smartcards", "reuse", ca),
        "cm one-shot https": ("cm_peer", https, "oneshot", ca),
        "curl new https": ("curl_peer", https + "/CertificateManagement/api/v1.0/smartcards", "new", ca),
    }

    def argv(name, n):
        prog, url, mode, cafile = cases[name]
        a = [f"{work}/{prog}", url, str(n), mode]
        return a + ([cafile] if cafile else [])

    def run(name, n):
        """(cpu seconds, max rss KiB, wall seconds) of one run."""
        t = time.perf_counter()
        p = subprocess.Popen(argv(name, n), env=env)
        _, status, ru = os.wait4(p.pid, 0)
        if status != 0:
            raise SystemExit(f"{name} failed (status {status})")
        return ru.ru_utime + ru.ru_stime, ru.ru_maxrss, time.perf_counter() - t

    def log_lines():
        with open(f"{work}/logs/access.log") as f:
            return f.read().split()

    # CPU per call: medians of interleaved rounds, start-up removed by differencing.
    n_small, n_big = 200, 2200
    cpu = {k: [] for k in cases}
    conns = {}
    for rnd in range(5):
        for name in cases:
            before = len(log_lines())
            small = run(name, n_small)[0]
            big = run(name, n_big)[0]
            cpu[name].append((big - small) / (n_big - n_small))
            if rnd == 0:
                lines = log_lines()[before:]
                conns[name] = len(set(lines)) / len(lines)
    cpu = {k: statistics.median(v) for k, v in cpu.items()}

    # Instructions per call (callgrind), differenced the same way.
    def instructions(name, n):
        out = f"{work}/cg.out"
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + argv(name, n), env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        with open(out) as f:
            text = f.read()
        return int(re.search(r"^summary:\s+(\d+)", text, re.M).group(1))

    instr = {}
    have_valgrind = shutil.which("valgrind") is not None
    if have_valgrind:
        for name in cases:
            instr[name] = (instructions(name, 150) - instructions(name, 50)) / 100

    # RSS over 100,000 session calls, TIME_WAIT left behind, cold start.
    rss_small = run("cm session http", 1000)[1]
    rss_big = run("cm session http", 100000)[1]

    def time_wait(port):
        out = subprocess.run(["ss", "-tan", "state", "time-wait"], capture_output=True, text=True).stdout
        return sum(1 for line in out.splitlines() if f":{port} " in line or line.rstrip().endswith(f":{port}"))

    tw = {}
    for name in ["cm session http", "cm one-shot http", "curl reuse http", "curl new http"]:
        time.sleep(0.2)
        before = time_wait(http_port)
        run(name, 2000)
        tw[name] = time_wait(http_port) - before

    cold = {}
    for name in ["cm one-shot https", "curl new https", "cm one-shot http", "curl new http"]:
        cold[name] = statistics.median(run(name, 1)[2] for _ in range(15))

    # ---- report ------------------------------------------------------------------------------------
    print()
    print(f"{'call':<22}{'CPU/call µs':>13}{'instr/call':>13}{'new conns/call':>16}")
    for name in cases:
        i = f"{instr[name]:,.0f}" if name in instr else "n/a"
        print(f"{name:<22}{cpu[name] * 1e6:>13.1f}{i:>13}{conns[name]:>16.3f}")
    print()
    print("ratios cm-smartcard / libcurl (≤ 1.0 = as cheap or cheaper):")
    for ours, peer in [("cm session http", "curl reuse http"), ("cm session https", "curl reuse https"),
                       ("cm one-shot http", "curl new http"), ("cm one-shot https", "curl new https")]:
        ir = f"{instr[ours] / instr[peer]:.2f}×" if have_valgrind else "n/a"
        print(f"  {ours:<19} vs {peer:<17} CPU {cpu[ours] / cpu[peer]:.2f}×   instructions {ir}")
    print()
    print(f"RSS of a session: {rss_small} KiB after 1,000 calls, {rss_big} KiB after 100,000 calls "
          f"(growth {rss_big - rss_small} KiB)")
    print("TIME_WAIT sockets left by 2,000 calls: " + ", ".join(f"{k} {v}" for k, v in tw.items()))
    print("cold start (process start, load, first call; median of 15): " +
          ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in cold.items()))
    print(f"  ratio one-shot https {cold['cm one-shot https'] / cold['curl new https']:.2f}×, "
          f"http {cold['cm one-shot http'] / cold['curl new http']:.2f}×")
finally:
    nginx.terminate()
    nginx.wait()

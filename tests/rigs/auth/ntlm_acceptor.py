#!/usr/bin/env python3
"""Independent NTLM acceptor (pyspnego), IIS-like: one NTLM security context per TCP connection, HTTP/1.1 keep-alive.

  /ntlm/<path>   NTLM (raw scheme). Unauthenticated -> 401 `WWW-Authenticate: NTLM`; type 1 -> 401 + type 2;
                 type 3 -> the request is proxied to $AUTH_BACKEND_URL/<path> with X-Remote-User, and the
                 backend's answer relayed. Bad credentials -> 401 bare `NTLM`.
  /bearer/...    200 + JSON {"token": <the Bearer token received>, "matches": bool}; otherwise 401 `Bearer`.

Every request is logged to LOGFILE as `conn=<n> req=<k> <method> <path> <status> user=<u>` (never tokens).
Usage: ntlm_acceptor.py PORT LOGFILE
Env: NTLM_USER_FILE (DOMAIN:user:password lines), AUTH_RIG_BEARER_TOKEN (expected bearer token),
AUTH_BACKEND_URL (where authenticated /ntlm/ requests go; without it the acceptor answers 200 itself).
"""
import base64
import itertools
import json
import os
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import spnego

PORT = int(sys.argv[1])
LOGFILE = sys.argv[2]
BEARER = os.environ.get("AUTH_RIG_BEARER_TOKEN", "")
BACKEND = os.environ.get("AUTH_BACKEND_URL", "").rstrip("/")
CONN_IDS = itertools.count(1)
LOG_LOCK = threading.Lock()


def log(line):
    with LOG_LOCK, open(LOGFILE, "a") as f:
        f.write(line + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.conn_id = next(CONN_IDS)
        self.req_no = 0
        self.ctx = None
        self.user = None

    def log_message(self, fmt, *args):  # quiet; our own log has no secrets
        pass

    def _reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        log(f"conn={self.conn_id} req={self.req_no} {self.command} {self.path} {status} user={self.user or '-'}")

    def _handle(self):
        self.req_no += 1
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""  # always consume: keep-alive
        authz = self.headers.get("Authorization", "")
        if self.path.startswith("/bearer/"):
            if authz.startswith("Bearer "):
                tok = authz[len("Bearer "):]
                out = json.dumps({"token": tok, "matches": tok == BEARER}).encode()
                return self._reply(200, out, [("Content-Type", "application/json")])
            return self._reply(401, b"bearer token required", [("WWW-Authenticate", 'Bearer realm="cm-auth-rig"')])
        if not self.path.startswith("/ntlm/"):
            return self._reply(404, b"not found")
        if self.user is None:
            scheme, _, b64 = authz.partition(" ")
            if scheme.lower() != "ntlm" or not b64.strip():
                self.ctx = None
                return self._reply(401, b"NTLM required", [("WWW-Authenticate", "NTLM")])
            try:
                token = base64.b64decode(b64.strip())
                if token[8:12] == b"\x01\x00\x00\x00" or self.ctx is None:  # type 1 starts a new context
                    self.ctx = spnego.server(protocol="ntlm")
                out = self.ctx.step(token)
            except Exception as e:  # bad credentials, malformed token
                log(f"conn={self.conn_id} req={self.req_no} ntlm failure: {type(e).__name__}: {str(e)[:200]}")
                self.ctx = None
                return self._reply(401, b"NTLM credentials rejected", [("WWW-Authenticate", "NTLM")])
            if not self.ctx.complete:
                return self._reply(401, b"", [("WWW-Authenticate", "NTLM " + base64.b64encode(out).decode())])
            self.user = self.ctx.client_principal or "?"
        # authenticated on this connection (IIS default: the connection stays authenticated)
        return self._proxy(body)

    def _proxy(self, body):
        if not BACKEND:
            out = json.dumps({"user": self.user, "scheme": "NTLM"}).encode()
            return self._reply(200, out, [("Content-Type", "application/json")])
        path = self.path[len("/ntlm"):]
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() in ("content-type", "accept", "accept-language")}
        headers["X-Remote-User"] = self.user
        req = urllib.request.Request(BACKEND + path, data=body if self.command in ("POST", "PUT") else None,
                                     headers=headers, method=self.command)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, rbody, rh = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, rbody, rh = e.code, e.read(), e.headers
        except Exception as e:
            return self._reply(502, f"backend unreachable: {type(e).__name__}".encode())
        keep = [(k, v) for k, v in rh.items() if k.lower() in ("content-type", "location", "x-seen-remote-user")]
        return self._reply(status, rbody, keep)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    Server(("127.0.0.1", PORT), Handler).serve_forever()

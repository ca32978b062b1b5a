#!/usr/bin/env python3
"""Stub CM backend for the auth rig when no AUTH_BACKEND_URL is given: POST .../smartcards -> 201 with
`"api/v1.0/smartcards/<uuid>"`; anything else -> 200 `{}`. Echoes the proxy's X-Remote-User as X-Seen-Remote-User.
Usage: stub_backend.py PORT"""
import sys
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.command == "POST" and self.path.split("?")[0].rstrip("/").endswith("/smartcards"):
            status, body = 201, f'"api/v1.0/smartcards/{uuid.uuid4()}"'.encode()
        else:
            status, body = 200, b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("X-Seen-Remote-User", self.headers.get("X-Remote-User", "-"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()

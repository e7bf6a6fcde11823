#!/usr/bin/env python3
"""A bad OCSP responder for the ocspxy tests (stdlib only).

usage: fake_upstream.py MODE PORT [SAVEDIR]

Listens on 127.0.0.1:PORT and answers every POST and GET by MODE:
  garbage      200, Content-Type application/ocsp-response, random bytes
  http500      500 Internal Server Error with a text body
  file:PATH    200, Content-Type application/ocsp-response, the bytes of
               PATH (read again for each request)
  slow:PATH    file:PATH, 3 s after the request
  hang         reads the request and never answers (until killed)
  close        reads the request and closes the connection, no answer

Logs one line "REQ METHOD PATH" per request, then "HDR Name: value" lines,
to stdout (line-buffered).  With SAVEDIR, writes each request body to
SAVEDIR/req-N.der.
"""

import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = sys.argv[1]
PORT = int(sys.argv[2])
SAVEDIR = sys.argv[3] if len(sys.argv) > 3 else None
COUNT = 0
LOG = threading.Lock()  # one request's lines together (threads answer)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        pass

    def _answer(self):
        global COUNT
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        lines = ["REQ %s %s" % (self.command, self.path)]
        for k, v in self.headers.items():
            lines.append("HDR %s: %s" % (k, v))
        with LOG:
            COUNT += 1
            n = COUNT
            print("\n".join(lines), flush=True)
        if SAVEDIR:
            with open(os.path.join(SAVEDIR, "req-%d.der" % n), "wb") as f:
                f.write(body)
        if MODE == "hang":
            time.sleep(3600)
            return
        if MODE == "close":
            self.close_connection = True
            return
        if MODE == "http500":
            self._send(500, b"internal error\n", "text/plain")
        elif MODE == "garbage":
            self._send(200, os.urandom(300), "application/ocsp-response")
        elif MODE.startswith(("file:", "slow:")):
            if MODE.startswith("slow:"):
                time.sleep(3)
            with open(MODE[5:], "rb") as f:
                data = f.read()
            self._send(200, data, "application/ocsp-response")
        else:
            self._send(500, b"bad mode\n", "text/plain")

    def _send(self, code, data, ctype):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = _answer
    do_GET = _answer


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    Server(("127.0.0.1", PORT), Handler).serve_forever()

#!/usr/bin/env python3
"""A FastCGI client for the ocspxy tests (stdlib only).

usage: fcgi_client.py HOST PORT BODY OUT PAUSE NAME=VALUE...

Sends one FCGI_RESPONDER request with the given parameters on a TCP
connection, waits PAUSE seconds after the parameters, then sends BODY
(a file) as FCGI_STDIN, and writes the FCGI_STDOUT it gets back to OUT.
Web servers buffer the body first; this one can be slow on purpose.
"""

import socket
import struct
import sys
import time


def record(rtype, content, rid=1):
    return struct.pack(">BBHHBB", 1, rtype, rid, len(content), 0, 0) + content


def pairs(params):
    out = b""
    for k, v in params:
        for x in (k, v):
            n = len(x)
            out += bytes([n]) if n < 128 else struct.pack(">I", n | 1 << 31)
        out += k + v
    return out


def main():
    host, port, body, out, pause = sys.argv[1:6]
    params = [a.encode().split(b"=", 1) for a in sys.argv[6:]]
    data = open(body, "rb").read()
    s = socket.create_connection((host, int(port)), timeout=20)
    s.sendall(record(1, struct.pack(">HB5x", 1, 0)) +   # BEGIN_REQUEST
              record(4, pairs(params)) + record(4, b""))  # PARAMS
    time.sleep(float(pause))
    s.sendall(record(5, data) + record(5, b""))         # STDIN
    got, buf = b"", b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 8:
            _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", buf[:8])
            if len(buf) < 8 + clen + plen:
                break
            if rtype == 6:
                got += buf[8:8 + clen]
            buf = buf[8 + clen + plen:]
            if rtype == 3:  # END_REQUEST
                open(out, "wb").write(got)
                return 0
    open(out, "wb").write(got)
    return 1


if __name__ == "__main__":
    sys.exit(main())

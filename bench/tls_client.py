#!/usr/bin/env python3
"""tls_client.py - the Python clients of bench/tls.sh.

  tls_client.py conn PORT SECS [MAX]
      New plain-text connections one after another for SECS seconds (at most
      MAX): each sends "GET / HTTP/1.0" (what `openssl s_time -www /` sends
      inside TLS) and reads the answer to the end; the server closes first.
      Prints "connections N errors E".

  tls_client.py idle PORT N HOST PATH [CERT KEY CAFILE]
      N keep-alive connections (mutual TLS 1.3 with CERT/KEY, the server's
      chain checked against CAFILE, when given), one HTTP/1.1 request each,
      answer read whole, then all kept open and idle until SIGTERM, when they
      are reset (SO_LINGER 0: no TIME_WAIT left behind). Prints
      "open N bad B" once all are open ("handshake" lines name failures).

  tls_client.py haproxy-stat SOCKET FRONTEND
      From HAProxy's stats socket, the frontend's SSL counters: prints
      "ssl_sess ssl_reused_sess ssl_failed_handshake" (full handshakes,
      resumed ones, failed ones).
"""
import csv
import resource
import signal
import socket
import ssl
import struct
import sys
import time


def read_response(s):
    """Reads one HTTP/1.1 response with a Content-Length; True when a 200."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(65536)
        if not c:
            return False
        buf += c
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = lines[0].split()
    ok = len(status) > 1 and status[1] == b"200"
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        c = s.recv(65536)
        if not c:
            return False
        rest += c
    return ok


def conn(port, secs, most):
    req = b"GET / HTTP/1.0\r\n\r\n"
    n = bad = 0
    end = time.monotonic() + secs
    while n < most and time.monotonic() < end:
        try:
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(req)
            got = b""
            while True:
                c = s.recv(65536)
                if not c:
                    break
                got += c
            s.close()
            if got.startswith(b"HTTP/1.") and b" 200 " in got[:16]:
                n += 1
            else:
                bad += 1
        except OSError:
            bad += 1
    print("connections %d errors %d" % (n, bad), flush=True)


def idle(port, n, host, path, cert=None, key=None, cafile=None):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
    ctx = None
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(cafile)
        ctx.check_hostname = False  # an SVID names a SPIFFE ID, no DNS name
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode()
    socks, bad = [], 0
    for _ in range(n):
        try:
            raw = socket.create_connection(("127.0.0.1", port))
            s = ctx.wrap_socket(raw) if ctx else raw
            s.sendall(req)
            if not read_response(s):
                bad += 1
            socks.append(s)
        except (OSError, ssl.SSLError) as e:
            bad += 1
            if bad <= 3:
                print("handshake/request failed: %s" % e, flush=True)
    print("open %d bad %d" % (len(socks), bad), flush=True)

    def done(*_):
        linger = struct.pack("ii", 1, 0)
        for s in socks:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                s.close()
            except OSError:
                pass
        sys.exit(0)

    signal.signal(signal.SIGTERM, done)
    while True:
        signal.pause()


def haproxy_stat(sock, front):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b"show stat\n")
    data = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
    rows = list(csv.reader(data.decode().lstrip("# ").splitlines()))
    head = rows[0]
    for row in rows[1:]:
        if len(row) > 1 and row[0] == front and row[1] == "FRONTEND":
            d = dict(zip(head, row))
            print(" ".join(str(int(d.get(k) or 0)) for k in
                           ("ssl_sess", "ssl_reused_sess", "ssl_failed_handshake")))
            return
    print("0 0 0")


def main(a):
    if len(a) >= 3 and a[0] == "conn":
        conn(int(a[1]), float(a[2]), int(a[3]) if len(a) > 3 else 1 << 30)
    elif len(a) == 3 and a[0] == "haproxy-stat":
        haproxy_stat(a[1], a[2])
    elif len(a) in (5, 8) and a[0] == "idle":
        idle(int(a[1]), int(a[2]), a[3], a[4], *a[5:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])

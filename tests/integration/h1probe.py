#!/usr/bin/env python3
"""h1probe - raw HTTP/1 client and misbehaving backends for the meshproxy
integration tests (proxy_limits.sh, proxy_reload.sh). Standard library only.

  h1probe.py send PORT EXPR [--timeout S] [--then EXPR --gap S]...
      Connect to 127.0.0.1:PORT, write the bytes EXPR evaluates to (a Python
      bytes expression, e.g. "b'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'"),
      optionally more writes after gaps, then read until EOF or until the
      timeout (--shut-wr: half-close after writing; --abort-after S: reset
      the connection after reading for S seconds). Prints one JSON object:
      "first_byte" (seconds to the first byte received), the responses parsed from what came
      back (status, headers, body), "closed" (EOF or reset seen before the
      timeout), "reset" (ECONNRESET), "elapsed" (seconds to EOF), "raw"
      (the first bytes received).
  h1probe.py slow PORT HOST --interval S --max S [--first EXPR]
      Slowloris: a request line, then one header line every S seconds, never
      the blank line. Prints what came back and after how long. --first:
      complete requests sent in the same write as the slow request line.
  h1probe.py idle PORT HOST PATH --max S
      One keep-alive request, its response, then wait: prints after how long
      the proxy closed the idle connection (or that it did not within S).
  h1probe.py backend MODE --port-file F [--log F]
      A backend on 127.0.0.1:0. MODE reset: read a request head, then close
      with RST (SO_LINGER 0). MODE partial: answer with a head promising
      100000 bytes, send 10, then reset. MODE trickle: a chunked answer, its
      head and first chunk at once, the last chunk one second later. MODE status:N: answer every request N with a
      small JSON body naming itself (--name). Each accepted connection
      appends a line to --log.
  h1probe.py load PORT HOST PATH --threads N --max-requests M --stop-file F
                 [--pause S] [--fresh] [--stop-on-refused]
      Keep-alive load: N threads, each sends requests on one persistent
      connection (reconnecting when the proxy closes it; --fresh: a new
      connection per request) until F exists or M requests are done. Prints a JSON summary: counts by status and by
      backend name (x-echo-name), and every error classified.
"""
import argparse
import errno
import json
import os
import socket
import sys
import threading
import time


def parse_responses(data):
    """Parse HTTP/1 responses from @data: a list of dicts, and the rest."""
    out = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        head = data[pos:end].decode("latin-1")
        lines = head.split("\r\n")
        status_line = lines[0]
        parts = status_line.split(" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            status = None
        headers = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            headers.setdefault(k.strip().lower(), []).append(v.strip())
        body_start = end + 4
        body = b""
        complete = True
        if status is not None and (100 <= status < 200 or status in (204, 304)):
            pos = body_start
        elif "transfer-encoding" in headers:
            p = body_start
            while True:
                le = data.find(b"\r\n", p)
                if le < 0:
                    complete = False
                    break
                size = int(data[p:le].split(b";")[0], 16)
                p = le + 2
                if size == 0:
                    te = data.find(b"\r\n\r\n", p - 2)
                    if te < 0:
                        complete = False
                        break
                    p = te + 4
                    break
                body += data[p:p + size]
                p += size + 2
            pos = p
        elif "content-length" in headers:
            n = int(headers["content-length"][0])
            body = data[body_start:body_start + n]
            complete = len(body) == n
            pos = body_start + n
        else:
            body = data[body_start:]
            pos = len(data)
        out.append({
            "status_line": status_line,
            "status": status,
            "headers": {k: ", ".join(v) for k, v in headers.items()},
            "body": body.decode("latin-1"),
            "complete": complete,
        })
        if not complete:
            break
    return out, data[pos:]


first_byte_at = None


def read_until_eof(s, deadline):
    """Read until EOF, reset or @deadline: (data, closed, reset, t_end)."""
    global first_byte_at
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False, False, None
        s.settimeout(left)
        try:
            b = s.recv(65536)
        except socket.timeout:
            return data, False, False, None
        except ConnectionResetError:
            return data, True, True, time.monotonic()
        if not b:
            return data, True, False, time.monotonic()
        if first_byte_at is None:
            first_byte_at = time.monotonic()
        data += b


def cmd_send(a):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    t0 = time.monotonic()
    writes = [(0.0, eval(a.expr))]
    for i, e in enumerate(a.then or []):
        writes.append((float(a.gap[i]) if a.gap and i < len(a.gap) else 0.2, eval(e)))
    write_error = None
    for gap, payload in writes:
        if gap:
            time.sleep(gap)
        try:
            s.sendall(payload)
        except OSError as e:  # the proxy may close before taking it all
            write_error = errno.errorcode.get(e.errno, str(e))
            break
    if a.shut_wr and not write_error:
        s.shutdown(socket.SHUT_WR)
    if a.abort_after is not None:
        # read for a while, then drop the connection with a reset
        data, closed, reset, t_end = read_until_eof(s, time.monotonic() + a.abort_after)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    else:
        data, closed, reset, t_end = read_until_eof(s, t0 + a.timeout)
    s.close()
    resp, rest = parse_responses(data)
    print(json.dumps({
        "sent_bytes": sum(len(p) for _, p in writes),
        "sent_head": repr(writes[0][1][:160]),
        "responses": resp,
        "statuses": [r["status"] for r in resp],
        "closed": closed,
        "reset": reset,
        "write_error": write_error,
        "elapsed": round(t_end - t0, 3) if t_end else None,
        "first_byte": round(first_byte_at - t0, 3) if first_byte_at else None,
        "raw": data[:300].decode("latin-1"),
        "trailing_bytes": len(rest),
    }))


def cmd_slow(a):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    t0 = time.monotonic()
    first = eval(a.first) if a.first else b""
    lines = [first + b"GET /slow HTTP/1.1\r\n", b"Host: " + a.host.encode() + b"\r\n"]
    i = 0
    data = b""
    closed = reset = False
    t_end = None
    sent = 0
    while time.monotonic() - t0 < a.max:
        try:
            s.sendall(lines[i] if i < len(lines) else b"X-Slow-%d: y\r\n" % i)
            sent += 1
        except OSError:
            closed = True
            t_end = time.monotonic()
            break
        i += 1
        d, closed, reset, t_end = read_until_eof(s, time.monotonic() + a.interval)
        data += d
        if a.first and d and not closed and b"408" not in d:
            continue  # the answers to the --first requests
        if closed or d:
            if not closed:  # an answer came: wait for the close
                d, closed, reset, t_end = read_until_eof(s, time.monotonic() + 2)
                data += d
            break
    s.close()
    resp, _ = parse_responses(data)
    print(json.dumps({
        "statuses": [r["status"] for r in resp],
        "closed": closed,
        "reset": reset,
        "lines_sent": sent,
        "elapsed": round(t_end - t0, 3) if t_end else None,
        "raw": data[:200].decode("latin-1"),
    }))


def cmd_idle(a):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    s.sendall(b"GET " + a.path.encode() + b" HTTP/1.1\r\nHost: " + a.host.encode() + b"\r\n\r\n")
    data = b""
    t0 = time.monotonic()
    resp = []
    while not resp and time.monotonic() - t0 < 5:
        s.settimeout(5)
        b = s.recv(65536)
        if not b:
            break
        data += b
        resp, _ = parse_responses(data)
        if resp and not resp[0]["complete"]:
            resp = []
    t1 = time.monotonic()
    rest, closed, reset, t_end = read_until_eof(s, t1 + a.max)
    s.close()
    print(json.dumps({
        "statuses": [r["status"] for r in resp],
        "closed": closed,
        "reset": reset,
        "idle_closed_after": round(t_end - t1, 3) if t_end else None,
        "extra_bytes": rest[:200].decode("latin-1"),
    }))


def cmd_backend(a):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, a.port_file)
    lock = threading.Lock()

    def log(msg):
        if a.log:
            with lock, open(a.log, "a") as f:
                f.write(msg + "\n")

    def serve(c):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    b = c.recv(65536)
                    if not b:
                        return
                    buf += b
                head, _, buf = buf.partition(b"\r\n\r\n")
                log("request " + head.split(b"\r\n")[0].decode("latin-1"))
                # bodies are not expected here: drop a Content-Length body
                for l in head.split(b"\r\n")[1:]:
                    k, _, v = l.partition(b":")
                    if k.strip().lower() == b"content-length":
                        n = int(v)
                        while len(buf) < n:
                            buf += c.recv(65536)
                        buf = buf[n:]
                if a.mode == "trickle":
                    # a chunked response: the head and a first chunk, then
                    # the rest one second later
                    c.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                              b"6\r\nfirst\n\r\n")
                    time.sleep(1.0)
                    c.sendall(b"5\r\nlast\n\r\n0\r\n\r\n")
                    continue
                if a.mode == "partial":
                    # a response head promising 100000 bytes, 10 of them, a reset
                    c.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n0123456789")
                    time.sleep(0.1)
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    c.close()
                    return
                if a.mode == "reset":
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    c.close()
                    return
                st = int(a.mode.split(":")[1])
                body = json.dumps({"name": a.name, "status": st}).encode()
                c.sendall(b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\n"
                          b"x-echo-name: %s\r\ncontent-length: %d\r\n\r\n"
                          % (st, a.name.encode(), len(body)) + body)
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    while True:
        c, _ = ls.accept()
        log("connection")
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def cmd_load(a):
    import http.client
    lock = threading.Lock()
    summary = {"requests": 0, "ok": 0, "status": {}, "backend": {}, "errors": {},
               "refused_new": 0, "reused_closed": 0, "connections": 0, "error_samples": []}

    def bump(d, k):
        d[str(k)] = d.get(str(k), 0) + 1

    def worker(tid):
        conn = None
        n = 0
        while n < a.max_requests and not os.path.exists(a.stop_file):
            n += 1
            fresh = conn is None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
                    conn.connect()
                    with lock:
                        summary["connections"] += 1
                hdrs = {"Host": a.host}
                if a.fresh:
                    hdrs["Connection"] = "close"
                conn.request("GET", a.path + "?t=%d&n=%d" % (tid, n), headers=hdrs)
                r = conn.getresponse()
                body = r.read()
                name = r.getheader("x-echo-name", "?")
                with lock:
                    summary["requests"] += 1
                    bump(summary["status"], r.status)
                    if r.status == 200:
                        summary["ok"] += 1
                        bump(summary["backend"], name)
                    elif len(summary["error_samples"]) < 10:
                        summary["error_samples"].append(
                            "status %d: %s" % (r.status, body[:120].decode("latin-1")))
                if r.will_close:
                    conn.close()
                    conn = None
            except ConnectionRefusedError:
                # only a new connection can be refused: the listener is gone
                with lock:
                    summary["requests"] += 1
                    summary["refused_new"] += 1
                conn = None
                if a.stop_on_refused:
                    return
                time.sleep(0.01)
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError, http.client.IncompleteRead, socket.timeout,
                    http.client.BadStatusLine, OSError) as e:
                with lock:
                    summary["requests"] += 1
                    kind = type(e).__name__ + (" (reused connection)" if not fresh else
                                              " (new connection)")
                    bump(summary["errors"], kind)
                    if not fresh:
                        summary["reused_closed"] += 1
                    if len(summary["error_samples"]) < 10:
                        summary["error_samples"].append("t%d n%d %s: %s" % (tid, n, kind, e))
                try:
                    conn.close()
                except Exception:
                    pass
                conn = None
            if a.pause:
                time.sleep(a.pause)
        if conn:
            conn.close()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(a.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps(summary))


def get_on(s, host, path="/"):
    """One request on socket @s: its status, or an error name."""
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path.encode(), host.encode()))
        data = b""
        s.settimeout(3)
        while True:
            resp, _ = parse_responses(data)
            if resp and resp[0]["complete"]:
                return resp[0]["status"]
            b = s.recv(65536)
            if not b:
                return "eof"
            data += b
    except OSError as e:
        return type(e).__name__


def cmd_maxconn(a):
    """--max-connections N: N open connections, then one more."""
    held = [socket.create_connection(("127.0.0.1", a.port), timeout=3) for _ in range(a.n)]
    time.sleep(0.3)
    extra = socket.create_connection(("127.0.0.1", a.port), timeout=3)
    over = get_on(extra, a.host)
    extra.close()
    first = get_on(held[0], a.host)
    held[0].close()
    time.sleep(0.3)
    again = socket.create_connection(("127.0.0.1", a.port), timeout=3)
    after = get_on(again, a.host)
    again.close()
    for s in held[1:]:
        s.close()
    print(json.dumps({"over_limit": over, "held_connection": first, "after_one_closed": after}))


def cmd_expect(a):
    """Check a `send` result: exit 0, or print why not and exit 1."""
    try:
        d = json.load(open(a.file))
    except ValueError:
        print("the probe itself failed (see its stderr)")
        sys.exit(1)
    why = []
    want = [int(x) for x in a.status.split(",")] if a.status else None
    st = d["statuses"]
    if want is not None:
        if not st:
            why.append("no response (wanted %s)" % a.status)
        elif st[0] not in want:
            why.append("status %s (wanted %s)" % (st[0], a.status))
        elif len(st) > 1:
            why.append("%d responses to one request: %s" % (len(st), st))
    if a.no_response and st:
        why.append("answered %s (wanted the connection closed without an answer)" % st)
    if a.closed and not d["closed"]:
        why.append("connection still open after %ss" % a.timeout)
    if a.max_elapsed and (d["elapsed"] is None or d["elapsed"] > a.max_elapsed):
        why.append("closed after %ss (wanted <= %ss)" % (d["elapsed"], a.max_elapsed))
    if why:
        print("; ".join(why))
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("send")
    p.add_argument("port", type=int)
    p.add_argument("expr")
    p.add_argument("--timeout", type=float, default=3.0)
    p.add_argument("--then", action="append")
    p.add_argument("--shut-wr", action="store_true", help="half-close after the writes")
    p.add_argument("--abort-after", type=float, help="reset the connection after S seconds")
    p.add_argument("--gap", action="append")
    p = sub.add_parser("slow")
    p.add_argument("port", type=int)
    p.add_argument("host")
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--max", type=float, default=15)
    p.add_argument("--first", help="bytes (a Python expression) sent before the slow request")
    p = sub.add_parser("idle")
    p.add_argument("port", type=int)
    p.add_argument("host")
    p.add_argument("path")
    p.add_argument("--max", type=float, default=10)
    p = sub.add_parser("backend")
    p.add_argument("mode")
    p.add_argument("--port-file", required=True)
    p.add_argument("--log")
    p.add_argument("--name", default="raw")
    p = sub.add_parser("load")
    p.add_argument("port", type=int)
    p.add_argument("host")
    p.add_argument("path")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--max-requests", type=int, default=250)
    p.add_argument("--stop-file", required=True)
    p.add_argument("--pause", type=float, default=0.0)
    p.add_argument("--stop-on-refused", action="store_true")
    p.add_argument("--fresh", action="store_true", help="a new connection per request")
    p = sub.add_parser("maxconn")
    p.add_argument("port", type=int)
    p.add_argument("host")
    p.add_argument("n", type=int)
    p = sub.add_parser("expect")
    p.add_argument("file")
    p.add_argument("--status")
    p.add_argument("--closed", action="store_true")
    p.add_argument("--no-response", action="store_true")
    p.add_argument("--max-elapsed", type=float)
    p.add_argument("--timeout", default="?")
    a = ap.parse_args()
    {"send": cmd_send, "slow": cmd_slow, "idle": cmd_idle, "backend": cmd_backend,
     "load": cmd_load, "expect": cmd_expect, "maxconn": cmd_maxconn}[a.cmd](a)


if __name__ == "__main__":
    main()

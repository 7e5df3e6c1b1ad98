#!/usr/bin/env python3
"""h2raw - a raw HTTP/2 (h2c, prior knowledge) client that writes frames by
hand, for the meshproxy flood tests (proxy_h2.sh). Standard library only:
no h2 package. Requests are HPACK-encoded as literals without Huffman
coding; responses are not decoded (the tests look at frame types, flags,
stream ids and error codes only).

  h2raw.py MODE PORT [--authority A] [--path P] [--count N] [--ack]
           [--timeout S]

MODE:
  rapid-reset  N requests, each HEADERS (END_STREAM) then RST_STREAM(CANCEL)
  ping         N PING frames
  settings     N empty SETTINGS frames
  empty-data   one request stream, then N empty DATA frames (no END_STREAM)
  empty-headers  HEADERS with an empty block (no END_HEADERS), then N empty
               CONTINUATION frames
  streams      N requests left open (HEADERS without END_STREAM); --ack
               acknowledges the server's SETTINGS first (then going over its
               SETTINGS_MAX_CONCURRENT_STREAMS is a connection error)

Prints one JSON object: "goaway" ([error code, last stream id] or null),
"rst" (error code -> count of RST_STREAM frames received), "headers"
(stream ids that got a HEADERS frame), "closed" (EOF or reset seen),
"max_concurrent_streams" (from the server's SETTINGS).
"""
import argparse
import json
import socket
import struct
import sys
import threading
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4


def frame(ftype, flags, sid, payload=b""):
    n = len(payload)
    return struct.pack(">BHBBI", (n >> 16) & 0xFF, n & 0xFFFF, ftype, flags, sid & 0x7FFFFFFF) + payload


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack(headers):
    """Literal header fields without indexing, names and values raw."""
    out = b""
    for name, value in headers:
        n, v = name.encode(), value.encode()
        out += b"\x00" + hpack_int(len(n), 7) + n + hpack_int(len(v), 7) + v
    return out


class Reader(threading.Thread):
    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock = sock
        self.goaway = None
        self.rst = {}
        self.headers = []
        self.closed = False
        self.settings_seen = threading.Event()
        self.max_streams = None
        self.done = threading.Event()

    def run(self):
        buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    self.closed = True
                    break
                buf += chunk
                while len(buf) >= 9:
                    n = (buf[0] << 16) | (buf[1] << 8) | buf[2]
                    if len(buf) < 9 + n:
                        break
                    ftype, flags = buf[3], buf[4]
                    sid = struct.unpack(">I", buf[5:9])[0] & 0x7FFFFFFF
                    payload = buf[9:9 + n]
                    buf = buf[9 + n:]
                    if ftype == GOAWAY and self.goaway is None:
                        last, code = struct.unpack(">II", payload[:8])
                        self.goaway = [code, last & 0x7FFFFFFF]
                    elif ftype == RST_STREAM:
                        code = struct.unpack(">I", payload[:4])[0]
                        self.rst[code] = self.rst.get(code, 0) + 1
                    elif ftype == HEADERS:
                        self.headers.append(sid)
                    elif ftype == SETTINGS and not flags & ACK:
                        for i in range(0, len(payload) - 5, 6):
                            ident, val = struct.unpack(">HI", payload[i:i + 6])
                            if ident == 3:
                                self.max_streams = val
                        self.settings_seen.set()
        except (ConnectionResetError, OSError):
            self.closed = True
        self.done.set()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode")
    ap.add_argument("port", type=int)
    ap.add_argument("--authority", default="localhost")
    ap.add_argument("--path", default="/")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--ack", action="store_true")
    ap.add_argument("--timeout", type=float, default=3.0)
    a = ap.parse_args()

    sock = socket.create_connection(("127.0.0.1", a.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = Reader(sock)
    reader.start()

    def req(sid, end_stream):
        block = hpack([(":method", "GET" if end_stream else "POST"), (":scheme", "http"),
                       (":authority", a.authority), (":path", a.path)])
        return frame(HEADERS, END_HEADERS | (END_STREAM if end_stream else 0), sid, block)

    out = PREFACE + frame(SETTINGS, 0, 0)
    sent_error = None
    try:
        sock.sendall(out)
        if a.ack:
            reader.settings_seen.wait(a.timeout)
            sock.sendall(frame(SETTINGS, ACK, 0))
            time.sleep(0.1)
        out = b""
        if a.mode == "rapid-reset":
            for i in range(a.count):
                sid = 2 * i + 1
                out += req(sid, True) + frame(RST_STREAM, 0, sid, struct.pack(">I", 8))
        elif a.mode == "ping":
            out = b"".join(frame(PING, 0, 0, struct.pack(">Q", i)) for i in range(a.count))
        elif a.mode == "settings":
            out = frame(SETTINGS, 0, 0) * a.count
        elif a.mode == "empty-data":
            out = req(1, False) + frame(DATA, 0, 1) * a.count
        elif a.mode == "empty-headers":
            out = frame(HEADERS, 0, 1) + frame(CONTINUATION, 0, 1) * a.count
        elif a.mode == "streams":
            out = b"".join(req(2 * i + 1, False) for i in range(a.count))
        else:
            print("unknown mode", a.mode, file=sys.stderr)
            return 2
        # in pieces: a server that stops reading must not block the reader
        for i in range(0, len(out), 16384):
            sock.sendall(out[i:i + 16384])
    except OSError as e:
        sent_error = type(e).__name__
    reader.done.wait(a.timeout)
    try:
        sock.close()
    except OSError:
        pass
    print(json.dumps({
        "goaway": reader.goaway,
        "rst": {str(k): v for k, v in reader.rst.items()},
        "headers": reader.headers,
        "closed": reader.closed,
        "max_concurrent_streams": reader.max_streams,
        "send_error": sent_error,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

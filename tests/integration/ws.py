#!/usr/bin/env python3
"""A WebSocket (RFC 6455) echo server and client for the proxy tests.

  ws.py server PORT_FILE        accept, answer the handshake, echo every frame
  ws.py client PORT HOST TEXT   handshake through PORT with Host HOST, send TEXT
                                in a masked text frame, print the echoed text
"""
import base64, hashlib, os, socket, struct, sys, threading

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError("closed during the handshake")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def recv_exact(sock, n, buf):
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("closed inside a frame")
        buf += chunk
    return buf[:n], buf[n:]


def read_frame(sock, buf):
    hdr, buf = recv_exact(sock, 2, buf)
    opcode, length = hdr[0] & 0x0F, hdr[1] & 0x7F
    masked = hdr[1] & 0x80
    if length == 126:
        ext, buf = recv_exact(sock, 2, buf)
        length = struct.unpack("!H", ext)[0]
    elif length == 127:
        ext, buf = recv_exact(sock, 8, buf)
        length = struct.unpack("!Q", ext)[0]
    mask = b""
    if masked:
        mask, buf = recv_exact(sock, 4, buf)
    payload, buf = recv_exact(sock, length, buf)
    if masked:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload, buf


def frame(opcode, payload, mask):
    head = bytes([0x80 | opcode])
    m = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + payload


def serve_one(conn):
    try:
        head, buf = read_head(conn)
        key = [l.split(":", 1)[1].strip() for l in head.split("\r\n")
               if l.lower().startswith("sec-websocket-key:")][0]
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
        while True:
            opcode, payload, buf = read_frame(conn, buf)
            if opcode == 8:
                conn.sendall(frame(8, payload, False))
                return
            conn.sendall(frame(opcode, payload, False))
    except (EOFError, OSError, IndexError):
        pass
    finally:
        conn.close()


def server(port_file):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve_one, args=(conn,), daemon=True).start()


def client(port, host, text):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /chat HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (host, key)).encode())
    head, buf = read_head(s)
    status = head.split("\r\n")[0]
    want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    if " 101 " not in status + " " or want not in head:
        print("handshake failed: " + status)
        return 1
    s.sendall(frame(1, text.encode(), True))
    opcode, payload, buf = read_frame(s, buf)
    big = os.urandom(200000)
    s.sendall(frame(2, big, True))
    opcode2, payload2, buf = read_frame(s, buf)
    s.sendall(frame(8, b"", True))
    print("echo: %s; binary %s" % (payload.decode(), "intact" if payload2 == big else "MISMATCH"))
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2])
    else:
        sys.exit(client(sys.argv[2], sys.argv[3], sys.argv[4]))

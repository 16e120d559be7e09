#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 proxy for S3 tests (python3 standard library only).

    faultproxy.py --listen PORT --upstream HOST:PORT --control FILE
                  [--tls-cert PEM --tls-key PEM] [--ready FILE]

It sits between the client and MinIO on loopback and forwards requests
unchanged (the Host header too, so SigV4 signatures stay valid), except that
it injects faults at the rates read from the JSON control file before every
request (the file may change while the proxy runs; a missing file means no
faults):

    {"slowdown": 0.1,      503 SlowDown with an S3 error body, not forwarded
     "internal": 0.05,     500 InternalError, not forwarded
     "reset": 0.05,        connection reset before the request is forwarded
     "reset_mid": 0.05,    request forwarded, response cut off mid-body, reset
     "stall": 0.02,        nothing is answered for stall_seconds, then reset
     "stall_seconds": 5,
     "complete_error": 0.5 CompleteMultipartUpload: 200 OK with an <Error> body,
                           not forwarded
     "complete_error_count": 2   ...or exactly for the next N completions
     "seed": 1}

Counters of what was injected are written to FILE.stats (JSON) after every
request. With --tls-cert/--tls-key the proxy serves TLS to the client (for
certificate tests) and talks plain HTTP to the upstream.
"""
import argparse
import json
import os
import random
import socket
import ssl
import struct
import sys
import threading
import time

LOCK = threading.Lock()
STATS = {"requests": 0, "forwarded": 0, "slowdown": 0, "internal": 0, "reset": 0,
         "reset_mid": 0, "stall": 0, "complete_error": 0}
RNG = random.Random(1)
CONTROL = {}
CONTROL_MTIME = None


def load_control(path):
    global CONTROL, CONTROL_MTIME, RNG
    try:
        st = os.stat(path)
    except FileNotFoundError:
        CONTROL, CONTROL_MTIME = {}, None
        return
    if st.st_mtime_ns == CONTROL_MTIME:
        return
    try:
        with open(path) as f:
            c = json.load(f)
    except (OSError, ValueError):
        return  # being rewritten: keep the previous settings
    CONTROL, CONTROL_MTIME = c, st.st_mtime_ns
    if "seed" in c:
        RNG = random.Random(c["seed"])


def write_stats(path):
    tmp = path + ".stats.tmp"
    with open(tmp, "w") as f:
        json.dump(STATS, f)
    os.replace(tmp, path + ".stats")


class Closed(Exception):
    pass


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise Closed()
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise Closed()
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self):
        lines = [self.line()]
        while True:
            line = self.line()
            if not line:
                return lines
            lines.append(line)

    def rest(self):
        out = self.buf
        self.buf = b""
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return out
                out += data
        except OSError:
            return out


def header(lines, name):
    name = name.lower().encode()
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name:
            return v.strip().decode("latin-1")
    return None


def read_body(reader, lines, is_response=False, method=b"GET"):
    """Returns the raw body bytes (chunked bodies are relayed raw)."""
    status = 0
    if is_response:
        status = int(lines[0].split()[1])
        if method == b"HEAD" or status in (204, 304) or 100 <= status < 200:
            return b""
    te = header(lines, "Transfer-Encoding")
    if te and "chunked" in te.lower():
        raw = b""
        while True:
            size_line = reader.line()
            raw += size_line + b"\r\n"
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                while True:
                    trailer = reader.line()
                    raw += trailer + b"\r\n"
                    if not trailer:
                        return raw
            raw += reader.exact(size + 2)
    cl = header(lines, "Content-Length")
    if cl is not None:
        return reader.exact(int(cl))
    if is_response:
        return reader.rest()
    return b""


def reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def s3_error(sock, status, code, message, keep=True):
    body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
            "<Message>%s</Message><RequestId>FAULTPROXY%d</RequestId></Error>"
            % (code, message, STATS["requests"])).encode()
    reason = {500: "Internal Server Error", 503: "Service Unavailable", 200: "OK"}[status]
    head = ("HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n"
            "x-amz-request-id: FAULTPROXY%d\r\n%s\r\n"
            % (status, reason, len(body), STATS["requests"],
               "" if keep else "Connection: close\r\n")).encode()
    sock.sendall(head + body)


COMPLETE_FAILED = {}  # control mtime -> completions failed under it


def decide(method, target):
    """Chooses a fault for this request (or None)."""
    c = CONTROL
    r = RNG.random()
    if method == b"POST" and b"uploadId=" in target:
        done = COMPLETE_FAILED.get(CONTROL_MTIME, 0)
        if done < int(c.get("complete_error_count", 0)):
            COMPLETE_FAILED[CONTROL_MTIME] = done + 1
            return "complete_error"
        if c.get("complete_error", 0) > 0 and RNG.random() < c["complete_error"]:
            return "complete_error"
    acc = 0.0
    for kind in ("slowdown", "internal", "reset", "reset_mid", "stall"):
        acc += float(c.get(kind, 0))
        if r < acc:
            return kind
    return None


def serve(client, upstream_addr, control):
    upstream = None
    creader = Reader(client)
    try:
        while True:
            lines = creader.head()
            body = read_body(creader, lines)
            method, target = lines[0].split()[0], lines[0].split()[1]
            with LOCK:
                load_control(control)
                STATS["requests"] += 1
                fault = decide(method, target)
                if fault:
                    STATS[fault] += 1
                else:
                    STATS["forwarded"] += 1
                write_stats(control)
            if fault == "complete_error":
                # S3 failed the completion after answering 200 OK
                s3_error(client, 200, "InternalError",
                         "We encountered an internal error. Please try again.")
                continue
            if fault == "slowdown":
                s3_error(client, 503, "SlowDown", "Please reduce your request rate.")
                continue
            if fault == "internal":
                s3_error(client, 500, "InternalError",
                         "We encountered an internal error. Please try again.")
                continue
            if fault == "reset":
                reset(client)
                return
            if fault == "stall":
                time.sleep(float(CONTROL.get("stall_seconds", 5)))
                reset(client)
                return
            if upstream is None:
                upstream = socket.create_connection(upstream_addr)
                ureader = Reader(upstream)
            upstream.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
            rlines = ureader.head()
            rbody = read_body(ureader, rlines, True, method)
            data = b"\r\n".join(rlines) + b"\r\n\r\n" + rbody
            if fault == "reset_mid":
                client.sendall(data[: max(1, len(data) // 2)])
                reset(client)
                return
            client.sendall(data)
            conn = header(rlines, "Connection")
            if conn and conn.lower() == "close":
                return
    except (Closed, OSError, ValueError, IndexError):
        pass
    finally:
        try:
            client.close()
        except OSError:
            pass
        if upstream is not None:
            upstream.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", type=int, default=0)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--ready", help="write the listening port here")
    a = ap.parse_args()
    host, port = a.upstream.rsplit(":", 1)
    upstream = (host, int(port))
    ctx = None
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.listen))
    srv.listen(128)
    if a.ready:
        tmp = a.ready + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.getsockname()[1])
        os.replace(tmp, a.ready)
    while True:
        client, _ = srv.accept()
        if ctx is not None:
            try:
                client.settimeout(10)
                client = ctx.wrap_socket(client, server_side=True)
                client.settimeout(None)
            except (ssl.SSLError, OSError):
                client.close()
                continue
        threading.Thread(target=serve, args=(client, upstream, a.control), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())

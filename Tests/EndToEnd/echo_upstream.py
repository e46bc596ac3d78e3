"""A recording test upstream for the edge's end-to-end tests (stdlib only).

The launcher's local runtime starts it from the `echo` and `echo-public`
fixture templates (Tests/Fixtures/templates) as `python3 echo_upstream.py $PORT`,
so it sits exactly where a user's service would: behind the edge, on loopback.

    ANY  /headers            200 JSON: method, path, headers as received ([name, value]
                             pairs, in order, duplicates kept), body_bytes
    POST /sink               reads the whole body (Content-Length or chunked) in 1 MiB
                             pieces, discarding it; 200 JSON {"bytes": n, "sha256": hex}
    GET  /sse                text/event-stream: 5 events 200 ms apart, then the end
    GET  /slow?seconds=N     sleeps N seconds (at most 60), then 200
    GET  /ws                 a WebSocket echo server (RFC 6455, by hand): text and binary
                             frames come back unmasked, ping gets pong, close is answered
    GET  /requests           200 JSON {"requests": ["METHOD target", ...]}: every request
                             this process has seen (but these), oldest first, to prove
                             that something never reached it
    POST /stop-listening     stops accepting connections but keeps the process alive, so
                             the launcher still reports it running while the edge cannot
                             reach it (the "upstream down" case)
    anything else            200 text "echo"
"""
import base64
import collections
import hashlib
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PIECE = 1 << 20

seen = collections.deque(maxlen=10000)
seen_lock = threading.Lock()


class BadRequest(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "knot-echo/1"

    def setup(self):
        super().setup()
        self.server.opened(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.closed(self.connection)

    # --- framing -------------------------------------------------------------

    def body_pieces(self):
        """The request body, in pieces of at most 1 MiB, whatever its framing."""
        encoding = (self.headers.get("Transfer-Encoding") or "").strip().lower()
        if encoding:
            if encoding != "chunked":
                raise BadRequest(f"unsupported Transfer-Encoding {encoding!r}")
            while True:
                line = self.rfile.readline(1024)
                if not line.endswith(b"\n"):
                    raise BadRequest("truncated chunk size line")
                size_text = line.split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise BadRequest(f"bad chunk size {size_text!r}")
                if size == 0:
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                while size:
                    piece = self.rfile.read(min(size, PIECE))
                    if not piece:
                        raise BadRequest("body ended inside a chunk")
                    size -= len(piece)
                    yield piece
                if self.rfile.readline(8) not in (b"\r\n", b"\n"):
                    raise BadRequest("chunk not followed by CRLF")
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining:
                piece = self.rfile.read(min(remaining, PIECE))
                if not piece:
                    raise BadRequest("body ended early")
                remaining -= len(piece)
                yield piece

    def answer(self, status, body, content_type="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # --- dispatch ------------------------------------------------------------

    def handle_any(self):
        path = urlsplit(self.path).path
        if path != "/requests":
            with seen_lock:
                seen.append(f"{self.command} {self.path}")
        try:
            if path == "/headers":
                return self.headers_endpoint()
            if path == "/sink" and self.command == "POST":
                return self.sink()
            if path == "/sse" and self.command == "GET":
                return self.sse()
            if path == "/slow":
                return self.slow()
            if path == "/refuse":
                return self.refuse()
            if path == "/ws" and self.command == "GET":
                return self.websocket()
            if path == "/requests":
                with seen_lock:
                    listing = list(seen)
                return self.answer(200, {"requests": listing})
            if path == "/stop-listening" and self.command == "POST":
                self.answer(200, {"listening": False})
                threading.Thread(target=self.server.stop_listening, daemon=True).start()
                return
            for _ in self.body_pieces():
                pass
            return self.answer(200, "echo", "text/plain")
        except BadRequest as error:
            self.close_connection = True
            return self.answer(400, {"error": str(error)}, headers=[("Connection", "close")])

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = handle_any

    def headers_endpoint(self):
        received = sum(len(piece) for piece in self.body_pieces())
        self.answer(200, {
            "method": self.command,
            "path": self.path,
            "headers": [[name, value] for name, value in self.headers.items()],
            "body_bytes": received,
        })

    def sink(self):
        digest = hashlib.sha256()
        total = 0
        for piece in self.body_pieces():
            digest.update(piece)
            total += len(piece)
        self.answer(200, {"bytes": total, "sha256": digest.hexdigest()})

    def sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for number in range(5):
            if number:
                time.sleep(0.2)
            event = f"id: {number}\ndata: event {number}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def refuse(self):
        """Refuses an upload by its head, as a quota does: reads none of the body,
        waits a second (so the edge's writes to it back up), answers 413, and
        closes a second later."""
        self.close_connection = True
        time.sleep(1)
        self.answer(413, {"error": "refused before reading"}, headers=[("Connection", "close")])
        self.wfile.flush()
        time.sleep(1)

    def slow(self):
        query = parse_qs(urlsplit(self.path).query)
        try:
            seconds = min(float(query.get("seconds", ["1"])[0]), 60.0)
        except ValueError:
            seconds = 1.0
        for _ in self.body_pieces():
            pass
        time.sleep(max(seconds, 0.0))
        self.answer(200, {"slept": seconds})

    # --- WebSocket (RFC 6455) ------------------------------------------------

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key")
        upgrade = (self.headers.get("Upgrade") or "").lower()
        if not key or upgrade != "websocket":
            return self.answer(400, {"error": "not a WebSocket upgrade"})
        accept = base64.b64encode(hashlib.sha1((key.strip() + WEBSOCKET_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        try:
            while True:
                frame = self.read_frame()
                if frame is None:
                    return
                fin, opcode, payload = frame
                if opcode == 0x8:  # close: answer with the same status, then end
                    self.write_frame(True, 0x8, payload[:2])
                    return
                if opcode == 0x9:  # ping
                    self.write_frame(True, 0xA, payload)
                elif opcode == 0xA:  # an unsolicited pong is ignored
                    continue
                else:  # text, binary and continuation frames come back as they came
                    self.write_frame(fin, opcode, payload)
        except (ConnectionError, OSError):
            return

    def read_exactly(self, count):
        data = self.rfile.read(count)
        return data if data is not None and len(data) == count else None

    def read_frame(self):
        head = self.read_exactly(2)
        if head is None:
            return None
        fin = bool(head[0] & 0x80)
        opcode = head[0] & 0x0F
        masked = bool(head[1] & 0x80)
        length = head[1] & 0x7F
        if length == 126:
            extended = self.read_exactly(2)
            if extended is None:
                return None
            length = struct.unpack("!H", extended)[0]
        elif length == 127:
            extended = self.read_exactly(8)
            if extended is None:
                return None
            length = struct.unpack("!Q", extended)[0]
        mask = self.read_exactly(4) if masked else None
        if masked and mask is None:
            return None
        payload = self.read_exactly(length) if length else b""
        if payload is None:
            return None
        if mask:
            # XOR with the 4-byte mask, done on whole integers for speed.
            repeated = (mask * (length // 4 + 1))[:length]
            payload = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")
        return fin, opcode, payload

    def write_frame(self, fin, opcode, payload):
        first = (0x80 if fin else 0) | opcode
        length = len(payload)
        if length < 126:
            head = struct.pack("!BB", first, length)
        elif length < 1 << 16:
            head = struct.pack("!BBH", first, 126, length)
        else:
            head = struct.pack("!BBQ", first, 127, length)
        self.wfile.write(head + payload)
        self.wfile.flush()

    def log_message(self, format, *args):
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), format % args))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.connections = set()
        self.connections_lock = threading.Lock()

    def opened(self, connection):
        with self.connections_lock:
            self.connections.add(connection)

    def closed(self, connection):
        with self.connections_lock:
            self.connections.discard(connection)

    def stop_listening(self):
        """No new connections (serve_forever returns in the main thread, which
        closes the socket) and none of the open ones (a pooled keep-alive
        connection from the edge would otherwise still reach this process)."""
        time.sleep(0.1)  # let the answer to /stop-listening leave first
        self.shutdown()
        with self.connections_lock:
            for connection in list(self.connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def main():
    port = int(sys.argv[1])
    server = Server(("127.0.0.1", port), Handler)
    sys.stderr.write(f"echo upstream listening on 127.0.0.1:{port}\n")
    server.serve_forever(poll_interval=0.1)
    # Stopped listening on request: keep living (the launcher sees a running
    # process) with the socket closed (the edge sees connections refused).
    server.socket.close()
    sys.stderr.write("echo upstream stopped listening\n")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()

"""The auth endpoint of `scripts/bench edge` (b1): a small separate process
in the shape of Vouch Proxy behind nginx's `auth_request`. It reads one
cookie, a JWT signed with HMAC-SHA256 (as Vouch's is), checks the signature
and the expiry, and answers 200 with the user in `X-Vouch-User`, or 401.

HTTP/1.1 is implemented here just far enough for nginx's keep-alive upstream
connections: heads without bodies (nginx sends `proxy_pass_request_body off`),
persistent connections unless a side says `close`.

    auth_server.py --key-file K --mint USER      prints a signed cookie value
    auth_server.py --key-file K --port P         serves; prints READY when listening
"""
import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import sys
import time

MAX_HEAD = 16 * 1024


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def unb64(text):
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def mint(key, user, seconds=86400):
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64(json.dumps({"sub": user, "exp": int(time.time()) + seconds}, separators=(",", ":")).encode())
    signed = head + b"." + body
    return (signed + b"." + b64(hmac.new(key, signed, hashlib.sha256).digest())).decode()


def verify(key, token):
    """The user a token names, or None when it is forged, malformed or expired."""
    try:
        signed, _, signature = token.rpartition(b".")
        if not signed or not hmac.compare_digest(unb64(signature), hmac.new(key, signed, hashlib.sha256).digest()):
            return None
        claims = json.loads(unb64(signed.partition(b".")[2]))
        if not isinstance(claims, dict) or claims.get("exp", 0) < time.time():
            return None
        user = claims.get("sub")
        return user if isinstance(user, str) and user.isprintable() else None
    except (ValueError, TypeError):
        return None


def cookie(header, name):
    for pair in header.split(b";"):
        key, _, value = pair.strip().partition(b"=")
        if key == name:
            return value
    return None


class AuthProtocol(asyncio.Protocol):
    def __init__(self, key, cookie_name):
        self.key = key
        self.cookie_name = cookie_name
        self.buffer = b""
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self.respond(b"431 Request Header Fields Too Large", b"", close=True)
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4:]
            if not self.handle(head):
                return

    def handle(self, head):
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            self.respond(b"400 Bad Request", b"", close=True)
            return False
        keep_alive = parts[2] == b"HTTP/1.1"
        token = None
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            value = value.strip()
            if name == b"cookie" and token is None:
                token = cookie(value, self.cookie_name)
            elif name == b"connection":
                options = value.lower()
                if b"close" in options:
                    keep_alive = False
                elif b"keep-alive" in options:
                    keep_alive = True
            elif name == b"content-length":
                length = int(value) if value.isdigit() else -1
        if length != 0:  # nginx sends no body here; nothing else is served
            self.respond(b"400 Bad Request", b"", close=True)
            return False
        user = verify(self.key, token) if token else None
        if user:
            self.respond(b"200 OK", b"X-Vouch-User: " + user.encode() + b"\r\n", close=not keep_alive)
        else:
            self.respond(b"401 Unauthorized", b"", close=not keep_alive)
        return keep_alive

    def respond(self, status, headers, close):
        self.transport.write(
            b"HTTP/1.1 " + status + b"\r\n" + headers + b"Content-Length: 0\r\n"
            + (b"Connection: close\r\n" if close else b"") + b"\r\n")
        if close:
            self.transport.close()


async def serve(args, key):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: AuthProtocol(key, args.cookie.encode()), "127.0.0.1", args.port, backlog=1024, reuse_address=True)
    print("READY", flush=True)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--key-file", required=True)
    parser.add_argument("--port", type=int)
    parser.add_argument("--cookie", default="bench_session")
    parser.add_argument("--mint", metavar="USER")
    args = parser.parse_args()
    key = open(args.key_file, "rb").read().strip()
    if args.mint:
        print(mint(key, args.mint))
        return
    if not args.port:
        sys.exit("--port or --mint")
    try:
        asyncio.run(serve(args, key))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

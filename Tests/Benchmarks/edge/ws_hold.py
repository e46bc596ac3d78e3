"""Idle WebSockets through knot-edge, for `scripts/bench edge`.

Opens --count WebSockets (TLS with the Knot CA, the session cookie) to
wss://<host>/ spread evenly over the edge replicas' HTTPS ports, --concurrency
handshakes at a time; idles --idle seconds; checks a sample still echoes;
reads VmRSS of the edge processes (--pids) before and after; closes them.
Prints `key: value` lines for the bench to read. Every step has a timeout:
an edge that cannot upgrade is reported in one line (exit 2), not waited on.
"""
import argparse
import asyncio
import random
import resource
import ssl
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def describe(error):
    if isinstance(error, InvalidStatus):
        return f"the edge answered HTTP {error.response.status_code} instead of 101 Switching Protocols (no WebSocket upgrade)"
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)):
        return "timed out waiting for the WebSocket handshake"
    return f"{type(error).__name__}: {error}"


def arguments():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True, help="the service host, e.g. ws-admin.knot.localhost")
    parser.add_argument("--ports", required=True, help="comma-separated HTTPS ports of the edge replicas")
    parser.add_argument("--pids", required=True, help="comma-separated PIDs of the edge replicas")
    parser.add_argument("--ca", required=True)
    parser.add_argument("--cookie", required=True, help="Cookie header value")
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--idle", type=float, default=5)
    parser.add_argument("--timeout", type=float, default=20, help="per handshake, seconds")
    parser.add_argument("--deadline", type=float, default=600, help="the whole run, seconds")
    return parser.parse_args()


async def main(args):
    ports = [int(p) for p in args.ports.split(",")]
    pids = [int(p) for p in args.pids.split(",")]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.count + 100:
        print(f"error: this process may open {hard} files, {args.count} WebSockets need more", flush=True)
        return 2
    context = ssl.create_default_context(cafile=args.ca)

    def open_one(port):
        return connect(
            f"wss://{args.host}:{port}/", host="127.0.0.1", port=port, ssl=context, proxy=None,
            additional_headers={"Cookie": args.cookie}, open_timeout=args.timeout, close_timeout=5,
            ping_interval=None, compression=None, max_queue=4)

    async def echoes(ws, text):
        await ws.send(text)
        return await asyncio.wait_for(ws.recv(), args.timeout) == text

    # One probe per replica first: an edge that cannot upgrade says so at once.
    for port in ports:
        try:
            ws = await open_one(port)
        except Exception as error:  # noqa: BLE001 - reported, whatever it is
            print(f"error: port {port}: {describe(error)}", flush=True)
            return 2
        try:
            if not await echoes(ws, "probe"):
                print(f"error: port {port}: the WebSocket opened but did not echo", flush=True)
                return 2
        except Exception as error:  # noqa: BLE001
            print(f"error: port {port}: the WebSocket opened but {describe(error)}", flush=True)
            return 2
        finally:
            await ws.close()
    await asyncio.sleep(1)

    before = [rss_kib(pid) for pid in pids]
    gate = asyncio.Semaphore(args.concurrency)
    sockets, errors = [], []
    started = time.monotonic()

    async def one(i):
        if len(errors) > 50:
            return
        async with gate:
            try:
                sockets.append(await open_one(ports[i % len(ports)]))
            except Exception as error:  # noqa: BLE001
                errors.append(describe(error))

    await asyncio.gather(*(one(i) for i in range(args.count)))
    opened_in = time.monotonic() - started
    print(f"opened: {len(sockets)}", flush=True)
    print(f"open_seconds: {opened_in:.1f}", flush=True)
    if errors:
        print(f"open_errors: {len(errors)}", flush=True)
        print(f"first_error: {errors[0]}", flush=True)

    try:
        if sockets:
            await asyncio.sleep(args.idle)
            after = [rss_kib(pid) for pid in pids]
            sample = random.sample(sockets, min(100, len(sockets)))
            answers = await asyncio.gather(*(echoes(ws, "still there?") for ws in sample), return_exceptions=True)
            alive = sum(answer is True for answer in answers)
            print(f"rss_before_kib: {' '.join(map(str, before))}", flush=True)
            print(f"rss_after_kib: {' '.join(map(str, after))}", flush=True)
            print(f"sample_echoed: {alive}/{len(sample)}", flush=True)
            print(f"per_connection_kib: {(sum(after) - sum(before)) / len(sockets):.2f}", flush=True)
    finally:
        closer = asyncio.Semaphore(args.concurrency)

        async def close(ws):
            async with closer:
                try:
                    await asyncio.wait_for(ws.close(), 10)
                except Exception:  # noqa: BLE001 - closing is best effort
                    ws.transport.abort()

        await asyncio.gather(*(close(ws) for ws in sockets))
    return 0 if len(sockets) == args.count and not errors else 3


def run():
    args = arguments()
    try:
        code = asyncio.run(asyncio.wait_for(main(args), args.deadline))
    except (asyncio.TimeoutError, TimeoutError):
        print(f"error: the WebSocket run did not finish within {args.deadline:.0f}s", flush=True)
        code = 4
    sys.exit(code)


if __name__ == "__main__":
    run()

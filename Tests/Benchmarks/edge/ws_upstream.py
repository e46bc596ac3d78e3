"""The WebSocket upstream of `scripts/bench edge`: an echo server on loopback
(the PyPI `websockets` package, server side) that the bench routes
`ws-<user>.<domain>` to. Prints READY when listening; raises its own open-file
limit to the hard limit, since it holds one socket per idle WebSocket."""
import argparse
import asyncio
import resource

from websockets.asyncio.server import serve


async def echo(websocket):
    async for message in websocket:
        await websocket.send(message)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # Idle means idle: no pings, no compression state per connection.
    async with serve(echo, "127.0.0.1", args.port, ping_interval=None, compression=None, backlog=2048) as server:
        print("READY", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass

"""Load for `scripts/bench users`: sign N people up (setup, not measured),
then activate them all through the edge as the admin, C at a time; each
activation provisions the person's space (12 objects) on the Kubernetes API
double. Prints activations/s, objects/s and latency percentiles, and checks
that every space was reported ready."""
import argparse
import concurrent.futures
import socket
import statistics
import sys
import time
import uuid

import requests
import urllib3

urllib3.disable_warnings()

_real_getaddrinfo = socket.getaddrinfo


def _localhost_getaddrinfo(host, *args, **kwargs):
    # *.localhost is loopback (RFC 6761), as browsers resolve it; glibc knows only "localhost".
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _localhost_getaddrinfo


def client(ca):
    session = requests.Session()
    session.trust_env = False
    session.verify = ca
    adapter = requests.adapters.HTTPAdapter(pool_connections=64, pool_maxsize=64)
    session.mount("https://", adapter)
    return session


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--objects-per-user", type=int, default=12)
    args = parser.parse_args()

    admin = client(args.ca)
    answer = admin.post(f"{args.url}/auth/login", json={"username": "admin", "password": args.password})
    answer.raise_for_status()
    tag = "b" + uuid.uuid4().hex[:5]
    names = [f"{tag}u{i}" for i in range(args.users)]

    def signup(name):
        response = client(args.ca).post(f"{args.url}/auth/signup", json={
            "username": name, "email": f"{name}@bench.example.org", "password": "a long enough password"})
        if response.status_code != 201:
            raise SystemExit(f"sign-up failed: {response.status_code} {response.text[:200]}")

    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(signup, names))

    latencies = []

    def activate(name):
        started = time.perf_counter()
        response = admin.post(f"{args.url}/api/v1/users/{name}/activate")
        latencies.append(time.perf_counter() - started)
        return response.status_code

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        statuses = list(pool.map(activate, names))
    elapsed = time.perf_counter() - started
    failed = [s for s in statuses if s != 200]
    not_ready = [n for n in names[:: max(1, args.users // 50)]
                 if admin.get(f"{args.url}/api/v1/users/{n}").json()["space"]["state"] != "ready"]
    latencies.sort()
    rate = args.users / elapsed
    print()
    print(f"Users: {args.users} activations through the edge, {args.concurrency} at a time, each provisioning "
          f"{args.objects_per_user} objects on the Kubernetes API double")
    print(f"  activations/s        {rate:.1f}")
    print(f"  objects/s            {rate * args.objects_per_user:.0f}")
    print(f"  latency p50 / p99    {statistics.median(latencies) * 1000:.0f} ms / "
          f"{latencies[int(len(latencies) * 0.99) - 1] * 1000:.0f} ms")
    if failed or not_ready:
        sys.exit(f"{len(failed)} activations failed; spaces not ready: {not_ready[:5]}")


if __name__ == "__main__":
    main()

"""Load for `scripts/bench launcher`: one person (signed up and activated, so
their namespace exists on the Kubernetes API double) launches N services from
the 10-object `bench` template through the edge, C at a time; then lists them.
Prints creates/s (until every service is accepted, and until every one is
ready), and the latency of `GET /api/v1/launcher/services` at N services.
Also writes the same objects, rendered for the peer's namespace, to --peer-file
for `kubectl apply --server-side`."""
import argparse
import concurrent.futures
import re
import socket
import statistics
import sys
import time
import collections
import uuid

import requests
import urllib3

urllib3.disable_warnings()
_real_getaddrinfo = socket.getaddrinfo


def _localhost_getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _localhost_getaddrinfo


def client(ca, size=16):
    session = requests.Session()
    session.trust_env = False
    session.verify = ca
    adapter = requests.adapters.HTTPAdapter(pool_connections=size, pool_maxsize=size)
    session.mount("https://", adapter)
    return session


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--lists", type=int, default=50)
    parser.add_argument("--template", required=True, help="the fixture file, for the peer's objects")
    parser.add_argument("--peer-file", required=True)
    parser.add_argument("--peer-namespace", default="peer")
    parser.add_argument("--timeout", type=float, default=240)
    args = parser.parse_args()

    admin = client(args.ca)
    admin.post(f"{args.url}/auth/login", json={"username": "admin", "password": args.password}).raise_for_status()
    name = "b" + uuid.uuid4().hex[:6]
    password = "a long enough password"
    client(args.ca).post(f"{args.url}/auth/signup", json={
        "username": name, "email": f"{name}@bench.example.org", "password": password}).raise_for_status()
    admin.post(f"{args.url}/api/v1/users/{name}/activate").raise_for_status()
    session = client(args.ca, size=args.concurrency * 2)
    session.post(f"{args.url}/auth/login", json={"username": name, "password": password}).raise_for_status()
    print(f"namespace: knot-{name}")
    sys.stdout.flush()

    names = [f"s{i}" for i in range(args.services)]
    latencies = []

    def launch(service):
        began = time.perf_counter()
        answer = session.post(f"{args.url}/api/v1/launcher/services", json={"template": "bench", "values": {"NAME": service}})
        if answer.status_code != 202:
            raise SystemExit(f"launching {service} answered {answer.status_code}: {answer.text[:300]}")
        latencies.append(time.perf_counter() - began)

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(launch, names))
    accepted = time.perf_counter() - start

    # Until every service is ready (its objects applied and reported ready by the double).
    deadline = time.perf_counter() + args.timeout  # after every launch was accepted
    states = {}
    while True:
        listing = session.get(f"{args.url}/api/v1/launcher/services")
        listing.raise_for_status()
        states = {s["name"]: s["status"] for s in listing.json()["services"]}
        reasons = {s["name"]: f'{s.get("reason") or ""}: {s.get("message") or ""}' for s in listing.json()["services"]}
        waiting = [n for n in names if states.get(n) not in ("ready", "running", "failed")]
        if not waiting:
            break
        if time.perf_counter() > deadline:
            raise SystemExit(f"{len(waiting)} services not settled after {args.timeout:.0f}s, e.g. {waiting[:3]}")
        time.sleep(0.25)
    settled = time.perf_counter() - start
    failed = [n for n in names if states.get(n) == "failed"]

    lists = []
    count = 0
    for _ in range(args.lists):
        began = time.perf_counter()
        answer = session.get(f"{args.url}/api/v1/launcher/services")
        lists.append(time.perf_counter() - began)
        answer.raise_for_status()
        count = len(answer.json()["services"])

    print(f"services: {args.services}")
    print(f"failed: {len(failed)}")
    # Why they failed, most common first, so a bad run explains itself.
    for reason, times in collections.Counter(reasons[n] for n in failed).most_common(3):
        print(f"failed_reason: {times} x {reason[:200]}")
    print(f"accepted_seconds: {accepted:.3f}")
    print(f"ready_seconds: {settled:.3f}")
    print(f"launch_p50_ms: {1000 * statistics.median(latencies):.1f}")
    print(f"launch_p99_ms: {1000 * percentile(latencies, 99):.1f}")
    print(f"listed: {count}")
    print(f"list_p50_ms: {1000 * statistics.median(lists):.2f}")
    print(f"list_p99_ms: {1000 * percentile(lists, 99):.2f}")

    # The peer's objects: the same ten per service, substituted the same way, in the peer's namespace.
    text = open(args.template).read()
    documents = [d for d in re.split(r"^---\s*$", text, flags=re.M) if "apiVersion:" in d]
    with open(args.peer_file, "w") as out:
        for service in names:
            for document in documents:
                body = re.sub(r"\$NAME\b", service, document.strip())
                body = body.replace("metadata: {name: ", f"metadata: {{namespace: {args.peer_namespace}, name: ")
                out.write("---\n" + body + "\n")


if __name__ == "__main__":
    main()

"""Prints the figures of `scripts/bench edge` from wrk's outputs (--latency)
and ws_hold.py's outputs.

    report.py WORK_DIR 'wrk settings'

reads WORK_DIR/{a,b1,b2,c,d}.wrk (any may be missing), WORK_DIR/{a,b1,b2,c,d}.cpu
(the CPU seconds the serving processes used during that run),
WORK_DIR/ws.out (WebSockets through the edges), WORK_DIR/ws-nginx.out
(the same through nginx, the peer) and WORK_DIR/ws-bare.out (through the bare
SwiftNIO proxy, the floor of the edge's libraries).
Exits 1 when a run had errors or the WebSocket part could not be measured.
"""
import os
import re
import sys

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}
NAMES = {
    "a": "(a)  nginx, TLS reverse proxy",
    "b1": "(b1) nginx + auth_request, Vouch-like",
    "b2": "(b2) nginx + auth_request, nginx-only",
    "c": "(c)  knot-edge, sign-on + owner check",
    "d": "(d)  bare SwiftNIO TLS proxy (floor)",
}


def ms(text):
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()
    return float(number) * UNITS[unit]


def parse(path):
    text = open(path).read()
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    if not (rate and p50 and p99):
        return {"broken": text.strip().splitlines()[-1:] or ["no output"]}
    result = {"rps": float(rate.group(1)), "p50": ms(p50.group(1)), "p99": ms(p99.group(1)), "errors": []}
    total = re.search(r"^\s*(\d+) requests in ", text, re.M)
    if total:
        result["requests"] = int(total.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non2xx:
        result["errors"].append(f"{non2xx.group(1)} non-2xx/3xx answers")
    sockets = re.search(r"Socket errors: (.*)", text)
    if sockets:
        result["errors"].append("socket errors: " + sockets.group(1).strip())
    return result


def websockets(path):
    """ws_hold.py's `key: value` lines, with the last line as written; None when it did not run."""
    if not os.path.exists(path):
        return None
    text = open(path).read()
    values = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    values["last_line"] = text.strip().splitlines()[-1] if text.strip() else "the client printed nothing"
    return values


def main():
    work, settings = sys.argv[1], sys.argv[2]
    runs = {}
    for key in NAMES:
        path = os.path.join(work, f"{key}.wrk")
        if os.path.exists(path):
            runs[key] = parse(path)
            cpu_path = os.path.join(work, f"{key}.cpu")
            if runs[key].get("requests") and os.path.exists(cpu_path):
                runs[key]["cpu_us"] = float(open(cpu_path).read()) / runs[key]["requests"] * 1e6
    failed = False
    print()
    print(f"Edge: GET / of a small upstream (nginx, keep-alive) over HTTPS, keep-alive; wrk {settings}")
    print(f"  {'':40} {'requests/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/request':>15}")
    for key, name in NAMES.items():
        run = runs.get(key)
        if run is None:
            print(f"  {name:40} {'not measured':>11}")
            failed = True
        elif "broken" in run:
            print(f"  {name:40} wrk failed: {run['broken'][0]}")
            failed = True
        else:
            cpu = f"{run['cpu_us']:15.1f}" if "cpu_us" in run else f"{'-':>15}"
            print(f"  {name:40} {run['rps']:11.0f} {run['p50']:8.2f} {run['p99']:8.2f} {cpu}"
                  + (f"   ({'; '.join(run['errors'])})" if run["errors"] else ""))
            failed |= bool(run["errors"])
    good = {k: v for k, v in runs.items() if "rps" in v}
    if "c" in good:
        c = good["c"]
        print("  ratios, knot-edge against each peer:")
        for key, goal in (("a", "goal >= 1.00x, p99 ratio <= 1.00x"), ("b1", "goal >= 3.00x"), ("b2", "goal >= 3.00x")):
            if key in good:
                peer = good[key]
                label = f"(c)/({key})"
                cpu = (f"   CPU per request {c['cpu_us'] / peer['cpu_us']:5.2f}x"
                       if "cpu_us" in c and "cpu_us" in peer else "")
                print(f"    {label:9} throughput {c['rps'] / peer['rps']:5.2f}x   p99 {c['p99'] / peer['p99']:5.2f}x{cpu}   ({goal})")
    # The platform's share and the edge's own: what any proxy on SwiftNIO and
    # NIOSSL costs against nginx, and what the edge's work adds to that.
    for (top, bottom, what) in (("d", "a", "SwiftNIO's floor against nginx"), ("c", "d", "the edge against its floor")):
        if top in good and bottom in good:
            x, y = good[top], good[bottom]
            cpu = (f"   CPU per request {x['cpu_us'] / y['cpu_us']:5.2f}x"
                   if "cpu_us" in x and "cpu_us" in y else "")
            label = f"({top})/({bottom})"
            print(f"    {label:9} throughput {x['rps'] / y['rps']:5.2f}x   p99 {x['p99'] / y['p99']:5.2f}x{cpu}   ({what})")

    edge_ws = websockets(os.path.join(work, "ws.out"))
    nginx_ws = websockets(os.path.join(work, "ws-nginx.out"))
    bare_ws = websockets(os.path.join(work, "ws-bare.out"))
    if edge_ws is not None or nginx_ws is not None or bare_ws is not None:
        print("Idle WebSockets (TLS, proxied to the same echo server): (RSS after - before) / connections")
    for name, ws in (("knot-edge, two replicas", edge_ws), ("nginx, TLS proxy", nginx_ws), ("bare SwiftNIO proxy", bare_ws)):
        if ws is None:
            continue
        if "per_connection_kib" in ws:
            print(f"  {name:28} {ws.get('opened')} opened in {ws.get('open_seconds')} s"
                  f" (a sample of {ws.get('sample_echoed')} echoed after the idle time)")
            print(f"  {'':28} RSS before / after (KiB) {ws.get('rss_before_kib')} / {ws.get('rss_after_kib')}")
        if "first_error" in ws:
            print(f"  {name:28} {ws.get('open_errors')} WebSockets failed to open; the first: {ws['first_error']}")
            failed = True
        if "error" in ws:
            print(f"  {name:28} NOT MEASURED: {ws['error']}")
            failed = True
        if "per_connection_kib" not in ws and "error" not in ws:
            print(f"  {name:28} NOT MEASURED: {ws['last_line']}")
            failed = True
    if edge_ws is not None and "per_connection_kib" in edge_ws:
        edge_kib = float(edge_ws["per_connection_kib"])
        line = f"  edge memory per connection      {edge_kib:.1f} KiB   (goal < 20 KiB)"
        if nginx_ws is not None and "per_connection_kib" in nginx_ws:
            nginx_kib = float(nginx_ws["per_connection_kib"])
            line += f"   nginx {nginx_kib:.1f} KiB, ratio edge/nginx {edge_kib / nginx_kib:.2f}x"
        print(line)
        if bare_ws is not None and "per_connection_kib" in bare_ws:
            bare_kib = float(bare_ws["per_connection_kib"])
            print(f"  {'':32}bare SwiftNIO proxy {bare_kib:.1f} KiB, ratio edge/bare {edge_kib / bare_kib:.2f}x")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

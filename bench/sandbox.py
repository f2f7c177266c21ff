"""Benchmark of the reference sandbox (run: ``python bench/sandbox.py [--requests N] [--seconds S]``).

Measured in one run, each server in its own process so that the clients do not share its GIL:

* latency (p50, p95) of the GAP availability search on the seed data, with ``_include=Slot:schedule``
  and ``_include=Schedule:actor`` (flow 4a: a week of free slots of one specialty, chained on
  ``schedule.actor:PractitionerRole.specialty``), one client on a keep-alive connection;
* the same for two baselines: ``GET /metadata`` of the sandbox, and a bare stdlib
  ``ThreadingHTTPServer`` answering a constant JSON body (the floor of Python HTTP);
* requests per second with 4 concurrent clients for the Slot search and the bare server;
* the ratios to the baselines. Target: Slot search p95 under 100 ms.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime

import requests

from pytest_mes.sandbox.seed import PARIS, R38, working_days

_BARE_SERVER = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
BODY = b'{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational"}]}'
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
server.daemon_threads = True
print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
"""

_SANDBOX = "import sys; from pytest_mes.cli import main; sys.exit(main())"


def start_sandbox() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-c", _SANDBOX, "sandbox", "--port", "0", "--quiet"],
                               stderr=subprocess.PIPE, text=True)
    banner = process.stderr.readline()  # type: ignore[union-attr]
    match = re.search(r"(http://\S+/fhir)", banner)
    if not match:
        process.kill()
        raise SystemExit(f"the sandbox did not start: {banner}")
    return process, match.group(1)


def start_bare() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-c", _BARE_SERVER], stdout=subprocess.PIPE, text=True)
    return process, process.stdout.readline().strip()  # type: ignore[union-attr]


def latencies(url: str, params: list[tuple[str, str]] | None, n: int) -> list[float]:
    with requests.Session() as http:
        for _ in range(10):  # warm-up: connection, caches
            http.get(url, params=params).raise_for_status()
        times = []
        for _ in range(n):
            started = time.perf_counter()
            response = http.get(url, params=params)
            _ = response.content
            times.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return times


def throughput(url: str, params: list[tuple[str, str]] | None, seconds: float, clients: int = 4) -> float:
    counts = [0] * clients
    deadline = time.perf_counter() + seconds

    def client(i: int) -> None:
        with requests.Session() as http:
            while time.perf_counter() < deadline:
                http.get(url, params=params).raise_for_status()
                counts[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per latency measure (default 300)")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each throughput measure")
    args = parser.parse_args()

    days = working_days(datetime.now(PARIS).date(), 15)
    slot_query = [
        ("_include", "Slot:schedule"), ("_include", "Schedule:actor"),
        ("start", f"ge{days[0].isoformat()}"), ("start", f"le{days[4].isoformat()}"),
        ("schedule.actor:PractitionerRole.specialty", f"{R38}|SM54"), ("status", "free"),
    ]
    sandbox, base = start_sandbox()
    bare, bare_url = start_bare()
    try:
        probe = requests.get(f"{base}/Slot", params=slot_query).json()
        matches = sum(1 for e in probe["entry"] if e["search"]["mode"] == "match")
        print(f"Slot search: {matches} slots + {len(probe['entry']) - matches} included resources per response, "
              f"{len(requests.get(f'{base}/Slot', params=slot_query).content) / 1024:.0f} KiB")
        rows = {
            "Slot search + _include": latencies(f"{base}/Slot", slot_query, args.requests),
            "GET /metadata (baseline)": latencies(f"{base}/metadata", None, args.requests),
            "bare http.server (baseline)": latencies(bare_url, None, args.requests),
        }
        print(f"\nlatency, 1 client, {args.requests} requests      p50 ms    p95 ms")
        for name, values in rows.items():
            print(f"  {name:<36} {p(values, 50):8.2f}  {p(values, 95):8.2f}")
        slot_rps = throughput(f"{base}/Slot", slot_query, args.seconds)
        bare_rps = throughput(bare_url, None, args.seconds)
        print(f"\nthroughput, 4 concurrent clients, {args.seconds:.0f} s each")
        print(f"  Slot search + _include             {slot_rps:8.0f} req/s")
        print(f"  bare http.server (baseline)        {bare_rps:8.0f} req/s")
        slot, meta, floor = (rows[k] for k in rows)
        print("\nratios")
        print(f"  Slot search p50 / metadata p50     {p(slot, 50) / p(meta, 50):8.1f}x")
        print(f"  Slot search p50 / bare p50         {p(slot, 50) / p(floor, 50):8.1f}x")
        print(f"  bare req/s / Slot search req/s     {bare_rps / slot_rps:8.1f}x")
        met = p(slot, 95) < 100
        print(f"\ntarget p95 < 100 ms for the Slot search: {'met' if met else 'MISSED'} ({p(slot, 95):.1f} ms)")
    finally:
        for process in (sandbox, bare):
            process.terminate()
            process.wait(timeout=10)
    return 0 if met else 1  # a missed target fails the run (CI, scripts)


if __name__ == "__main__":
    sys.exit(main())

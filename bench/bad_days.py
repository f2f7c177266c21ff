"""Bad days: how pytest-mes behaves when things go wrong (run: ``python bench/bad_days.py [--packages DIR]``).

Each scenario runs the bundled test sets (read-only: no --mes-allow-writes) in a fresh ``pytest`` process
against a misbehaving server on loopback, or starts without what it needs, and prints the wall time, the
exit status, the number of output lines and whether a Python traceback appeared, with the ratio to a
baseline measured in the same run: the same read-only run against a conformant server (the reference
sandbox, served by this process). Default timeouts (10 s connect, 30 s read) everywhere. Targets: no
traceback anywhere; the hung server under 90 s; every other scenario under 10 s.

The last rows measure the registry's manners under pytest-xdist (-n 2) against a baseline measured in the
same run: offline, then a registry that refuses connections (first start: each package tried once, by the
controller; second start: nothing tried, the failures are remembered).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.server import CAPABILITY_STATEMENT, HungServer, Reply, ScriptedServer  # noqa: E402

HUNG_TARGET_S, OTHER_TARGET_S = 90.0, 10.0
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|INTERNALERROR|^\S+\.py:\d+: \w*(Error|Exception)\b",
                        re.MULTILINE)


@dataclass
class Outcome:
    name: str
    seconds: float
    status: int
    lines: int
    traceback: bool
    target: float | None

    def row(self, baseline: Outcome | None = None) -> str:
        ratio = f"  × {self.seconds / baseline.seconds:4.1f} baseline" if baseline else ""
        verdict = "" if self.target is None else ("ok" if self.seconds < self.target and not self.traceback
                                                  else "MISSED")
        target = "" if self.target is None else f"< {self.target:g} s"
        return (f"{self.name:46} {self.seconds:7.1f} s  exit {self.status:<3} {self.lines:6} lines  "
                f"traceback {'YES' if self.traceback else 'no ':3}  {target:8} {verdict:6}{ratio}")


def closed_port() -> int:
    with socket.socket() as sock:  # bound then released: nobody listens there
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(reply: Reply) -> Iterator[str]:
    """A loopback server giving `reply` to every request; yields its base URL."""
    server = ScriptedServer(fallback=reply).start()
    try:
        yield server.base_url
    finally:
        server.stop()


@contextmanager
def conformant(packages: Path) -> Iterator[str]:
    from pytest_mes.sandbox import Sandbox

    with Sandbox(packages=[packages]) as sandbox:
        yield sandbox.base_url


@contextmanager
def hung() -> Iterator[str]:
    with HungServer() as server:
        yield server.base_url


def run(name: str, args: list[str], env: dict[str, str], cwd: Path, target: float | None,
        command: list[str] | None = None) -> Outcome:
    started = time.monotonic()
    done = subprocess.run(command or [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                                      "-p", "no:hypothesispytest", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    return Outcome(name, seconds, done.returncode, len(output.splitlines()), bool(_TRACEBACK.search(output)), target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", default=str(ROOT.parent / "shared" / "fhir-packages"),
                        help="folder of FHIR packages (default ../shared/fhir-packages)")
    args = parser.parse_args()
    packages = Path(args.packages).resolve()
    if not (packages / "hl7.fhir.r4.core-4.0.1.tgz").is_file():
        print(f"bench/bad_days.py: no hl7.fhir.r4.core-4.0.1.tgz in {packages}: give --packages DIR", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="mes-bad-days-"))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("MES_", "FHIR_PACKAGE_CACHE"))}
    env = {**base_env, "PYTHONPATH": str(ROOT), "MES_FHIR_PACKAGES": str(packages), "MES_OFFLINE": "1",
           "MES_CACHE_DIR": str(work / "mes-cache"), "FHIR_PACKAGE_CACHE": str(work / "fhir-cache")}
    big = b'{"resourceType": "Bundle", "type": "searchset", "entry": [' + b'{"resource": {}},' * 3_000_000 + b"{}]}"
    servers: list[tuple[str, Callable[[], AbstractContextManager[str]], float]] = [
        ("closed port", lambda: nullcontext(f"http://127.0.0.1:{closed_port()}/fhir"), OTHER_TARGET_S),
        ("HTML answer (a login page)", lambda: serving(Reply(200, "<html><body>Login</body></html>",
                                                             content_type="text/html")), OTHER_TARGET_S),
        ("hung server (accepts, never answers)", hung, HUNG_TARGET_S),
        ("5xx on every request", lambda: serving(Reply(503, "Service Unavailable", content_type="text/plain")),
         OTHER_TARGET_S),
        ("truncated body", lambda: serving(Reply(200, CAPABILITY_STATEMENT, truncate=True)), OTHER_TARGET_S),
        ("deep JSON (200,000 nested arrays)", lambda: serving(Reply(200, "[" * 200_000 + "]" * 200_000)),
         OTHER_TARGET_S),
        (f"{len(big) // 1_000_000} MB body", lambda: serving(Reply(200, big)), OTHER_TARGET_S),
    ]
    print(f"pytest-mes bad days — {time.strftime('%Y-%m-%d %H:%M')} — bundled sets, read-only, default timeouts")
    with conformant(packages) as url:
        baseline = run("baseline: a conformant server (sandbox)", [f"--mes-base-url={url}"], env, work, None)
    print(baseline.row(), flush=True)
    outcomes = []
    for name, serve, target in servers:
        with serve() as url:
            outcomes.append(run(name, [f"--mes-base-url={url}"], env, work, target))
        print(outcomes[-1].row(baseline), flush=True)
    empty = {**env, "MES_FHIR_PACKAGES": "", "FHIR_PACKAGE_CACHE": str(work / "empty-cache")}
    outcomes.append(run("no packages: pytest", [f"--mes-base-url=http://127.0.0.1:{closed_port()}/fhir"], empty, work,
                        OTHER_TARGET_S))
    print(outcomes[-1].row(baseline), flush=True)
    outcomes.append(run("no packages: mes sandbox", [], empty, work, OTHER_TARGET_S,
                        command=[sys.executable, "-m", "pytest_mes.cli", "sandbox", "--port", "0"]))
    print(outcomes[-1].row(baseline), flush=True)
    outcomes.append(run("offline, missing dependencies (--mes-sandbox)", ["--mes-sandbox"], env, work,
                        OTHER_TARGET_S))
    print(outcomes[-1].row(baseline), flush=True)

    print("\nregistry manners under xdist (-n 2, sandbox):")
    registry = {**env, "MES_OFFLINE": "", "MES_CACHE_DIR": str(work / "xdist-cache"),
                "MES_FHIR_REGISTRY": f"http://127.0.0.1:{closed_port()}"}
    offline = run("baseline: offline", ["--mes-sandbox", "-n", "2"], {**registry, "MES_OFFLINE": "1"}, work, None)
    first = run("registry refusing connections, 1st start", ["--mes-sandbox", "-n", "2"], registry, work, None)
    second = run("registry refusing connections, 2nd start", ["--mes-sandbox", "-n", "2"], registry, work, None)
    print(offline.row())
    for outcome in (first, second):
        print(outcome.row(offline))
    outcomes += [offline, first, second]
    missed = [o.name for o in outcomes if o.traceback or (o.target is not None and o.seconds >= o.target)]
    print("\ntargets: " + ("all met" if not missed else "MISSED: " + ", ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

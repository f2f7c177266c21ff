"""`mes sandbox`: serve the reference sandbox until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sqlite3
import sys
import threading
from typing import Any

from pytest_mes.errors import ConfigError, PackageError


def register(subparsers: Any) -> None:
    """Add the `sandbox` subcommand to the `mes` parser."""
    parser = subparsers.add_parser(
        "sandbox",
        help="serve the reference FHIR sandbox (GAP + PDSm) at http://HOST:PORT/fhir",
        description="Serve the pytest-mes reference sandbox, a conformant GAP + PDSm FHIR R4 server with "
        "seed data, optionally with named defects. Stop it with Ctrl+C (SIGINT) or SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8080, help="TCP port (default 8080; 0 picks a free one)")
    parser.add_argument("--db", metavar="PATH", help="SQLite file that keeps the data across restarts, seeded "
                        "when created (default: in memory, seeded at each start)")
    parser.add_argument("--defect", metavar="NAME", action="append", default=[],
                        help="switch on a named defect (repeatable; see --list-defects)")
    parser.add_argument("--packages", metavar="DIR", action="append", default=[],
                        help="folder of FHIR packages holding hl7.fhir.r4.core, needed for XML and the structural "
                        "check of writes (repeatable; MES_FHIR_PACKAGES, ~/.fhir/packages and, unless "
                        "MES_OFFLINE, the registry are also searched)")
    parser.add_argument("--list-defects", action="store_true", help="list the named defects and exit")
    parser.add_argument("--quiet", action="store_true", help="do not log one line per request")
    parser.set_defaults(func=run)


def _port(text: str) -> int:
    """A TCP port for argparse: its own words instead of a traceback from bind()."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port: give 0 to 65535 (0 picks a free one)")
    return port


def run(args: argparse.Namespace) -> int:
    from pytest_mes.sandbox import DEFECTS, Sandbox

    if args.list_defects:
        width = max(len(name) for name in DEFECTS)
        for name, description in DEFECTS.items():
            print(f"{name.ljust(width)}  {description}")
        return 0

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        sandbox = Sandbox(args.host, args.port, db=args.db, defects=args.defect,
                          log=None if args.quiet else log, packages=args.packages)
        url = sandbox.start()
    except (ConfigError, PackageError) as exc:
        print(f"mes sandbox: {exc}", file=sys.stderr)
        return 2
    except sqlite3.Error as exc:
        print(f"mes sandbox: cannot open the database {args.db}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"mes sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    defects = ", ".join(sorted(sandbox.defects)) or "none"
    print(f"mes sandbox serving {url} (db: {args.db or 'memory'}; defects: {defects}). Ctrl+C to stop.",
          file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("mes sandbox stopped.", file=sys.stderr, flush=True)
    return 0

"""The reference sandbox: a small but real FHIR R4 server playing the GAP and PDSm server actors.

>>> with Sandbox(defects=["missing-total"]) as sandbox:
...     requests.get(f"{sandbox.base_url}/Slot?status=free")

It serves `http://HOST:PORT/fhir` over a threaded stdlib HTTP server, stores resources in SQLite
(a file with `db=`, otherwise memory), starts with the seed data of `seed.py` when the store is
empty, and can be started with named defects (`DEFECTS`) that make it non-conformant on purpose.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_mes.sandbox.api import Api
from pytest_mes.sandbox.defects import DEFECTS, check_defects
from pytest_mes.sandbox.r4 import R4Support
from pytest_mes.sandbox.seed import load_seed
from pytest_mes.sandbox.server import Handler, SandboxHTTPServer, make_log
from pytest_mes.sandbox.store import Store

__all__ = ["DEFECTS", "Sandbox"]


class Sandbox:
    """A sandbox server, started in a background thread.

    Args:
        host: address to bind (loopback by default: the sandbox has no authentication).
        port: TCP port; 0 picks a free one (see `base_url` after `start()`).
        db: SQLite file to keep data across restarts; None keeps everything in memory.
        defects: names from `DEFECTS` to switch on.
        log: None (silent), a `logging.Logger`, or a callable receiving one line per request.
        packages: folders of FHIR packages where `hl7.fhir.r4.core` is found, for FHIR XML and the structure
            check of writes (`MES_FHIR_PACKAGES`, the FHIR package cache and, unless MES_OFFLINE, the
            registry are also searched).
        seed: load the seed data when the store is empty.

    Raises:
        ConfigError: an unknown defect name (the message lists the valid ones).
        PackageError: from `start()`, when `hl7.fhir.r4.core` cannot be found.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        db: str | Path | None = None,
        defects: Sequence[str] = (),
        log: Any = None,
        packages: Sequence[str | Path] = (),
        seed: bool = True,
    ):
        self.host = host
        self.port = port
        self.db = db
        self.defects = check_defects(defects)
        self.log = make_log(log)
        self.packages = list(packages)
        self.seed = seed
        self.base_url = ""
        self.store: Store | None = None
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Bind, load (and seed) the store, serve in a background thread; returns the base URL."""
        url = self.listen()
        self.serve()
        return url

    def listen(self) -> str:
        """Bind the port and return the base URL: clients may connect from now on, and wait for `serve`."""
        if self._server is None:
            server = SandboxHTTPServer((self.host, self.port), Handler)
            server.log = self.log
            self._server = server
            host, port = server.server_address[:2]
            self.port = port
            shown = f"[{host}]" if ":" in str(host) else host
            self.base_url = f"http://{shown}:{port}/fhir"
        return self.base_url

    def serve(self) -> None:
        """Load the R4 support and the store (seeded), then answer in a background thread (`listen` first).

        Raises:
            PackageError: without the R4 base package the sandbox does not start: the port is closed again.
        """
        server = self._server
        if server is None or self._thread is not None:
            return
        try:
            r4 = R4Support(self.packages)
            self.store = Store(self.db)
            if self.seed and self.store.is_empty():
                load_seed(self.store)
        except BaseException:
            self.stop()
            self.base_url, self.store = "", None
            raise
        server.api = Api(self.store, self.defects, r4)
        # stop() waits for the serving loop to notice, up to one poll: at the end of every run with a sandbox.
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="mes-sandbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the store; safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        if self._thread is not None:  # serve_forever runs: shutdown() waits for it to return
            server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        server.server_close()
        if self.store is not None:
            self.store.close()

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

"""Headless Chromium for the report's browser test and bench: load a page, dump its DOM, take a screenshot.

``python -m tests.report.browser docs`` redraws the README's screenshots (docs/report.png, docs/report-run.png).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WHY_ABSENT = ("Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it), "
              "so the report is not checked in a real browser")


def chromium_path() -> str | None:
    configured = os.environ.get("MES_CHROMIUM")
    return configured if configured and Path(configured).is_file() else next(filter(None, map(shutil.which, NAMES)),
                                                                             None)


def run_chromium(args: list[str], *, timeout: float = 90) -> str:
    """Run headless Chromium with a throw-away profile; its stdout."""
    binary = chromium_path()
    if binary is None:
        raise RuntimeError(WHY_ABSENT)
    with tempfile.TemporaryDirectory(prefix="mes-chromium-") as profile:
        command = [binary, "--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
                   "--hide-scrollbars", f"--user-data-dir={profile}", *args]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to start as root with its sandbox
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited with {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def dump_dom(url: str, *, budget_ms: int = 10000, window: str = "1280,1000") -> str:
    return run_chromium([f"--virtual-time-budget={budget_ms}", f"--window-size={window}", "--dump-dom", url])


def screenshot(url: str, out: Path, *, window: str = "1280,1000", budget_ms: int = 5000) -> Path:
    run_chromium([f"--virtual-time-budget={budget_ms}", f"--window-size={window}", f"--screenshot={out}", url])
    return out


def focused_copy(page: Path, out: Path) -> Path:
    """The page with only the verdict, the summary and the tests: a headless screenshot cannot follow a scroll,
    so what it shows must fit in the window from the top."""
    hidden = "<style>#identification,#run,#requirements,#waivers{display:none}</style></head>"
    out.write_text(page.read_text(encoding="utf-8").replace("</head>", hidden, 1), encoding="utf-8")
    return out


def draw_docs(folder: Path) -> None:
    from pytest_mes.report import write_html
    from tests.report.factory import results_document

    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "mes-report.html"
        write_html(results_document(tests=40), page)
        screenshot(page.as_uri(), folder / "report-run.png", window="1200,1100")
        focused = focused_copy(page, Path(tmp) / "focused.html")
        screenshot(focused.as_uri() + "#q=PDSM-T-0001&test=PDSM-T-0001", folder / "report.png", window="1200,2600")


if __name__ == "__main__":
    draw_docs(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))

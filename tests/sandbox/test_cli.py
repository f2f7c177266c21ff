"""`mes sandbox`: listing defects, serving until SIGTERM, refusing bad options."""

from __future__ import annotations

import importlib.util
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from pytest_mes.cli import main
from pytest_mes.sandbox import DEFECTS

_MES = [sys.executable, "-c", "import sys; from pytest_mes.cli import main; sys.exit(main())"]


def test_list_defects(capsys):
    assert main(["sandbox", "--list-defects"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(DEFECTS)
    assert all(line.split()[0] in DEFECTS for line in lines)


def test_unknown_defect_exits_2(capsys):
    assert main(["sandbox", "--defect", "nonsense", "--port", "0"]) == 2
    assert "Valid names" in capsys.readouterr().err


@pytest.mark.parametrize(("port", "said"), [("70000", "70000 is not a TCP port: give 0 to 65535"),
                                            ("-1", "-1 is not a TCP port"), ("http", "'http' is not a port number")])
def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(capsys, port, said):
    with pytest.raises(SystemExit) as stopped:
        main(["sandbox", "--port", port])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --port: {said}" in err and "Traceback" not in err


def test_bad_db_path_exits_2(tmp_path, capsys):
    assert main(["sandbox", "--port", "0", "--db", str(tmp_path / "missing" / "dir" / "s.db")]) == 2
    assert "cannot open the database" in capsys.readouterr().err


def test_without_the_r4_package_it_does_not_start(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MES_FHIR_PACKAGES")
    monkeypatch.setenv("FHIR_PACKAGE_CACHE", str(tmp_path))
    assert main(["sandbox", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "hl7.fhir.r4.core#4.0.1" in err and "mes packages install" in err and "MES_FHIR_PACKAGES" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serves_logs_and_stops_gracefully(tmp_path, stop_signal):
    process = subprocess.Popen([*_MES, "sandbox", "--port", "0", "--db", str(tmp_path / "s.db"),
                                "--defect", "missing-total"],
                               stderr=subprocess.PIPE, text=True)
    try:
        banner = process.stderr.readline()
        url = re.search(r"(http://\S+/fhir)", banner).group(1)
        assert "missing-total" in banner
        assert requests.get(f"{url}/metadata", timeout=5).status_code == 200
        assert "total" not in requests.get(f"{url}/Slot?_count=1", timeout=5).json()
        log_line = process.stderr.readline()
        assert '"GET /fhir/metadata HTTP/1.1" 200' in log_line
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
        assert "stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    assert (tmp_path / "s.db").is_file()


@pytest.mark.parametrize(("latency_ms", "code"), [(500.0, 1), (5.0, 0)])
def test_bench_exit_code_follows_the_target(monkeypatch, capsys, latency_ms, code):
    spec = importlib.util.spec_from_file_location(
        "bench_sandbox", Path(__file__).resolve().parents[2] / "bench" / "sandbox.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    class Process:
        def terminate(self) -> None:
            pass

        def wait(self, timeout: float) -> int:
            return 0

    class Answer:
        content = b"{}"

        def json(self) -> dict:
            return {"entry": [{"search": {"mode": "match"}}]}

    monkeypatch.setattr(bench, "start_sandbox", lambda: (Process(), "http://x/fhir"))
    monkeypatch.setattr(bench, "start_bare", lambda: (Process(), "http://x/"))
    monkeypatch.setattr(bench, "latencies", lambda url, params, n: [latency_ms] * 20)
    monkeypatch.setattr(bench, "throughput", lambda url, params, seconds: 100.0)
    monkeypatch.setattr(bench.requests, "get", lambda *a, **k: Answer())
    monkeypatch.setattr(sys, "argv", ["sandbox.py"])
    assert bench.main() == code
    assert ("MISSED" in capsys.readouterr().out) == (code == 1)

"""The `mes` command: validate resources, manage FHIR packages, serve the reference sandbox."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from pytest_mes import __version__
from pytest_mes.errors import ConfigError
from pytest_mes.fhir import PURE_PYTHON_BECAUSE, validator_build
from pytest_mes.fhir.compiled import WHY

# Each subcommand lives next to the code it drives; a module exposes `register(subparsers)` which
# adds its parser and sets `func(args) -> int` as the default.
EXIT_USAGE = 2  # as argparse's own usage errors
EXIT_CLOSED_PIPE = 128 + 13  # what a shell says of a command stopped by SIGPIPE (`yes | head`)
_SUBCOMMAND_MODULES = ("pytest_mes.fhir.commands", "pytest_mes.sandbox.commands", "pytest_mes.coverage")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mes",
        description="pytest-mes: Mon Espace Santé / CI-SIS conformance harness. "
        "Run the test sets with pytest (pytest --mes-sandbox, pytest --mes-base-url=URL).",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and the validator's build")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


class _Version(argparse.Action):
    """argparse's own version action wraps the text to the terminal's width: this one prints it on one line."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        why = f"; {WHY[PURE_PYTHON_BECAUSE]}" if PURE_PYTHON_BECAUSE else ""
        print(f"pytest-mes {__version__} (validator: {validator_build()}{why})")
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()  # (its defaults read the environment: MES_OFFLINE…)
        args = parser.parse_args(argv)
        func = getattr(args, "func", None)
        if func is None:
            parser.print_help()
            return 0
        return int(func(args))
    except ConfigError as exc:  # a variable of the environment that says nothing usable
        print(f"mes: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader stopped reading (`mes validate … | head`): nothing more to tell it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (Python flushes stdout again at exit)
        return EXIT_CLOSED_PIPE


if __name__ == "__main__":
    sys.exit(main())

"""Where the run's report files go, checked at start: a run never ends without the acceptance file it was asked for
because its path names a folder, nor overwrites one of its own inputs (a test set) or another of its reports."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from pytest_mes.errors import ConfigError


def check_report_paths(reports: Iterable[tuple[str, Path, str]], inputs: Iterable[tuple[str, Path]]) -> None:
    """`reports`: (the option that named it, path, a usual file name) for each report; `inputs`: the files the run
    reads, each with what it is ("the test set sets/a.yaml"). Raise ConfigError naming the option and what to write
    instead."""
    read = {_absolute(path): what for what, path in inputs}
    named: dict[Path, str] = {}
    for flag, path, usual_name in reports:
        target = _absolute(path)
        if target.is_dir():
            raise ConfigError(f"{flag} {path}: this is a folder; give the path of a file, e.g. "
                              f"{flag}={path / usual_name}")
        if target in named:
            raise ConfigError(f"{flag} and {named[target]} both name {path}: the second report would replace the "
                              "first; give each its own file")
        if target in read:
            raise ConfigError(f"{flag} {path} is {read[target]}, which this run reads: the report would overwrite "
                              "it; write the report elsewhere")
        folder = _nearest_existing(target.parent)
        if not folder.is_dir():
            raise ConfigError(f"{flag} {path}: {folder} is a file, not a folder; give a path in a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(f"{flag} {path}: the folder {folder} cannot be written (permission denied); give a "
                              "path you can write")
        named[target] = flag


def files_in(paths: Iterable[Path], suffixes: tuple[str, ...]) -> Iterator[Path]:
    """Each path that is a file, and the files with one of `suffixes` directly in each that is a folder."""
    for path in paths:
        if path.is_dir():
            yield from (child for child in path.iterdir() if child.suffix.lower() in suffixes and child.is_file())
        elif path.exists():
            yield path


def _absolute(path: Path) -> Path:
    """The path as the file system will see it, links followed (two names of one file are one file)."""
    return Path(os.path.realpath(path.expanduser()))


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path

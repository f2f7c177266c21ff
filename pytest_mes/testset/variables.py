"""The variable names of a test set: those it declares (for `--mes-var`), and the `{{name}}` it uses that
nothing can give (found at collection, with their line, instead of failing a step at run time)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pytest_mes.errors import ConfigError, TestSetError
from pytest_mes.testset.loader import JsonPath, LoadedDocument, find_testset_files, shown_path
from pytest_mes.testset.schema import suggest
from pytest_mes.testset.templating import BUILTIN_VARIABLES, BUILTINS, PLACEHOLDER, is_builtin


def declared_variables(data: Any) -> set[str]:
    """Names `--mes-var` may set: the set's `variables` and its tests' `variables`."""
    if not isinstance(data, dict):
        return set()
    names = set(_keys(data.get("variables")))
    for test in data.get("tests") or []:
        if isinstance(test, dict):
            names.update(_keys(test.get("variables")))
    return names


def check_overrides(names: Iterable[str], roots: Sequence[Path], start: Path) -> None:
    """Raise ConfigError for a `--mes-var` name that no test set under `roots` declares: a misspelt name
    would otherwise be ignored, and the default value silently tested instead of the user's. Each file is
    read as collection reads it (named relative to `start`, pytest's invocation folder): from the test-set
    cache, or parsed once for both."""
    from pytest_mes.testset.cache import checked_data  # only when --mes-var is given

    declared: set[str] = set()
    for path in find_testset_files(roots):
        try:
            declared |= declared_variables(checked_data(path, shown_path(path, start)))
        except TestSetError:
            continue  # collection reports the broken file with its line
    for name in sorted(set(names) - declared):
        raise ConfigError(f"--mes-var {name}: no test set to run declares this variable"
                          f"{suggest(name, sorted(declared))} (declared: {', '.join(sorted(declared)) or 'none'})")


def check_placeholders(document: LoadedDocument, folder: Path) -> None:
    """Raise TestSetError (file:line, did you mean) for the first `{{name}}` that is no variable of the set, no
    parametrize value, no value saved by a step of the set, and no built-in, or that is half written; in the set
    and in its `.json` body files (in `folder`), which must be JSON. Which test sees which name is left to run
    time: this catches the names nothing in the set could ever give (typing mistakes)."""
    data = document.data
    known = _known_names(data)
    for json_path, text in _texts(data, ()):
        if _half_written(text):
            line, column = document.source.position(json_path) or (None, None)
            raise _broken(text, document.source.path, line, column)
        unknown = _unknown_placeholder(text, known)
        if unknown is not None:
            line, column = document.source.position(json_path) or (None, None)
            raise _unknown(unknown.group(1), known, document.source.path, line, column)
    label_folder = Path(document.source.path).parent
    for json_path, value in _walk(data, ()):
        if json_path and json_path[-1] == "body_file" and isinstance(value, str) and value.endswith(".json"):
            shown = str(label_folder / value)
            try:
                text = (folder / value).read_text(encoding="utf-8-sig")  # as the runner reads it
            except (OSError, ValueError):
                continue  # the model says the file is missing or unreadable, with the set's line
            try:
                body = json.loads(text)
            except json.JSONDecodeError as exc:
                raise TestSetError(f"the body file is not valid JSON: {exc.msg}", path=shown, line=exc.lineno,
                                   column=exc.colno) from None
            for _, string in _texts(body, ()):
                if _half_written(string):
                    found = text.find(string)
                    raise _broken(string, shown, text.count("\n", 0, found) + 1 if found >= 0 else None, None)
            unknown = _unknown_placeholder(text, known)
            if unknown is not None:
                raise _unknown(unknown.group(1), known, shown, text.count("\n", 0, unknown.start()) + 1, None)


def _unknown_placeholder(text: str, known: set[str]) -> re.Match[str] | None:
    """The first `{{name}}` of `text` that is neither a known name nor a built-in."""
    return next((match for match in PLACEHOLDER.finditer(text)
                 if match.group(1) not in known and not is_builtin(match.group(1))), None)


def _half_written(text: str) -> bool:
    """A '{{' or '}}' left once the placeholders are taken out: '{{name}' would be sent as typed."""
    rest = PLACEHOLDER.sub("", text)
    return "{{" in rest or "}}" in rest


def _broken(text: str, path: str, line: int | None, column: int | None) -> TestSetError:
    return TestSetError(f"'{text}' has a '{{{{' or '}}}}' that opens or closes no placeholder: a variable is "
                        "written {{name}}", path=path, line=line, column=column)


def _unknown(name: str, known: set[str], path: str, line: int | None, column: int | None) -> TestSetError:
    return TestSetError(
        f"unknown variable {{{{{name}}}}}: no variable, parametrize value or saved value of this set has this "
        f"name{suggest(name, sorted(known))} (known: {', '.join(sorted(known))}; built-ins: "
        f"{', '.join(BUILTINS)})", path=path, line=line, column=column)


def _known_names(data: Any) -> set[str]:
    names = declared_variables(data) | set(BUILTIN_VARIABLES)
    for json_path, value in _walk(data, ()):
        if json_path and json_path[-1] == "save":
            names.update(_keys(value))
        elif len(json_path) >= 2 and json_path[-2] == "parametrize" and isinstance(value, dict):
            names.update(name for name in _keys(value) if name != "id")
    return names


def _keys(value: Any) -> list[str]:
    return [str(key) for key in value] if isinstance(value, dict) else []


def _walk(value: Any, json_path: JsonPath) -> Iterator[tuple[JsonPath, Any]]:
    yield json_path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*json_path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*json_path, index))


def _texts(data: Any, root: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    """Every string of `data`, mapping keys included, with where it is."""
    for json_path, value in _walk(data, root):
        texts = [value] if isinstance(value, str) else [str(k) for k in value] if isinstance(value, dict) else []
        for text in texts:
            yield json_path, text

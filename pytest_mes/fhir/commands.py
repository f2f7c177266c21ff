"""The ``mes validate`` and ``mes packages`` subcommands."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_mes.environment import env_flag, env_packages
from pytest_mes.errors import PackageError
from pytest_mes.fhir import cache
from pytest_mes.fhir.grouping import IssueGroup, group_issues
from pytest_mes.fhir.issues import (
    LANGS,
    SEVERITIES,
    Issue,
    Lang,
    Phrase,
    ValidationResult,
    make_issue,
    sort_issues,
)
from pytest_mes.fhir.jsonread import NotJsonNumber, TooDeep, loads_checked
from pytest_mes.printable import printable

EXIT_OK, EXIT_INVALID, EXIT_CANNOT_RUN, EXIT_INCOMPLETE = 0, 1, 2, 3
# What a person reads besides the messages, in each language: severities (singular, plural) and labels.
_SEVERITY_WORDS: dict[Lang, dict[str, tuple[str, str]]] = {
    "fr": {"fatal": ("fatal", "fatals"), "error": ("erreur", "erreurs"), "warning": ("avertissement", "avertissements"),
           "information": ("information", "information")},
    "en": {"fatal": ("fatal", "fatal"), "error": ("error", "errors"), "warning": ("warning", "warnings"),
           "information": ("information", "information")},
}
_LABELS: dict[Lang, dict[str, str]] = {
    "fr": {"valid": "VALIDE", "invalid": "INVALIDE", "incomplete": "INCOMPLET", "rule": "règle :",
           "valid_plural": "VALIDES", "invalid_plural": "INVALIDES", "incomplete_plural": "INCOMPLETS",
           "heading": " :", "at": "à :",
           "more": " … et {n} autres (--max-issues 0 les montre toutes)",
           "unmade": "{n} vérification(s) non faite(s)", "total": "Total : {n} fichiers — {counts}"},
    "en": {"valid": "VALID", "invalid": "INVALID", "incomplete": "INCOMPLETE", "rule": "rule:",
           "valid_plural": "VALID", "invalid_plural": "INVALID", "incomplete_plural": "INCOMPLETE",
           "heading": ":", "at": "at:",
           "more": " … and {n} more (--max-issues 0 shows them all)",
           "unmade": "{n} check(s) not made", "total": "Total: {n} files — {counts}"},
}
DEFAULT_LOCATIONS = 3  # locations shown for a group of identical issues
_BUNDLE_RULE = re.compile(r"[A-Za-z]*:\d*")  # --bundle TYPE:INDEX, either part may be empty


def package_options() -> argparse.ArgumentParser:
    """The options that say where FHIR packages come from, shared by the subcommands that load them."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--packages", action="append", default=[], metavar="DIR",
        help="folder of FHIR packages (.tgz or unpacked), repeatable; also MES_FHIR_PACKAGES (path-separated)",
    )
    common.add_argument("--offline", action="store_true", default=env_flag("MES_OFFLINE"),
                        help="never download from the FHIR package registry (also MES_OFFLINE=1)")
    common.add_argument("--cache-dir", metavar="DIR", help="FHIR package cache (default ~/.fhir/packages)")
    common.add_argument("--registry", metavar="URL", help="FHIR package registry (default https://packages.fhir.org)")
    return common


def register(subparsers: Any) -> None:
    """Add ``validate`` and ``packages`` to the ``mes`` command line."""
    common = package_options()

    validate = subparsers.add_parser(
        "validate", parents=[common], help="validate FHIR resources (JSON) against R4 and the MES profiles",
        description="Validate FHIR R4 resources offline. Exit 0: no error; 1: errors; 2: could not run; "
                    "3: no error, but checks not made (a definition or package missing).",
    )
    validate.add_argument("files", nargs="+", metavar="FILE",
                          help="resource files (.json, .xml), folders (their .json and .xml files, recursively), or - "
                               "for the standard input")
    validate.add_argument("--max-issues", type=_count, default=DEFAULT_LOCATIONS, metavar="N",
                          help="identical issues at several locations are printed once with their count and their "
                               f"first N locations (default {DEFAULT_LOCATIONS}; 0: all)")
    validate.add_argument("--profile", action="append", default=[], metavar="URL",
                          help="profile canonical to validate against (repeatable), besides meta.profile")
    validate.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    validate.add_argument("--lang", choices=LANGS, default=None,
                          help="language of the messages: fr (default) or en; also MES_LANG")
    validate.add_argument("--ig", action="append", default=[], metavar="PATH",
                          help="conformance resources (folder or file, JSON or XML, snapshots generated when "
                               "missing) beside the packages, repeatable")
    validate.add_argument("--bundle", nargs=2, action="append", default=[], metavar=("RULE", "URL"),
                          help="validate the Bundle entries RULE selects (TYPE:INDEX, e.g. Patient:0, Patient:, :2) "
                               "against profile URL too, as the HL7 validator's -bundle (repeatable)")
    validate.add_argument("--context", metavar="ID#VERSION",
                          help="package whose dependencies pin unversioned canonicals (e.g. ans.fhir.fr.gap#3.0.0)")
    validate.set_defaults(func=run_validate)

    packages = subparsers.add_parser("packages", help="list or install FHIR packages")
    sub = packages.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = sub.add_parser("list", parents=[common], help="list the packages pytest-mes loads, and what is missing")
    listing.set_defaults(func=run_packages_list)
    install = sub.add_parser("install", parents=[common], help="install a package into the FHIR package cache")
    install.add_argument("spec", nargs="?", metavar="ID#VERSION", help="package to download from the registry")
    install.add_argument("--from", dest="from_file", metavar="FILE", help="install this package .tgz instead")
    install.set_defaults(func=run_packages_install)


def package_sources(args: argparse.Namespace) -> list[str]:
    """``--packages`` folders, then ``MES_FHIR_PACKAGES`` (path-separated)."""
    return [*args.packages, *(str(p) for p in env_packages())]


def _load_store(args: argparse.Namespace, command: str):
    """The packages for `mes COMMAND`, its warnings printed once; None (after saying why) when the
    FHIR R4 base cannot be found."""
    from pytest_mes.fhir.store import PackageStore

    try:
        store = PackageStore.load(
            package_sources(args), offline=args.offline, cache_dir=args.cache_dir, registry_url=args.registry
        )
    except PackageError as exc:
        print(f"mes {command}: {exc}", file=sys.stderr)
        return None
    for warning in store.warnings:
        print(f"mes {command}: warning: {warning}", file=sys.stderr)
    return store


# ---- mes validate --------------------------------------------------------------------------------

def _loaded_profile_like(store: Any, given: str) -> str:
    """" — did you mean URL?" for the loaded StructureDefinition whose name (its url's last segment) is the
    one given, or close to it: a profile written by its name, or a url with a typo. Else ""."""
    by_name: dict[str, str] = {}
    for url in sorted({entry["u"] for package in store.packages for entry in package.entries
                       if entry.get("t") == "StructureDefinition" and entry.get("u")}):
        by_name.setdefault(url.rsplit("/", 1)[-1].lower(), url)
    name = given.split("|")[0].rstrip("/").rsplit("/", 1)[-1].lower()
    close = difflib.get_close_matches(name, list(by_name), n=1, cutoff=0.8)
    return f" — did you mean {by_name[close[0]]}?" if close else ""


STDIN = "-"  # as a FILE of `mes validate`: the resource piped in (`… | mes validate -`)


def _read_resource(path: Path, store: Any) -> tuple[Any, Phrase | None, list[Issue]]:
    """(resource, None, issues of the reading: duplicate JSON keys, FHIR XML structure), (None, why
    it cannot be read, []), or (None, None, [the fatal issue]) when it is too deeply nested to read."""
    try:
        data = sys.stdin.buffer.read() if str(path) == STDIN else path.read_bytes()
    except OSError as exc:
        why = exc.strerror or exc
        return None, Phrase(f"fichier illisible : {why}", f"unreadable file: {why}"), []
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 BOM (Windows editors): not part of the document
        data = data[3:]
    if not data.strip():
        return None, Phrase("fichier vide", "empty file"), []
    if path.suffix.lower() == ".xml" or data.lstrip()[:1] == b"<":
        from pytest_mes.fhir.xml import read_xml

        try:
            resource, problems = read_xml(data, store)
            return resource, None, [make_issue("error", mid, loc, **values) for mid, loc, values in problems]
        except Exception as exc:  # the XML reader's own errors: report, do not crash
            return None, Phrase(f"XML illisible : {exc}", f"unreadable XML: {exc}"), []
    try:
        resource, duplicates = loads_checked(data)
    except TooDeep:
        from pytest_mes.fhir.walk import MAX_DEPTH  # (the reader's own limit is deeper)

        return None, None, [make_issue("fatal", "TOO_DEEP", "", limit=MAX_DEPTH)]
    except UnicodeDecodeError:
        return None, Phrase("JSON illisible : le fichier n'est pas en UTF-8 (l'encodage de FHIR) : réenregistrez-le "
                            "en UTF-8", "unreadable JSON: the file is not UTF-8 (FHIR's encoding): save it again as "
                            "UTF-8"), []
    except ValueError as exc:  # the JSON reader's own words (English), or ours in each language
        why = exc.why if isinstance(exc, NotJsonNumber) else Phrase(str(exc), str(exc))
        return None, Phrase(f"JSON illisible : {why.fr}", f"unreadable JSON: {why.en}"), []
    return resource, None, [make_issue("error", "DUPLICATE_KEY", loc, name=key) for loc, key in duplicates]


def _count(text: str) -> int:
    """argparse type: a whole number ≥ 0."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number (0 shows every location)")
    return int(text)


def resource_files(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """(files to validate, folders holding none): each FILE as given, each folder's ``.json`` and ``.xml``
    files at any depth, in name order (hidden files and folders left out)."""
    files: list[str] = []
    empty: list[str] = []
    for name in names:
        path = Path(name)
        if not path.is_dir():
            files.append(name)
            continue
        # (a link whose file is gone is kept: its reading says so, rather than the count leaving it out)
        found = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in (".json", ".xml")
                       and (p.is_file() or (p.is_symlink() and not p.exists()))
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        files.extend(found)
        if not found:
            empty.append(name)
    return files, empty


def run_validate(args: argparse.Namespace) -> int:
    from pytest_mes.fhir.validator import Validator

    lang = (args.lang or os.environ.get("MES_LANG") or "fr").strip().lower()  # as pytest reads it
    if lang not in LANGS:
        print(f"mes validate: MES_LANG={lang!r}: the language must be one of {', '.join(LANGS)}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    files, empty = resource_files(args.files)
    for folder in empty:
        print(f"mes validate: {folder}: no .json or .xml file in this folder", file=sys.stderr)
    if empty:
        return EXIT_CANNOT_RUN
    store = _load_store(args, "validate")
    if store is None:
        return EXIT_CANNOT_RUN
    if args.ig:
        from pytest_mes.fhir.local import with_conformance

        said = len(store.problems)  # the --ig files not read: the rest was said when the packages loaded
        try:
            store = with_conformance(store, args.ig)
        except PackageError as exc:
            print(f"mes validate: {exc}", file=sys.stderr)
            return EXIT_CANNOT_RUN
        for warning in store.problems[said:]:
            print(f"mes validate: warning: {warning}", file=sys.stderr)
    bad_rules = [rule for rule, _ in args.bundle if not _BUNDLE_RULE.fullmatch(rule)]
    if bad_rules:
        print(f"mes validate: --bundle {bad_rules[0]}: a rule is TYPE:INDEX (Patient:0, Patient:, :2)", file=sys.stderr)
        return EXIT_CANNOT_RUN
    validator = Validator(store, bundle_rules=[tuple(b) for b in args.bundle])
    if args.context is not None and store.package(args.context) is None:
        print(f"mes validate: --context {args.context}: no such package loaded (loaded: "
              + ", ".join(sorted(p.key for p in store.packages)) + ")", file=sys.stderr)
        return EXIT_CANNOT_RUN
    unknown = [url for url in [*args.profile, *(b[1] for b in args.bundle)]
               if validator.definitions.schema(url, args.context) is None]
    if unknown:
        for url in unknown:
            reason = validator.definitions.broken_reason(url)
            hint = _loaded_profile_like(store, url)
            print(f"mes validate: profile not found: {url}" + (f" ({reason})" if reason else "")
                  + (hint or " — check the url, or add its package with --packages"), file=sys.stderr)
        return EXIT_CANNOT_RUN
    reports: list[tuple[str, ValidationResult, bool]] = []
    could_not_run = False
    for name in files:
        resource, problem, read_issues = _read_resource(Path(name), store)
        if problem is not None or any(i.severity == "fatal" for i in read_issues):
            could_not_run = True
            result = ValidationResult(read_issues or [make_issue("fatal", "NOT_JSON", "", why=problem)])
            reports.append((name, result, False))
            continue
        try:
            result = validator.validate(resource, args.profile, context=args.context)
            if read_issues:
                result = ValidationResult(sort_issues(read_issues + result.issues))
            if any(i.message_id == "TOO_DEEP" for i in result.issues):
                could_not_run = True  # not validated: as a file that cannot be read
        except Exception as exc:  # a validator bug must not hide the other files behind a traceback
            could_not_run = True
            result = ValidationResult([make_issue("fatal", "INTERNAL_ERROR", "", why=f"{type(exc).__name__}: {exc}")])
            reports.append((name, result, False))
            continue
        reports.append((name, result, True))
    if args.format == "json":
        out = [{"file": name, "valid": result.valid, "verdict": result.verdict,
                "checks_not_made": len(result.unmade), "outcome": result.to_operation_outcome(lang)}
               for name, result, _ in reports]
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(printable(render_text(reports, lang, args.max_issues)))  # values quoted from the files
    if could_not_run:
        return EXIT_CANNOT_RUN
    verdicts = {result.verdict for _, result, _ in reports}
    return EXIT_INVALID if "invalid" in verdicts else EXIT_INCOMPLETE if "incomplete" in verdicts else EXIT_OK


def render_text(reports: Sequence[tuple[str, ValidationResult, bool]], lang: Lang = "fr",
                max_locations: int = DEFAULT_LOCATIONS) -> str:
    """Human output in `lang`, by file, then severity, then location; identical issues met at several
    locations (the same mistake in every entry of a Bundle) are one group with its count and its first
    `max_locations` locations (0: all)."""
    words, labels = _SEVERITY_WORDS[lang], _LABELS[lang]
    lines: list[str] = []
    for name, result, _ in reports:
        counts = {s: len(result.by_severity(s)) for s in SEVERITIES}
        verdict = labels[result.verdict]
        summary = ", ".join(f"{n} {words[s][n > 1]}" for s, n in counts.items() if n)
        if result.unmade:
            summary += ("; " if summary else "") + labels["unmade"].format(n=len(result.unmade))
        lines.append(f"{name}: {verdict}" + (f" ({summary})" if summary else ""))
        for severity in SEVERITIES:
            issues = result.by_severity(severity)
            if not issues:
                continue
            lines.append(f"  {words[severity][0]}{labels['heading']}")
            current = None
            for group in group_issues(issues, lang):
                single = group.count == 1
                where = (group.first.expression or "(document)") if single else f"{group.pattern}  × {group.count}"
                if where != current:
                    current = where
                    lines.append(f"    {where}")
                lines.append(f"      - {group.first.text(lang) if single else group.message}")
                lines += [f"        {labels['rule']} {rule}" for rule in group.rules]
                if not single:
                    lines.append("        " + _locations(group, max_locations, labels))
    if len(reports) > 1:
        lines.append(_total(reports, labels))
    return "\n".join(lines)


def _total(reports: Sequence[tuple[str, ValidationResult, bool]], labels: dict[str, str]) -> str:
    """The last line after several files: how many of each verdict."""
    verdicts = [result.verdict for _, result, _ in reports]
    counts = ", ".join(f"{n} {labels[v if n == 1 else v + '_plural']}"  # (French adjectives agree: 2 VALIDES)
                       for v in ("valid", "invalid", "incomplete") if (n := verdicts.count(v)))
    return labels["total"].format(n=len(reports), counts=counts)


def _locations(group: IssueGroup, limit: int, labels: dict[str, str]) -> str:
    shown = group.locations(limit or None)
    text = f"{labels['at']} {', '.join(shown)}"
    hidden = group.count - len(shown)
    return text + (labels["more"].format(n=hidden) if hidden else "")


# ---- mes packages --------------------------------------------------------------------------------
def run_packages_list(args: argparse.Namespace) -> int:
    store = _load_store(args, "packages")
    if store is None:
        return EXIT_CANNOT_RUN
    for package in store.packages:
        print(f"{package.key:48} {package.path}")
    for missing in store.missing:
        print(f"missing: {missing.describe()}")
    return EXIT_OK


def run_packages_install(args: argparse.Namespace) -> int:
    from pytest_mes.fhir.package import split_spec
    from pytest_mes.fhir.sources import download_package, install_tgz_bytes

    target_cache = cache.fhir_package_cache(args.cache_dir)
    try:
        if args.from_file:
            path = Path(args.from_file)
            try:
                data = path.read_bytes()
            except OSError as exc:
                print(f"mes packages: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
                return EXIT_CANNOT_RUN
            folder = install_tgz_bytes(data, target_cache, origin=str(path))
        elif args.spec:
            if args.offline:
                print("mes packages: --offline forbids downloading; use --from FILE.tgz", file=sys.stderr)
                return EXIT_CANNOT_RUN
            pid, version = split_spec(args.spec)
            folder = download_package(pid, version, target_cache, registry_url=args.registry)
        else:
            print("mes packages install: give ID#VERSION or --from FILE.tgz", file=sys.stderr)
            return EXIT_CANNOT_RUN
    except PackageError as exc:
        print(f"mes packages: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    print(f"installed {folder.name} into {folder.parent}")
    return EXIT_OK

"""FHIR packages: sources, the FHIR cache, the registry, dependency closure, canonical resolution, cache."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import time
from pathlib import Path

import pytest
import requests
import responses

from pytest_mes.cli import main
from pytest_mes.errors import PackageError
from pytest_mes.fhir import package as package_module
from pytest_mes.fhir import registry as registry_module
from pytest_mes.fhir import sources
from pytest_mes.fhir.package import open_package
from pytest_mes.fhir.store import PackageStore

FR_CORE_SD = "https://hl7.fr/ig/fhir/core/StructureDefinition/"
# The small packages below include a fake hl7.fhir.r4.core#4.0.1: not the published one the MES profile set
# pins, so the stores made of them are loaded without pins (test_pinned_* checks the pins).
NO_PINS: dict[str, str] = {}


def make_tgz(name: str, version: str, *, deps: dict | None = None, resources: list[dict] = (),
             examples: list[dict] = (), extra_members: dict[str, bytes] | None = None) -> bytes:
    """A package .tgz as the registry serves it: package/package.json, package/*.json, package/example/."""
    files = {"package/package.json": json.dumps({"name": name, "version": version, "dependencies": deps or {}})}
    for r in resources:
        files[f"package/{r['resourceType']}-{r['id']}.json"] = json.dumps(r)
    for r in examples:
        files[f"package/example/{r['resourceType']}-{r['id']}.json"] = json.dumps(r)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member, text in files.items():
            data = text.encode() if isinstance(text, str) else text
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for member, data in (extra_members or {}).items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def value_set(vid: str, version: str) -> dict:
    include = {"system": "http://example.org/cs", "concept": [{"code": version}]}
    return {"resourceType": "ValueSet", "id": vid, "url": f"http://example.org/ValueSet/{vid}", "version": version,
            "status": "active", "compose": {"include": [include]}}


def test_an_in_memory_package_indexes_its_canonical_resources_and_reads_nothing_from_disk(tmp_path: Path):
    from pytest_mes.fhir.package import Package

    patient = {"resourceType": "Patient", "id": "p"}  # not a canonical resource: left out
    package = Package.in_memory("example.mem", "1.0.0", [value_set("x", "1.0.0"), patient],
                                {"hl7.fhir.r4.core": "4.0.1"}, tmp_path / "nowhere")
    assert package.key == "example.mem#1.0.0" and package.dependencies == {"hl7.fhir.r4.core": "4.0.1"}
    assert [(e["t"], e["u"], e["v"]) for e in package.entries] == [
        ("ValueSet", "http://example.org/ValueSet/x", "1.0.0")]
    assert package.read(0) == value_set("x", "1.0.0")
    store = PackageStore([package])
    assert store.resolve("http://example.org/ValueSet/x", resource_type="ValueSet")["id"] == "x"


@pytest.fixture
def small_packages(tmp_path: Path) -> Path:
    """A fake core, and two IGs sharing a dependency pinned at different versions (plus one missing)."""
    folder = tmp_path / "pkgs"
    folder.mkdir()
    (folder / "core.tgz").write_bytes(make_tgz("hl7.fhir.r4.core", "4.0.1"))
    (folder / "lib-1.tgz").write_bytes(make_tgz("example.lib", "1.0.0", resources=[value_set("shared", "1.0.0")]))
    (folder / "lib-2.tgz").write_bytes(make_tgz("example.lib", "2.0.0", resources=[value_set("shared", "2.0.0")]))
    (folder / "ig-a.tgz").write_bytes(make_tgz(
        "example.a", "1.0.0", deps={"hl7.fhir.r4.core": "4.0.1", "example.lib": "1.0.0", "example.gone": "3.0.0"},
        examples=[{"resourceType": "Basic", "id": "ex1"}]))
    unpacked = folder / "ig-b" / "package"
    unpacked.mkdir(parents=True)
    (unpacked / "package.json").write_text(json.dumps(
        {"name": "example.b", "version": "0.1.0",
         "dependencies": {"hl7.fhir.r4.core": "4.0.1", "example.lib": "2.0.0", "example.gone": "3.0.0"}}))
    return folder


def test_loads_tgz_and_unpacked_folders_with_dependency_closure(small_packages: Path):
    store = PackageStore.load([small_packages], offline=True, packages=["example.a#1.0.0", "example.b#0.1.0"],
                              pins=NO_PINS)
    assert sorted(p.key for p in store.packages) == [
        "example.a#1.0.0", "example.b#0.1.0", "example.lib#1.0.0", "example.lib#2.0.0", "hl7.fhir.r4.core#4.0.1",
    ]
    assert next(p.id for p in store.packages) == "hl7.fhir.r4.core"
    assert store.package("example.b#0.1.0").path == small_packages / "ig-b" / "package"


def test_missing_dependencies_are_listed_with_who_needs_them_and_named_on_one_line(small_packages: Path):
    store = PackageStore.load([small_packages], offline=True, packages=["example.a#1.0.0", "example.b#0.1.0"],
                              pins=NO_PINS)
    assert [(m.spec, m.required_by) for m in store.missing] == [
        ("example.gone#3.0.0", ("example.a#1.0.0", "example.b#0.1.0"))]
    gone = [w for w in store.warnings if "example.gone" in w]
    assert len(gone) == 1
    assert "example.gone#3.0.0" in gone[0] and "mes packages list" in gone[0]
    assert "offline" in gone[0] and str(small_packages) in gone[0]


def test_unversioned_canonical_follows_the_referencing_packages_pin(small_packages: Path):
    store = PackageStore.load([small_packages], offline=True, packages=["example.a#1.0.0", "example.b#0.1.0"],
                              pins=NO_PINS)
    url = "http://example.org/ValueSet/shared"
    assert store.resolve(url, context="example.a#1.0.0", resource_type="ValueSet")["version"] == "1.0.0"
    assert store.resolve(url, context="example.b#0.1.0", resource_type="ValueSet")["version"] == "2.0.0"
    assert store.resolve(url, resource_type="ValueSet")["version"] == "2.0.0"  # no context: the latest
    assert store.resolve(url + "|1.0.0", resource_type="ValueSet")["version"] == "1.0.0"
    assert store.resolve(url + "|9.9.9", resource_type="ValueSet") is None
    assert store.resolve(url, resource_type="CodeSystem") is None  # the canonical names a ValueSet


def test_missing_core_is_an_error_that_says_where_and_what_to_do(tmp_path: Path):
    (tmp_path / "ig.tgz").write_bytes(make_tgz("example.a", "1.0.0", deps={"hl7.fhir.r4.core": "4.0.1"}))
    with pytest.raises(PackageError) as info:
        PackageStore.load([tmp_path], offline=True, packages=["example.a#1.0.0"])
    message = str(info.value)
    assert "hl7.fhir.r4.core#4.0.1" in message and str(tmp_path) in message
    assert "mes packages install" in message


def test_fhir_cache_layout_is_used(tmp_path: Path):
    cache_dir = tmp_path / "fhir-cache"
    for name, version in (("hl7.fhir.r4.core", "4.0.1"), ("example.a", "1.0.0")):
        folder = cache_dir / f"{name}#{version}" / "package"
        folder.mkdir(parents=True)
        (folder / "package.json").write_text(json.dumps({"name": name, "version": version}))
    (cache_dir / "example.a#1.0.0" / "package" / "ValueSet-x.json").write_text(json.dumps(value_set("x", "1.0.0")))
    store = PackageStore.load([], cache_dir=cache_dir, offline=True, packages=["example.a#1.0.0", "hl7.fhir.r4.core"])
    assert {p.key for p in store.packages} == {"example.a#1.0.0", "hl7.fhir.r4.core#4.0.1"}
    assert store.resolve("http://example.org/ValueSet/x", resource_type="ValueSet")["id"] == "x"


@responses.activate
def test_download_from_the_registry_into_the_fhir_cache(tmp_path: Path, fresh_memory):
    cache_dir = tmp_path / "fhir-cache"
    registry = "https://registry.example.org/fhir"
    responses.get(f"{registry}/hl7.fhir.r4.core/4.0.1", body=make_tgz("hl7.fhir.r4.core", "4.0.1"))
    responses.get(f"{registry}/example.a/1.0.0",
                  body=make_tgz("example.a", "1.0.0", deps={"hl7.fhir.r4.core": "4.0.1"}))
    store = PackageStore.load([], cache_dir=cache_dir, registry_url=registry, packages=["example.a#1.0.0"],
                              pins=NO_PINS)
    assert {p.key for p in store.packages} == {"example.a#1.0.0", "hl7.fhir.r4.core#4.0.1"}
    assert (cache_dir / "example.a#1.0.0" / "package" / "package.json").is_file()
    assert len(responses.calls) == 2
    # Second load: from the cache, no request.
    PackageStore.load([], cache_dir=cache_dir, registry_url=registry, packages=["example.a#1.0.0"],
                      pins=NO_PINS)
    assert len(responses.calls) == 2


@responses.activate
def test_offline_never_downloads(tmp_path: Path, small_packages: Path):
    store = PackageStore.load([small_packages], cache_dir=tmp_path / "empty", offline=True, pins=NO_PINS,
                              registry_url="https://registry.example.org", packages=["example.a#1.0.0"])
    assert len(responses.calls) == 0
    assert any("example.gone" in w for w in store.warnings)


@responses.activate
def test_registry_failure_is_a_warning_naming_the_package(tmp_path: Path, small_packages: Path, fresh_memory):
    registry = "https://registry.example.org"
    responses.get(f"{registry}/example.gone/3.0.0", status=404)
    store = PackageStore.load([small_packages], cache_dir=tmp_path / "c", registry_url=registry, pins=NO_PINS,
                              packages=["example.a#1.0.0"])
    assert any("example.gone#3.0.0" in w and "404" in w for w in store.warnings)


@pytest.fixture
def fresh_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pytest-mes cache of this test's own, so that no other test's registry failures are remembered."""
    monkeypatch.setenv("MES_CACHE_DIR", str(tmp_path / "mes-cache"))
    return tmp_path / "mes-cache"


def _two_missing(folder: Path) -> Path:
    """A core and an IG needing two packages that are nowhere but (perhaps) on the registry."""
    (folder / "core.tgz").write_bytes(make_tgz("hl7.fhir.r4.core", "4.0.1"))
    (folder / "ig.tgz").write_bytes(make_tgz("example.ig", "1.0.0", deps={
        "hl7.fhir.r4.core": "4.0.1", "example.x": "1.0.0", "example.y": "2.0.0"}))
    return folder


@responses.activate
def test_a_failed_download_is_not_tried_again_for_a_day_by_any_process(tmp_path: Path, monkeypatch, fresh_memory):
    registry = "https://registry.example.org"
    responses.get(f"{registry}/example.x/1.0.0", status=404)
    responses.get(f"{registry}/example.y/2.0.0", status=404)
    sources = [_two_missing(tmp_path)]
    first = PackageStore.load(sources, cache_dir=tmp_path / "c", registry_url=registry, packages=["example.ig#1.0.0"],
                              pins=NO_PINS)
    assert len(responses.calls) == 2
    # Another process (a new load reads the memory from the pytest-mes cache): no request, same verdict.
    again = PackageStore.load(sources, cache_dir=tmp_path / "c", registry_url=registry, packages=["example.ig#1.0.0"],
                              pins=NO_PINS)
    assert len(responses.calls) == 2
    assert [m.spec for m in again.missing] == [m.spec for m in first.missing] == ["example.x#1.0.0", "example.y#2.0.0"]
    assert "not retried before" in again.warnings[-1]
    # A day later, the registry is asked again.
    later = time.time() + registry_module.RETRY_AFTER_S + 60
    monkeypatch.setattr(registry_module.time, "time", lambda: later)
    PackageStore.load(sources, cache_dir=tmp_path / "c", registry_url=registry, packages=["example.ig#1.0.0"],
                      pins=NO_PINS)
    assert len(responses.calls) == 4


@responses.activate
@pytest.mark.parametrize("failure", [
    requests.ConnectionError("Failed to resolve 'registry.example.org' (NameResolutionError)"),
    requests.ConnectTimeout("timed out"),
    503,
])
def test_a_registry_that_does_not_answer_is_asked_once_and_said_so_in_one_short_line(tmp_path: Path, failure,
                                                                                      fresh_memory):
    registry = "https://registry.example.org"
    for pid, version in (("example.x", "1.0.0"), ("example.y", "2.0.0")):
        if isinstance(failure, int):
            responses.get(f"{registry}/{pid}/{version}", status=failure)
        else:
            responses.get(f"{registry}/{pid}/{version}", body=failure)
    store = PackageStore.load([_two_missing(tmp_path)], cache_dir=tmp_path / "c", registry_url=registry,
                              packages=["example.ig#1.0.0"], pins=NO_PINS)
    assert len(responses.calls) == 1  # the first failure says the registry is down: the second is not tried
    assert [m.spec for m in store.missing] == ["example.x#1.0.0", "example.y#2.0.0"]
    [line] = store.warnings
    assert "example.x#1.0.0, example.y#2.0.0" in line and f"{registry} " in line
    assert "HTTPSConnectionPool" not in line and "Max retries" not in line
    assert len(line.replace(str(tmp_path), "T")) < 300


@responses.activate
def test_mes_validate_honours_mes_offline(tmp_path: Path, monkeypatch, capsys, fresh_memory,
                                          fhir_packages_dir: Path):
    monkeypatch.setenv("MES_OFFLINE", "1")
    monkeypatch.setenv("MES_FHIR_PACKAGES", str(fhir_packages_dir))
    resource = tmp_path / "basic.json"
    resource.write_text(json.dumps({"resourceType": "Basic", "code": {"text": "x"}}))
    main(["validate", str(resource), "--cache-dir", str(tmp_path / "c"), "--registry", "https://registry.example.org"])
    assert len(responses.calls) == 0  # responses would have refused any request anyway: none was tried
    err = capsys.readouterr().err
    assert "ihe.iti.mhd#4.2.3" in err and "offline" in err


def test_tgz_with_paths_out_of_the_tree_is_refused(tmp_path: Path):
    evil = make_tgz("example.evil", "1.0.0", extra_members={"../../escape.txt": b"x"})
    with pytest.raises(PackageError):
        sources.install_tgz_bytes(evil, tmp_path / "cache")
    assert not (tmp_path / "escape.txt").exists()


def test_second_process_reads_the_index_cache_not_the_tgz(small_packages: Path, monkeypatch):
    open_package(small_packages / "lib-1.tgz")

    def no_tar(*args, **kwargs):
        raise AssertionError("the .tgz was read again")

    monkeypatch.setattr(package_module.tarfile, "open", no_tar)
    package = open_package(small_packages / "lib-1.tgz")
    assert package.key == "example.lib#1.0.0"
    assert next(package.resources("ValueSet"))["version"] == "1.0.0"


def test_examples_are_read_from_the_package(small_packages: Path):
    package = open_package(small_packages / "ig-a.tgz")
    assert [name for name, _ in package.examples()] == ["Basic-ex1.json"]


def test_broken_tgz_is_reported_not_fatal(small_packages: Path):
    (small_packages / "broken.tgz").write_bytes(b"not a tarball")
    store = PackageStore.load([small_packages], offline=True, packages=["hl7.fhir.r4.core#4.0.1"], pins=NO_PINS)
    assert any("broken.tgz" in w for w in store.warnings)


# ---- the real packages -----------------------------------------------------------------------------
def test_real_packages_and_their_missing_dependencies(store: PackageStore):
    assert {p.key for p in store.packages} == {
        "hl7.fhir.r4.core#4.0.1", "hl7.fhir.fr.core#2.0.1", "hl7.fhir.fr.core#2.1.0", "hl7.fhir.fr.core#2.2.0",
        "ans.fhir.fr.gap#3.0.0", "ans.fhir.fr.pdsm#3.1.1", "ans.fhir.fr.annuaire#1.2.0-snapshot-2",
    }
    assert {m.id for m in store.missing} == {
        "ans.fhir.fr.annuaire", "ans.fr.nos", "ans.fr.terminologies", "hl7.fhir.uv.extensions.r4",
        "hl7.fhir.uv.xver-r5.r4", "hl7.terminology.r4", "ihe.iti.mhd",
    }
    [line] = store.warnings  # once, on one line
    assert "ihe.iti.mhd#4.2.3" in line and "hl7.terminology.r4 (5.3.0, 5.5.0, 6.0.2, 7.1.0, 7.2.0)" in line
    described = {m.spec: m.describe() for m in store.missing}
    assert described["ihe.iti.mhd#4.2.3"] == "ihe.iti.mhd#4.2.3 (required by ans.fhir.fr.pdsm#3.1.1)"
    assert described["ans.fhir.fr.annuaire#1.0.1"] == (
        "ans.fhir.fr.annuaire#1.0.1 (required by ans.fhir.fr.gap#3.0.0); "
        "ans.fhir.fr.annuaire#1.2.0-snapshot-2 stands in for it")


@pytest.mark.parametrize(("context", "version"), [
    ("ans.fhir.fr.gap#3.0.0", "2.0.1"),
    ("ans.fhir.fr.pdsm#3.1.1", "2.1.0"),
    ("ans.fhir.fr.annuaire#1.2.0-snapshot-2", "2.2.0"),
    (None, "2.2.0"),
])
def test_fr_core_versions_coexist(store: PackageStore, context, version):
    sd = store.structure_definition(FR_CORE_SD + "fr-core-patient", context=context)
    assert sd["version"] == version
    assert store.structure_definition(f"{FR_CORE_SD}fr-core-patient|{version}")["version"] == version


def test_structure_definition_by_type_or_url(store: PackageStore):
    patient = store.structure_definition("Patient")
    assert patient["url"] == "http://hl7.org/fhir/StructureDefinition/Patient"
    assert patient["snapshot"]["element"][0]["id"] == "Patient"
    assert store.structure_definition(FR_CORE_SD + "fr-core-slot|2.1.0")["type"] == "Slot"
    assert store.structure_definition("NoSuchType") is None


def test_default_package_set_is_the_mes_profile_set():
    assert sources.default_package_set() == [
        "hl7.fhir.r4.core#4.0.1", "hl7.fhir.fr.core#2.0.1", "hl7.fhir.fr.core#2.1.0", "hl7.fhir.fr.core#2.2.0",
        "ans.fhir.fr.gap#3.0.0", "ans.fhir.fr.pdsm#3.1.1", "ans.fhir.fr.annuaire#1.2.0-snapshot-2",
    ]


# ---- mes packages ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "version"), [("../../outside", "1.0.0"), ("example.lib", "/../../../outside"),
                                             ("example/lib", "1.0.0"), ("example.lib", "1.0\\..\\..")])
def test_a_package_whose_name_or_version_is_a_path_is_refused_and_nothing_is_written(tmp_path: Path, capsys, name,
                                                                                   version):
    """The cache folder is named from package.json (`<id>#<version>`): a name or version holding a path separator
    would unpack, or remove a folder, outside the cache. Refused with the name as a package name must be."""
    tgz = tmp_path / "in" / "odd.tgz"
    tgz.parent.mkdir()
    tgz.write_bytes(make_tgz(name, version))
    cache_dir = tmp_path / "deep" / "er" / "cache"
    assert main(["packages", "install", "--from", str(tgz), "--cache-dir", str(cache_dir)]) == 2
    err = capsys.readouterr().err
    assert "not a FHIR package name and version" in err and "Traceback" not in err
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["in", "in/odd.tgz"]


def test_mes_packages_install_from_file_then_list(tmp_path: Path, capsys):
    cache_dir = tmp_path / "cache"
    lib = tmp_path / "lib.tgz"
    lib.write_bytes(make_tgz("example.lib", "1.0.0"))
    assert main(["packages", "install", "--from", str(lib), "--cache-dir", str(cache_dir)]) == 0
    assert (cache_dir / "example.lib#1.0.0" / "package" / "package.json").is_file()
    core = cache_dir / "hl7.fhir.r4.core#4.0.1" / "package"  # unpacked in the cache, as the HL7 tools leave it
    core.mkdir(parents=True)
    (core / "package.json").write_text(json.dumps({"name": "hl7.fhir.r4.core", "version": "4.0.1"}))
    capsys.readouterr()
    assert main(["packages", "list", "--cache-dir", str(cache_dir), "--offline"]) == 0
    out = capsys.readouterr()
    assert "hl7.fhir.r4.core#4.0.1" in out.out
    assert "hl7.fhir.fr.core (2.0.1, 2.1.0, 2.2.0)" in out.err  # the MES set is missing here, and said so
    assert "missing: hl7.fhir.fr.core#2.1.0" in out.out


def _rebuilt(tgz: Path) -> bytes:
    """The same package content compressed again: another build, another sha256."""
    return gzip.compress(gzip.decompress(tgz.read_bytes()), compresslevel=1)


def test_a_pinned_package_that_is_not_the_published_one_is_refused_at_load(tmp_path: Path, fhir_packages_dir: Path):
    folder = tmp_path / "pkgs"
    folder.mkdir()
    for tgz in fhir_packages_dir.glob("*.tgz"):
        if tgz.name.startswith("ans.fhir.fr.gap-"):
            (folder / tgz.name).write_bytes(_rebuilt(tgz))
        else:
            (folder / tgz.name).symlink_to(tgz)
    with pytest.raises(PackageError) as info:
        PackageStore.load([folder], offline=True)
    message = str(info.value)
    published = sources.pinned_sha256()["ans.fhir.fr.gap#3.0.0"]
    actual = hashlib.sha256((folder / "ans.fhir.fr.gap-3.0.0.tgz").read_bytes()).hexdigest()
    assert message.startswith(f"ans.fhir.fr.gap#3.0.0 ({folder / 'ans.fhir.fr.gap-3.0.0.tgz'})")
    assert f"its sha256 is {actual}, expected {published}" in message
    assert "mes packages install ans.fhir.fr.gap#3.0.0" in message
    # The published packages load (and keep loading from the index cache, which remembers their hash).
    for _ in range(2):
        assert PackageStore.load([fhir_packages_dir], offline=True).package("ans.fhir.fr.gap#3.0.0") is not None


@responses.activate
def test_a_pinned_package_that_is_not_the_published_one_is_never_installed(tmp_path: Path, fhir_packages_dir: Path,
                                                                           capsys):
    registry = "https://registry.example.org"
    rebuilt = _rebuilt(fhir_packages_dir / "ans.fhir.fr.gap-3.0.0.tgz")
    responses.get(f"{registry}/ans.fhir.fr.gap/3.0.0", body=rebuilt)
    with pytest.raises(PackageError, match=r"ans\.fhir\.fr\.gap#3\.0\.0 .* is not the published package"):
        sources.download_package("ans.fhir.fr.gap", "3.0.0", tmp_path, registry_url=registry)
    (tmp_path / "gap.tgz").write_bytes(rebuilt)
    assert main(["packages", "install", "--from", str(tmp_path / "gap.tgz"), "--cache-dir", str(tmp_path)]) == 2
    assert "expected " + sources.pinned_sha256()["ans.fhir.fr.gap#3.0.0"] in capsys.readouterr().err
    assert not list(tmp_path.glob("ans.fhir.fr.gap*"))


@responses.activate
def test_mes_packages_install_from_registry(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("MES_OFFLINE", raising=False)  # CI runs offline; this install is answered by `responses`
    registry = "https://registry.example.org"
    responses.get(f"{registry}/example.a/1.0.0", body=make_tgz("example.a", "1.0.0"))
    assert main(["packages", "install", "example.a#1.0.0", "--cache-dir", str(tmp_path),
                 "--registry", registry]) == 0
    assert (tmp_path / "example.a#1.0.0" / "package" / "package.json").is_file()


def _npm_version_document(tarball_url: str, data: bytes) -> dict:
    """What an npm registry answers for GET /{id}/{version}: the version's manifest, naming its tarball."""
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    return {"name": "example.a", "version": "1.0.0", "dist": {"tarball": tarball_url, "integrity": f"sha512-{digest}"}}


@responses.activate
def test_mes_packages_install_from_an_npm_registry(tmp_path: Path, monkeypatch):
    """registry.npmjs.org (or a company's npm proxy) answers with the version's manifest: its tarball is fetched."""
    monkeypatch.delenv("MES_OFFLINE", raising=False)
    registry = "https://npm.example.org"
    data = make_tgz("example.a", "1.0.0")
    tarball = f"{registry}/example.a/-/example.a-1.0.0.tgz"
    responses.get(f"{registry}/example.a/1.0.0", json=_npm_version_document(tarball, data))
    responses.get(tarball, body=data)
    assert main(["packages", "install", "example.a#1.0.0", "--cache-dir", str(tmp_path), "--registry", registry]) == 0
    assert (tmp_path / "example.a#1.0.0" / "package" / "package.json").is_file()
    assert [c.request.url for c in responses.calls] == [f"{registry}/example.a/1.0.0", tarball]


@responses.activate
def test_an_npm_download_that_does_not_match_its_integrity_hash_is_refused(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.delenv("MES_OFFLINE", raising=False)
    registry = "https://npm.example.org"
    tarball = f"{registry}/example.a/-/example.a-1.0.0.tgz"
    responses.get(f"{registry}/example.a/1.0.0",
                  json=_npm_version_document(tarball, make_tgz("example.a", "1.0.0")))
    responses.get(tarball, body=make_tgz("example.a", "1.0.0", deps={"example.evil": "6.6.6"}))
    assert main(["packages", "install", "example.a#1.0.0", "--cache-dir", str(tmp_path), "--registry", registry]) == 2
    assert "sha512 integrity hash" in capsys.readouterr().err
    assert not list(tmp_path.glob("example.a*"))


def test_mes_packages_install_offline_refuses(tmp_path: Path, capsys):
    assert main(["packages", "install", "example.a#1.0.0", "--offline", "--cache-dir", str(tmp_path)]) == 2
    assert "--offline" in capsys.readouterr().err


def test_load_validator_is_loaded_once_per_process(fhir_packages_dir: Path):
    from pytest_mes.fhir import load_validator

    first = load_validator([fhir_packages_dir], offline=True)
    assert load_validator([str(fhir_packages_dir)], offline=True) is first
    assert first.store.package("ans.fhir.fr.gap#3.0.0") is not None


def test_unwritable_index_cache_keeps_packages_in_memory(small_packages: Path, tmp_path: Path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("MES_CACHE_DIR", str(blocker / "cache"))  # cannot be created
    package = open_package(small_packages / "lib-2.tgz")
    assert next(package.resources("ValueSet"))["version"] == "2.0.0"


# ---- damaged index cache, stale folder index ------------------------------------------------------
def _lib_store(folder, cache_dir):
    from pytest_mes.fhir.store import PackageStore

    return PackageStore.load([folder], offline=True, cache_dir=cache_dir, pins={},  # a fake core: no pins
                             packages=["hl7.fhir.r4.core#4.0.1", "example.lib#1.0.0"])


def _blob_files(index_root):
    return list(index_root.rglob("resources.bin"))


def test_missing_or_truncated_resources_bin_is_rebuilt(tmp_path, monkeypatch):
    import json as _json

    from tests.fhir.test_packages import make_tgz, value_set

    monkeypatch.setenv("MES_CACHE_DIR", str(tmp_path / "index"))
    folder = tmp_path / "pkgs"
    folder.mkdir()
    (folder / "core.tgz").write_bytes(make_tgz("hl7.fhir.r4.core", "4.0.1"))
    (folder / "lib.tgz").write_bytes(make_tgz("example.lib", "1.0.0", resources=[value_set("shared", "1.0.0")]))
    url = "http://example.org/ValueSet/shared"
    assert _lib_store(folder, tmp_path / "fc").resolve(url, resource_type="ValueSet")["version"] == "1.0.0"
    blobs = [b for b in _blob_files(tmp_path / "index") if b.stat().st_size > 0]
    assert blobs
    for damage in ("truncate", "delete"):
        for blob in blobs:
            if damage == "truncate":
                blob.write_bytes(blob.read_bytes()[:10])
            else:
                blob.unlink()
        found = _lib_store(folder, tmp_path / "fc").resolve(url, resource_type="ValueSet")
        assert found["version"] == "1.0.0", damage
    # Damaged after the store was loaded: the package itself is read again.
    store = _lib_store(folder, tmp_path / "fc")
    for blob in blobs:
        blob.write_bytes(b"")
    assert store.resolve(url, resource_type="ValueSet")["version"] == "1.0.0"
    assert _json.dumps(store.resolve(url, resource_type="ValueSet"))


def test_unpacked_folder_index_follows_in_place_edits(tmp_path, monkeypatch):
    import json as _json
    import os

    from pytest_mes.fhir.store import PackageStore
    from tests.fhir.test_packages import make_tgz, value_set

    monkeypatch.setenv("MES_CACHE_DIR", str(tmp_path / "index"))
    (tmp_path / "core.tgz").write_bytes(make_tgz("hl7.fhir.r4.core", "4.0.1"))
    pkg = tmp_path / "lib" / "package"
    (pkg / "example").mkdir(parents=True)
    (pkg / "package.json").write_text(_json.dumps({"name": "example.lib", "version": "1.0.0"}))
    vs_file = pkg / "ValueSet-shared.json"
    vs_file.write_text(_json.dumps(value_set("shared", "1.0.0")))
    ex_file = pkg / "example" / "Basic-ex.json"
    ex_file.write_text(_json.dumps({"resourceType": "Basic", "id": "ex"}))
    folder_mtime = os.stat(pkg).st_mtime_ns

    def load():
        return PackageStore.load([tmp_path], offline=True, cache_dir=tmp_path / "fc", pins={},  # a fake core
                                 packages=["hl7.fhir.r4.core#4.0.1", "example.lib#1.0.0"])

    assert load().resolve("http://example.org/ValueSet/shared", resource_type="ValueSet")["version"] == "1.0.0"
    vs_file.write_text(_json.dumps(value_set("shared", "1.0.1")))  # in place: same folder mtime
    ex_file.write_text(_json.dumps({"resourceType": "Basic", "id": "ex", "code": {"text": "edited!"}}))
    os.utime(pkg, ns=(folder_mtime, folder_mtime))
    store = load()
    assert store.resolve("http://example.org/ValueSet/shared", resource_type="ValueSet")["version"] == "1.0.1"
    assert dict(store.package("example.lib#1.0.0").examples())["example/Basic-ex.json"]["code"]["text"] == "edited!"

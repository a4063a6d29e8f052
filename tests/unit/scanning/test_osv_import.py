"""``dockyard vulndb import``: JSON, YAML, directories, zip exports; re-runs; source records."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dockyard.scanning.osv_import import import_osv

from .conftest import fresh_store

PYSEC_YAML = """id: PYSEC-2099-1
modified: 2024-01-02T00:00:00Z
affected:
- package:
    name: Demo_Pkg
    ecosystem: PyPI
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: "0"
    - fixed: 2.10
  versions:
  - 2.9
  - 2.10rc1
"""


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2024, 5, 1, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self.at


def test_yaml_keeps_versions_as_written(tmp_path: Path) -> None:
    path = tmp_path / "PYSEC-2099-1.yaml"
    path.write_text(PYSEC_YAML)
    store = fresh_store(tmp_path)
    report = import_osv(store, path, Clock())
    assert (report.records, report.changed, report.invalid) == (1, 1, 0)
    rows = store.affected(["PyPI"], ["demo-pkg"])  # PEP 503 normalised
    assert rows[0].ranges[0]["events"][1] == {"fixed": "2.10"}  # not the float 2.1
    assert rows[0].versions == ["2.9", "2.10rc1"]


def test_directory_zip_and_reruns(tmp_path: Path, vulndata: Path) -> None:
    store = fresh_store(tmp_path)
    clock = Clock()
    first = import_osv(store, vulndata / "npm", clock)
    assert (first.records, first.changed, first.unchanged) == (11, 11, 0)
    assert store.source_updated_at() == clock.at
    clock.at += timedelta(hours=1)
    again = import_osv(store, vulndata / "npm", clock)
    assert (again.records, again.changed, again.unchanged) == (11, 0, 11)
    assert store.source_updated_at() == clock.at
    assert store.advisory_count() == 11
    # an osv.dev-style export: one zip of JSON files; a changed record replaces the stored one
    record = json.loads((vulndata / "npm" / "GHSA-29mw-wpgm-hmr9.json").read_text())
    record["affected"] = record["affected"][:1]
    record["modified"] = "2030-01-01T00:00:00Z"
    export = tmp_path / "all.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("GHSA-29mw-wpgm-hmr9.json", json.dumps(record))
        archive.writestr("README.txt", "not a record")
    clock.at += timedelta(hours=1)
    changed = import_osv(store, export, clock)
    assert (changed.records, changed.changed) == (1, 1)
    packages = {r.package for r in store.affected(["npm"], ["lodash", "lodash-es"])
                if r.advisory_id == "GHSA-29mw-wpgm-hmr9"}
    assert packages == {"lodash"}
    sources = {s["source"]: s for s in store.sources()}
    assert str(export.resolve()) in sources and str((vulndata / "npm").resolve()) in sources


def test_unreadable_records_are_counted_not_fatal(tmp_path: Path) -> None:
    folder = tmp_path / "osv"
    folder.mkdir()
    (folder / "bad.json").write_text("{not json")
    (folder / "noid.json").write_text(json.dumps({"affected": []}))
    (folder / "ok.json").write_text(json.dumps({"id": "X-1", "affected": [
        {"package": {"ecosystem": "npm", "name": "x"}, "versions": ["1.0.0"]}]}))
    report = import_osv(fresh_store(tmp_path), folder, Clock())
    assert (report.records, report.invalid) == (1, 2)


def test_withdrawn_records_are_kept_but_never_offered(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"id": "W-1", "withdrawn": "2024-01-01T00:00:00Z", "affected": [
        {"package": {"ecosystem": "npm", "name": "x"}, "versions": ["1.0.0"]}]}))
    store = fresh_store(tmp_path)
    report = import_osv(store, path, Clock())
    assert report.withdrawn == 1 and store.advisory_count() == 1
    assert store.affected(["npm"], ["x"]) == []

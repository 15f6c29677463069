"""Exports: untrusted names never become formulas or escapes, and never follow planted links."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from pgcluster_tui.core.events import Notification, SenderAttributed
from pgcluster_tui.core.membership import Membership
from pgcluster_tui.export import export_rows, write_export

NOW = 1_767_225_600.0
HOSTILE = [
    '=HYPERLINK("http://evil","x")@h',
    "+cmd@h",
    "-2+3@h",
    "plain@10.0.0.1",
]
"""Valid node names that a spreadsheet would run (`@...` cannot be one: its name part is empty)."""


def model_with(names: list[str]) -> Membership:
    """A model that heard each name twice from its own backend, one with a hostile sender."""
    model = Membership()
    for pid, name in enumerate(names, start=100):
        model.observe_many([Notification(name, pid, NOW - 1), Notification(name, pid, NOW)])
    model.attribute(SenderAttributed(NOW, 100, "10.6.6.6", "=cmd|' /C calc'!A0\x1b[2J", "x", ""))
    return model


def export(tmp_path: Path, names: list[str]) -> tuple[Path, Path]:
    """Export every node of a model that heard `names`."""
    model = model_with(names)
    rows = export_rows(model, model.ordered("name"), NOW)
    return write_export(rows, tmp_path / "exports", NOW, {"channel": "c"})


def test_no_csv_cell_from_outside_starts_a_formula(tmp_path: Path) -> None:
    _, csv_path = export(tmp_path, HOSTILE)
    with csv_path.open(newline="") as source:
        rows = list(csv.DictReader(source))
    assert {row["node"] for row in rows} == {
        '\'=HYPERLINK("http://evil","x")@h',
        "'+cmd@h",
        "'-2+3@h",
        "plain@10.0.0.1",
    }
    for row in rows:
        for column in ("node", "senders"):
            assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r")), row
    senders = next(row["senders"] for row in rows if row["node"].startswith("'="))
    assert senders == "100 10.6.6.6 =cmd|' /C calc'!A0\\x1b[2J"
    assert {row["duplicate"] for row in rows} == {"no"}


def test_the_json_export_is_ascii_and_exact(tmp_path: Path) -> None:
    json_path, _ = export(tmp_path, ["ünïcode@h", "x\u200by@h"])
    text = json_path.read_text()
    assert text.isascii()
    names = {node["node"] for node in json.loads(text)["nodes"]}
    assert names == {"ünïcode@h", "x\u200by@h"}


def test_a_planted_symlink_is_never_followed(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    exports = tmp_path / "exports"
    exports.mkdir()
    first = exports / "pgcluster-nodes-20260101-000000.json"
    first.symlink_to(target)  # dangling: a write through it would create `victim`
    json_path, csv_path = export(tmp_path, ["a@h"])
    assert not target.exists()
    assert first.is_symlink()
    assert json_path.name.endswith("-2.json")
    assert csv_path.name.endswith("-2.csv")


def test_exports_never_overwrite_each_other(tmp_path: Path) -> None:
    paths = {path for _ in range(3) for path in export(tmp_path, ["a@h"])}
    assert len(paths) == 6

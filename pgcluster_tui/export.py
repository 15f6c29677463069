"""The node table as data: `nodes --json` rows, and the dashboard's JSON and CSV exports."""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from pgcluster_tui.core.events import SenderAttributed, iso
from pgcluster_tui.core.membership import Membership, NodeView
from pgcluster_tui.core.text import visible

SenderOf = Callable[[int], SenderAttributed | None]

FIELDS = (
    "node",
    "state",
    "self",
    "age",
    "beats",
    "interval",
    "interval_estimated",
    "jitter",
    "phi",
    "duplicate",
    "pids",
    "senders",
    "first_seen",
    "last_beat",
    "state_since",
)
"""CSV columns, in order."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet evaluates a cell that starts with one of these."""


def node_json(view: NodeView, sender_of: SenderOf) -> dict[str, Any]:
    """A node as a JSON object."""
    senders = [sender_of(pid) for pid in view.pids]
    return {
        "node": view.name,
        "state": view.state.value,
        "self": view.is_self,
        "age": round(view.age, 3),
        "beats": view.beats,
        "interval": round(view.interval, 3),
        "interval_estimated": view.interval_estimated,
        "jitter": round(view.jitter, 3),
        "phi": round(view.phi, 2),
        "pids": list(view.pids),
        "duplicate": view.duplicate,
        "first_seen": iso(view.first_seen),
        "last_beat": iso(view.last_beat),
        "state_since": iso(view.state_since),
        "senders": [
            {
                "pid": s.pid,
                "client_addr": s.client_addr,
                "application_name": s.application_name,
                "usename": s.usename,
                "backend_start": s.backend_start,
            }
            for s in senders
            if s is not None
        ],
    }


def export_rows(model: Membership, names: Iterable[str], now: float) -> list[dict[str, Any]]:
    """The named nodes still tracked, in order, as `nodes --json` rows."""
    return [node_json(model.view(name, now), model.sender) for name in names if name in model]


def write_export(
    rows: Sequence[dict[str, Any]], directory: Path, now: float, header: dict[str, Any]
) -> tuple[Path, Path]:
    """Write rows as new files `pgcluster-nodes-<local time>.json` and `.csv` in `directory`."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    directory.mkdir(parents=True, exist_ok=True)
    document = {**header, "nodes": list(rows)}
    for suffix in range(1, 1000):
        base = directory / f"pgcluster-nodes-{stamp}{'' if suffix == 1 else f'-{suffix}'}"
        json_path, csv_path = base.with_suffix(".json"), base.with_suffix(".csv")
        try:
            with _create(json_path) as out:
                out.write(json.dumps(document, indent=2, ensure_ascii=True) + "\n")
        except FileExistsError:
            continue
        try:
            with _create(csv_path) as out:
                _write_csv(out, rows)
        except FileExistsError:
            json_path.unlink()
            continue
        return json_path, csv_path
    raise FileExistsError(f"{directory}: no free export name for {stamp}")


def _create(path: Path) -> TextIO:
    # A new file only, never through a link: a planted symlink must not redirect the write.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    return open(fd, "w", newline="", encoding="utf-8")


def _write_csv(out: TextIO, rows: Sequence[dict[str, Any]]) -> None:
    writer = csv.DictWriter(out, fieldnames=FIELDS)
    writer.writeheader()
    for row in rows:
        flat = {key: _cell(value) for key, value in row.items() if key in FIELDS}
        flat["node"] = _text_cell(row["node"])
        flat["pids"] = ";".join(str(p) for p in row["pids"])
        flat["senders"] = _text_cell(
            "; ".join(
                f"{s['pid']} {s['client_addr']} {s['application_name']}".strip()
                for s in row["senders"]
            )
        )
        writer.writerow(flat)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _text_cell(text: str) -> str:
    """Untrusted text for a spreadsheet: escapes made visible, never a formula."""
    shown = visible(text)
    return "'" + shown if shown.startswith(FORMULA_STARTS) else shown

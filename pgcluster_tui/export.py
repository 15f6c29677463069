"""The node table as data: `nodes --json` rows, and the dashboard's JSON and CSV exports."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pgcluster_tui.core.events import SenderAttributed, iso
from pgcluster_tui.core.membership import Membership, NodeView

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
    """Write rows as `pgcluster-nodes-<local time>.json` and `.csv` in `directory`."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    directory.mkdir(parents=True, exist_ok=True)
    base = directory / f"pgcluster-nodes-{stamp}"
    suffix = 1
    while base.with_suffix(".json").exists() or base.with_suffix(".csv").exists():
        suffix += 1
        base = directory / f"pgcluster-nodes-{stamp}-{suffix}"
    json_path, csv_path = base.with_suffix(".json"), base.with_suffix(".csv")
    document = {**header, "nodes": list(rows)}
    json_path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    with csv_path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        for row in rows:
            flat = dict(row)
            flat["pids"] = " ".join(str(p) for p in row["pids"])
            flat["senders"] = " ".join(
                f"{s['pid']}:{s['client_addr']}:{s['application_name']}" for s in row["senders"]
            )
            writer.writerow(flat)
    return json_path, csv_path

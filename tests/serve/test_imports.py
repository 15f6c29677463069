"""serve stays a headless front end, and other commands never pay for prometheus_client."""

from __future__ import annotations

from tests.test_layers import PACKAGE, imported_by, imports_of


def test_serve_imports_no_textual_and_no_dashboard() -> None:
    for path in sorted((PACKAGE / "serve").glob("*.py")):
        crossing = {
            name
            for name in imports_of(path)
            if name.split(".")[0] in ("textual", "rich") or name.startswith("pgcluster_tui.tui")
        }
        assert not crossing, f"{path.name} imports {sorted(crossing)}"
    assert "textual" not in imported_by("pgcluster_tui.serve.command")


def test_the_cli_loads_prometheus_client_only_when_serve_runs() -> None:
    assert "prometheus_client" not in imported_by("pgcluster_tui.cli")

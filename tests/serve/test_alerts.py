"""docs/alerts.yml: valid for promtool, its unit tests pass, and it fires in a real Prometheus."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pgcluster_tui.pg.embedded import EmbeddedServer
from tests.beating import beating
from tests.serve.support import free_port, get, node_values, series, serving, tool
from tests.waiting import wait_until_sync

DOCS = Path(__file__).resolve().parents[2] / "docs"
RULES = DOCS / "alerts.yml"


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run promtool; fail the test on a non-zero exit, with its output."""
    result = subprocess.run(
        [tool("promtool"), *args], capture_output=True, text=True, timeout=60, cwd=cwd
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_the_rules_pass_promtool_check() -> None:
    assert "SUCCESS: 6 rules found" in promtool("check", "rules", str(RULES)).stdout


def test_the_rules_pass_their_unit_tests() -> None:
    assert "SUCCESS" in promtool("test", "rules", "alerts_test.yml", cwd=DOCS).stdout


def quick_rules(target: Path) -> Path:
    """docs/alerts.yml with every `for:` cut to 1s, so an alert fires in seconds, not minutes."""
    text = RULES.read_text()
    quick, cut = re.subn(r"(?m)^(\s+for:\s*)\S+$", r"\g<1>1s", text)
    assert cut == text.count("- alert:")  # every rule has a for:, and every one was cut
    target.write_text(quick)
    promtool("check", "rules", str(target))
    return target


@contextmanager
def prometheus(workdir: Path, target: str, rules: Path) -> Iterator[str]:
    """A real Prometheus scraping `target` every second; yields its base URL."""
    port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  evaluation_interval: 1s\n"
        f"rule_files: ['{rules}']\n"
        "scrape_configs:\n"
        "  - job_name: pgcluster-tui\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
    )
    process = subprocess.Popen(
        [
            tool("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_sync(lambda: _ready(url, process), timeout=20, what="Prometheus ready")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.stderr is not None
        process.stderr.close()


def _ready(url: str, process: subprocess.Popen[str]) -> bool:
    if process.poll() is not None:
        assert process.stderr is not None
        raise AssertionError(f"prometheus exited: {process.stderr.read()[-2000:]}")
    try:
        return get(url + "/-/ready", timeout=1)[0] == 200
    except OSError:
        return False


def api(url: str, path: str, **params: str) -> Any:
    """One call to Prometheus' HTTP API; its `data`."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    status, _, body = get(f"{url}/api/v1/{path}{query}")
    document = json.loads(body)
    assert status == 200, body
    assert document["status"] == "success", body
    return document["data"]


def firing(url: str) -> set[tuple[str, str]]:
    """(alert name, node label) of every firing alert."""
    alerts = api(url, "alerts")["alerts"]
    return {
        (a["labels"]["alertname"], a["labels"].get("node", ""))
        for a in alerts
        if a["state"] == "firing"
    }


def test_prometheus_scrapes_serve_and_fires_the_stale_node_alert(
    embedded_server: EmbeddedServer, channel: str, tmp_path: Path
) -> None:
    dsn = embedded_server.dsn
    args = ("--dsn", dsn, "--channel", channel, "--interval", "0.5")
    with (
        serving(*args, serve_args=("--expect", "2")) as served,
        beating(dsn, channel, ["steady@10.0.0.1"], every=0.25),
    ):
        target = served.url.removeprefix("http://")
        with prometheus(tmp_path, target, quick_rules(tmp_path / "alerts.yml")) as url:
            with beating(dsn, channel, ["doomed@10.0.0.2"], every=0.25):

                def both_scraped() -> bool:
                    result = api(url, "query", query="pgcluster_node_state == 0")["result"]
                    return {r["metric"]["node"] for r in result} == {
                        "steady@10.0.0.1",
                        "doomed@10.0.0.2",
                    }

                # Before doomed's second beat the alive count is under --expect 2, so wait
                # for that alert to resolve too: nothing may fire while both beat.
                wait_until_sync(
                    lambda: both_scraped() and not firing(url),
                    timeout=20,
                    what="both nodes alive in Prometheus and no alert firing",
                )
            silent_at = time.monotonic()  # doomed stops beating: its session closes

            def stale_fired() -> bool:
                return ("PgclusterNodeStale", "doomed@10.0.0.2") in firing(url)

            wait_until_sync(stale_fired, timeout=30, what="PgclusterNodeStale for doomed")
            took = time.monotonic() - silent_at
            alerts = firing(url)
            assert ("PgclusterFewerNodesThanExpected", "") in alerts
            assert ("PgclusterNodeStale", "steady@10.0.0.1") not in alerts
            assert not {name for name, _ in alerts} & {
                "PgclusterMonitorDisconnected",
                "PgclusterListenerSilent",
                "PgclusterMonitorDown",
                "PgclusterDuplicateNodeName",
            }
            up = api(url, "query", query='up{job="pgcluster-tui"}')["result"]
            assert [r["value"][1] for r in up] == ["1"]
        states = node_values(series(served.scrape()), "pgcluster_node_state")
    assert states == {"steady@10.0.0.1": 0, "doomed@10.0.0.2": 3}
    # Stale after 6 intervals of 0.5 s, then a scrape, an evaluation and `for: 1s`.
    assert 3 < took < 15

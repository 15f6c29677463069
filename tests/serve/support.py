"""Shared pieces of the serve tests: the real tools, a served process, scraping it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.test_cli import LineReader, spawn

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def tool(name: str) -> str:
    """The path of a Prometheus binary; in CI (CI set) a missing one fails instead of skipping."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is missing: apt-get install prometheus (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str, timeout: float = 5.0) -> tuple[int, dict[str, str], str]:
    """GET a URL: status, headers and body, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read().decode()


def series(exposition: str) -> Series:
    """Every sample of a text exposition, parsed by prometheus_client: (name, labels) -> value."""
    out: Series = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def node_values(parsed: Series, name: str) -> dict[str, float]:
    """One per-node metric by node name."""
    return {dict(labels)["node"]: value for (n, labels), value in parsed.items() if n == name}


@dataclass
class Served:
    """A running `pgcluster-tui serve` and what it printed."""

    process: subprocess.Popen[str]
    out: LineReader
    url: str

    def scrape(self) -> str:
        """GET /metrics (must answer 200)."""
        status, headers, body = get(self.url + "/metrics")
        assert status == 200, body
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return body

    def stderr(self) -> str:
        """Everything written to stderr (once the process has ended)."""
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def terminate(self, timeout: float = 5.0) -> tuple[int, float]:
        """SIGTERM; the exit code and the seconds it took to exit."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        return code, time.monotonic() - started


@contextmanager
def serving(*args: str, serve_args: Sequence[str] = ()) -> Iterator[Served]:
    """Start `pgcluster-tui ARGS serve --listen 127.0.0.1:0 SERVE_ARGS`; wait until it serves."""
    process = spawn(*args, "serve", "--listen", "127.0.0.1:0", *serve_args)
    reader = LineReader(process)
    try:
        line = reader.until(" serving ")
        found = re.search(r"url=(http://\S+)", line)
        assert found is not None, line
        yield Served(process, reader, found.group(1))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

"""Which names the doctor may probe, and how fast it starts probes."""

from __future__ import annotations

import pytest

from pgcluster_tui.erlang.steps import Pacer, is_long, split_node


@pytest.mark.parametrize(
    ("node", "parts"),
    [
        ("realtime@10.0.1.17", ("realtime", "10.0.1.17")),
        ("app@host.internal", ("app", "host.internal")),
        ("a-b_c.d@vm", ("a-b_c.d", "vm")),
        ("a@::1", ("a", "::1")),
        ("a@my_host-1", ("a", "my_host-1")),
    ],
)
def test_names_that_may_be_probed(node: str, parts: tuple[str, str]) -> None:
    assert split_node(node) == parts


@pytest.mark.parametrize(
    "node",
    [
        "no-at-sign",
        "@host",
        "a@",
        "a@b@c",
        "a b@host",
        "a@host name",
        "a@-host",
        "a@host-",
        "a@host..x",
        "a@x/y",
        "a@[::1]",
        "a@0.0.0.0",
        "a@::",
        "a@224.0.0.1",
        "a@\x1b[2J",
        "[bold]@host",
        "a@" + "x" * 64,
        "x" * 256 + "@host",
    ],
)
def test_names_that_are_never_probed(node: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        split_node(node)


def test_long_and_short_hosts() -> None:
    assert is_long("10.0.0.5")
    assert is_long("host.internal")
    assert is_long("::1")
    assert not is_long("vm")


async def test_the_pacer_spaces_starts_by_the_rate() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    pacer = Pacer(4.0, lambda: now[0], sleep)
    for _ in range(4):
        await pacer.wait()
    assert slept == [0.25, 0.25, 0.25]
    now[0] += 10
    await pacer.wait()
    assert slept == [0.25, 0.25, 0.25]

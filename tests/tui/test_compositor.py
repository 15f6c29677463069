"""The banded compositor: every partial update draws what a full render of the screen shows."""

from __future__ import annotations

from typing import Any

import pytest
from textual._compositor import ChopsUpdate
from textual.geometry import Region
from textual.strip import Strip

from pgcluster_tui.core.events import Notification
from pgcluster_tui.tui.compositor import BandedCompositor, bands, covered
from tests.tui.replay import NOW, make_app
from tests.waiting import wait_until


def test_bands_merge_overlapping_and_touching_runs_of_lines() -> None:
    regions = [Region(0, 30, 80, 2), Region(5, 0, 10, 2), Region(0, 1, 80, 3), Region(0, 4, 9, 1)]
    assert bands(regions) == [(0, 5), (30, 32)]
    assert bands([Region(0, 3, 0, 5), Region(0, 9, 4, 0)]) == []


def test_a_region_is_covered_only_when_every_cell_is() -> None:
    part = Region(0, 0, 10, 3)
    assert covered(part, [Region(0, 0, 10, 1), Region(0, 1, 4, 2), Region(4, 1, 6, 2)])
    assert covered(part, [Region(-5, -5, 30, 30)])
    assert not covered(part, [Region(0, 0, 10, 1), Region(0, 1, 4, 2), Region(5, 1, 5, 2)])
    assert not covered(part, [Region(0, 0, 10, 2)])
    assert not covered(part, [])


class Checked:
    """Wraps every partial update: its dirty lines must equal a full render's same lines."""

    def __init__(self) -> None:
        self.updates = 0
        self.lines = 0
        self.skipped_lines = 0
        self.mismatches: list[str] = []

    def check(self, compositor: BandedCompositor, update: ChopsUpdate | None) -> None:
        if update is None:
            return
        full = compositor.render_strips()
        self.updates += 1
        drawn_lines = {y for y, _, _ in update.spans}
        self.skipped_lines += compositor.size.height - len(drawn_lines)
        for y, x1, x2 in update.spans:
            pieces = []
            for (x, strip), end in zip(update.chops[y].items(), update.chop_ends[y], strict=True):
                if x >= x2 or end <= x1:
                    continue  # outside what this update writes: it may be left unrendered
                if strip is None:
                    self.mismatches.append(f"line {y}: the cut at {x} was not rendered")
                    break
                pieces.append((x, strip))
            else:
                start = pieces[0][0]
                joined = Strip.join([strip for _, strip in pieces])
                drawn = joined.crop(x1 - start, x2 - start).simplify()
                expected = full[y].crop(x1, x2).simplify()
                self.lines += 1
                if list(drawn) != list(expected):
                    self.mismatches.append(
                        f"line {y} [{x1}:{x2}]: {drawn.text!r} != {expected.text!r}"
                    )


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> Checked:
    checks = Checked()
    partial = BandedCompositor.render_partial_update

    def render_partial_update(self: BandedCompositor) -> Any:
        update = partial(self)
        checks.check(self, update)
        return update

    monkeypatch.setattr(BandedCompositor, "render_partial_update", render_partial_update)
    return checks


async def test_joins_keys_scrolling_and_the_help_draw_as_a_full_render_would(
    checked: Checked,
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        assert isinstance(app.screen._compositor, BandedCompositor)
        for wave in range(6):
            joins = [Notification(f"n{wave}x{i}@10.0.0.{i}", 100 + i, NOW + wave) for i in range(9)]
            app.replay(joins)
            await pilot.pause()
            app.tick()
            await pilot.pause()
        for key in ("down", "down", "s", "S", "p", "end", "p", "question_mark", "down", "escape"):
            await pilot.press(key)
            await pilot.pause()
        app.replay([Notification("late@10.0.0.99", 999, NOW + 9)])
        await wait_until(lambda: "late@10.0.0.99" in app.table.order)
        await pilot.pause()
        await pilot.resize_terminal(80, 24)
        app.replay([Notification(f"small{i}@h", 300 + i, NOW + 10) for i in range(3)])
        await pilot.pause()
        await pilot.press("home", "right", "right")
        await pilot.pause()
    assert checked.mismatches == []
    assert checked.updates >= 20, "the scenario made partial updates to check"
    assert checked.skipped_lines > 0, "some updates left lines alone"

"""A name whose letters mix scripts is marked wherever names are shown: it can impersonate."""

from __future__ import annotations

from pgcluster_tui.core.events import Notification
from pgcluster_tui.core.membership import Membership
from pgcluster_tui.headless import node_table
from pgcluster_tui.tui.screens.details import flags
from tests.tui.conftest import cell, log_text, make_settings, screen_text
from tests.tui.replay import NOW, replay_app
from tests.waiting import wait_until

REAL = "app@10.0.0.1"
FAKE = "\u0430pp@10.0.0.1"  # a Cyrillic а


async def test_a_mixed_script_name_is_marked_in_the_table_the_details_and_the_log() -> None:
    app = replay_app(make_settings("c"))
    async with app.run_test(size=(120, 36)) as pilot:
        app.replay([Notification(REAL, 1, NOW), Notification(FAKE, 2, NOW)])
        await wait_until(lambda: len(app.model) == 2)
        await pilot.pause()
        assert cell(app, FAKE, "name") == f"≈ {FAKE}"
        assert cell(app, REAL, "name") == REAL
        drawn = screen_text(app)
        assert f"≈ {FAKE}" in drawn
        assert "≈" not in drawn.replace(f"≈ {FAKE}", "")
        assert "CONFUSABLE" in log_text(app)
        assert any("CONFUSABLE" in flag for flag in flags(app.model.view(FAKE, NOW)))
        assert not any("CONFUSABLE" in flag for flag in flags(app.model.view(REAL, NOW)))


def test_the_plain_nodes_table_flags_a_mixed_script_name() -> None:
    model = Membership()
    model.observe(Notification(REAL, 1, NOW))
    model.observe(Notification(FAKE, 2, NOW))
    lines = node_table([model.view(REAL, NOW), model.view(FAKE, NOW)], model).splitlines()
    assert "CONFUSABLE" not in next(line for line in lines if REAL in line)
    assert "CONFUSABLE" in next(line for line in lines if FAKE in line)

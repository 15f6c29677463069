"""A screen whose updates render only the lines that changed, not the box around all of them.

Textual 8 renders a partial update by cropping to the box around every dirty region and
rendering every widget that box touches, each in full when it is fully visible: a changed
status line at the top and a new log line at the bottom re-render the whole table between them.
Here each run of dirty lines is rendered on its own, every widget cropped to it, and a widget
behind others there (the screen under the table) or beside every change is not rendered.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip

Render = tuple[Region, Region, list[Strip]]
"""A widget's region, the part of it drawn, and that part's lines."""


def bands(regions: Iterable[Region]) -> list[tuple[int, int]]:
    """The runs of lines (first, end) the regions cover, overlapping or touching ones merged."""
    runs = sorted((r.y, r.y + r.height) for r in regions if r.width > 0 and r.height > 0)
    merged: list[tuple[int, int]] = []
    for start, end in runs:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def covered(part: Region, fronts: list[Region]) -> bool:
    """Whether the regions in front, together, cover every cell of `part`."""
    if any(front.contains_region(part) for front in fronts):
        return True
    for y in range(part.y, part.y + part.height):
        x, right = part.x, part.x + part.width
        for start, end in sorted((f.x, f.x + f.width) for f in fronts if f.y <= y < f.y + f.height):
            if start > x:
                return False
            x = max(x, end)
            if x >= right:
                break
        if x < right:
            return False
    return True


class BandedCompositor(Compositor):
    """A compositor whose partial updates render, on the dirty lines only, the widgets that
    changed there and are not hidden behind a widget in front."""

    _dirty: list[tuple[int, int, list[Region]]] | None = None

    def render_partial_update(self) -> ChopsUpdate | None:
        regions = list(self._dirty_regions)
        # Each region lies in one band: bands are merged from the regions themselves.
        self._dirty = [
            (start, end, [r for r in regions if start <= r.y < end])
            for start, end in bands(regions)
        ]
        try:
            return super().render_partial_update()
        finally:
            self._dirty = None

    def _get_renders(self, crop: Region | None = None) -> Iterable[Render]:
        if self._dirty is None or crop is None:
            yield from super()._get_renders(crop)
            return
        front: list[list[Region]] = [[] for _ in self._dirty]
        for widget, (region, clip) in self.visible_widgets.items():
            shown = region.intersection(clip)
            for band, (start, end, changed) in enumerate(self._dirty):
                part = shown.intersection(Region(shown.x, start, shown.width, end - start))
                if not (part.width and part.height):
                    continue
                # Widgets come front to back, and the first to draw a cell wins it: one behind a
                # widget already drawn here would be discarded, one beside every change unused.
                if covered(part, front[band]):
                    continue
                front[band].append(part)
                if not any(part.overlaps(r) for r in changed):
                    continue
                # A crop relative to the widget, as Textual renders a widget cut by its clip.
                lines = Region(part.x - region.x, part.y - region.y, part.width, part.height)
                yield region, part, widget.render_lines(lines)


def supported() -> bool:
    """Whether this Textual's compositor has the steps BandedCompositor takes over."""
    return all(
        callable(getattr(Compositor, name, None))
        for name in ("render_partial_update", "_get_renders", "_render_chops")
    ) and hasattr(Compositor(), "_dirty_regions")


class BandedScreen(Screen[object]):
    """The default screen, with the banded compositor when this Textual has what it needs."""

    def __init__(self, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        if supported():
            self._compositor = BandedCompositor()

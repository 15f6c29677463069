"""Scroll views whose scroll bars are redrawn only when what they draw changes."""

from __future__ import annotations

import asyncio
import weakref
from math import ceil

from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.widget import Widget


def drawn(bar: ScrollBar) -> tuple[object, ...]:
    """What a scroll bar draws (its thumb's ends, to an eighth of a cell), as Textual renders it."""
    width, height = bar.size
    length, thickness = (height, width) if bar.vertical else (width, height)
    window = bar.window_size if bar.window_size < bar.window_virtual_size else 0
    segments = ScrollBarRender.render_bar(
        size=length,
        virtual_size=ceil(bar.window_virtual_size),
        window_size=ceil(window),
        position=bar.position,
        thickness=thickness,
        vertical=bar.vertical,
    )
    return tuple((segment.text, segment.style) for segment in segments.segments)


_moved: weakref.WeakKeyDictionary[ScrollBar, tuple[object, ...]] = weakref.WeakKeyDictionary()
"""Scroll bars moved in this turn of the loop, with what each drew before the turn."""


def move_bar(
    bar: ScrollBar,
    *,
    virtual_size: int | None = None,
    window_size: int | None = None,
    position: float | None = None,
) -> None:
    """Set a scroll bar's figures; redraw it, once the turn of the loop is over, only if its
    thumb moved by an eighth of a cell.

    Textual redraws a bar at every change of its figures: every row a growing table gains,
    every line a log adds and scrolls to, though the thumb mostly stays where it was drawn.
    The check waits for the end of the turn because one change comes in steps (a log grows,
    then scrolls): between them the thumb is elsewhere.
    """
    if bar not in _moved:
        _moved[bar] = drawn(bar)
        asyncio.get_running_loop().call_soon(_redraw_if_moved, bar)
    if virtual_size is not None:
        bar.set_reactive(ScrollBar.window_virtual_size, virtual_size)
    if window_size is not None:
        bar.set_reactive(ScrollBar.window_size, window_size)
    if position is not None:
        bar.set_reactive(ScrollBar.position, position)


def _redraw_if_moved(bar: ScrollBar) -> None:
    before = _moved.pop(bar, None)
    if bar.is_attached and drawn(bar) != before:
        bar.refresh()


def set_virtual_size(widget: Widget, size: Size) -> None:
    """Set what `widget` scrolls over; the screen is laid out again only if a scrollbar comes
    or goes (Textual's own `virtual_size` assignment lays out every widget each time)."""
    if widget.virtual_size == size:
        return
    if not widget.is_mounted:
        widget.virtual_size = size
        return
    widget.set_reactive(Widget.virtual_size, size)
    # What Textual runs when a resize changes only the virtual size (Widget._scroll_update):
    # the scrollbars' visibility (a change asks for the layout pass itself), then their window.
    widget._refresh_scrollbars()
    width, height = widget.container_size
    if widget.show_vertical_scrollbar and widget.styles.scrollbar_size_vertical:
        window = height - widget.scrollbar_size_horizontal
        move_bar(widget.vertical_scrollbar, virtual_size=size.height, window_size=window)
    if widget.show_horizontal_scrollbar and widget.styles.scrollbar_size_horizontal:
        window = width - widget.scrollbar_size_vertical
        move_bar(widget.horizontal_scrollbar, virtual_size=size.width, window_size=window)
    widget.scroll_x = widget.validate_scroll_x(widget.scroll_x)
    widget.scroll_y = widget.validate_scroll_y(widget.scroll_y)


class QuietScrollView(ScrollView):
    """A scroll view whose scroll bars follow the scroll position without a redraw each time."""

    def watch_scroll_x(self, old_value: float, new_value: float) -> None:
        if self.show_horizontal_scrollbar:
            move_bar(self.horizontal_scrollbar, position=new_value)
        if round(old_value) != round(new_value):
            self.refresh(self.size.region)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        if self.show_vertical_scrollbar:
            move_bar(self.vertical_scrollbar, position=new_value)
        if round(old_value) != round(new_value):
            self.refresh(self.size.region)

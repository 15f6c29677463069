"""Growing a scroll view without laying out the whole screen again."""

from __future__ import annotations

from textual.geometry import Size
from textual.widget import Widget


def set_virtual_size(widget: Widget, size: Size) -> None:
    """Set what `widget` scrolls over; the screen is laid out again only if a scrollbar comes
    or goes (Textual's own `virtual_size` assignment lays out every widget each time)."""
    if widget.virtual_size == size:
        return
    if not widget.is_mounted:
        widget.virtual_size = size
        return
    widget.set_reactive(Widget.virtual_size, size)
    # What Textual runs when a resize changes only the virtual size: the scrollbars' window
    # and visibility (a visibility change asks for the layout pass itself).
    widget._scroll_update(size)

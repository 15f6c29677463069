"""The node table's columns: fixed widths, and Node and Sender sized to what they show."""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from pgcluster_tui.core.text import mixed_scripts
from pgcluster_tui.tui.text import cells

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("state", "State", 9),
    ("name", "Node", 0),
    ("age", "Heartbeat age", 14),
    ("beats", "Beats", 5),
    ("interval", "Interval", 10),
    ("phi", "φ", 4),
    ("senders", "Sender pid addr app", 0),
    ("first", "Joined", 8),
    ("since", "Since", 8),
)
"""Column key, header and content width (0: sized to its content); one space pads either side."""

COLUMN_KEYS = tuple(key for key, _, _ in COLUMNS)
NAME = COLUMN_KEYS.index("name")
SENDERS = COLUMN_KEYS.index("senders")

NAME_WIDTHS = (12, 64)
"""The least and most cells of the Node column: a full IPv6 node name fits."""

SENDER_WIDTHS = (8, 64)
"""The least and most cells of the Sender column."""

FIXED_WIDTH = sum(width + 2 for _, _, width in COLUMNS)
"""Cells the fixed columns take, with the padding of every column."""

_PAD = Segment(" ")


@dataclass(frozen=True, slots=True)
class Layout:
    """The content width of every column, in COLUMNS order."""

    widths: tuple[int, ...]

    @property
    def total(self) -> int:
        """The table's width in cells."""
        return sum(width + 2 for width in self.widths)

    def column_at(self, x: int) -> str | None:
        """The column under table offset x, if any."""
        right = 0
        for key, width in zip(COLUMN_KEYS, self.widths, strict=True):
            right += width + 2
            if x < right:
                return key
        return None


def layout(available: int, name_need: int, sender_need: int) -> Layout:
    """Widths for a table `available` cells wide.

    The Node column gets what its widest name needs (bounded) even when the table must then
    scroll sideways: a cut name can look like another one. The Sender column gets what is left,
    up to its widest sender; every other column keeps its fixed width.
    """
    name = max(NAME_WIDTHS[0], min(name_need, NAME_WIDTHS[1]))
    room = available - FIXED_WIDTH - name
    least, most = SENDER_WIDTHS
    senders = max(least, min(sender_need, most, room))
    widths = [width for _, _, width in COLUMNS]
    widths[NAME], widths[SENDERS] = name, senders
    return Layout(tuple(widths))


def header_label(label: str, width: int, arrow: str) -> Text:
    """A header that keeps its sort arrow when the label is cut."""
    if not arrow:
        return Text(label)
    if cell_len(label) + 2 > width:
        text = Text(label)
        text.truncate(max(0, width - 2), overflow="ellipsis")
        label = text.plain
    return Text(f"{label} {arrow}")


def header(
    columns: Layout, arrow: tuple[str, str], style: Style, width: int, console: Console
) -> Strip:
    """The header line: every label fitted to its column, the sort column's with its arrow."""
    segments: list[Segment] = []
    for (column, label, _), column_width in zip(COLUMNS, columns.widths, strict=True):
        shown = arrow[0] if column == arrow[1] else ""
        segments += fit(header_label(label, column_width, shown), column_width, console)
    return line(segments, style, width, columns.total)


def cut_middle(text: Text, width: int) -> Text:
    """Cut to `width` cells by taking out the middle: names that share a prefix stay apart."""
    if text.cell_len <= width or width < 5:
        return text
    plain = text.plain
    keep = width - 1
    head = _chars_in(plain, keep - keep // 2)
    tail = _chars_in(plain[::-1], keep // 2)
    out = text[:head]
    out.append("…")
    out.append_text(text[len(plain) - tail :])
    return out


def _chars_in(plain: str, cells: int) -> int:
    """How many leading characters of `plain` fit in `cells` cells."""
    used = 0
    for index, char in enumerate(plain):
        used += cell_len(char)
        if used > cells:
            return index
    return len(plain)


def line(segments: list[Segment], style: Style, width: int, drawn: int) -> Strip:
    """One Strip of `width` cells: the table's `drawn` cells on `style`, padded to the right."""
    out = list(Segment.simplify(Segment.apply_style(segments, style)))
    if width > drawn:
        out.append(Segment(" " * (width - drawn), style))
    return Strip(out, width)


def joined(cells: list[list[Segment]], style: Style, width: int, drawn: int) -> Strip:
    """One Strip of `width` cells from cells already on `style`, padded to the right."""
    out = [segment for cell in cells for segment in cell]
    if width > drawn:
        out.append(Segment(" " * (width - drawn), style))
    return Strip(out, width)


class NameWidths:
    """The cells each node name takes, measured once per name."""

    def __init__(self) -> None:
        self._measured: dict[str, int] = {}

    def widest(self, names: list[str], own: str | None) -> int:
        """The cells the widest of `names` takes (ours with its star)."""
        measured = self._measured
        if len(measured) > 2 * len(names) + 1000:
            measured.clear()  # names forgotten since
        widest = 0
        for name in names:
            width = measured.get(name)
            if width is None:
                plain = name.isascii() and name.isprintable() and "\\" not in name
                width = len(name) if plain else cell_len(cells(name))
                if not plain and mixed_scripts(name):
                    width += 2  # the confusable mark
                measured[name] = width
            widest = max(widest, width)
        if own is not None and own in measured:
            widest = max(widest, measured[own] + 2)  # "★ "
        return widest


def fit(text: Text, width: int, console: Console) -> list[Segment]:
    """The segments of one cell: the text cut or padded to `width` cells, a space either side."""
    text.truncate(width, overflow="ellipsis")
    gap = width - text.cell_len
    if text.justify == "right":
        text.pad_left(gap)
    else:
        text.pad_right(gap)
    if not text.spans:
        # Text.render drops the base style of a text without spans.
        style = text.style if isinstance(text.style, Style) else Style.parse(text.style)
        return [_PAD, Segment(text.plain, style), _PAD]
    return [_PAD, *text.render(console), _PAD]

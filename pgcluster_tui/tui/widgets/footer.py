"""Textual's footer, without keeping every key it ever drew."""

from __future__ import annotations

from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    """The footer, pruning what each recompose leaves behind.

    Every change of bindings recomposes the footer, and each new key is data-bound to the
    footer's `compact`. Textual drops the watchers of removed keys only when `compact` changes
    (seen in textual 8.2.8), which it never does here, so every change kept a footer's worth of
    widgets alive (about 0.25 MB). Mutating `compact` after the recompose prunes them.
    Upstream: Textualize/textual#6666 (watchers of removed widgets are never removed).
    """

    async def recompose(self) -> None:
        await super().recompose()
        self.mutate_reactive(TextualFooter.compact)

"""Textual's footer, recomposed only when what it shows changes, keeping no key it drew before."""

from __future__ import annotations

from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    """The footer, recomposed only when its keys change, pruning what each recompose leaves.

    Textual recomposes the footer whenever the screen's bindings may have changed: at every
    change of focus and every refresh_bindings(), most of them (17 of 20 at start-up) with the
    same keys. A recompose mounts a dozen widgets and styles each, about 5 ms.

    Each new key is data-bound to the footer's `compact`. Textual drops the watchers of removed
    keys only when `compact` changes (seen in textual 8.2.8), which it never does here, so every
    recompose kept a footer's worth of widgets alive (about 0.25 MB). Mutating `compact` after
    the recompose prunes them. Upstream: Textualize/textual#6666 (watchers of removed widgets
    are never removed).
    """

    _composed: tuple[object, ...] | None = None
    recomposed = 0
    """How many times the keys were composed again (for tests)."""

    def shown(self) -> tuple[object, ...]:
        """What compose() draws from: each shown binding, its key's display, and its state."""
        display = self.app.get_key_display
        return (
            self.show_command_palette,
            *(
                (binding.key, display(binding), binding.description, binding.group, enabled, tip)
                for _, binding, enabled, tip in self.screen.active_bindings.values()
                if binding.show or binding.action == "command_palette"
            ),
        )

    async def recompose(self) -> None:
        if not self.is_attached:
            return
        shown = self.shown()
        if shown == self._composed:
            return
        self._composed = shown
        self.recomposed += 1
        await super().recompose()
        self.mutate_reactive(TextualFooter.compact)

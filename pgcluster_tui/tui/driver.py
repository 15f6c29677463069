"""Textual's Linux driver, reporting a lone Escape as the escape delay ends, not at a later poll."""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder

from textual import constants
from textual.driver import Driver

ESCAPE_SECONDS = 0.05
"""How long a lone ESC waits for the rest of a sequence, unless ESCDELAY (ms) says otherwise.

Terminals write a key's whole sequence at once, so 50 ms (Neovim's default) tells an Escape from
an arrow even over SSH; Textual waits 100 ms, then up to 100 ms more for its next poll."""
POLL_SECONDS = 0.1
"""How often the input thread looks at its exit flag when no key is pending (as Textual's)."""

try:
    from textual._loop import loop_last
    from textual._parser import ParseError
    from textual._time import get_time
    from textual._xterm_parser import XTermParser
    from textual.drivers.linux_driver import LinuxDriver
except ImportError:  # another Textual, or Windows: its own driver, unchanged
    LinuxDriver = None  # type: ignore[assignment,misc]


def input_wait(pending_until: float | None, now: float) -> float:
    """How long the input thread may wait for bytes: until a pending ESC is due, else a poll."""
    if pending_until is None:
        return POLL_SECONDS
    return min(POLL_SECONDS, max(0.0, pending_until - now))


def driver_class(default: type[Driver]) -> type[Driver]:
    """PromptEscapeDriver where Textual's Linux driver is the default and looks as expected."""
    if LinuxDriver is None or default is not LinuxDriver or not _parser_as_expected():
        return default
    if "ESCDELAY" not in os.environ:
        # The parser reads the delay from this module at every ESC; ESCDELAY is the user's.
        setattr(constants, "ESCAPE_DELAY", ESCAPE_SECONDS)  # noqa: B010
    return PromptEscapeDriver


def _parser_as_expected() -> bool:
    parser = XTermParser()
    return hasattr(parser, "_timeout_time") and hasattr(parser, "tick")


if LinuxDriver is not None:

    class PromptEscapeDriver(LinuxDriver):
        """LinuxDriver whose input thread wakes when a pending ESC is due (Textual polls 0.1 s)."""

        def run_input_thread(self) -> None:
            """Textual's input loop, with the wait bounded by the parser's pending timeout."""
            selector = selectors.SelectSelector()
            selector.register(self.fileno, selectors.EVENT_READ)
            parser = XTermParser(self._debug)
            decode = getincrementaldecoder("utf-8")().decode

            def process(events: list[tuple[selectors.SelectorKey, int]], final: bool) -> None:
                for last, (_key, mask) in loop_last(events):
                    if mask & selectors.EVENT_READ:
                        data = decode(os.read(self.fileno, 4096), final=final and last)
                        if not data:
                            break
                        for event in parser.feed(data):
                            self.process_message(event)
                for event in parser.tick():
                    self.process_message(event)

            try:
                while not self.exit_event.is_set():
                    wait = input_wait(parser._timeout_time, get_time())
                    process(selector.select(wait), final=False)
                selector.unregister(self.fileno)
                process(selector.select(POLL_SECONDS), final=True)
            finally:
                selector.close()
                try:
                    for _event in parser.feed(""):
                        pass
                except (EOFError, ParseError):
                    pass

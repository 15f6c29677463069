"""Textual's Linux driver, reporting a lone Escape as the escape delay ends, not at a later poll."""

from __future__ import annotations

import contextlib
import os
import selectors
import threading
from codecs import getincrementaldecoder
from typing import Any

from textual import constants
from textual.driver import Driver

ESCAPE_SECONDS = 0.02
"""How long a lone ESC waits for the rest of a sequence, unless ESCDELAY (ms) says otherwise.

Terminals write a key's whole sequence at once, so 20 ms (tmux waits 10, Neovim 50) tells an
Escape from an arrow even over SSH; Textual waits 100 ms, then up to 100 ms more for its next
poll. Terminals with the kitty keyboard protocol, which Textual turns on, send no lone ESC."""

try:
    from textual._loop import loop_last
    from textual._parser import ParseError
    from textual._time import get_time
    from textual._xterm_parser import XTermParser
    from textual.drivers.linux_driver import LinuxDriver
except ImportError:  # another Textual, or Windows: its own driver, unchanged
    LinuxDriver = None  # type: ignore[assignment,misc]


def input_wait(pending_until: float | None, now: float) -> float | None:
    """How long the input thread may wait for bytes: until a pending ESC is due, else for ever."""
    if pending_until is None:
        return None
    return max(0.0, pending_until - now)


class WakingEvent(threading.Event):
    """The input thread's exit flag: setting it also wakes the thread's wait, so none polls."""

    def __init__(self) -> None:
        super().__init__()
        self._wake_fd: int | None = None
        self._lock = threading.Lock()

    def wake_through(self, fd: int | None) -> None:
        """Write a byte to `fd` on each set (None: no more)."""
        with self._lock:
            self._wake_fd = fd

    def set(self) -> None:
        super().set()
        with self._lock:
            if self._wake_fd is not None:
                with contextlib.suppress(OSError):  # full: the thread is awake anyway
                    os.write(self._wake_fd, b"x")


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
        """LinuxDriver whose input thread wakes when a pending ESC is due or it must stop, and
        otherwise sleeps until a key comes (Textual's polls every 0.1 s)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.exit_event = WakingEvent()

        def run_input_thread(self) -> None:
            """Textual's input loop, with the wait bounded by the parser's pending timeout."""
            wake_read, wake_write = os.pipe()
            os.set_blocking(wake_write, False)
            exit_event = self.exit_event
            assert isinstance(exit_event, WakingEvent)
            exit_event.wake_through(wake_write)
            selector = selectors.SelectSelector()
            selector.register(self.fileno, selectors.EVENT_READ)
            selector.register(wake_read, selectors.EVENT_READ)
            parser = XTermParser(self._debug)
            decode = getincrementaldecoder("utf-8")().decode

            def process(events: list[tuple[selectors.SelectorKey, int]], final: bool) -> None:
                events = [(key, mask) for key, mask in events if key.fd == self.fileno]
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
                while not exit_event.is_set():
                    wait = input_wait(parser._timeout_time, get_time())
                    process(selector.select(wait), final=False)
                process([], final=True)  # Textual's own: a wait on nothing, then the last flush
            finally:
                exit_event.wake_through(None)
                selector.close()
                os.close(wake_read)
                os.close(wake_write)
                try:
                    for _event in parser.feed(""):
                        pass
                except (EOFError, ParseError):
                    pass

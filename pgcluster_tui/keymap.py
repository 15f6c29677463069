"""The dashboard's key ids and default keys, and what a remap may not do: no Textual needed."""

from __future__ import annotations

from collections.abc import Mapping

KEY_DEFAULTS: dict[str, str] = {
    "announce": "a",
    "announce_as": "A",
    "forget": "f,delete",
    "forget_stale": "F",
    "heartbeat": "h",
    "filter": "slash",
    "clear_filter": "escape",
    "sort": "s",
    "reverse": "S",
    "pause": "p",
    "clear_log": "c",
    "export": "e",
    "help": "question_mark",
    "quit": "q",
    "quit_now": "ctrl+c",
    "details": "enter",
    "doctor": "D",
    "doctor_all": "ctrl+d",
    "census": "C",
}
"""Every binding id of the dashboard and its keys (tests keep this and tui/keys.py alike)."""


def keymap_problem(remaps: Mapping[str, str]) -> str | None:
    """Why a remap of `settings.keys` cannot be used, in one line; None when it can."""
    unknown = sorted(set(remaps) - set(KEY_DEFAULTS))
    if unknown:
        known = ", ".join(sorted(KEY_DEFAULTS))
        return f"invalid setting keys: no binding {unknown[0]!r}; known: {known}"
    owner: dict[str, str] = {}
    for binding_id, default in KEY_DEFAULTS.items():
        keys = remaps.get(binding_id, default)
        for key in (k.strip() for k in keys.split(",")):
            if not key:
                return f"invalid setting keys: an empty key for {binding_id!r}"
            other = owner.setdefault(key, binding_id)
            if other != binding_id:
                return f"invalid setting keys: {key!r} would be both {other!r} and {binding_id!r}"
    return None

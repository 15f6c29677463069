"""Read LISTEN, NOTIFY and pg_notify statements as PostgreSQL's own scanner would."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum, StrEnum

from pgcluster_tui.core.protocol import MAX_IDENTIFIER_BYTES


class Kind(Enum):
    """What a token is."""

    WORD = "word"  # an unquoted identifier or keyword, folded to lower case
    QUOTED = "quoted"  # a "quoted" identifier, case kept
    STRING = "string"  # a 'literal' or $$literal$$
    PARAM = "param"  # $1: a bound parameter, its value not in the text
    NUMBER = "number"
    PUNCT = "punct"  # , ( ) ; . [ ] and operators such as ::
    UNREAD = "unread"  # what we do not decode (E'', U&, B'', X''): never guessed


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its value as the server sees it, and how it was written."""

    kind: Kind
    value: str
    raw: str
    truncated: bool = False


class Unterminated(ValueError):
    """A quote, literal or comment that never ends (the text was cut short)."""

    def __init__(self, what: str, start: int) -> None:
        super().__init__(what)
        self.start = start


_SPACE = " \t\n\r\f\v"
_OPERATOR = set("+-*/<>=~!@#%^&|`?:")


def _ident_start(ch: str) -> bool:
    return not ch.isascii() or ch.isalpha() or ch == "_"


def _ident_char(ch: str) -> bool:
    return _ident_start(ch) or "0" <= ch <= "9" or ch == "$"


def fold(identifier: str) -> str:
    """Fold an unquoted identifier as PostgreSQL does in UTF-8: ASCII letters only."""
    return "".join(ch.lower() if "A" <= ch <= "Z" else ch for ch in identifier)


def truncate_identifier(identifier: str) -> tuple[str, bool]:
    """Cut an identifier to 63 bytes on a character boundary, as the server does."""
    raw = identifier.encode("utf-8", "surrogatepass")
    if len(raw) <= MAX_IDENTIFIER_BYTES:
        return identifier, False
    return raw[:MAX_IDENTIFIER_BYTES].decode("utf-8", "ignore"), True


def tokenize(text: str) -> list[Token]:
    """Split SQL into tokens; a quote or comment that runs off the end becomes one UNREAD token."""
    tokens: list[Token] = []
    try:
        _scan(text, tokens)
    except Unterminated as exc:
        rest = text[exc.start :]
        tokens.append(Token(Kind.UNREAD, f"{exc} cut short", rest))
    return tokens


def _scan(text: str, tokens: list[Token]) -> None:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _SPACE:
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            i = _skip_comment(text, i)
        elif ch == "'":
            i = _string(text, i, tokens)
        elif ch == '"':
            i = _quoted(text, i, tokens)
        elif ch == "$" and i + 1 < n and text[i + 1].isdigit():
            j = i + 1
            while j < n and text[j].isdigit():
                j += 1
            tokens.append(Token(Kind.PARAM, text[i:j], text[i:j]))
            i = j
        elif ch == "$":
            i = _dollar(text, i, tokens)
        elif _prefixed_literal(text, i):
            j = _end_of_prefixed(text, i)
            tokens.append(Token(Kind.UNREAD, text[i:j], text[i:j]))
            i = j
        elif _ident_start(ch):
            j = i + 1
            while j < n and _ident_char(text[j]):
                j += 1
            value, cut = truncate_identifier(fold(text[i:j]))
            tokens.append(Token(Kind.WORD, value, text[i:j], cut))
            i = j
        elif "0" <= ch <= "9" or (ch == "." and i + 1 < n and "0" <= text[i + 1] <= "9"):
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "._"):
                j += 1
            tokens.append(Token(Kind.NUMBER, text[i:j], text[i:j]))
            i = j
        elif ch in _OPERATOR:
            j = i + 1
            while j < n and text[j] in _OPERATOR:
                j += 1
            tokens.append(Token(Kind.PUNCT, text[i:j], text[i:j]))
            i = j
        else:
            tokens.append(Token(Kind.PUNCT, ch, ch))
            i += 1


def _skip_comment(text: str, i: int) -> int:
    """Skip a /* comment */, which nests in PostgreSQL."""
    depth, j = 0, i
    while j < len(text):
        if text.startswith("/*", j):
            depth, j = depth + 1, j + 2
        elif text.startswith("*/", j):
            depth, j = depth - 1, j + 2
            if depth == 0:
                return j
        else:
            j += 1
    raise Unterminated("a comment", i)


def _closing(text: str, i: int, quote: str) -> tuple[str, int]:
    """The body of a quoted run starting at i (doubled quotes kept once) and the end."""
    parts: list[str] = []
    j = i + 1
    while True:
        end = text.find(quote, j)
        if end < 0:
            raise Unterminated("a quoted identifier" if quote == '"' else "a string literal", i)
        parts.append(text[j:end])
        if text.startswith(quote * 2, end):
            parts.append(quote)
            j = end + 2
        else:
            return "".join(parts), end + 1


def _string(text: str, i: int, tokens: list[Token]) -> int:
    value, end = _closing(text, i, "'")
    previous = tokens[-1] if tokens else None
    # 'a'<newline>'b' is one literal 'ab' (the SQL standard's continuation).
    if previous is not None and previous.kind is Kind.STRING and previous.raw.startswith("'"):
        before = text[:i].rstrip(_SPACE)
        gap = text[len(before) : i]
        if "\n" in gap and before.endswith(previous.raw):
            tokens[-1] = Token(
                Kind.STRING, previous.value + value, previous.raw + gap + text[i:end]
            )
            return end
    tokens.append(Token(Kind.STRING, value, text[i:end]))
    return end


def _quoted(text: str, i: int, tokens: list[Token]) -> int:
    value, end = _closing(text, i, '"')
    if not value:
        tokens.append(Token(Kind.UNREAD, text[i:end], text[i:end]))  # a syntax error
        return end
    value, cut = truncate_identifier(value)
    tokens.append(Token(Kind.QUOTED, value, text[i:end], cut))
    return end


def _dollar(text: str, i: int, tokens: list[Token]) -> int:
    """A $tag$...$tag$ literal, verbatim; a lone $ is punctuation."""
    j = i + 1
    while j < len(text) and _ident_char(text[j]) and text[j] != "$":
        j += 1
    if j >= len(text) or text[j] != "$":
        tokens.append(Token(Kind.PUNCT, "$", "$"))
        return i + 1
    tag = text[i : j + 1]
    end = text.find(tag, j + 1)
    if end < 0:
        raise Unterminated("a dollar-quoted literal", i)
    tokens.append(Token(Kind.STRING, text[j + 1 : end], text[i : end + len(tag)]))
    return end + len(tag)


def _prefixed_literal(text: str, i: int) -> bool:
    """E'..', U&'..', U&"..", B'..', X'..', N'..': literals we mark unread rather than guess."""
    head = text[i : i + 3].upper()
    return head[:2] in ("E'", "B'", "X'", "N'") or head in ("U&'", 'U&"')


def _end_of_prefixed(text: str, i: int) -> int:
    start = i + (2 if text[i + 1] == "&" else 1)
    quote = text[start]
    j = start + 1
    while j < len(text):
        escaped = text[j] == "\\" and quote == "'"
        if escaped or text.startswith(quote * 2, j):
            j += 2
        elif text[j] == quote:
            return j + 1
        else:
            j += 1
    raise Unterminated("a prefixed literal", i)


def statements(tokens: list[Token]) -> list[list[Token]]:
    """Split tokens into statements at top-level semicolons; empty statements dropped."""
    out: list[list[Token]] = [[]]
    for token in tokens:
        if token.kind is Kind.PUNCT and token.value == ";":
            out.append([])
        else:
            out[-1].append(token)
    return [statement for statement in out if statement]


# Statements


class Verb(StrEnum):
    """What a statement does to a channel."""

    LISTEN = "listen"
    NOTIFY = "notify"


@dataclass(frozen=True, slots=True)
class Action:
    """A statement's effect on a channel, as far as its text shows it."""

    verb: Verb
    channel: str | None
    """None when the text does not show it (a bound parameter, unread, cut short)."""
    payload: str | None = None
    """NOTIFY's payload; None when the text does not show it."""
    how: str = "unread"
    """How the channel was written: quoted, unquoted, function, parameter or unread."""
    spelled: str = ""
    """The channel as written in the statement."""
    truncated: bool = False
    """Whether the identifier was over 63 bytes and cut."""
    note: str = ""
    """Why something is not shown, or that the statement fails."""


def read_actions(query: str) -> list[Action]:
    """Every LISTEN or NOTIFY (statement or pg_notify call) in a query text, in order."""
    actions = []
    for statement in statements(tokenize(query)):
        action = _action(statement)
        if action is not None:
            actions.append(action)
    return actions


def _is(token: Token, word: str) -> bool:
    return token.kind is Kind.WORD and token.value == word


def _action(tokens: list[Token]) -> Action | None:
    first = tokens[0]
    if _is(first, "listen"):
        return _listen_or_notify(Verb.LISTEN, tokens[1:])
    if _is(first, "notify"):
        return _listen_or_notify(Verb.NOTIFY, tokens[1:])
    if _is(first, "select") and any(_is(t, "pg_notify") for t in tokens):
        return _pg_notify(tokens[1:])
    if first.kind is Kind.UNREAD and any(w in first.raw.lower() for w in ("listen", "notify")):
        return Action(Verb.NOTIFY, None, note=f"not read: {first.value}")
    return None


def _listen_or_notify(verb: Verb, rest: list[Token]) -> Action:
    if not rest or rest[0].kind not in (Kind.WORD, Kind.QUOTED):
        return Action(verb, None, note=_unread(rest))
    name = rest[0]
    how = "quoted" if name.kind is Kind.QUOTED else "unquoted"
    action = Action(verb, name.value, None, how, name.raw, name.truncated)
    if verb is Verb.LISTEN:
        return action if len(rest) == 1 else Action(verb, None, note=_unread(rest[1:]))
    if len(rest) == 1:
        return replace(action, payload="")
    if len(rest) == 3 and rest[1].value == "," and rest[2].kind is Kind.STRING:
        return replace(action, payload=rest[2].value)
    if len(rest) >= 3 and rest[1].value == "," and rest[2].kind is Kind.UNREAD:
        return replace(action, note=f"payload not read: {rest[2].value}")
    return Action(verb, None, note=_unread(rest[1:]))


def _pg_notify(rest: list[Token]) -> Action:
    if len(rest) >= 2 and _is(rest[0], "pg_catalog") and rest[1].value == ".":
        rest = rest[2:]
    if len(rest) < 3 or not _is(rest[0], "pg_notify") or rest[1].value != "(":
        return Action(Verb.NOTIFY, None, note=_unread(rest))
    args, tail = _arguments(rest[2:])
    channel, payload = args if len(args) == 2 else (None, None)
    if tail or channel is None or payload is None:
        return Action(Verb.NOTIFY, None, note="not read: pg_notify with other arguments")
    action = Action(Verb.NOTIFY, None, None, "function", channel.raw)
    if channel.kind is Kind.PARAM:
        action = replace(action, how="parameter", note="channel not visible: a bound parameter")
    elif channel.kind is Kind.STRING:
        size = len(channel.value.encode("utf-8", "surrogatepass"))
        if not channel.value or size > MAX_IDENTIFIER_BYTES:
            why = "empty" if not channel.value else f"{size} bytes, over {MAX_IDENTIFIER_BYTES}"
            return replace(action, note=f"fails: the channel name is {why}")
        action = replace(action, channel=channel.value)
    else:
        return replace(action, how="unread", note=f"channel not read: {channel.value}")
    if payload.kind is Kind.STRING:
        return replace(action, payload=payload.value)
    what = "a bound parameter" if payload.kind is Kind.PARAM else payload.value
    return replace(action, note=(action.note + "; " if action.note else "") + f"payload: {what}")


def _arguments(tokens: list[Token]) -> tuple[list[Token | None], list[Token]]:
    """Arguments up to the closing parenthesis: each one value, `::type` casts allowed."""
    args: list[Token | None] = []
    current: list[Token] = []
    for index, token in enumerate(tokens):
        if token.value in (",", ")") and token.kind is Kind.PUNCT:
            value = current[0] if current else None
            plain = len(current) == 1 or (
                len(current) == 3 and current[1].value == "::" and current[2].kind is Kind.WORD
            )
            ok = value is not None and plain and value.kind in _VALUES
            args.append(value if ok else None)
            current = []
            if token.value == ")":
                return args, tokens[index + 1 :]
        else:
            current.append(token)
    return [None], []


_VALUES = (Kind.STRING, Kind.PARAM, Kind.UNREAD)


def _unread(rest: list[Token]) -> str:
    unread = next((t for t in rest if t.kind is Kind.UNREAD), None)
    return f"not read: {unread.value}" if unread is not None else "not read: an unexpected form"

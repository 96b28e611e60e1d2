"""What PostgreSQL can store, checked once, where a client's value comes in: every JSON body (the API's parser and
allauth's headless endpoints), every form field, every row of an upload, every JSON value sent as text in a form;
and `clip` for text that comes from elsewhere (a webhook receiver's error).

Python accepts values that `text` and `jsonb` columns refuse (a NUL character, a lone UTF-16 surrogate, NaN and
infinities), values past what the project promises to keep (integers beyond 64 bits, a string over a megabyte,
structures nested deeper than `MAX_DEPTH`), and documents that break the parser itself (nesting past Python's
recursion limit, an integer of more than 4,300 digits). `loads` parses JSON and `check` walks a value already
parsed; both raise `NotStorable`, which names where the value is (`label_schema.classes[1]`) and why, in a message
that never repeats the offending characters (error lists are stored and rendered as JSON too).

Pure Python, no Django: the upload reader, the API's parser and serializer field, and allauth's middleware share it.
"""

import json
import math
import re
from json.decoder import WHITESPACE, scanstring
from typing import Any

MAX_DEPTH = 32  # objects and arrays, counting the outermost
MAX_INTEGER = 2**63 - 1  # PostgreSQL's bigint; JSON integers are kept exactly, so nothing larger
MAX_STRING_CHARS = 1_000_000
_MAX_INTEGER_CHARS = len(str(-MAX_INTEGER))  # a longer JSON integer is out of range: no need to convert it
_SURROGATE = re.compile("[\ud800-\udfff]")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Path = tuple[str | int, ...]


class NotStorable(ValueError):
    """A value the database cannot (or the project will not) store: `path` says where, `reason` why."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(self.message)

    @property
    def field(self) -> str | None:
        """The top-level key the value sits under (escaped if the key itself is the problem), or None."""
        if not self.path or not isinstance(self.path[0], str):
            return None
        return safe_text(self.path[0])

    @property
    def message(self) -> str:
        return f"{render_path(self.path) or 'The value'} {self.reason}."


class _OversizedInteger:
    """What the parser keeps for an integer too long to be in range, so `check` reports it where it was."""

    __slots__ = ()


def _parse_int(digits: str) -> int | _OversizedInteger:
    # Python refuses to convert more than 4,300 digits (a ValueError that names no place): never try.
    return int(digits) if len(digits) <= _MAX_INTEGER_CHARS else _OversizedInteger()


_DECODER = json.JSONDecoder(parse_int=_parse_int)
# Whatever `check` could refuse leaves a mark in a document's JSON text: a NUL or a lone surrogate is escaped (or raw),
# a non-finite number is a token, a long run of digits or a long exponent, a large integer a long run of digits, deep
# nesting many brackets. A text without any needs no walk: the common case costs a few substring searches.
_NUMBER_MARK = re.compile(r"[0-9](?:[0-9]{18}|[eE][+-]?[0-9]{3})")
_ESCAPE_MARK = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def suspect(text: str) -> bool:
    """False when no value parsed from the JSON `text` can be refused by `check` (True may be a false alarm)."""
    return (
        len(text) > MAX_STRING_CHARS
        or ("\\u" in text and _ESCAPE_MARK.search(text) is not None)
        or "\x00" in text
        or "NaN" in text
        or "Infinity" in text
        or text.count("[") + text.count("{") > MAX_DEPTH
        or (not text.isascii() and _SURROGATE.search(text) is not None)
        or _NUMBER_MARK.search(text) is not None
    )


def check_strings(record: dict[str, str]) -> None:
    """`check` for a flat record of strings (a CSV row), where only NUL, surrogates and length can be wrong: one
    search over the joined values, and the walk only for a row that fails it."""
    joined = "".join(record.values())
    if "\x00" in joined or len(joined) > MAX_STRING_CHARS or (not joined.isascii() and _SURROGATE.search(joined)):
        check(record)


def loads(text: str) -> Any:
    """Parse a JSON document and `check` it. Raises `json.JSONDecodeError` for bad syntax, `NotStorable` for a
    well-formed document the database cannot store (NaN, Infinity and out-of-range numbers are parsed, then refused
    where they are)."""
    try:
        value = _decode(text)
    except RecursionError:
        raise NotStorable(_deep_member(text), _too_deep()) from None
    if suspect(text):
        _walk(value, ())
    return value


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # an integer of more than 4,300 digits, which Python will not convert: parse it as a marker
        return _DECODER.decode(text)


def check(value: Any, path: Path = ()) -> None:
    """Raise `NotStorable` for the first part of `value`, in document order, that cannot be stored."""
    try:
        if not suspect(json.dumps(value, ensure_ascii=False)):
            return
    except (TypeError, ValueError, RecursionError):
        pass  # not plain JSON types, or too deep for the encoder: the walk below tells
    _walk(value, path)


def _walk(value: Any, path: Path) -> None:
    # Iterative, so that any depth is reported rather than exhausting the stack.
    stack: list[tuple[Any, Path]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            _check_text(node, where)
        elif isinstance(node, bool) or node is None:
            continue
        elif isinstance(node, int | _OversizedInteger):
            if isinstance(node, _OversizedInteger) or abs(node) > MAX_INTEGER:
                raise NotStorable(where, f"is an integer outside ±{MAX_INTEGER} (64 bits)")
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise NotStorable(where, "is not a finite number (NaN and Infinity cannot be stored)")
        elif isinstance(node, dict | list | tuple):
            if len(where) - len(path) >= MAX_DEPTH:
                raise NotStorable(where[: len(path) + 1], _too_deep())
            stack.extend(reversed(_children(node, where)))


def _children(node: dict | list | tuple, where: Path) -> list[tuple[Any, Path]]:
    if isinstance(node, dict):
        for key in node:
            if isinstance(key, str):
                _check_text(key, where, is_key=True)
        return [(item, (*where, key)) for key, item in node.items()]
    return [(item, (*where, index)) for index, item in enumerate(node)]


def _check_text(text: str, where: Path, *, is_key: bool = False) -> None:
    reason = text_problem(text)
    if reason is not None and is_key:
        raise NotStorable((*where, text), f"is a key that {reason.removeprefix('is ')}")
    if reason is not None:
        raise NotStorable(where, reason)


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored in a text or jsonb column, or None."""
    if len(text) > MAX_STRING_CHARS:
        return f"is longer than {MAX_STRING_CHARS:,} characters"
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which PostgreSQL cannot store"
    if not text.isascii() and _SURROGATE.search(text):
        return "contains a lone UTF-16 surrogate (\\ud800-\\udfff), which is not valid Unicode"
    return None


def clip(text: str, limit: int) -> str:
    """Text from outside (a remote server's error, say) made fit for a column of `limit` characters: NUL and lone
    surrogates escaped (`\\u0000`, `\\ud800`), then cut to the limit."""
    if "\x00" in text or (not text.isascii() and _SURROGATE.search(text)):
        text = text.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")
    return text[:limit]


def _too_deep() -> str:
    return f"is nested deeper than {MAX_DEPTH} levels"


def safe_text(text: str, limit: int = 64) -> str:
    """`text` fit to show in an error that is stored and rendered: as it is if storable and short, otherwise
    shortened and with every character outside printable ASCII escaped."""
    if len(text) <= limit and text.isprintable() and text_problem(text) is None:
        return text
    return json.dumps(text[:limit])[1:-1] + ("..." if len(text) > limit else "")


def render_path(path: Path) -> str:
    """`("label_schema", "classes", 1)` -> `label_schema.classes[1]`; odd keys are quoted, and escaped if need be."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not out and safe_text(part) == part:
            out = part
        elif _IDENTIFIER.match(part) and len(part) <= 64:
            out += f".{part}"
        else:
            out += f'["{safe_text(part)}"]'
    return out


def _deep_member(text: str) -> Path:
    """After a RecursionError: the top-level key whose value is too deep, found by parsing the outer object one
    member at a time; `()` when the document is not an object or cannot be read that way."""
    try:
        index = WHITESPACE.match(text, 0).end()
        if text[index] != "{":
            return ()
        index += 1
        while True:
            index = WHITESPACE.match(text, index).end()
            key, index = scanstring(text, index + 1)
            index = WHITESPACE.match(text, index).end() + 1  # past the colon
            index = WHITESPACE.match(text, index).end()
            try:
                _, index = _DECODER.raw_decode(text, index)
            except RecursionError:
                return (key,)
            index = WHITESPACE.match(text, index).end()
            if text[index] != ",":
                return ()
            index += 1
    except (ValueError, IndexError):
        return ()

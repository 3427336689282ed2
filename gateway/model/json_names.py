"""The one rule on the member names of a JSON request body: an object names each member once.

RFC 8259 §4: with duplicate names "the behavior of software that receives such an object is
unpredictable". Our model parser (pydantic) keeps the last value, a proxy, a log or the invoicing system's
own reader may keep the first: one body would then mean two requests, the one checked or logged and the
one acted on. Every JSON body of the API is therefore read here first, and refused when an object in it,
at any depth, repeats a name (``gateway.api.schemas.parse_json_body`` and
``gateway.services.conversion.parse_document_json`` answer it as they answer malformed JSON).

The check is a pass of the standard library's C reader whose object hook only compares counts and keeps
nothing (numbers stay text: no int-size limit applies); the name's place is looked up by a second, slower
pass only when a body is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

#: Repeated names reported for one body (a hostile body may repeat a million).
MOST_REPORTED: Final = 20

#: The problem of a body the model parser read but the name check could not (no such body is known: the
#: model parser is the stricter reader); its names were not checked, so it is refused.
UNCHECKED_NAMES: Final = "not readable as JSON by the duplicate-key check (RFC 8259 §4), so refused"

#: Characters of a name or a path shown in an answer; a longer one is cut, with an ellipsis.
SHOWN_CHARACTERS: Final = 200


@dataclass(frozen=True)
class RepeatedName:
    """A member name an object of the body holds more than once.

    Attributes:
        name: the name.
        path: where its second (or later) occurrence is: the names and array indexes from the top of the
            body down to the member itself (so ``path[-1] == name``).
    """

    name: str
    path: tuple[str | int, ...]

    @property
    def pointer(self) -> str:
        """The place as a JSON Pointer (RFC 6901), e.g. ``/seller/address/city``; unambiguous, unlike the
        dotted ``location`` (a name may hold a dot)."""
        parts = (str(p).replace("~", "~0").replace("/", "~1") for p in self.path)
        return _sendable(_shown("".join(f"/{part}" for part in parts)))

    @property
    def location(self) -> str:
        """The place in the API's usual dotted form of a field's location, e.g. ``seller.address.city``."""
        return _sendable(_shown(".".join(str(p) for p in self.path)))

    @property
    def message(self) -> str:
        """The sentence an answer gives for it (the same on every route)."""
        return (
            f"duplicate key {_shown(self.name)!r} at {self.pointer}: an object may hold a name once "
            "(RFC 8259 §4; readers differ on which value counts)"
        )


def _shown(text: str) -> str:
    return text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS] + "…"


def _sendable(text: str) -> str:
    """``text`` with each lone surrogate as its ``\\udXXX`` escape: a name may escape one (``"\\ud800"``), and
    UTF-8, which the answer is written in, cannot carry it (the message's ``repr`` escapes it already)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class _RepeatSeen:
    """The object hook of the first pass: notes whether an object repeats a name, keeps nothing.

    It does not stop the pass at the first repeat: the rest of the body may not be JSON at all, and such a
    body is answered as malformed (by the model parser), not as holding a repeated name.
    """

    def __init__(self) -> None:
        self.seen = False

    def __call__(self, members: list[tuple[str, Any]]) -> None:
        # Returns None: the first pass keeps no value (the caller's model parser builds the real one).
        if not self.seen and len(members) > 1 and len(dict(members)) != len(members):
            self.seen = True


class _ObjectsNoting:
    """The object hook of ``loads_checked``: builds each object as a dict (the last value of a repeated name,
    as ``json.loads``) and notes whether any object repeats a name."""

    def __init__(self) -> None:
        self.seen = False

    def __call__(self, members: list[tuple[str, Any]]) -> dict[str, Any]:
        built = dict(members)
        if len(built) != len(members):
            self.seen = True
        return built


class _Members(list[tuple[str, Any]]):
    """An object of the second pass: its members in order, a repeated name kept."""


def repeated_names(
    data: bytes | str, *, on_float: Callable[[str], object] | None = None
) -> list[RepeatedName] | None:
    """The member names repeated within one object of ``data``, in document order (at most
    ``MOST_REPORTED``); ``[]`` when there is none. ``on_float``: called with every number literal with a
    point or an exponent, in the same pass (a caller judging them needs no pass of its own).

    None when the standard library cannot read ``data`` at all (malformed, too deep, not UTF-8/16/32):
    the caller's model parser then answers. It is the stricter reader of the two (it also refuses UTF-16,
    lone surrogates, nesting deeper than 200), so it refuses such a body in turn; a caller whose parser
    accepts it anyway must refuse the body itself, as one whose names could not be checked.
    """
    repeats = _RepeatSeen()
    try:
        _read(data, repeats, on_float)
        if not repeats.seen:
            return []
        tree = _read(data, _Members)
    except (ValueError, RecursionError):
        return None
    found: list[RepeatedName] = []
    for repeated in _walk(tree):
        found.append(repeated)
        if len(found) == MOST_REPORTED:
            break
    return found


def loads_checked(data: bytes | str) -> tuple[Any, list[RepeatedName]]:
    """``data`` read once by the standard library's reader (numbers as ``json.loads`` reads them), with the
    names it repeats (``repeated_names``; looked up by a second pass only when some object repeats one).

    For a caller that has no model parser of its own (a file of units): a body of the API goes through
    ``repeated_names`` and then its model parser.

    Raises:
        ValueError: ``data`` is not JSON (``json.JSONDecodeError``) or nests too deep to read.
    """
    noting = _ObjectsNoting()
    try:
        value = json.loads(data, object_pairs_hook=noting)
    except RecursionError as exc:
        raise ValueError("nested too deeply to read") from exc
    return value, (repeated_names(data) or []) if noting.seen else []


def _read(
    data: bytes | str,
    members: Callable[[list[tuple[str, Any]]], Any],
    on_float: Callable[[str], object] | None = None,
) -> Any:
    """``data`` read with ``members`` as object hook; numbers kept as text (no int-size limit applies), each
    with a point or an exponent also given to ``on_float``."""
    return json.loads(
        data,
        object_pairs_hook=members,
        parse_int=str,
        parse_float=str if on_float is None else on_float,
        parse_constant=str,
    )


def _walk(tree: Any) -> Iterator[RepeatedName]:
    """The repeated names of ``tree`` (made of ``_Members`` and lists) in document order; iterative, so
    that nesting as deep as the reader allows takes no Python stack."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(tree, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _Members):
            seen: set[str] = set()
            children: list[tuple[Any, tuple[str | int, ...]]] = []
            for name, value in node:
                if name in seen:  # a marker, yielded when reached: before the repeated member's value
                    children.append((RepeatedName(name, (*path, name)), ()))
                seen.add(name)
                children.append((value, (*path, name)))
            stack.extend(reversed(children))
        elif isinstance(node, RepeatedName):
            yield node
        elif isinstance(node, list):
            stack.extend(reversed([(value, (*path, index)) for index, value in enumerate(node)]))

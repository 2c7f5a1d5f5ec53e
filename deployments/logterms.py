"""What each term of a log filter (deployments.logsearch) means, twice: as a Q for stored
LogLine rows and as a predicate for live lines, written side by side so that they agree.

The predicates compare text as PostgreSQL does (`fold`), walk JSON attributes as `#>` does
and print their values as `#>>` does; every Q is true or false, never NULL, so that a NOT of
it keeps the lines it does not match (those without the attribute too).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, reduce

from django.contrib.postgres.fields import ArrayField
from django.db.models import F, Func, JSONField, Q, TextField, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import IExact, In, IsNull

_SCALAR_JSON_TYPES = ["string", "number", "boolean"]


# Case ----------------------------------------------------------------------------------------

@cache
def _simple_upper() -> dict[int, str]:
    """PostgreSQL's UPPER on a UTF-8 database: one character for one (glibc's towupper), so
    "ß" stays "ß" where Python's str.upper makes "SS"."""
    return {code: upper for code in range(0x1F000)
            if len(upper := chr(code).upper()) == 1 and upper != chr(code)}


def fold(text: str) -> str:
    """`text` as PostgreSQL's UPPER (icontains, iexact) compares it."""
    upper = text.upper()
    if len(upper) == len(text):  # no "ß" → "SS": every character had a one-character upper
        return upper
    return text.translate(_simple_upper())


# Terms: q() for stored lines, predicate() for live ones: (line, its text folded) -> bool ------

Predicate = Callable[[Mapping, str], bool]


@dataclass(frozen=True)
class TextContains:
    needle: str

    def q(self) -> Q:
        return Q(text__icontains=self.needle)

    def predicate(self) -> Predicate:
        needle = fold(self.needle)
        return lambda line, text: needle in text


@dataclass(frozen=True)
class LevelIs:
    level: str | None  # as the log store names it; None: any level but none ("")

    def q(self) -> Q:
        return ~Q(level="") if self.level is None else Q(level=self.level)

    def predicate(self) -> Predicate:
        if self.level is None:
            return lambda line, text: bool(line.get("level"))
        level = self.level
        return lambda line, text: line.get("level") == level


@dataclass(frozen=True)
class StreamIs:
    stream: str | None  # None: any stream

    def q(self) -> Q:
        return ~Q(stream="") if self.stream is None else Q(stream=self.stream)

    def predicate(self) -> Predicate:
        if self.stream is None:
            return lambda line, text: bool(line.get("stream"))
        stream = self.stream
        return lambda line, text: line.get("stream") == stream


_MISSING = object()


def _json_at(path: tuple[str, ...], line: Mapping) -> object:
    """What `attributes #> path` reaches in a live line (as PostgreSQL walks it), or _MISSING."""
    value = line.get("attributes")
    for part in path:
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
        if value is _MISSING:
            return value
    return value


def _json_text(value: object) -> str | None:
    """A scalar JSON value as `#>>` gives it (number 1e20 as 100000000000000000000, true as
    true); None for null, an object or a list (which never equal a typed value)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # stored through json.dumps, printed as PostgreSQL's numeric
        return format(Decimal(repr(value or 0.0)), "f")
    return None


class _JsonPath(Func):
    """`attributes #> path` (jsonb) or, with `text=True`, `#>>` (text); NULL when absent. The
    path is one array parameter, so "0" is a key of an object as well as an index of a list
    (Django's key transforms read a lone "0" as an index only)."""

    template = "(%(expressions)s)"

    def __init__(self, path: tuple[str, ...], *, text: bool = False) -> None:
        self.arg_joiner = " #>> " if text else " #> "
        super().__init__(F("attributes"), Value(list(path), output_field=ArrayField(TextField())),
                         output_field=TextField() if text else JSONField())


@dataclass(frozen=True)
class AttributeIs:
    path: tuple[str, ...]
    value: str | None  # None: present, whatever its value

    def q(self) -> Q:
        # Every branch is true or false, never NULL: a NOT of it keeps lines without the key.
        if self.value is None:
            return Q(IsNull(_JsonPath(self.path), False))
        json_type = Coalesce(Func(_JsonPath(self.path), function="jsonb_typeof"), Value(""),
                             output_field=TextField())
        return (Q(In(json_type, _SCALAR_JSON_TYPES))
                & Q(IExact(_JsonPath(self.path, text=True), self.value)))

    def predicate(self) -> Predicate:
        path = self.path
        if self.value is None:
            return lambda line, text: _json_at(path, line) is not _MISSING

        needle = fold(self.value)

        def equals(line: Mapping, text: str) -> bool:
            value = _json_text(_json_at(path, line))
            return value is not None and fold(value) == needle
        return equals


# Operators -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Not:
    node: Term

    def q(self) -> Q:
        return ~self.node.q()

    def predicate(self) -> Predicate:
        inner = self.node.predicate()
        return lambda line, text: not inner(line, text)


@dataclass(frozen=True)
class AllOf:
    nodes: tuple[Term, ...]

    def q(self) -> Q:
        return reduce(operator.and_, (node.q() for node in self.nodes))

    def predicate(self) -> Predicate:
        predicates = tuple(node.predicate() for node in self.nodes)

        def every(line: Mapping, text: str) -> bool:
            for predicate in predicates:
                if not predicate(line, text):
                    return False
            return True
        return every


@dataclass(frozen=True)
class AnyOf:
    nodes: tuple[Term, ...]

    def q(self) -> Q:
        return reduce(operator.or_, (node.q() for node in self.nodes))

    def predicate(self) -> Predicate:
        predicates = tuple(node.predicate() for node in self.nodes)

        def some(line: Mapping, text: str) -> bool:
            for predicate in predicates:
                if predicate(line, text):
                    return True
            return False
        return some


Term = TextContains | LevelIs | StreamIs | AttributeIs | Not | AllOf | AnyOf


def reads_text(node: Term) -> bool:
    """Whether `node` looks at a line's text (if not, a live line's text need not be folded)."""
    if isinstance(node, TextContains):
        return True
    if isinstance(node, Not):
        return reads_text(node.node)
    if isinstance(node, AllOf | AnyOf):
        return any(reads_text(child) for child in node.nodes)
    return False

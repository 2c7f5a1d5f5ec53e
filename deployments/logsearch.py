"""The filter box of the log views: one small query language, run two ways that must agree.

Stored lines are filtered in PostgreSQL (`LogFilter.q()`, a Q for LogLine querysets); live
lines, as they arrive, in Python (`LogFilter.matches()`), for every line of every connected
client. So a query is parsed once into a tree of terms (deployments.logterms) that give both
a Q (built from Django lookups: what the user typed only ever reaches SQL as a parameter)
and a precompiled predicate (upper-cased needles, no regex per line).

What a user can type (case-insensitive, unless said otherwise):

    timeout                 lines whose text contains "timeout"
    "connection refused"    the phrase, spaces included; \\" is a quote inside, \\\\ a backslash
    @level:error            the line's level, named as the log store names it: warn is
                            warning, err is error, crit is critical
    @level:*                lines that have a level (-@level:* those that have none)
    @stream:stderr          build, deploy, stdout or stderr
    @user:alice             the attribute "user" of a JSON line is "alice" (exactly, as text:
    @http.status:500        500 matches the number 500 and the string "500"); a dot goes one
    @msg:"disk full"        level down; quotes allow spaces; an object or a list never equals
    @trace_id:*             a value; * means the attribute is there (even as null)
    -word  -"a phrase"  -@level:debug  -(a OR b)     lines without it
    a b  /  a AND b         both
    a OR b                  either; AND binds tighter: a b OR c is (a b) OR c
    ( )                     grouping

AND and OR are operators only in capitals (`and`, `or` are words). Quote anything that would
read otherwise: "-v", "(", "AND", "@babel/core". Attribute names are case-sensitive, 1 to 64
letters, digits, `_`, `-` and `.`; a number is an index in a JSON list (@tags.0:prod). A query
has at most 500 characters, 30 terms and 10 levels of parentheses. An empty query keeps
every line. Errors are FilterError, whose text is one line for the user, positions counted
from 1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.db.models import Q

from deployments.logstore import level_name
from deployments.logterms import (
    AllOf,
    AnyOf,
    AttributeIs,
    LevelIs,
    Not,
    StreamIs,
    Term,
    TextContains,
    fold,
    reads_text,
)
from deployments.models import Stream

MAX_QUERY_LENGTH = 500
MAX_TERMS = 30
MAX_DEPTH = 10
ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
# One level of an attribute name: no empty level ("a..b") and none that PostgreSQL would read
# as a negative index in a list ("a.-1").
_KEY_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_ANY = "*"
_OPERATORS = {"AND", "OR"}


class FilterError(ValueError):
    """A query the filter cannot run; str(error) is a one-line message for the user."""


class LogFilter:
    """A parsed query (see the module's docstring); parse() makes one."""

    def __init__(self, root: Term | None) -> None:
        self._root = root
        self._predicate = root.predicate() if root is not None else None
        self._reads_text = root is not None and reads_text(root)

    def q(self) -> Q:
        """The filter for LogLine querysets (Q() when empty)."""
        return self._root.q() if self._root is not None else Q()

    def matches(self, line: Mapping) -> bool:
        """Whether a live line (keys text, stream, level, attributes) passes the filter."""
        if self._predicate is None:
            return True
        text = fold(line.get("text") or "") if self._reads_text else ""
        return self._predicate(line, text)

    def __bool__(self) -> bool:
        return self._root is not None


# Reading a query -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Token:
    kind: str  # "term", "(", ")", "-", "AND", "OR"
    position: int  # 1-based, for messages
    node: Term | None = None


def parse(query: str) -> LogFilter:
    """The filter `query` asks for; FilterError (one line for the user) when it cannot run."""
    if len(query) > MAX_QUERY_LENGTH:
        raise FilterError(f"A filter is at most {MAX_QUERY_LENGTH} characters "
                          f"(this one has {len(query)}).")
    if "\x00" in query or not _encodable(query):
        raise FilterError("The filter contains a character that cannot be searched for.")
    tokens = _tokens(query)
    if not tokens:
        return LogFilter(None)
    return LogFilter(_Parser(tokens).parse())


def _encodable(query: str) -> bool:
    """False for a lone surrogate (JSON "\\ud800" from a WebSocket), which no database
    parameter can carry."""
    try:
        query.encode()
    except UnicodeEncodeError:
        return False
    return True


def _ends_word(char: str) -> bool:
    return char.isspace() or char in '()"'


def _tokens(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    terms = 0
    index = 0
    while index < len(query):
        char = query[index]
        position = index + 1
        if char.isspace():
            index += 1
            continue
        if char in "()":
            tokens.append(_Token(char, position))
            index += 1
            continue
        if char == "-":
            following = query[index + 1:index + 2]
            if following == "-":
                raise FilterError(f'Two "-" in a row at position {position}: quote text '
                                  'that starts with "-", e.g. "--port".')
            if not following or following.isspace() or following == ")":
                raise FilterError(f'Nothing to exclude after "-" at position {position}; '
                                  'to search for a dash, quote it: "-".')
            tokens.append(_Token("-", position))
            index += 1
            continue
        if char == '"':
            phrase, index = _quoted(query, index)
            if not phrase:
                raise FilterError(f"Empty quotes at position {position}.")
            node: Term = TextContains(phrase)
        else:
            end = index
            while end < len(query) and not _ends_word(query[end]):
                end += 1
            word = query[index:end]
            index = end
            if word in _OPERATORS:
                tokens.append(_Token(word, position))
                continue
            if word.startswith("@") and ":" in word:
                node, index = _field(query, word, position, index)
            else:
                node = TextContains(word)
        terms += 1
        if terms > MAX_TERMS:
            raise FilterError(f"A filter has at most {MAX_TERMS} terms.")
        tokens.append(_Token("term", position, node))
    return tokens


def _quoted(query: str, start: int) -> tuple[str, int]:
    """The text of the quoted phrase at query[start] ('"') and the index after it."""
    chars = []
    index = start + 1
    while index < len(query):
        char = query[index]
        if char == "\\" and query[index + 1:index + 2] in ('"', "\\"):
            chars.append(query[index + 1])
            index += 2
        elif char == '"':
            return "".join(chars), index + 1
        else:
            chars.append(char)
            index += 1
    raise FilterError(f"Unclosed quote at position {start + 1}.")


def _field(query: str, word: str, position: int, index: int) -> tuple[Term, int]:
    """The term of `@key:value` (`word`, which may continue with a quoted value at `index`)."""
    key, _, value = word[1:].partition(":")
    if not key:
        raise FilterError(f'A name is missing after "@" at position {position}, '
                          'e.g. @level:error.')
    if not value and query[index:index + 1] == '"':
        value, index = _quoted(query, index)
        if not value:
            raise FilterError(f'Empty value after "@{key}:" at position {position}.')
    elif not value:
        raise FilterError(f'Empty value after "@{key}:" at position {position}: '
                          f"use @{key}:* for any value.")
    elif value == _ANY:
        value = None
    name = key.lower()
    if name == "level":
        # Named as the store names the level of a line it reads: @level:warn finds "warning".
        return LevelIs(value and level_name(value)), index
    if name == "stream":
        if value is not None and value.lower() not in Stream.values:
            raise FilterError(f'Unknown stream "{value}" at position {position}: use '
                              f"{', '.join(Stream.values[:-1])} or {Stream.values[-1]}.")
        return StreamIs(value and value.lower()), index
    parts = tuple(key.split("."))
    if not ATTRIBUTE_KEY.fullmatch(key) or not all(map(_KEY_PART.fullmatch, parts)):
        shown = key if len(key) <= 20 else key[:20] + "…"
        raise FilterError(f'"{shown}" at position {position} is not an attribute name (up to '
                          "64 letters, digits, _ - and .); quote text to search for it.")
    return AttributeIs(parts, value), index


class _Parser:
    """Recursive descent over the tokens: OR of ANDs of (possibly excluded) terms or groups."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Term:
        node = self.either(depth=0)
        if (token := self.peek()) is not None:  # only a ")" stops `either` early
            raise FilterError(f'Unmatched ")" at position {token.position}; quote it to '
                              'search for it: ")".')
        return node

    def either(self, depth: int) -> Term:
        nodes = [self.every(depth)]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            self.need_term_after(token)
            nodes.append(self.every(depth))
        return nodes[0] if len(nodes) == 1 else AnyOf(tuple(nodes))

    def every(self, depth: int) -> Term:
        nodes = [self.excluded(depth)]
        while (token := self.peek()) is not None and token.kind not in ("OR", ")"):
            if token.kind == "AND":
                self.take()
                self.need_term_after(token)
            nodes.append(self.excluded(depth))
        return nodes[0] if len(nodes) == 1 else AllOf(tuple(nodes))

    def excluded(self, depth: int) -> Term:
        token = self.peek()
        if token is not None and token.kind == "-":
            self.take()
            following = self.peek()
            if following is None or following.kind in _OPERATORS:
                raise FilterError(f'Nothing to exclude after "-" at position {token.position}.')
            return Not(self.group_or_term(depth))
        return self.group_or_term(depth)

    def group_or_term(self, depth: int) -> Term:
        token = self.take()
        if token.kind == "term":
            return token.node
        if token.kind in _OPERATORS:
            raise FilterError(f'"{token.kind}" at position {token.position} needs a term '
                              "before it.")
        if token.kind == ")":
            raise FilterError(f'Unmatched ")" at position {token.position}; quote it to search '
                              'for it: ")".')
        if depth >= MAX_DEPTH:
            raise FilterError(f"Parentheses are nested at most {MAX_DEPTH} deep "
                              f"(position {token.position}).")
        following = self.peek()
        if following is None:
            raise FilterError(f'Unclosed "(" at position {token.position}.')
        if following.kind == ")":
            raise FilterError(f"Empty parentheses at position {token.position}.")
        node = self.either(depth + 1)
        if self.peek() is None:
            raise FilterError(f'Unclosed "(" at position {token.position}.')
        self.take()  # the ")"
        return node

    def need_term_after(self, operator_token: _Token) -> None:
        following = self.peek()
        if following is None or following.kind in ("AND", "OR", ")"):
            raise FilterError(f'"{operator_token.kind}" at position {operator_token.position} '
                              "needs a term after it.")

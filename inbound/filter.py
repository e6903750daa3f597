"""The SCIM filter language (RFC 7644 §3.4.2.2): parsed once into a small tree.

The same tree is compiled to SQL for searches (:mod:`inbound.database.query`) and evaluated in
memory for PATCH value paths (:mod:`inbound.patch`), so both agree on what a filter means.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from inbound.errors import ScimError, invalid_filter
from inbound.input_rules import CONTROL_CHARACTER

COMPARE_OPS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})


@dataclass(frozen=True, slots=True)
class AttrPath:
    """``[urn:]attr[.sub]``; ``urn`` is None when the name is not qualified."""

    urn: str | None
    attr: str
    sub: str | None = None

    def __str__(self) -> str:
        head = f"{self.urn}:{self.attr}" if self.urn else self.attr
        return f"{head}.{self.sub}" if self.sub else head


@dataclass(frozen=True, slots=True)
class Compare:
    path: AttrPath
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class Present:
    path: AttrPath


@dataclass(frozen=True, slots=True)
class And:
    left: Filter
    right: Filter


@dataclass(frozen=True, slots=True)
class Or:
    left: Filter
    right: Filter


@dataclass(frozen=True, slots=True)
class Not:
    inner: Filter


@dataclass(frozen=True, slots=True)
class ValuePath:
    """``attr[filter]``: the inner filter is evaluated against each element of ``attr``."""

    path: AttrPath
    filter: Filter


Filter = Compare | Present | And | Or | Not | ValuePath

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<lparen>\() | (?P<rparen>\)) | (?P<lbracket>\[) | (?P<rbracket>\])
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w:$]))
    | (?P<word>[A-Za-z$_][\w$:.\-]*)
    | (?P<subattr>\.[A-Za-z$_][\w$\-]*)
    )
    """,
    re.VERBOSE,
)


def parse_attr_path(text: str) -> AttrPath:
    """Split ``urn:…:User:manager.value`` into its URN, attribute and sub-attribute."""
    urn: str | None = None
    rest = text
    if ":" in text:
        urn, rest = text.rsplit(":", 1)
        if not urn or not rest:
            raise invalid_filter(f"'{text}' is not a valid attribute path")
    attr, _, sub = rest.partition(".")
    if not attr or (_ and not sub) or "." in sub:
        raise invalid_filter(f"'{text}' is not a valid attribute path")
    return AttrPath(urn, attr, sub or None)


_TRAILING_SPACE = re.compile(r"\s*\Z")

MAX_FILTER_LENGTH = 4096
"""Characters in one filter. Entra sends one or two comparisons (under 200 characters); the
caps bound what one request can make the event loop parse and the database evaluate."""
MAX_FILTER_TOKENS = 256
"""Names, operators, values and brackets in one filter: about 60 comparisons."""
MAX_FILTER_DEPTH = 16
"""Parentheses, value filters (``emails[…]``) and ``not`` nested in one another."""


def _tokens(text: str) -> Iterator[tuple[str, str, int]]:
    """One compiled scanner moving ``pos`` along the text: linear in its length."""
    pos = 0
    end = len(text)
    count = 0
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            if _TRAILING_SPACE.match(text, pos) is not None:
                return
            raise invalid_filter(
                f"cannot read the filter at position {pos + 1}: '{text[pos : pos + 20]}'"
            )
        count += 1
        if count > MAX_FILTER_TOKENS:
            raise invalid_filter(
                f"the filter has more than {MAX_FILTER_TOKENS} tokens (names, operators, "
                "values, brackets); split the search into several requests"
            )
        kind = match.lastgroup
        assert kind is not None
        yield kind, match.group(kind), pos
        pos = match.end()


def _balanced(make: type[And] | type[Or], items: list[Filter]) -> Filter:
    """``a and b and c and …`` as a balanced tree: the same meaning (both operators are
    associative), but a depth of log2(n), so every recursive walk over a tree (SQL
    compilation, in-memory matching) stays shallow however long the chain."""
    while len(items) > 1:
        paired: list[Filter] = [make(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
        if len(items) % 2:
            paired.append(items[-1])
        items = paired
    return items[0]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = list(_tokens(text))
        self.i = 0
        self.depth = 0

    def descend(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_FILTER_DEPTH:
            raise invalid_filter(
                f"the filter nests parentheses, brackets and 'not' more than {MAX_FILTER_DEPTH} "
                f"levels deep (at position {pos + 1})"
            )

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise invalid_filter(f"the filter '{self.text}' ends too early")
        self.i += 1
        return tok

    def keyword(self, *words: str) -> str | None:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].lower() in words:
            self.i += 1
            return tok[1].lower()
        return None

    def parse(self) -> Filter:
        result = self.or_expr()
        tok = self.peek()
        if tok is not None:
            raise invalid_filter(f"unexpected '{tok[1]}' at position {tok[2] + 1} of the filter")
        return result

    def or_expr(self) -> Filter:
        items = [self.and_expr()]
        while self.keyword("or"):
            items.append(self.and_expr())
        return _balanced(Or, items)

    def and_expr(self) -> Filter:
        items = [self.unary()]
        while self.keyword("and"):
            items.append(self.unary())
        return _balanced(And, items)

    def unary(self) -> Filter:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].lower() == "not":
            nxt = self.tokens[self.i + 1] if self.i + 1 < len(self.tokens) else None
            if nxt and nxt[0] == "lparen":
                self.i += 1
                self.descend(tok[2])
                inner = self.group()
                self.depth -= 1
                return Not(inner)
        if tok and tok[0] == "lparen":
            return self.group()
        return self.attr_expr()

    def group(self) -> Filter:
        tok = self.peek()
        self.descend(tok[2] if tok else len(self.text))
        self.expect("lparen", "(")
        inner = self.or_expr()
        self.expect("rparen", ")")
        self.depth -= 1
        return inner

    def expect(self, kind: str, shown: str) -> None:
        tok = self.take()
        if tok[0] != kind:
            raise invalid_filter(f"expected '{shown}' at position {tok[2] + 1}, found '{tok[1]}'")

    def attr_expr(self) -> Filter:
        kind, text, pos = self.take()
        if kind != "word":
            raise invalid_filter(
                f"expected an attribute name at position {pos + 1}, found '{text}'"
            )
        path = parse_attr_path(text)
        nxt = self.peek()
        if nxt and nxt[0] == "lbracket":
            if path.sub:
                raise invalid_filter(
                    f"'{text}[' : a value filter follows an attribute, not a sub-attribute"
                )
            self.i += 1
            self.descend(nxt[2])
            inner = self.or_expr()
            self.expect("rbracket", "]")
            self.depth -= 1
            after = self.peek()
            if after and after[0] == "subattr":
                # Entra's form `emails[type eq "work"].value eq "x"`: the comparison applies to
                # the same element the bracket selected.
                self.i += 1
                sub_path = AttrPath(None, after[1][1:])
                inner = And(inner, self.comparison(sub_path))
            return ValuePath(path, inner)
        return self.comparison(path)

    def comparison(self, path: AttrPath) -> Filter:
        op_tok = self.take()
        op = op_tok[1].lower()
        if op_tok[0] != "word" or (op not in COMPARE_OPS and op != "pr"):
            raise invalid_filter(
                f"'{op_tok[1]}' at position {op_tok[2] + 1} is not a SCIM operator "
                "(eq ne co sw ew gt ge lt le pr)"
            )
        if op == "pr":
            return Present(path)
        return Compare(path, op, self.value())

    def value(self) -> Any:
        kind, text, pos = self.take()
        if kind == "string":
            try:
                value = json.loads(text)
            except ValueError:
                raise invalid_filter(f"the string at position {pos + 1} is not valid") from None
            control = CONTROL_CHARACTER.search(value)
            if control is not None:
                raise invalid_filter(
                    f"the string at position {pos + 1} holds the control character "
                    f"U+{ord(control.group()):04X}; control characters are refused"
                )
            return value
        if kind == "number":
            return _number(text, pos)
        if kind == "word" and text.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text.lower()]
        raise invalid_filter(
            f"expected a value (a quoted string, number, true, false or null) at position "
            f"{pos + 1}, found '{text}'"
        )


def _number(text: str, pos: int) -> int | float:
    """A number the databases can compare: a 64-bit integer or a finite double."""
    if any(c in text for c in ".eE"):
        number = float(text)
        if math.isfinite(number):
            return number
    elif len(text) <= 20 and -(2**63) <= (whole := int(text)) < 2**63:
        return whole
    raise invalid_filter(f"the number at position {pos + 1} is out of range")


_SIMPLE_EQ = re.compile(
    r"\s*([A-Za-z$_][\w$\-]*(?:\.[A-Za-z$_][\w$\-]*)?)\s+(?i:eq)\s+"
    r'"([^"\\\x00-\x1f\x7f-\x9f]*)"\s*'
)
"""``userName eq "x"``: the shape of nearly every filter Entra sends, recognised in one match
(a quoted value without escapes, an unqualified name); the parser gives the same tree."""


def is_simple_eq(text: str) -> bool:
    """Whether a filter is the one-comparison shape the staging store answers by an index."""
    return len(text) <= MAX_FILTER_LENGTH and _SIMPLE_EQ.fullmatch(text) is not None


def parse_filter(text: str) -> Filter:
    """Parse a filter; a syntax error is a 400 ``invalidFilter`` that says where."""
    if len(text) > MAX_FILTER_LENGTH:
        raise invalid_filter(
            f"the filter is {len(text)} characters long; the maximum is {MAX_FILTER_LENGTH}"
        )
    simple = _SIMPLE_EQ.fullmatch(text)
    if simple is not None:
        return Compare(parse_attr_path(simple.group(1)), "eq", simple.group(2))
    if not text or not text.strip():
        raise invalid_filter("the filter is empty")
    try:
        return _Parser(text).parse()
    except ScimError:
        raise
    except RecursionError:
        raise invalid_filter("the filter is nested too deeply") from None

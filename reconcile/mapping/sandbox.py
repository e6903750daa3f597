"""The Jinja2 sandbox every mapping template and expression runs in.

A mapping is written by an operator but renders values Entra sent, so both sides are bounded:
templates see only the staged resource (plain JSON values), attribute look-ups on a resource go
to its keys (case-insensitively, as SCIM names are), only a short list of string methods and
filters can be called, and everything that could grow without bound is capped — repetition and
powers, ``range``, loop nesting, output length. There is no loader, so nothing can be included,
imported or read from disk, and the environment, ``__class__``/``__globals__``/``mro`` and the
other internals are out of reach (the sandbox's own attribute rules, kept underneath ours).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

from jinja2 import ChainableUndefined, Undefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.tests import TESTS

MAX_OUTPUT = 65_536
"""Characters one template may render (LDAP servers refuse much less anyway)."""
MAX_RANGE = 1_000
"""Items ``range`` may produce; loops cannot nest, so this bounds a loop's work."""
MAX_INT_BITS = 4_096
"""Bits an integer may grow to through ``*`` and ``**``."""

SAFE_FILTERS = (
    "abs",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "first",
    "float",
    "int",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "reverse",
    "round",
    "select",
    "selectattr",
    "sort",
    "string",
    "sum",
    "title",
    "trim",
    "truncate",
    "unique",
    "upper",
    "wordcount",
)
"""Jinja's filters that cannot make a value much larger than their input (``center``,
``indent``, ``format``, ``wordwrap`` and ``replace`` can, so they are left out)."""

SAFE_STR_METHODS = frozenset(
    {
        "capitalize",
        "casefold",
        "count",
        "endswith",
        "find",
        "isalnum",
        "isalpha",
        "isdigit",
        "islower",
        "isupper",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
    }
)
"""String methods a template may call: none grows a string or formats one."""

MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})

FORBIDDEN_NODES: tuple[tuple[type[nodes.Node], str], ...] = (
    (nodes.Macro, "{% macro %}"),
    (nodes.CallBlock, "{% call %}"),
    (nodes.Import, "{% import %}"),
    (nodes.FromImport, "{% from … import %}"),
    (nodes.Include, "{% include %}"),
    (nodes.Extends, "{% extends %}"),
    (nodes.Block, "{% block %}"),
)


class SourceUndefined(ChainableUndefined):
    """An attribute the resource does not have: renders empty, chains (``user.name.givenName``
    with no ``name`` is empty too), iterates as nothing and compares unequal to everything,
    itself included; arithmetic on it or calling it raises, failing that resource alone."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return id(self)


class MappingSandboxError(SecurityError):
    """A template tried something the mapping sandbox does not allow."""


def _refuse(message: str) -> NoReturn:
    raise MappingSandboxError(message)


def bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        _refuse(f"range() of more than {MAX_RANGE} items")
    return numbers


def _sequence_times(seq: Any, times: Any) -> bool:
    return isinstance(seq, str | list | tuple) and isinstance(times, int)


def _multiply(left: Any, right: Any) -> Any:
    for seq, times in ((left, right), (right, left)):
        if _sequence_times(seq, times) and len(seq) * max(times, 0) > MAX_OUTPUT:
            _refuse(f"repetition longer than {MAX_OUTPUT}")
    both_ints = isinstance(left, int) and isinstance(right, int)
    if both_ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        _refuse(f"a product larger than {MAX_INT_BITS} bits")
    return operator.mul(left, right)


def _power(left: Any, right: Any) -> Any:
    both_ints = isinstance(left, int) and isinstance(right, int)
    if both_ints and right > 0 and max(left.bit_length(), 1) * right > MAX_INT_BITS:
        _refuse(f"a power larger than {MAX_INT_BITS} bits")
    return operator.pow(left, right)


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        _refuse("string formatting with % is not allowed")
    return operator.mod(left, right)


def _no_none(value: Any) -> Any:
    """A JSON null renders empty, as an absent attribute does, not as ``None``."""
    return "" if value is None else value


class MappingEnvironment(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, narrowed further for mapping templates (module doc)."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, filters: Mapping[str, Callable[..., Any]]) -> None:
        super().__init__(
            undefined=SourceUndefined,
            autoescape=False,
            finalize=_no_none,
            keep_trailing_newline=False,
            auto_reload=False,
            cache_size=0,
        )
        self.filters = {name: FILTERS[name] for name in SAFE_FILTERS}
        self.filters.update(filters)
        self.tests = dict(TESTS)
        self.globals = {"range": bounded_range}
        self.binop_table = {
            **self.binop_table,
            "*": _multiply,
            "**": _power,
            "%": _modulo,
        }

    # ---- look-ups: a resource's keys first, then a few safe methods --------------------

    def getattr(self, obj: Any, attribute: str) -> Any:
        return self._lookup(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, str):
            return self._lookup(obj, argument)
        if isinstance(obj, list | tuple | str) and isinstance(argument, int | slice):
            try:
                return obj[argument]
            except IndexError:
                return self.undefined(obj=obj, name=str(argument))
        return self.undefined(obj=obj, name=str(argument))

    def _lookup(self, obj: Any, name: str) -> Any:
        if isinstance(obj, Undefined):
            return obj
        if isinstance(obj, Mapping):
            if name in obj:
                return obj[name]
            folded = name.casefold()
            for key, value in obj.items():
                if isinstance(key, str) and key.casefold() == folded:
                    return value
            if name in MAPPING_METHODS:
                return getattr(obj, name)
            return self.undefined(name=name)
        if isinstance(obj, str) and name in SAFE_STR_METHODS:
            return getattr(obj, name)
        if isinstance(obj, LoopContext) and not name.startswith("_"):
            return super().getattr(obj, name)
        _refuse(f"{type(obj).__name__} has no attribute {name!r} a mapping may use")

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Only the string methods, mapping read methods, ``range`` and loop helpers this
        module allows; calling an undefined value raises its own error."""
        if isinstance(__obj, Undefined):
            return __obj(*args, **kwargs)
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        allowed = (
            __obj is bounded_range
            or (isinstance(owner, str) and name in SAFE_STR_METHODS)
            or (isinstance(owner, Mapping) and name in MAPPING_METHODS)
            or (isinstance(owner, LoopContext) and name in ("cycle", "changed"))
        )
        if not allowed:
            _refuse(f"calling {name or type(__obj).__name__!r} is not allowed in a mapping")
        return __context.call(__obj, *args, **kwargs)


def forbidden_constructs(tree: nodes.Node) -> Iterator[str]:
    """What a parsed template uses that mappings do not allow (macros, imports, nested or
    recursive loops), each once, as a message."""
    seen: set[str] = set()
    for node_type, what in FORBIDDEN_NODES:
        if what not in seen and tree.find(node_type) is not None:
            seen.add(what)
            yield f"{what} is not allowed in a mapping template"
    loops = list(tree.find_all(nodes.For))
    if any(loop.recursive for loop in loops):
        yield "recursive loops are not allowed in a mapping template"
    if any(_holds_loop(loop) for loop in loops):
        yield "loops cannot be nested in a mapping template"


def _holds_loop(loop: nodes.For) -> bool:
    return any(
        isinstance(node, nodes.For) or node.find(nodes.For) is not None
        for node in (*loop.body, *loop.else_)
    )


def render_bounded(chunks: Iterator[str]) -> str:
    """Join a template's output, refusing it once it passes :data:`MAX_OUTPUT`."""
    out: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT:
            _refuse(f"output longer than {MAX_OUTPUT} characters")
        out.append(chunk)
    return "".join(out)

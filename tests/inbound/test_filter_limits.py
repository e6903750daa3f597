"""The filter parser reads in one pass, refuses what is over its caps with the cap in the
message, and builds trees shallow enough for every recursive walk over them."""

from __future__ import annotations

from typing import Any, SupportsIndex

import pytest

from inbound.database.lookup import hot_lookup
from inbound.database.query import compile_filter
from inbound.errors import ScimError
from inbound.filter import (
    MAX_FILTER_DEPTH,
    MAX_FILTER_LENGTH,
    MAX_FILTER_TOKENS,
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    ValuePath,
    parse_filter,
)
from inbound.matching import element_matches
from inbound.schema import USER_TYPE


class _CountingSlices(str):
    """A filter text that counts the copies taken of it: a scanner that slices the rest of
    the text per token copies O(n²) characters in all."""

    copied = 0

    def __getitem__(self, key: SupportsIndex | slice) -> str:
        part = str.__getitem__(self, key)
        _CountingSlices.copied += len(part)
        return part


def _depth(node: Filter) -> int:
    if isinstance(node, And | Or):
        return 1 + max(_depth(node.left), _depth(node.right))
    if isinstance(node, Not):
        return 1 + _depth(node.inner)
    if isinstance(node, ValuePath):
        return 1 + _depth(node.filter)
    return 1


def _refusal(text: str) -> str:
    with pytest.raises(ScimError) as caught:
        parse_filter(text)
    assert caught.value.status == 400
    assert caught.value.scim_type == "invalidFilter"
    return caught.value.detail


def test_the_scanner_copies_no_rest_of_the_text() -> None:
    text = _CountingSlices(" or ".join(f'title eq "t{i}"' for i in range(60)))
    _CountingSlices.copied = 0
    parse_filter(text)
    assert _CountingSlices.copied < 2 * len(text)


def test_chains_become_balanced_trees_with_the_same_terms() -> None:
    node = parse_filter(" and ".join(f'title eq "t{i}"' for i in range(60)))
    assert _depth(node) <= 7
    terms: list[Any] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, And):
            stack.extend((current.right, current.left))
        else:
            terms.append(current.value)  # type: ignore[union-attr]
    assert terms == [f"t{i}" for i in range(60)]


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("x" * (MAX_FILTER_LENGTH + 1), MAX_FILTER_LENGTH),
        (" or ".join(["a pr"] * 100), MAX_FILTER_TOKENS),
        ("(" * (MAX_FILTER_DEPTH + 1) + "a pr" + ")" * (MAX_FILTER_DEPTH + 1), MAX_FILTER_DEPTH),
        (
            "not (" * (MAX_FILTER_DEPTH + 1) + "a pr" + ")" * (MAX_FILTER_DEPTH + 1),
            MAX_FILTER_DEPTH,
        ),
        ('userName eq "x' + "y" * MAX_FILTER_LENGTH + '"', MAX_FILTER_LENGTH),
    ],
)
def test_each_cap_is_stated_in_the_refusal(text: str, limit: int) -> None:
    assert str(limit) in _refusal(text)


def test_the_deepest_accepted_filter_compiles() -> None:
    nested = "(" * MAX_FILTER_DEPTH + 'title eq "x"' + ")" * MAX_FILTER_DEPTH
    compile_filter(USER_TYPE, parse_filter(nested))
    widest = " or ".join(['title eq "x"'] * (MAX_FILTER_TOKENS // 4))
    compile_filter(USER_TYPE, parse_filter(widest))


@pytest.mark.parametrize(
    "text",
    [
        'title eq "a\\u0000b"',
        'title eq "\\u0085"',
        "title gt 1e999",
        "title gt 99999999999999999999",
        "title gt " + "9" * 4000,
    ],
)
def test_values_the_databases_cannot_take_are_refused(text: str) -> None:
    assert "position" in _refusal(text)


def test_walks_over_a_tree_need_no_deep_stack() -> None:
    """A tree built by hand as deep as the old parser made a 5,000-term chain."""
    term = Compare(AttrPath(None, "userName"), "eq", "x")
    deep: Filter = term
    for _ in range(5000):
        deep = And(deep, term)
    lookup = hot_lookup(USER_TYPE, deep)
    assert lookup is not None and len(lookup.params) == 5001


def test_in_memory_matching_of_a_wide_value_filter() -> None:
    emails = USER_TYPE.core.attribute("emails")
    assert emails is not None
    text = "emails[" + " or ".join(f'value eq "v{i}"' for i in range(60)) + "]"
    node = parse_filter(text)
    assert isinstance(node, ValuePath)
    assert element_matches(emails, {"value": "v59"}, node.filter)

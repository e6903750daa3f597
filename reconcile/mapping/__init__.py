"""Declarative mappings: how each target's attributes and places follow from a staged resource.

Pure (Jinja2's sandbox is its only library), so every target shares one engine and its tests
need no server. ``scheduler`` reads the document, :func:`compile_mapping` checks and compiles it
once, and each target renders its part per resource (docs/mapping.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconcile.mapping.document import KINDS, TARGET_NAMES, MappingDocument, read_document
from reconcile.mapping.engine import (
    ENTERPRISE_URN,
    CompiledMapping,
    KindMapping,
    TargetMapping,
    Values,
    compile_document,
    resource_context,
)
from reconcile.mapping.problems import MappingInvalidError, MappingProblem, MappingRenderError

__all__ = [
    "ENTERPRISE_URN",
    "KINDS",
    "TARGET_NAMES",
    "CompiledMapping",
    "KindMapping",
    "MappingDocument",
    "MappingInvalidError",
    "MappingProblem",
    "MappingRenderError",
    "TargetMapping",
    "Values",
    "compile_mapping",
    "compile_partly",
    "read_document",
    "resource_context",
]


def compile_mapping(table: Mapping[str, Any], file: str) -> CompiledMapping:
    """The ``[mapping]`` table (its contents) from ``file``, checked and compiled; raises
    :class:`MappingInvalidError` with every problem found."""
    compiled, problems = compile_document(read_document(table, file))
    if problems:
        raise MappingInvalidError(problems)
    return compiled


def compile_partly(
    table: Mapping[str, Any], file: str
) -> tuple[CompiledMapping, list[MappingProblem]]:
    """What of the table compiles, and every problem: for checks that go on to hold the
    compiled part against each target (so one run lists everything)."""
    return compile_document(read_document(table, file))

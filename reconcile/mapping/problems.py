"""What can be wrong with a mapping, at start and for one resource.

A mapping is checked whole before anything runs: every problem names the file, the TOML table
and the key, so an operator can go straight to the line. A template that fails only for one
resource's values is a different thing: that resource is dead-lettered with the template's key
and the rest flow on, so it is a :class:`~reconcile.errors.PermanentTargetError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconcile.errors import PermanentTargetError


@dataclass(frozen=True, slots=True)
class MappingProblem:
    """One refused table or key of a mapping document."""

    file: str
    table: str
    key: str
    message: str

    def __str__(self) -> str:
        where = f"[{self.table}]" + (f" {self.key}" if self.key else "")
        return f"{self.file}: {where}: {self.message}"

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "table": self.table, "key": self.key, "message": self.message}


class MappingInvalidError(ValueError):
    """The mapping cannot be used; ``problems`` lists every reason, not just the first."""

    def __init__(self, problems: Sequence[MappingProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = list(problems)


class MappingRenderError(PermanentTargetError):
    """A template failed for one resource's values (an undefined value used in arithmetic or
    called, a type error, a sandbox limit): that resource is dead-lettered with the reason."""

    def __init__(self, target: str, kind: str, key: str, resource: str, message: str) -> None:
        super().__init__(f"mapping {target}.{kind} '{key}' failed for {resource}: {message}")
        self.target = target
        self.kind = kind
        self.key = key
        self.resource = resource
        self.message = message

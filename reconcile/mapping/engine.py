"""A mapping compiled once at start, and rendered per resource.

Every template and expression is parsed, checked against the sandbox's rules and compiled
when the mapping is loaded; rendering a resource then only runs compiled code. A failure for
one resource's values is a :class:`MappingRenderError` naming target, kind, key and resource.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from jinja2 import Template, TemplateError, nodes
from jinja2.parser import Parser
from jinja2.runtime import Context, new_context

from reconcile.app_roles import app_roles
from reconcile.mapping.document import (
    AttributeSpec,
    KindSpec,
    MappingDocument,
    ValueMapSpec,
)
from reconcile.mapping.problems import MappingProblem, MappingRenderError
from reconcile.mapping.sandbox import (
    MappingEnvironment,
    SourceUndefined,
    forbidden_constructs,
    render_bounded,
)
from reconcile.model import DesiredGroup, DesiredIdentity

ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MAX_EACH = 1_000
"""Items an ``each`` list may have (one attribute value per item)."""

Values = dict[str, list[str]]
"""Target attribute → its values in order, duplicates dropped; empty means "remove it"."""


def resource_context(desired: DesiredIdentity | DesiredGroup) -> dict[str, Any]:
    """The names a template sees: ``user``, ``enterprise`` and ``roles``, or ``group``.

    ``roles`` are the user's application roles read out of whichever shape Entra sent
    (:mod:`reconcile.app_roles`), so a template does not have to decode JSON-encoded values
    or compare ``primary`` with ``"True"``; ``user.roles`` stays as it was sent."""
    if isinstance(desired, DesiredIdentity):
        enterprise = desired.source.get(ENTERPRISE_URN)
        return {
            "user": desired.source,
            "enterprise": enterprise if isinstance(enterprise, Mapping) else {},
            "roles": [
                {"value": r.value, "display": r.display, "primary": r.primary}
                for r in app_roles(desired.source.get("roles"))
            ],
        }
    return {"group": desired.source}


def _resource_name(desired: DesiredIdentity | DesiredGroup) -> str:
    if isinstance(desired, DesiredIdentity):
        return f"user '{desired.user_id}' (id {desired.scim_id})"
    return f"group '{desired.display_name}' (id {desired.scim_id})"


def _value_map_filter(maps: Mapping[str, ValueMapSpec]) -> Callable[[Any, str], Any]:
    folded = {
        name: {source.casefold(): target for source, target in spec.values.items()}
        for name, spec in maps.items()
    }

    def value_map(value: Any, name: str) -> Any:
        """``{{ x | value_map('NAME') }}``: the table's value for ``x`` (compared without
        case), else its ``default``, else ``x`` unchanged."""
        spec = maps.get(name)
        if spec is None:
            raise TemplateError(f"no value map named {name!r}")
        if isinstance(value, SourceUndefined) or value is None:
            return spec.default if spec.default is not None else ""
        found = folded[name].get(str(value).casefold())
        if found is not None:
            return found
        return spec.default if spec.default is not None else value

    return value_map


@dataclass(frozen=True, slots=True)
class CompiledAttribute:
    key: str
    templates: tuple[Template, ...]
    each: Template | None
    """An expression template whose ``result`` is the list to iterate, or None."""


@dataclass(frozen=True, slots=True)
class CompiledPlacement:
    index: int
    when: Template
    dn: str


def _fresh(context: Context) -> Context:
    """``context`` emptied of what the previous template set in it. One context serves all
    templates of one resource: making one per template was most of a render's cost, and
    without blocks or macros (refused) its variables are all a template leaves behind."""
    context.vars.clear()
    context.exported_vars.clear()
    return context


def _evaluate(expression: Template, context: Context) -> Any:
    for _ in expression.root_render_func(_fresh(context)):
        pass
    return context.vars["result"]


def _render(template: Template, context: Context) -> str:
    return render_bounded(template.root_render_func(_fresh(context)))


class KindMapping:
    """One target's mapping for one kind: its attributes and placement rules, compiled."""

    def __init__(
        self,
        env: MappingEnvironment,
        target: str,
        kind: str,
        attributes: Sequence[CompiledAttribute],
        unmanaged: Sequence[str],
        placement: Sequence[CompiledPlacement],
    ) -> None:
        self._env = env
        self.target = target
        self.kind = kind
        self.attributes = tuple(attributes)
        self.unmanaged = tuple(unmanaged)
        """Attribute names the mapping leaves alone (``name = ""``)."""
        self.placement = tuple(placement)

    @property
    def keys(self) -> tuple[str, ...]:
        """The attributes this mapping writes."""
        return tuple(a.key for a in self.attributes)

    @property
    def multi_valued(self) -> frozenset[str]:
        """The attributes given as a list of templates or with ``each``: several values."""
        return frozenset(
            a.key for a in self.attributes if a.each is not None or len(a.templates) > 1
        )

    def _context(self, desired: DesiredIdentity | DesiredGroup) -> Context:
        scope = dict(self._env.globals)
        scope.update(resource_context(desired))
        return new_context(self._env, None, {}, scope, shared=True)

    def _failed(
        self, desired: DesiredIdentity | DesiredGroup, key: str, exc: Exception
    ) -> NoReturn:
        raise MappingRenderError(
            self.target, self.kind, key, _resource_name(desired), f"{type(exc).__name__}: {exc}"
        ) from exc

    def render(self, desired: DesiredIdentity | DesiredGroup) -> Values:
        """Every mapped attribute's values for ``desired``; raises :class:`MappingRenderError`
        for the first template that fails."""
        context = self._context(desired)
        out: Values = {}
        for attribute in self.attributes:
            try:
                out[attribute.key] = self._values(attribute, context)
            except Exception as exc:  # any template failure is this resource's alone
                self._failed(desired, attribute.key, exc)
        return out

    @staticmethod
    def _values(attribute: CompiledAttribute, context: Context) -> list[str]:
        values: list[str] = []
        if attribute.each is None:
            rendered: Sequence[str] = [_render(t, context) for t in attribute.templates]
        else:
            items = _evaluate(attribute.each, context)
            if isinstance(items, SourceUndefined) or items is None:
                items = []
            if not isinstance(items, list | tuple):
                raise TypeError(f"each must give a list, not {type(items).__name__}")
            if len(items) > MAX_EACH:
                raise ValueError(f"each gave more than {MAX_EACH} items")
            template = attribute.templates[0]
            rendered = []
            for item in items:
                _fresh(context).vars["item"] = item
                rendered.append(render_bounded(template.root_render_func(context)))
        for value in rendered:
            if value and value not in values:
                values.append(value)
        return values

    def place(self, desired: DesiredIdentity | DesiredGroup) -> str | None:
        """The container DN of the first placement rule whose ``when`` holds; None when no
        rule matches (the target's default container then)."""
        if not self.placement:
            return None
        context = self._context(desired)
        for rule in self.placement:
            try:
                matched = _evaluate(rule.when, context)
            except Exception as exc:  # any expression failure is this resource's alone
                self._failed(desired, f"placement[{rule.index}].when", exc)
            if matched and not isinstance(matched, SourceUndefined):
                return rule.dn
        return None


@dataclass(frozen=True)
class TargetMapping:
    """What one target's mapping says, per kind (None: the target's defaults alone)."""

    name: str
    user: KindMapping | None = None
    group: KindMapping | None = None

    def kind(self, kind: str) -> KindMapping | None:
        return self.user if kind == "user" else self.group


@dataclass(frozen=True)
class CompiledMapping:
    file: str
    targets: Mapping[str, TargetMapping]

    def target(self, name: str) -> TargetMapping | None:
        return self.targets.get(name)

    @classmethod
    def empty(cls) -> CompiledMapping:
        return cls("", {})


class _Compiler:
    """Turns specs into compiled templates, collecting every problem on the way."""

    def __init__(self, doc: MappingDocument) -> None:
        self.doc = doc
        self.env = MappingEnvironment({"value_map": _value_map_filter(doc.value_maps)})

    def template(self, source: str, table: str, key: str) -> Template | None:
        try:
            tree = self.env.parse(source)
        except TemplateError as exc:
            self.doc.problem(table, key, f"template syntax: {exc}")
            return None
        return self._compiled(tree, table, key)

    def expression(self, source: str, table: str, key: str) -> Template | None:
        """``source`` as an expression, compiled into a template that stores it as ``result``
        (what Jinja's own ``compile_expression`` does, with our checks on the tree)."""
        try:
            parser = Parser(self.env, source, state="variable")
            expression = parser.parse_expression()
            if not parser.stream.eos:
                token = parser.stream.current
                raise TemplateError(f"unexpected {token.value!r} after the expression")
        except TemplateError as exc:
            self.doc.problem(table, key, f"expression syntax: {exc}")
            return None
        assign = nodes.Assign(nodes.Name("result", "store"), expression, lineno=1)
        return self._compiled(nodes.Template([assign], lineno=1), table, key)

    def _compiled(self, tree: nodes.Template, table: str, key: str) -> Template | None:
        refused = list(forbidden_constructs(tree))
        refused += self._value_map_names(tree)
        for message in refused:
            self.doc.problem(table, key, message)
        if refused:
            return None
        try:
            return self.env.from_string(tree)
        except TemplateError as exc:
            self.doc.problem(table, key, str(exc))
            return None

    def _value_map_names(self, tree: nodes.Node) -> list[str]:
        out = []
        for call in tree.find_all(nodes.Filter):
            if call.name != "value_map":
                continue
            args = call.args
            if len(args) != 1 or not isinstance(args[0], nodes.Const) or call.kwargs:
                out.append("value_map takes one argument: the name of a value map, quoted")
            elif args[0].value not in self.doc.value_maps:
                known = ", ".join(sorted(self.doc.value_maps)) or "none defined"
                out.append(f"no value map named {args[0].value!r} (known: {known})")
        return out

    def attribute(self, spec: AttributeSpec, table: str) -> CompiledAttribute | None:
        templates = [self.template(t, table, spec.key) for t in spec.templates]
        each = self.expression(spec.each, table, spec.key) if spec.each is not None else None
        if any(t is None for t in templates) or (spec.each is not None and each is None):
            return None
        return CompiledAttribute(spec.key, tuple(t for t in templates if t is not None), each)

    def kind(self, spec: KindSpec) -> KindMapping:
        table = f"{spec.table}.attributes"
        compiled = [
            c
            for a in spec.attributes
            if a.templates and (c := self.attribute(a, table)) is not None
        ]
        unmanaged = [a.key for a in spec.attributes if not a.templates]
        placement = []
        for rule in spec.placement:
            when = self.expression(rule.when, f"{spec.table}.placement[{rule.index}]", "when")
            if when is not None:
                placement.append(CompiledPlacement(rule.index, when, rule.dn))
        return KindMapping(self.env, spec.target, spec.kind, compiled, unmanaged, placement)


def compile_document(doc: MappingDocument) -> tuple[CompiledMapping, list[MappingProblem]]:
    """Compile every template of ``doc`` that compiles, and every problem found (the
    document's own included), so a check reports them all at once; a mapping with problems
    must not be used."""
    compiler = _Compiler(doc)
    kinds: dict[str, dict[str, KindMapping]] = {}
    for spec in doc.kinds:
        kinds.setdefault(spec.target, {})[spec.kind] = compiler.kind(spec)
    targets = {
        name: TargetMapping(name, user=by_kind.get("user"), group=by_kind.get("group"))
        for name, by_kind in kinds.items()
    }
    return CompiledMapping(doc.file, targets), list(doc.problems)

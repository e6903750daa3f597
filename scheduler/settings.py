"""Typed settings, read once from the environment and an optional TOML file, then passed down.

Every field documents itself (``doc``) so ``docs/configuration.md`` and ``--help`` are made
from this one model and cannot drift from it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import timedelta
from typing import Any, get_type_hints

from apscheduler.triggers.cron import CronTrigger

from connectors.delivery.sink import MIN_WEBHOOK_SECRET, sink_problems, url_problem
from connectors.entra.settings import GraphSettings
from connectors.identity_store.target import ADOPT_POLICIES as IDM_ADOPT_POLICIES
from connectors.ldap.settings import LdapSettings as LdapSettings
from reconcile.mapping import CompiledMapping
from scheduler.mapping_setup import MappingSource, check_mapping, find_mapping
from scheduler.unsafe_settings import PLACEHOLDER, unsafe_problems

PREFIX = "SCIM_SYNC_"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


class SettingsError(ValueError):
    """A setting has a value scim-sync cannot use; the message names the variable."""


def parse_duration(text: str, name: str = "duration") -> timedelta:
    """``90``, ``90s``, ``15m``, ``10h``, ``1d`` → a timedelta."""
    match = _DURATION.match(str(text))
    if not match:
        raise SettingsError(f"{name}: '{text}' is not a duration such as 60s, 15m or 10h")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def format_duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _doc(text: str, env: str, secret: bool = False) -> Any:
    return {"doc": text, "env": PREFIX + env, "secret": secret}


@dataclass(frozen=True)
class Settings:
    database_url: str = field(
        default="sqlite:///scim-sync.db",
        metadata=_doc(
            "the service's own database: staged resources, ledger, tokens, settings (SQLite file or postgresql://…)",
            "DATABASE_URL",
        ),
    )
    idm_database_url: str = field(
        default="",
        metadata=_doc(
            "Identity Manager store database; empty means the same database", "IDM_DATABASE_URL"
        ),
    )
    idm_adopt: str = field(
        default="unanchored",
        metadata=_doc(
            "an existing Identity Manager record with a new user's ID: unanchored (adopt it only "
            "if it has no scim_id), anywhere (also if its scim_id is no staged resource's), "
            "never (refuse it); another staged user's record is never taken",
            "IDM_ADOPT",
        ),
    )
    database_pool_size: int = field(
        default=20,
        metadata=_doc(
            "PostgreSQL connections each process keeps open, per database (at least 17: the "
            "receiver runs up to 16 writes at once)",
            "DATABASE_POOL_SIZE",
        ),
    )
    public_url: str = field(
        default="",
        metadata=_doc(
            "base URL Entra reaches this service at; default http://HOST:PORT", "PUBLIC_URL"
        ),
    )
    admin_key: str = field(
        default="",
        metadata=_doc(
            "admin key (ssa_ and 32+ characters); empty: generated on first start, printed once",
            "ADMIN_KEY",
            True,
        ),
    )
    token_ttl: timedelta = field(
        default=timedelta(hours=10), metadata=_doc("lifetime of a SCIM token", "TOKEN_TTL")
    )
    token_renew_before: timedelta = field(
        default=timedelta(hours=1),
        metadata=_doc("renew the SCIM token this long before it expires", "TOKEN_RENEW_BEFORE"),
    )
    token_sink: str = field(
        default="none",
        metadata=_doc(
            "where a renewed token goes: none, graph, file:PATH or webhook:URL", "TOKEN_SINK"
        ),
    )
    token_webhook_secret: str = field(
        default="",
        metadata=_doc(
            "HMAC-SHA256 key that signs webhook deliveries (shared with the receiver)",
            "TOKEN_WEBHOOK_SECRET",
            True,
        ),
    )
    reconcile_interval: timedelta = field(
        default=timedelta(seconds=60),
        metadata=_doc("provisioning frequency; also settable at run time", "RECONCILE_INTERVAL"),
    )
    full_reconcile_cron: str = field(
        default="0 3 * * *",
        metadata=_doc("crontab of the full (drift) reconciliation", "FULL_RECONCILE_CRON"),
    )
    mass_change_max_count: int = field(
        default=100,
        metadata=_doc(
            "hold a run's deletes and disables on a target above this many (0: never hold)",
            "MASS_CHANGE_MAX_COUNT",
        ),
    )
    mass_change_max_share: float = field(
        default=0.25,
        metadata=_doc(
            "... or above this share of what the target holds (from 10 changes on)",
            "MASS_CHANGE_MAX_SHARE",
        ),
    )
    mass_change_window: timedelta = field(
        default=timedelta(minutes=40),
        metadata=_doc(
            "deletes and disables applied this recently count towards those limits too",
            "MASS_CHANGE_WINDOW",
        ),
    )
    group_patch_body_max_members: int = field(
        default=1000,
        metadata=_doc(
            "a group PATCH answers 200 with the group up to this many members, 204 above "
            "(0: always 204)",
            "GROUP_PATCH_BODY_MAX_MEMBERS",
        ),
    )
    entra_health_interval: timedelta = field(
        default=timedelta(minutes=5),
        metadata=_doc(
            "how often the Entra provisioning job and its provisioning log are read through "
            "Graph (needs the SCIM_SYNC_GRAPH_* settings; 0: never)",
            "ENTRA_HEALTH_INTERVAL",
        ),
    )
    entra_log_retention: timedelta = field(
        default=timedelta(days=30),
        metadata=_doc(
            "how long Entra's provisioning log entries are kept here", "ENTRA_LOG_RETENTION"
        ),
    )
    alert_webhook: str = field(
        default="",
        metadata=_doc(
            "URL that receives each alert once per change of state (firing, resolved), signed; "
            "empty: no alert webhook",
            "ALERT_WEBHOOK",
        ),
    )
    alert_webhook_secret: str = field(
        default="",
        metadata=_doc(
            "HMAC-SHA256 key that signs alert webhook posts (shared with the receiver)",
            "ALERT_WEBHOOK_SECRET",
            True,
        ),
    )
    log_level: str = field(default="INFO", metadata=_doc("log level", "LOG_LEVEL"))
    log_format: str = field(
        default="auto",
        metadata=_doc(
            "log lines on stderr: json, console (for people), or auto (console at a terminal, "
            "json otherwise)",
            "LOG_FORMAT",
        ),
    )
    scim_extension_schemas: str = field(
        default="",
        metadata=_doc(
            'JSON file of custom SCIM extension schemas: {"User": [schema…], "Group": [schema…]}',
            "SCIM_EXTENSION_SCHEMAS",
        ),
    )
    mapping_file: str = field(
        default="",
        metadata=_doc(
            "TOML file of declarative mappings per target ([mapping…] tables, docs/mapping.md); "
            "or a [mapping] table in the config file; empty: the shipped defaults",
            "MAPPING_FILE",
        ),
    )
    ldap: LdapSettings = field(default_factory=LdapSettings)
    graph: GraphSettings = field(default_factory=GraphSettings)
    mapping_source: MappingSource | None = field(
        default=None, compare=False, metadata={"derived": True}
    )
    """Where the mapping was found (read by ``load_settings``), None when there is none."""
    mapping: CompiledMapping = field(
        default_factory=CompiledMapping.empty, compare=False, metadata={"derived": True}
    )
    """The mapping, compiled and checked once by ``load_settings``."""

    def with_mapping(self, compiled: CompiledMapping) -> Settings:
        """These settings with ``compiled`` as the mapping, handed to the targets using it."""
        return replace(
            self, mapping=compiled, ldap=replace(self.ldap, mapping=compiled.target("ldap"))
        )

    @property
    def idm_url(self) -> str:
        return self.idm_database_url or self.database_url

    @property
    def entra_watched(self) -> bool:
        """Entra's job and log are read when the interval is set and Graph is configured."""
        return self.entra_health_interval > timedelta(0) and not self.graph.missing()


def _convert(kind: Any, raw: Any, name: str) -> Any:
    if kind in (timedelta, "timedelta"):
        return raw if isinstance(raw, timedelta) else parse_duration(str(raw), name)
    if kind in (bool, "bool"):
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("1", "true", "yes", "on"):
            return True
        if str(raw).lower() in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{name}: '{raw}' is not true or false")
    if kind in (int, "int", float, "float"):
        number = int if kind in (int, "int") else float
        try:
            return number(raw)
        except (TypeError, ValueError):
            what = "a whole number" if number is int else "a number"
            raise SettingsError(f"{name}: '{raw}' is not {what}") from None
    return str(raw)


def _build(cls: Any, env: Mapping[str, str], file_values: Mapping[str, Any]) -> Any:
    values: dict[str, Any] = {}
    for f in fields(cls):
        if "env" not in f.metadata:
            continue
        env_name = f.metadata["env"]
        key = env_name.removeprefix(PREFIX).lower()
        if env_name in env:
            values[f.name] = _convert(f.type, env[env_name], env_name)
        elif key in file_values:
            values[f.name] = _convert(f.type, file_values[key], key)
    return cls(**values)


def load_settings(
    env: Mapping[str, str] | None = None,
    config_path: str | None = None,
    *,
    with_mapping: bool = True,
) -> Settings:
    """Settings from ``SCIM_SYNC_*`` variables over an optional TOML file (flat keys such as
    ``database_url`` or ``ldap_url``, and a ``[mapping]`` table).

    The declarative mapping is compiled and checked too, unless ``with_mapping`` is False
    (``scim-sync mapping check`` reports its problems itself rather than refusing to start).
    """
    env = os.environ if env is None else env
    path = config_path or env.get(PREFIX + "CONFIG")
    file_values: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as handle:
                file_values = {k.lower(): v for k, v in tomllib.load(handle).items()}
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read the config file {path}: {exc}") from exc
    settings: Settings = _build(Settings, env, file_values)
    settings = replace(
        settings,
        ldap=_build(LdapSettings, env, file_values),
        graph=_build(GraphSettings, env, file_values),
    )
    settings = replace(
        settings,
        mapping_source=find_mapping(settings.mapping_file, file_values.get("mapping"), path),
    )
    validate(settings)
    if with_mapping:
        settings = with_compiled_mapping(settings)
    return settings


def with_compiled_mapping(settings: Settings) -> Settings:
    """``settings`` with the mapping compiled and handed to the targets that use it; a
    mapping with problems is refused, each problem with its file, table and key."""
    check = check_mapping(settings.mapping_source, settings.ldap)
    if check.compiled is None:
        raise SettingsError(
            "the mapping is refused (scim-sync mapping check lists the same): "
            + "; ".join(str(p) for p in check.problems)
        )
    return settings.with_mapping(check.compiled)


def validate(settings: Settings) -> None:
    if settings.log_format not in ("auto", "json", "console"):
        raise SettingsError(
            f"SCIM_SYNC_LOG_FORMAT must be auto, json or console, not '{settings.log_format}'"
        )
    if settings.mass_change_max_count < 0 or not 0 < settings.mass_change_max_share <= 1:
        raise SettingsError(
            "SCIM_SYNC_MASS_CHANGE_MAX_COUNT must be >= 0 and "
            "SCIM_SYNC_MASS_CHANGE_MAX_SHARE between 0 and 1"
        )
    if settings.mass_change_window < timedelta(0):
        raise SettingsError("SCIM_SYNC_MASS_CHANGE_WINDOW must not be negative")
    if settings.token_ttl <= timedelta(0):
        raise SettingsError("SCIM_SYNC_TOKEN_TTL must be positive")
    if not timedelta(0) < settings.token_renew_before < settings.token_ttl:
        raise SettingsError(
            "SCIM_SYNC_TOKEN_RENEW_BEFORE must be positive and shorter than SCIM_SYNC_TOKEN_TTL"
        )
    if settings.database_pool_size < 17:
        raise SettingsError(
            "SCIM_SYNC_DATABASE_POOL_SIZE must be at least 17 (the receiver's 16 write threads "
            "and one reader)"
        )
    if settings.group_patch_body_max_members < 0:
        raise SettingsError("SCIM_SYNC_GROUP_PATCH_BODY_MAX_MEMBERS must be >= 0")
    if settings.reconcile_interval < timedelta(seconds=1):
        raise SettingsError("SCIM_SYNC_RECONCILE_INTERVAL must be at least 1s")
    if timedelta(0) < settings.entra_health_interval < timedelta(seconds=10):
        raise SettingsError("SCIM_SYNC_ENTRA_HEALTH_INTERVAL must be 0 (off) or at least 10s")
    if settings.entra_log_retention < timedelta(hours=1):
        raise SettingsError("SCIM_SYNC_ENTRA_LOG_RETENTION must be at least 1h")
    if settings.idm_adopt not in IDM_ADOPT_POLICIES:
        raise SettingsError(
            f"SCIM_SYNC_IDM_ADOPT must be {', '.join(IDM_ADOPT_POLICIES[:-1])} or "
            f"{IDM_ADOPT_POLICIES[-1]}"
        )
    problems = sink_problems(settings.token_sink, settings.graph, settings.token_webhook_secret)
    if settings.entra_watched and settings.token_sink != "graph":  # noqa: S105 (a sink name)
        problems += sink_problems("graph", settings.graph, settings.token_webhook_secret)
    if settings.alert_webhook:
        problem = url_problem("SCIM_SYNC_ALERT_WEBHOOK", settings.alert_webhook, "alerts")
        if problem:
            problems.append(problem)
        if len(settings.alert_webhook_secret) < MIN_WEBHOOK_SECRET:
            problems.append(
                "SCIM_SYNC_ALERT_WEBHOOK needs SCIM_SYNC_ALERT_WEBHOOK_SECRET, a shared secret of "
                f"at least {MIN_WEBHOOK_SECRET} characters (e.g. openssl rand -hex 32)"
            )
    if problems:
        raise SettingsError("; ".join(problems))
    try:
        CronTrigger.from_crontab(settings.full_reconcile_cron, timezone="UTC")
    except ValueError as exc:
        raise SettingsError(f"SCIM_SYNC_FULL_RECONCILE_CRON: {exc}") from None
    ldap_problems = settings.ldap.problems()
    if ldap_problems:
        raise SettingsError("; ".join(ldap_problems))
    if (
        settings.admin_key
        and not PLACEHOLDER.search(settings.admin_key)
        and not (settings.admin_key.startswith("ssa_") and len(settings.admin_key) >= 36)
    ):
        raise SettingsError(
            "SCIM_SYNC_ADMIN_KEY must be 'ssa_' and at least 32 random characters, "
            'e.g. "ssa_$(openssl rand -hex 32)"'
        )
    unsafe = unsafe_problems(settings, describe(type(settings)))
    if unsafe:
        raise SettingsError("; ".join(unsafe))


def setting_groups(root: type = Settings) -> tuple[tuple[str, type], ...]:
    """The settings model's groups as (field path, dataclass), the root first.

    Derived from the nested dataclass fields of ``Settings`` itself, so a group added there
    (``ldap``, ``graph``, or any package's own settings class) reaches ``describe()``, the
    generated ``docs/configuration.md`` and the deploy checks without a second list to keep.
    """
    out: list[tuple[str, type]] = [("", root)]
    hints = get_type_hints(root)
    for f in fields(root):
        kind = hints.get(f.name)
        if f.metadata.get("derived"):
            continue  # computed from settings (the compiled mapping), not a group of them
        if isinstance(kind, type) and is_dataclass(kind):
            out.extend(
                (f"{f.name}.{path}" if path else f.name, cls) for path, cls in setting_groups(kind)
            )
    return tuple(out)


def describe(root: type = Settings) -> list[dict[str, Any]]:
    """Every setting with its variable, default and meaning, for docs and ``--help``."""
    out = []
    for group, cls in setting_groups(root):
        hints = get_type_hints(cls)
        for f in fields(cls):
            if "env" not in f.metadata:
                continue
            default = f.default
            if isinstance(default, timedelta):
                default = format_duration(default)
            kind = hints.get(f.name)
            out.append(
                {
                    "env": f.metadata["env"],
                    "default": default,
                    "doc": f.metadata["doc"],
                    "secret": f.metadata["secret"],
                    "group": group,
                    "field": f.name,
                    "type": getattr(kind, "__name__", str(kind)),
                }
            )
    return out

"""Typed settings, read once from the environment and an optional TOML file, then passed down.

Every field documents itself (``doc``) so ``docs/configuration.md`` and ``--help`` are made
from this one model and cannot drift from it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from typing import Any

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
class LdapSettings:
    url: str = field(
        default="",
        metadata=_doc("LDAP URLs separated by spaces; unset means no LDAP target", "LDAP_URL"),
    )
    bind_dn: str = field(default="", metadata=_doc("DN to bind as", "LDAP_BIND_DN"))
    password: str = field(
        default="", metadata=_doc("password of the bind DN", "LDAP_PASSWORD", True)
    )
    base_dn: str = field(
        default="", metadata=_doc("base DN, required with an LDAP URL", "LDAP_BASE_DN")
    )
    users_dn: str = field(
        default="", metadata=_doc("where users live (default ou=people,BASE)", "LDAP_USERS_DN")
    )
    groups_dn: str = field(
        default="", metadata=_doc("where groups live (default ou=groups,BASE)", "LDAP_GROUPS_DN")
    )
    disabled_dn: str = field(
        default="",
        metadata=_doc("where disabled users go (default ou=disabled,BASE)", "LDAP_DISABLED_DN"),
    )
    disable: str = field(
        default="move", metadata=_doc("disable policy: move, attribute or delete", "LDAP_DISABLE")
    )
    tls_ca_file: str = field(
        default="",
        metadata=_doc("CA certificates for LDAPS/StartTLS; always verified", "LDAP_TLS_CA_FILE"),
    )
    starttls: bool = field(
        default=False, metadata=_doc("upgrade ldap:// connections with StartTLS", "LDAP_STARTTLS")
    )


@dataclass(frozen=True)
class GraphSettings:
    tenant_id: str = field(default="", metadata=_doc("Entra tenant ID", "GRAPH_TENANT_ID"))
    client_id: str = field(
        default="",
        metadata=_doc("app (client) ID with Synchronization.ReadWrite.All", "GRAPH_CLIENT_ID"),
    )
    client_secret: str = field(
        default="", metadata=_doc("that app's client secret", "GRAPH_CLIENT_SECRET", True)
    )
    service_principal_id: str = field(
        default="",
        metadata=_doc(
            "object ID of the enterprise app's service principal", "GRAPH_SERVICE_PRINCIPAL_ID"
        ),
    )
    authority_url: str = field(
        default="https://login.microsoftonline.com",
        metadata=_doc("OAuth2 authority", "GRAPH_AUTHORITY_URL"),
    )
    api_url: str = field(
        default="https://graph.microsoft.com/v1.0",
        metadata=_doc("Microsoft Graph base URL", "GRAPH_API_URL"),
    )


@dataclass(frozen=True)
class Settings:
    database_url: str = field(
        default="sqlite:///scim-sync.db",
        metadata=_doc("staging database (SQLite file or postgresql://…)", "DATABASE_URL"),
    )
    idm_database_url: str = field(
        default="",
        metadata=_doc(
            "Identity Manager store database; empty means the same database", "IDM_DATABASE_URL"
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
            "admin key; empty means one is generated on first start and printed once",
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
    reconcile_interval: timedelta = field(
        default=timedelta(seconds=60),
        metadata=_doc("provisioning frequency; also settable at run time", "RECONCILE_INTERVAL"),
    )
    full_reconcile_cron: str = field(
        default="0 3 * * *",
        metadata=_doc("crontab of the full (drift) reconciliation", "FULL_RECONCILE_CRON"),
    )
    log_level: str = field(default="INFO", metadata=_doc("log level", "LOG_LEVEL"))
    scim_extension_schemas: str = field(
        default="",
        metadata=_doc(
            'JSON file of custom SCIM extension schemas: {"User": [schema…], "Group": [schema…]}',
            "SCIM_EXTENSION_SCHEMAS",
        ),
    )
    ldap: LdapSettings = field(default_factory=LdapSettings)
    graph: GraphSettings = field(default_factory=GraphSettings)

    @property
    def idm_url(self) -> str:
        return self.idm_database_url or self.database_url


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


def load_settings(env: Mapping[str, str] | None = None, config_path: str | None = None) -> Settings:
    """Settings from ``SCIM_SYNC_*`` variables over an optional TOML file (flat keys such as
    ``database_url`` or ``ldap_url``)."""
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
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    if settings.token_ttl <= timedelta(0):
        raise SettingsError("SCIM_SYNC_TOKEN_TTL must be positive")
    if settings.token_renew_before >= settings.token_ttl:
        raise SettingsError("SCIM_SYNC_TOKEN_RENEW_BEFORE must be shorter than SCIM_SYNC_TOKEN_TTL")
    if settings.reconcile_interval < timedelta(seconds=1):
        raise SettingsError("SCIM_SYNC_RECONCILE_INTERVAL must be at least 1s")
    sink = settings.token_sink
    if not (sink in ("none", "graph") or sink.startswith(("file:", "webhook:"))):
        raise SettingsError(
            f"SCIM_SYNC_TOKEN_SINK: '{sink}' is not none, graph, file:PATH or webhook:URL"
        )
    if settings.ldap.url and not settings.ldap.base_dn:
        raise SettingsError("SCIM_SYNC_LDAP_BASE_DN is required when SCIM_SYNC_LDAP_URL is set")
    if settings.ldap.disable not in ("move", "attribute", "delete"):
        raise SettingsError("SCIM_SYNC_LDAP_DISABLE must be move, attribute or delete")
    if settings.admin_key and len(settings.admin_key) < 24:
        raise SettingsError("SCIM_SYNC_ADMIN_KEY must be at least 24 characters")


def describe() -> list[dict[str, Any]]:
    """Every setting with its variable, default and meaning, for docs and ``--help``."""
    out = []
    for cls in (Settings, LdapSettings, GraphSettings):
        for f in fields(cls):
            if "env" not in f.metadata:
                continue
            default = f.default
            if isinstance(default, timedelta):
                default = format_duration(default)
            out.append(
                {
                    "env": f.metadata["env"],
                    "default": default,
                    "doc": f.metadata["doc"],
                    "secret": f.metadata["secret"],
                }
            )
    return out

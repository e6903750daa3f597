"""``docs/configuration.md`` and ``scim-sync config show``, both made from the settings model.

The page is generated rather than written so that it cannot drift from the code: a test compares
the committed file with ``render_markdown()``, and ``scim-sync config docs`` rewrites it after a
setting is added. ``effective()`` is what an operator checks before a rollout: the values a
process would run with, secrets masked.
"""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import timedelta
from typing import Any

from scheduler.settings import PREFIX, Settings, describe, format_duration, setting_groups
from scheduler.unsafe_settings import MIN_KEY_BITS

CONFIG_FILE_VARIABLE = PREFIX + "CONFIG"
MASK = "***"
_URL_PASSWORD = re.compile(r"(://[^/@:\s]*:)[^@/\s]+@")
_TYPE_WORDS = {
    "str": "text",
    "timedelta": "duration",
    "bool": "boolean",
    "int": "integer",
    "float": "number",
}

_INTRO = f"""\
# Configuration

<!-- Generated from scheduler/settings.py by `scim-sync config docs`; do not edit by hand.
     tests/deploy/test_config_docs.py fails when this file and the settings model differ. -->

scim-sync reads its settings once, at start, from two places:

1. environment variables named `SCIM_SYNC_*` (they win), and
2. an optional TOML file given by `--config PATH` or `{CONFIG_FILE_VARIABLE}`, with flat keys:
   the variable name without `SCIM_SYNC_`, in lower case (`database_url = "postgresql://…"`).

Durations take a unit: `ms`, `s`, `m`, `h`, `d` (`90s`, `15m`, `10h`); a bare number is seconds.
Booleans accept `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`. A value scim-sync cannot use
stops the process at start with a message naming the variable; nothing is half-applied.

Settings marked **secret** belong in a secret store (a Kubernetes Secret, a mode-0600 env file),
never in a ConfigMap or a file under version control. scim-sync never logs them.

Check what a process would run with, secrets masked: `scim-sync config show` (`--json` for one
JSON document).

## Refused as unsafe

These settings would work, but are refused at every start and by `scim-sync config show` (exit
code 2, with the variable and the reason), because they expose the service:

- **A bind password in clear text.** An `ldap://` URL (in any case) to a host other than this
  machine, with `SCIM_SYNC_LDAP_PASSWORD` set and `SCIM_SYNC_LDAP_STARTTLS` off. Each URL of the
  list is checked. Only `localhost`, `127.0.0.0/8`, `::1` and `::ffff:127.x.y.z` count as this
  machine; any other name, an empty host, and shorthand such as `127.1` count as remote. Use
  `ldaps://` or StartTLS; on a network you trust (a private container network),
  `SCIM_SYNC_LDAP_ALLOW_CLEARTEXT=true` allows it, and each start still logs a warning.
- **A placeholder of the deploy templates.** Any secret, or a database URL, that still contains
  `CHANGE-ME` (also `CHANGE_ME`, `changeme`, `REPLACE-ME`, in any case) is refused with
  "replace the placeholder".
- **A guessable key.** `SCIM_SYNC_ADMIN_KEY` (after its `ssa_` prefix, at least 32 characters)
  and `SCIM_SYNC_TOKEN_WEBHOOK_SECRET` need an estimated {MIN_KEY_BITS} bits of entropy. The
  estimate gives each character `log2` of the alphabet the value draws from (10 for digits, 26
  for each case of letters, 33 for anything else, summed over the classes present), and nothing
  for a character a guesser would predict: one that continues a constant step from the two
  before it (`aaaa`, `1234`, `fedc`) or ends a 4-character chunk seen earlier (`abcdabcd`, a
  word typed twice). So `ssa_` followed by 32 `a`s (9 bits), `0123456789abcdef` repeated
  (31 bits) or `Password1` four times (62 bits) are refused, while random keys pass with room:
  keys scim-sync generates estimate at least ~190 bits, `openssl rand -hex 32` ~280. The
  estimate does not know words or keyboard patterns: generate keys, do not type them
  (`"ssa_$(openssl rand -hex 32)"`, `openssl rand -hex 32`).
"""


def _default_text(entry: dict[str, Any]) -> str:
    default = entry["default"]
    if default == "" or default is None:
        return "*(empty)*"
    if isinstance(default, bool):
        return "`true`" if default else "`false`"
    return f"`{default}`"


def _title(group: str, cls: type) -> str:
    doc = (cls.__doc__ or "").strip()
    # dataclasses invent a signature docstring when none is written; it is not a title
    summary = "" if doc.startswith(cls.__name__ + "(") else doc.splitlines()[0] if doc else ""
    name = "General" if not group else f"`{group}`"
    return f"{name} — {summary}" if summary else name


def toml_key(env: str) -> str:
    return env.removeprefix(PREFIX).lower()


def render_markdown(root: type = Settings) -> str:
    """The whole configuration page; deterministic, so the committed file can be compared."""
    entries = describe(root)
    parts = [_INTRO.rstrip("\n")]
    for group, cls in setting_groups(root):
        rows = [e for e in entries if e["group"] == group]
        if not rows:
            continue
        parts.append(f"\n## {_title(group, cls)}\n")
        parts.append("| variable | TOML key | type | default | meaning |")
        parts.append("|---|---|---|---|---|")
        for e in rows:
            meaning = str(e["doc"]).replace("|", "\\|")
            if e["secret"]:
                meaning = f"**secret** — {meaning}"
            kind = _TYPE_WORDS.get(e["type"], e["type"])
            parts.append(
                f"| `{e['env']}` | `{toml_key(e['env'])}` | {kind} | "
                f"{_default_text(e)} | {meaning} |"
            )
    return "\n".join(parts) + "\n"


def mask_url_password(text: str) -> str:
    """``postgresql://app:pw@db/x`` → ``postgresql://app:***@db/x``: a database, LDAP or
    webhook URL may carry a password even though its setting is not marked secret."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}@", text)


def _value(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def effective(settings: Settings) -> list[dict[str, Any]]:
    """Each setting's value in this process, secrets masked (set ones show as ``***``)."""
    out: list[dict[str, Any]] = []
    for group, cls in setting_groups():
        holder = _value(settings, group) if group else settings
        for f in fields(cls):
            if "env" not in f.metadata:
                continue
            value = getattr(holder, f.name)
            if isinstance(value, timedelta):
                value = format_duration(value)
            if f.metadata["secret"] and value:
                value = MASK
            elif isinstance(value, str):
                value = mask_url_password(value)
            out.append({"env": f.metadata["env"], "value": value})
    return out


def setting_names() -> set[str]:
    """Every variable scim-sync reads: the model's fields and the config-file pointer."""
    return {e["env"] for e in describe()} | {CONFIG_FILE_VARIABLE}

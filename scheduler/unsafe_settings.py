"""Settings that would work but are unsafe, refused at start and by ``scim-sync config show``.

Three kinds, each named by its variable with the reason and the way out:

- an LDAP password that would cross the network in clear text (``ldap://`` to a host other
  than this machine, without StartTLS) unless ``SCIM_SYNC_LDAP_ALLOW_CLEARTEXT=true`` says the
  network is trusted;
- a value still holding a placeholder of the deploy templates (``CHANGE-ME``), in any secret
  or database URL: a deployment copied without filling it in must not start with a password
  everyone can read in this repository;
- a key chosen by a person (the admin key, the webhook signing secret) with too little
  entropy, see :func:`estimated_bits`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # settings.py calls this module from its validation
    from scheduler.settings import Settings

PLACEHOLDER = re.compile(r"change[-_ ]?me|replace[-_ ]?me", re.IGNORECASE)
"""The deploy templates write ``CHANGE-ME`` where a value of the operator's own belongs."""
MIN_KEY_BITS = 128
"""What a key must carry by :func:`estimated_bits`: as much as a random 128-bit key."""
_CLASS_SIZES = ((str.isdigit, 10), (str.islower, 26), (str.isupper, 26))
_OTHER_SIZE = 33  # printable ASCII punctuation and space
_CHUNK = 4
_MAKE_KEY = {
    "SCIM_SYNC_ADMIN_KEY": 'generate one: "ssa_$(openssl rand -hex 32)"',
    "SCIM_SYNC_TOKEN_WEBHOOK_SECRET": "generate one: openssl rand -hex 32",
}


def estimated_bits(value: str) -> float:
    """A conservative estimate of the entropy in ``value``, in bits.

    Each character counts ``log2`` of the alphabet the value draws from (10 for digits, 26
    for each case of letters, 33 for anything else, added up over the classes present),
    except a character that a guesser would predict:

    - it continues a constant step from the two before it (``aaa``, ``123``, ``fed``, ``aceg``);
    - it ends a chunk of 4 characters that already appeared earlier (``abcdabcd``, ``Passw0rd``
      twice, ``0123456789abcdef`` repeated).

    Random keys lose almost nothing to either rule (a hex character continues a step or a
    repeat with a probability of about 1 in 16 and 1 in 65,536), so a generated key keeps
    about its true entropy, while typed patterns fall far below it.
    """
    classes = {size for test, size in _CLASS_SIZES for ch in value if test(ch) and ch.isascii()}
    if any(not (ch.isascii() and ch.isalnum()) for ch in value):
        classes.add(_OTHER_SIZE)
    per_character = math.log2(sum(classes)) if classes else 0.0
    bits = 0.0
    for i, ch in enumerate(value):
        if i >= 2 and ord(ch) - ord(value[i - 1]) == ord(value[i - 1]) - ord(value[i - 2]):
            continue
        if i >= _CHUNK and value.find(value[i - _CHUNK + 1 : i + 1], 0, i) >= 0:
            continue
        bits += per_character
    return bits


def weak_key(name: str, key: str) -> str | None:
    """Why ``key`` (the value of the variable ``name``) is too guessable, or None."""
    bits = estimated_bits(key)
    if bits >= MIN_KEY_BITS:
        return None
    return (
        f"{name} has too little entropy (about {bits:.0f} bits, at least "
        f"{MIN_KEY_BITS} needed: repeated characters, runs such as 1234 or abcd and repeated "
        f"chunks count for nothing); {_MAKE_KEY[name]}"
    )


def _value(settings: Settings, group: str, field_name: str) -> Any:
    holder: Any = settings
    for part in filter(None, group.split(".")):
        holder = getattr(holder, part)
    return getattr(holder, field_name)


def placeholder_problems(
    settings: Settings, entries: Iterable[Mapping[str, Any]]
) -> dict[str, str]:
    """Every secret (and database URL, which holds a password) still set to a placeholder, by
    variable; ``entries`` are the settings model's fields as ``describe()`` lists them."""
    out = {}
    for entry in entries:
        if not (entry["secret"] or entry["env"].endswith("DATABASE_URL")):
            continue
        value = _value(settings, entry["group"], entry["field"])
        found = PLACEHOLDER.search(value) if isinstance(value, str) else None
        if found:
            how = _MAKE_KEY.get(entry["env"], "set the real value")
            out[entry["env"]] = (
                f"{entry['env']}: replace the placeholder '{found.group()}' of the deploy "
                f"templates; {how}"
            )
    return out


def cleartext_problems(settings: Settings) -> list[str]:
    ldap = settings.ldap
    if ldap.allow_cleartext:
        return []
    return [
        f"SCIM_SYNC_LDAP_URL: '{url}' would send SCIM_SYNC_LDAP_PASSWORD in clear text to a "
        "host other than this machine; use ldaps://, or SCIM_SYNC_LDAP_STARTTLS=true, or set "
        "SCIM_SYNC_LDAP_ALLOW_CLEARTEXT=true if the network between is trusted"
        for url in ldap.cleartext_urls()
    ]


def unsafe_problems(settings: Settings, entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """What makes these settings unsafe, each naming its variable; empty when none."""
    placeholders = placeholder_problems(settings, entries)
    out = [*placeholders.values(), *cleartext_problems(settings)]
    keys = {
        "SCIM_SYNC_ADMIN_KEY": settings.admin_key.removeprefix("ssa_"),
        "SCIM_SYNC_TOKEN_WEBHOOK_SECRET": settings.token_webhook_secret,
    }
    for name, key in keys.items():
        if key and name not in placeholders and (problem := weak_key(name, key)):
            out.append(problem)
    return out

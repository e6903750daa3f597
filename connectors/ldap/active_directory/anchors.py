"""``objectGUID`` as the anchor string the ledger keeps, and back.

AD's objectGUID is 16 bytes in Microsoft's mixed-endian layout (the first three fields little
endian); the anchor is the GUID as AD's own tools print it
(``{c5a47de7-4cf5-4d3d-96a1-4881857eb8e6}`` without braces), so an operator can paste it into
``Get-ADObject -Identity`` or an LDAP search base ``<GUID=…>``. The GUID never changes, not on
rename, not on a move between OUs, which is why it, not the DN, anchors the entry.
"""

from __future__ import annotations

import re
import uuid

GUID_ATTRIBUTE = "objectGUID"


class AnchorError(ValueError):
    """An objectGUID that is not 16 bytes, or an anchor that is not a GUID."""


_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
"""An anchor as :func:`anchor_from_guid` writes it (any other spelling goes through ``uuid``)."""


def anchor_from_guid(raw: bytes) -> str:
    """The first three fields reversed (little endian), as ``uuid.UUID(bytes_le=raw)`` prints
    it, without building a UUID: every entry of a read-ahead carries one."""
    if len(raw) != 16:
        raise AnchorError(f"objectGUID has {len(raw)} bytes, not 16")
    first, second, third = raw[3::-1].hex(), raw[5:3:-1].hex(), raw[7:5:-1].hex()
    return f"{first}-{second}-{third}-{raw[8:10].hex()}-{raw[10:].hex()}"


def guid_from_anchor(anchor: str) -> bytes:
    if _CANONICAL.match(anchor):
        big = bytes.fromhex(anchor.replace("-", ""))
        return big[3::-1] + big[5:3:-1] + big[7:5:-1] + big[8:]
    try:
        return uuid.UUID(anchor).bytes_le
    except ValueError:
        raise AnchorError(f"'{anchor}' is not a GUID") from None


def guid_dn(anchor: str) -> str:
    """The extended DN form AD accepts as a search base: finds the object wherever it moved."""
    return f"<GUID={anchor_from_guid(guid_from_anchor(anchor))}>"


def guid_filter(anchor: str) -> str:
    """An equality filter on objectGUID, each byte hex-escaped (RFC 4515)."""
    escaped = "".join(f"\\{octet:02x}" for octet in guid_from_anchor(anchor))
    return f"({GUID_ATTRIBUTE}={escaped})"

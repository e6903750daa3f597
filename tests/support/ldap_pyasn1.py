"""Whole LDAP messages as ldap3 encodes them with pyasn1: the reference the project's own
encoder and decoder are compared with."""

from __future__ import annotations

from typing import Any

from ldap3.protocol.convert import build_controls_list
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from ldap3.utils.asn1 import encode

from connectors.ldap.requests import Control


def pyasn1_message(
    message_id: int, kind: str, operation: Any, controls: list[Control] | None = None
) -> bytes:
    """What ldap3's strategies send for a request (``BaseStrategy.send``), or what a server
    sends for a response."""
    envelope = LDAPMessage()
    envelope["messageID"] = MessageID(message_id)
    envelope["protocolOp"] = ProtocolOp().setComponentByName(kind, operation)
    built = build_controls_list(controls or [])
    if built is not None:
        envelope["controls"] = built
    return bytes(encode(envelope))

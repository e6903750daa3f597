"""The wire: responses matched to requests by message ID however the bytes arrive, and a broken
stream never used again. A scripted socket plays the server; the other tests of this folder
exercise slapd."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ldap3.protocol.rfc4511 import (
    AddResponse,
    DelResponse,
    ModifyResponse,
    PartialAttribute,
    PartialAttributeList,
    SearchResultDone,
    SearchResultEntry,
)
from ldap3.utils.asn1 import decode_message_fast

from connectors.ldap.ber import POST_READ, integer, octets, sequence, tlv
from connectors.ldap.errors import ConnectionLostError
from connectors.ldap.requests import PAGED_RESULTS, Control, delete_request, message, paged_control
from connectors.ldap.responses import decode, paged_cookie, read_back
from connectors.ldap.session import added_uuid
from connectors.ldap.wire import WINDOW, WINDOW_BYTES, Wire
from tests.support.ldap_pyasn1 import pyasn1_message

_ENUMERATED = 0x0A


def result(message_id: int, op: int, code: int, text: str = "", controls: bytes = b"") -> bytes:
    body = tlv(_ENUMERATED, bytes([code])) + octets("") + octets(text)
    return sequence([integer(message_id) + tlv(0x60 | op, body) + controls])


def entry_op(dn: str, attributes: dict[str, list[str]]) -> bytes:
    listed = sequence(
        sequence([octets(name) + sequence((octets(v) for v in values), 0x31)])
        for name, values in attributes.items()
    )
    return tlv(0x64, octets(dn) + listed)


def controls(*pairs: tuple[str, bytes]) -> bytes:
    return sequence((sequence([octets(oid) + octets(value)]) for oid, value in pairs), 0xA0)


class ScriptedSocket:
    """Hands out the scripted response bytes ``chunk`` octets at a time."""

    def __init__(self, replies: bytes, chunk: int) -> None:
        self.replies, self.chunk, self.sent = replies, chunk, b""

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def recv(self, _size: int) -> bytes:
        piece, self.replies = self.replies[: self.chunk], self.replies[self.chunk :]
        return piece

    def recv_into(self, buffer: memoryview) -> int:
        piece = self.recv(len(buffer))
        buffer[: len(piece)] = piece
        return len(piece)


def wire(replies: bytes, chunk: int = 1 << 16) -> tuple[Wire, ScriptedSocket]:
    scripted = ScriptedSocket(replies, chunk)
    return Wire(cast(socket.socket, scripted)), scripted


@settings(deadline=None)
@given(chunk=st.integers(1, 300), size=st.sampled_from([1, 200, 70_000]))
def test_responses_are_reassembled_from_any_chunking(chunk: int, size: int) -> None:
    long = "é" * size
    chunk = chunk * 100 if size > 65_535 else chunk  # three length octets; fewer reads
    replies = (
        sequence([integer(1) + entry_op("uid=a,o=x", {"cn": [long, "b"], "UID": ["a"]})])
        + result(1, 5, 0)
        + result(2, 11, 32, "no such entry")
    )
    link, _ = wire(replies, chunk)
    search, delete = link.exchange([(b"", ()), (delete_request("uid=a,o=x"), ())])
    assert search.code == 0 and [e.dn for e in search.entries] == ["uid=a,o=x"]
    assert search.entries[0].get("cn") == [long, "b"] and search.entries[0].get("uid") == ["a"]
    assert (delete.code, delete.message) == (32, "no such entry")
    assert not link.broken


def test_responses_out_of_order_go_to_their_requests() -> None:
    link, _ = wire(result(2, 9, 68, "exists") + result(1, 7, 0))
    first, second = link.exchange([(b"", ()), (b"", ())])
    assert (first.code, second.code, second.message) == (0, 68, "exists")


def test_controls_of_a_response_are_read() -> None:
    read_back = entry_op("uid=a,o=x", {"entryUUID": ["1234-abcd"]})
    paged = paged_control(500, b"next-page")[2]
    assert paged is not None
    link, _ = wire(
        result(1, 9, 0, controls=controls((POST_READ, read_back), (PAGED_RESULTS, paged)))
    )
    (added,) = link.exchange([(b"", ())])
    assert added_uuid(added) == "1234-abcd"
    assert paged_cookie(added.controls[PAGED_RESULTS]) == b"next-page"


class AnsweringSocket(ScriptedSocket):
    """Answers each request it was sent (and only those), newest first, and notes how many
    requests, and how many octets of them, were waiting for an answer at most."""

    def __init__(self) -> None:
        super().__init__(b"", 0)
        self.unanswered: dict[int, int] = {}
        self.most_in_flight = self.most_octets = 0

    def sendall(self, data: bytes) -> None:
        while data:  # each message: 30 <length> 02 <length> <message ID> ...
            header, size = 2, data[1]
            if size >= 0x80:
                header = 2 + (size & 0x7F)
                size = int.from_bytes(data[2:header], "big")
            id_size = data[header + 1]
            message_id = int.from_bytes(data[header + 2 : header + 2 + id_size], "big")
            self.unanswered[message_id] = header + size
            data = data[header + size :]
        self.most_in_flight = max(self.most_in_flight, len(self.unanswered))
        self.most_octets = max(self.most_octets, sum(self.unanswered.values()))

    def recv(self, _size: int) -> bytes:
        answers = b"".join(result(i, 11, 0) for i in reversed(self.unanswered))
        self.unanswered = {}
        return answers


@pytest.mark.parametrize(
    ("count", "dn_size", "most_in_flight"),
    [
        (2 * WINDOW + 7, 4, WINDOW),  # small requests: the count is the limit
        (50, 10_000, WINDOW_BYTES // 10_010),  # long ones: the octets are
        (3, WINDOW_BYTES * 2, 1),  # one longer than the limit still goes, alone
    ],
)
def test_requests_in_flight_stay_within_the_window(
    count: int, dn_size: int, most_in_flight: int
) -> None:
    answering = AnsweringSocket()
    link = Wire(cast(socket.socket, answering))
    requests = [(delete_request(f"cn={i:0{dn_size - 3}d}"), ()) for i in range(count)]
    results = link.exchange(requests)
    assert [r.code for r in results] == [0] * count
    assert answering.most_in_flight == most_in_flight
    assert answering.most_octets <= max(WINDOW_BYTES, len(message(1, requests[0][0])) + 8)


@pytest.mark.parametrize(
    ("replies", "reason"),
    [
        (b"", "closed the connection"),
        (result(1, 9, 0)[:5], "closed the connection"),
        (result(0, 24, 52, "shutting down"), "ended the session: shutting down"),
        (result(7, 9, 0), "never sent"),
    ],
)
def test_a_broken_stream_is_never_used_again(replies: bytes, reason: str) -> None:
    link, _ = wire(replies)
    with pytest.raises(ConnectionLostError, match=reason):
        link.exchange([(b"", ())])
    assert link.broken
    with pytest.raises(ConnectionLostError, match="broke earlier"):
        link.exchange([(b"", ())])


def test_a_socket_error_is_a_lost_connection() -> None:
    class Failing(ScriptedSocket):
        def recv(self, _size: int) -> bytes:
            raise TimeoutError("timed out")

    link = Wire(cast(socket.socket, Failing(b"", 1)))
    with pytest.raises(ConnectionLostError, match="timed out"):
        link.exchange([(b"", ())])
    assert link.broken


VALUE = st.text(st.characters(blacklist_categories=["Cs"]), max_size=20) | st.builds(
    lambda piece, times: piece * times,
    st.text(min_size=1, max_size=3),
    st.sampled_from([60, 70_000]),
)
NAME = st.from_regex(r"[a-zA-Z][a-zA-Z0-9-]{0,15}", fullmatch=True)


def ldap3_reading(data: bytes) -> dict[str, Any]:
    """What ldap3's own fast decoder makes of a message, in this project's terms."""
    parts = decode_message_fast(data)
    payload = parts["payload"]
    out: dict[str, Any] = {"id": parts["messageID"], "op": parts["protocolOp"]}
    if parts["protocolOp"] == 4:
        out["dn"] = payload[0][3].decode()
        out["attributes"] = {
            a[3][0][3].decode().lower(): [v[3].decode() for v in a[3][1][3]] for a in payload[1][3]
        }
    else:
        out["code"], out["message"] = payload[0][3], payload[2][3].decode()
    out["controls"] = {
        c[3][0][3].decode(): (c[3][-1][3] if len(c[3]) > 1 and c[3][-1][2] == 4 else b"")
        for c in parts["controls"] or []
    }
    return out


def mine(data: bytes) -> dict[str, Any]:
    response = decode(data)
    out: dict[str, Any] = {"id": response.message_id, "op": response.operation & 0x1F}
    if response.entry is not None:
        out["dn"], out["attributes"] = response.entry.dn, response.entry.attributes
    else:
        out["code"], out["message"] = response.code, response.message
    out["controls"] = response.controls
    return out


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(
    message_id=st.integers(1, 2**31 - 1),
    dn=VALUE,
    attributes=st.dictionaries(NAME, st.lists(VALUE, max_size=3), max_size=30),
    controls=st.lists(
        st.tuples(st.sampled_from(["1.2.3", POST_READ]), st.booleans(), st.none() | st.binary()),
        max_size=2,
        unique_by=lambda c: c[0],
    ),
)
def test_entries_decode_as_ldap3_decodes_them(
    message_id: int, dn: str, attributes: dict[str, list[str]], controls: list[Control]
) -> None:
    entry = SearchResultEntry()
    entry["object"] = dn
    listed = PartialAttributeList()
    for position, (name, values) in enumerate(attributes.items()):
        listed[position] = PartialAttribute()
        listed[position]["type"] = name
        for index, value in enumerate(values):
            listed[position]["vals"][index] = value.encode()
    entry["attributes"] = listed
    data = pyasn1_message(message_id, "searchResEntry", entry, controls)
    assert mine(data) == ldap3_reading(data)


@settings(max_examples=100, deadline=None)
@given(
    message_id=st.integers(0, 2**31 - 1),
    kind=st.sampled_from(["addResponse", "modifyResponse", "delResponse", "searchResDone"]),
    code=st.sampled_from([0, 10, 16, 32, 49, 53, 68, 80, 122]),
    matched=VALUE,
    text=VALUE,
)
def test_results_decode_as_ldap3_decodes_them(
    message_id: int, kind: str, code: int, matched: str, text: str
) -> None:
    types = {
        "addResponse": AddResponse,
        "modifyResponse": ModifyResponse,
        "delResponse": DelResponse,
        "searchResDone": SearchResultDone,
    }
    response = types[kind]()
    response["resultCode"] = code
    response["matchedDN"] = matched
    response["diagnosticMessage"] = text
    data = pyasn1_message(message_id, kind, response, [])
    assert mine(data) == ldap3_reading(data)


def test_a_post_read_value_and_a_paged_cookie_are_read() -> None:
    read_back_value = entry_op("uid=a,o=x", {"entryUUID": ["6e0c-1"], "cn": ["a"]})
    assert (entry := read_back(read_back_value)) is not None
    assert (entry.dn, entry.entry_uuid) == ("uid=a,o=x", "6e0c-1")
    assert read_back(b"") is None
    value = paged_control(10, b"\x00" * 300)[2]
    assert value is not None and paged_cookie(value) == b"\x00" * 300


# Hostile or broken octets: whatever a server sends, the decoder answers with a decoded
# response or a lost connection, never another exception and never a read past the message.

VALID_FRAMES = st.one_of(
    st.builds(
        lambda message_id, dn, attrs: sequence([integer(message_id) + entry_op(dn, attrs)]),
        st.integers(1, 2**31 - 1),
        st.text(max_size=30),
        st.dictionaries(NAME, st.lists(st.text(max_size=140), max_size=3), max_size=4),
    ),
    st.builds(
        lambda message_id, code, text, paged: result(
            message_id, 9, code, text, controls((PAGED_RESULTS, paged), (POST_READ, b"\x64\x00"))
        ),
        st.integers(0, 2**31 - 1),
        st.integers(0, 127),
        st.text(max_size=200),
        st.binary(max_size=200).map(lambda cookie: paged_control(10, cookie)[2] or b""),
    ),
)


def decoded_or_lost(decoder: Callable[[bytes], object], data: bytes) -> None:
    """``decoder`` answers, or fails with the lost-connection error only."""
    try:
        decoder(data)
    except ConnectionLostError as exc:
        lost = str(exc)
    else:
        return
    assert "malformed" in lost


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=300) | st.binary(max_size=40).map(lambda b: b"\x30" + b))
def test_random_octets_decode_or_lose_the_connection(data: bytes) -> None:
    decoded_or_lost(decode, data)
    for value in (data, b"\x64" + data):
        decoded_or_lost(read_back, value)
        decoded_or_lost(paged_cookie, value)


@settings(max_examples=150, deadline=None)
@given(frame=VALID_FRAMES, data=st.data())
def test_a_truncated_frame_is_a_lost_connection(frame: bytes, data: st.DataObject) -> None:
    decode(frame)  # the whole frame is fine
    cut = data.draw(st.integers(0, len(frame) - 1))
    with pytest.raises(ConnectionLostError, match="malformed"):
        decode(frame[:cut])


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(frame=VALID_FRAMES, data=st.data())
def test_a_mutated_frame_decodes_or_loses_the_connection(frame: bytes, data: st.DataObject) -> None:
    mutated = bytearray(frame)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(mutated) - 1))
        how = data.draw(st.sampled_from(["set", "insert", "delete"]))
        octet = data.draw(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0x81, 0x84, 0x85, 0xFF]))
        if how == "set":
            mutated[at] = octet
        elif how == "insert":
            mutated.insert(at, octet)
        elif len(mutated) > 1:
            del mutated[at]
    decoded_or_lost(decode, bytes(mutated))


@settings(max_examples=200, deadline=None)
@given(stream=st.binary(min_size=1, max_size=200), chunk=st.integers(1, 64))
def test_a_garbage_stream_breaks_the_wire_and_nothing_else(stream: bytes, chunk: int) -> None:
    link, _ = wire(b"\x30" + stream, chunk)
    try:
        link.exchange([(b"", ())])
    except ConnectionLostError:
        assert link.broken


def test_a_value_running_past_its_attribute_is_caught() -> None:
    """Within the message, but past the end of its own set: read as the next attribute's
    octets before, now refused."""
    good = sequence([integer(1) + entry_op("uid=a,o=x", {"cn": ["ab"], "sn": ["cd"]})])
    # the value "ab" (04 02 61 62) claims four octets, reaching into the next attribute
    bad = good.replace(b"\x04\x02ab", b"\x04\x04ab", 1)
    assert len(bad) == len(good)
    with pytest.raises(ConnectionLostError, match="runs past"):
        decode(bad)


@pytest.mark.parametrize(
    "value",
    [b"\x64", b"\x64\x05\x04\x01a", b"\x64\x03\x04\x01a\x30", b"\x64\x84\xff\xff\xff\xff"],
)
def test_a_broken_post_read_value_is_a_lost_connection(value: bytes) -> None:
    with pytest.raises(ConnectionLostError, match="malformed"):
        read_back(value)


@pytest.mark.parametrize(
    "value", [b"\x30", b"\x30\x03\x02\x01\x0a", b"\x30\x05\x02\x01\x0a\x02\x00", b"\x04\x00"]
)
def test_a_broken_paged_results_value_is_a_lost_connection(value: bytes) -> None:
    with pytest.raises(ConnectionLostError, match="malformed"):
        paged_cookie(value)


def test_a_message_above_16_mib_is_refused_from_its_header() -> None:
    """The length alone decides: nothing more is read or buffered."""
    header = b"\x30\x84" + (16 * 1024 * 1024).to_bytes(4, "big")
    link, scripted = wire(header + b"\x02\x01\x01", chunk=len(header))
    with pytest.raises(ConnectionLostError, match="above the 16777216 allowed"):
        link.exchange([(b"", ())])
    assert scripted.replies == b"\x02\x01\x01"  # not waited for


def test_a_message_at_the_cap_still_decodes() -> None:
    value = "v" * (16 * 1024 * 1024 - 64)
    frame = sequence([integer(1) + entry_op("uid=a", {"cn": [value]})])
    assert len(frame) <= 16 * 1024 * 1024
    link, _ = wire(frame + result(1, 5, 0))
    (search,) = link.exchange([(b"", ())])
    assert search.entries[0].get("cn") == [value]

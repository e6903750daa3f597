"""objectGUID anchors, ranged values against a scripted answer, foreign-owner markers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

import pytest

from connectors.ldap.active_directory import anchors, foreign_owners, ranged

GUID = b"\xe7}\xa4\xc5\xf5L=M\x96\xa1H\x81\x85~\xb8\xe6"


def test_the_anchor_is_the_guid_as_ad_prints_it() -> None:
    anchor = anchors.anchor_from_guid(GUID)
    assert anchor == "c5a47de7-4cf5-4d3d-96a1-4881857eb8e6"  # first three fields little endian
    assert anchors.guid_from_anchor(anchor) == GUID
    assert anchors.guid_dn(anchor.upper()) == f"<GUID={anchor}>"
    assert (
        anchors.guid_filter(anchor)
        == "(objectGUID=\\e7\\7d\\a4\\c5\\f5\\4c\\3d\\4d\\96\\a1\\48\\81\\85\\7e\\b8\\e6)"
    )


@pytest.mark.parametrize("raw", [b"", b"\x00" * 15, b"\x00" * 17])
def test_a_guid_of_the_wrong_size_is_refused(raw: bytes) -> None:
    with pytest.raises(anchors.AnchorError):
        anchors.anchor_from_guid(raw)


def test_an_anchor_that_is_no_guid_is_refused() -> None:
    with pytest.raises(anchors.AnchorError):
        anchors.guid_dn("CN=someone,DC=x")


class Ranges:
    """Answers like AD does for a given range size, recording what was asked."""

    def __init__(self, values: list[str], page: int) -> None:
        self.values, self.page, self.asked = values, page, []  # type: ignore[var-annotated]

    def __call__(self, dn: str, spec: str) -> Mapping[str, Sequence[bytes | str] | None]:
        self.asked.append(spec)
        low = int(spec.split("range=")[1].split("-")[0])
        chunk = self.values[low : low + self.page]
        if not self.values:
            return {}
        last = low + len(chunk) >= len(self.values)
        high = "*" if last else str(low + len(chunk) - 1)
        return {f"member;range={low}-{high}": [v.encode() for v in chunk] or None}


def test_ranges_are_followed_until_the_last_one() -> None:
    values = [f"CN=m{i},DC=x" for i in range(3501)]
    fetch = Ranges(values, 1500)
    assert ranged.read_values(fetch, "CN=g,DC=x", "member") == values
    assert fetch.asked == ["member;range=0-*", "member;range=1500-*", "member;range=3000-*"]


def test_an_unranged_answer_is_everything_and_no_attribute_is_nothing() -> None:
    assert ranged.read_values(lambda _dn, _spec: {"Member": [b"a", b"b"]}, "g", "member") == [
        "a",
        "b",
    ]
    assert ranged.read_values(lambda _dn, _spec: {}, "g", "member") == []


def test_a_server_that_does_not_progress_is_stopped() -> None:
    def stuck(_dn: str, _spec: str) -> Mapping[str, Sequence[bytes | str] | None]:
        return {"member;range=0-9": [b"a"] * 10}

    with pytest.raises(ranged.RangeError, match="from 10"):
        ranged.read_values(stuck, "g", "member")

    def empty(_dn: str, _spec: str) -> Mapping[str, Sequence[bytes | str] | None]:
        return {"member;range=0-9": []}

    with pytest.raises(ranged.RangeError, match="no progress"):
        ranged.read_values(empty, "g", "member")


def test_foreign_markers_are_found_ignoring_case_and_empty_values() -> None:
    markers = foreign_owners.parse_attributes("mS-DS-ConsistencyGuid, adminDescription")
    assert markers == ("mS-DS-ConsistencyGuid", "adminDescription")
    assert foreign_owners.marker({"ms-ds-consistencyguid": [uuid.uuid4().bytes]}, markers) == (
        "mS-DS-ConsistencyGuid"
    )
    assert foreign_owners.marker({"mS-DS-ConsistencyGuid": []}, markers) is None
    assert foreign_owners.marker({"mS-DS-ConsistencyGuid": None}, markers) is None
    assert foreign_owners.marker({"cn": ["x"]}, markers) is None


def test_a_foreign_object_is_a_dead_letter_saying_what_to_do() -> None:
    with pytest.raises(foreign_owners.ForeignOwnerError) as caught:
        foreign_owners.refuse_foreign(
            "CN=Jane,OU=People,DC=x",
            {"mS-DS-ConsistencyGuid": [b"\x01" * 16]},
            ("mS-DS-ConsistencyGuid",),
        )
    reason = caught.value.reason
    assert "CN=Jane,OU=People,DC=x" in reason
    assert "another sync engine" in reason
    assert "SCIM_SYNC_LDAP_FOREIGN_OWNER_ATTRIBUTES" in reason

"""The names of many new objects checked at once: free only when nothing in the domain holds
them and no object earlier in the batch wants them (the DC's answer is scripted here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from connectors.ldap.active_directory.new_names import Wanted, all_free
from connectors.ldap.responses import Entry
from connectors.ldap.session import Session

DOMAIN = "DC=example,DC=test"
PEOPLE = f"OU=People,{DOMAIN}"


class Domain:
    """Answers every search with the same entries, recording the filters asked."""

    def __init__(self, *entries: Entry) -> None:
        self.entries = list(entries)
        self.filters: list[str | bytes] = []

    def search_many(
        self, base: str, filters: Sequence[str | bytes], attributes: Sequence[str]
    ) -> list[Entry]:
        assert base == DOMAIN
        self.filters.extend(filters)
        return self.entries


def free(domain: Domain, objects: list[Wanted]) -> list[bool]:
    return all_free(cast(Session, domain), DOMAIN, objects)


def wanted(sam: str, cn: str, upn: str = "", container: str = PEOPLE) -> Wanted:
    return Wanted.of(sam, f"CN={cn},{container}", upn)


def test_names_nobody_holds_are_free_in_one_search() -> None:
    domain = Domain()
    objects = [wanted(f"u{i}", f"User {i}", f"u{i}@example.com") for i in range(3)]
    assert free(domain, objects) == [True, True, True]
    (query,) = domain.filters
    assert isinstance(query, str) and query.count("sAMAccountName=") == 3


def test_a_name_the_domain_holds_leaves_that_object_out() -> None:
    domain = Domain(
        Entry(f"CN=Other,{DOMAIN}", {"samaccountname": ["JDOE"]}),
        Entry(f"CN=Upn,{DOMAIN}", {"userprincipalname": ["Ann@Example.com"]}),
        Entry(f"CN=Jane Roe,{PEOPLE}", {}),
    )
    objects = [
        wanted("jdoe", "John Doe"),  # the account name, in another case
        wanted("ann", "Ann", "ann@example.com"),  # the UPN
        wanted("jroe", "jane roe"),  # the CN, in the same container
        wanted("jroe2", "Jane Roe", container=f"OU=Elsewhere,{DOMAIN}"),  # another container
        wanted("free", "Free One"),
    ]
    assert free(domain, objects) == [False, False, False, True, True]


def test_the_first_of_two_objects_wanting_a_name_gets_it() -> None:
    objects = [
        wanted("jdoe", "Jane Doe", "jane@example.com"),
        wanted("JDOE", "Someone", ""),  # the same account name
        wanted("other", "jane doe"),  # the same CN in the same container
        wanted("third", "Third", "JANE@example.com"),  # the same UPN
        wanted("fourth", "Fourth"),
    ]
    assert free(Domain(), objects) == [True, False, False, False, True]


def test_many_objects_are_checked_fifty_to_a_search() -> None:
    domain = Domain()
    objects = [wanted(f"u{i:03d}", f"User {i}") for i in range(120)]
    assert all(free(domain, objects))
    assert len(domain.filters) == 3

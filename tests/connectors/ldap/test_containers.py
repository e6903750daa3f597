"""Which containers the LDAP target makes sure of, and in what order (pure, no server)."""

from __future__ import annotations

import tomllib
from dataclasses import replace

from connectors.ldap.containers import chain, needed
from connectors.ldap.mapping import Layout
from connectors.ldap.settings import LdapSettings
from reconcile.mapping import compile_mapping

BASE = "dc=example,dc=org"
MAPPING = f"""
[[mapping.ldap.user.placement]]
when = "enterprise.department == 'Sales'"
dn = "ou=emea,ou=sales,ou=people,{BASE}"

[[mapping.ldap.user.placement]]
when = "enterprise.department == 'Support'"
dn = "OU=Support,ou=people,{BASE}"

[[mapping.ldap.group.placement]]
dn = "ou=apps,ou=groups,{BASE}"
"""


def test_a_chain_runs_from_below_the_base_down_to_the_container() -> None:
    assert chain(f"ou=emea,ou=sales,ou=people,{BASE}", BASE) == [
        f"ou=people,{BASE}",
        f"ou=sales,ou=people,{BASE}",
        f"ou=emea,ou=sales,ou=people,{BASE}",
    ]
    assert chain(BASE, BASE) == []
    assert chain("ou=elsewhere,dc=other", BASE) == []


def test_every_placement_container_comes_after_its_parents_and_only_once() -> None:
    compiled = compile_mapping(tomllib.loads(MAPPING)["mapping"], "m.toml")
    settings = LdapSettings(url="ldap://127.0.0.1", base_dn=BASE)
    layout = Layout.from_settings(replace(settings, mapping=compiled.target("ldap")))
    order = needed(layout)
    assert sorted(order, key=str.casefold) == sorted(
        [
            f"ou=people,{BASE}",
            f"ou=groups,{BASE}",
            f"ou=disabled,{BASE}",
            f"ou=sales,ou=people,{BASE}",
            f"ou=emea,ou=sales,ou=people,{BASE}",
            f"OU=Support,ou=people,{BASE}",
            f"ou=apps,ou=groups,{BASE}",
        ],
        key=str.casefold,
    )
    for position, dn in enumerate(order):
        parent = dn.split(",", 1)[1]
        if parent != BASE:
            assert order.index(next(p for p in order if p.casefold() == parent.casefold())) < (
                position
            )


def test_without_a_mapping_the_three_default_containers() -> None:
    layout = Layout.from_settings(LdapSettings(url="ldap://127.0.0.1", base_dn=BASE))
    assert sorted(needed(layout)) == sorted(
        [f"ou=people,{BASE}", f"ou=groups,{BASE}", f"ou=disabled,{BASE}"]
    )

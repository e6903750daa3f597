"""The suite's fixtures live in ``tests/support`` and are registered here once, for every folder.

Tests import helpers from ``tests.support``; no test module imports another test module or a
conftest. Markers: ``slow`` (real processes, servers of the test's own, or over a second),
``postgres`` (runs on the shared PostgreSQL server), ``ldap`` (needs slapd); see CONTRIBUTING.md.
"""

pytest_plugins = [
    "tests.support.fixtures",
    "tests.support.ldap_fixtures",
    "tests.support.ad_fixtures",
]

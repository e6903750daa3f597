"""The loopback Graph every Entra test scripts, with its authority already answering."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.entra import fake_graph as graph
from tests.tokens.loopback import Loopback


@pytest.fixture
def server() -> Iterator[Loopback]:
    with Loopback().running() as loopback:
        graph.authority_ok(loopback)
        yield loopback

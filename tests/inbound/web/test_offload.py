"""Where the offload runs SCIM work: in the event loop's thread, in a worker thread, or in a
group commit, by what the work is and whether the store blocks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import pytest

from inbound.database.store import ResourceStore
from inbound.web.offload import Offload
from inbound.web.scim_ops import Reply


class FakeStore:
    """What the offload asks of the store: whether it blocks, and its group commit."""

    isolates_failures = True
    broken = False
    marks_failures = False

    def __init__(self, *, blocking: bool) -> None:
        self.blocking = blocking
        self.groups: list[str] = []
        self.locked: list[list[str]] = []
        self.writer: str | None = None

    @contextmanager
    def group_commit(self, isolate: bool = True) -> Iterator[FakeStore]:
        self.groups.append(threading.current_thread().name)
        yield self

    def lock_ahead(self, scim_ids: list[str]) -> None:
        self.locked.append(list(scim_ids))

    def claim_writer_thread(self) -> None:
        self.writer = threading.current_thread().name


def thread_of_the_call() -> Reply:
    return Reply(200, {"thread": threading.current_thread().name})


def offload_on(store: FakeStore) -> Offload:
    return Offload(cast(ResourceStore, store))


@pytest.mark.parametrize("blocking", [False, True])
def test_lookups_run_in_the_loop_and_slow_reads_and_bulk_in_a_thread(blocking: bool) -> None:
    offload = offload_on(FakeStore(blocking=blocking))

    async def scenario() -> list[str]:
        loop_thread = threading.current_thread().name
        replies = [
            await offload.read(thread_of_the_call),
            await offload.read(thread_of_the_call, slow=True),
            await offload.alone(thread_of_the_call),
        ]
        return [loop_thread, *(str((r.body or {})["thread"]) for r in replies)]

    loop_thread, lookup, slow, bulk = asyncio.run(scenario())
    assert lookup == loop_thread
    assert slow != loop_thread
    assert bulk != loop_thread


@pytest.mark.parametrize("blocking", [False, True])
def test_writes_that_arrive_together_share_a_group_away_from_the_loop(
    blocking: bool,
) -> None:
    store = FakeStore(blocking=blocking)
    offload = offload_on(store)

    async def scenario() -> tuple[str, list[Reply]]:
        writes = [offload.write(thread_of_the_call, changes) for changes in ("a", None, "b")]
        return threading.current_thread().name, list(await asyncio.gather(*writes))

    loop_thread, replies = asyncio.run(scenario())
    assert len(store.groups) == 1
    assert store.locked == [["a", "b"]]
    ran_in = {str((r.body or {})["thread"]) for r in replies}
    assert ran_in == {store.groups[0]}
    assert store.groups[0] != loop_thread
    # SQLite: always the one writer thread, which claimed its own connection first
    assert (store.groups[0] == store.writer) is not blocking

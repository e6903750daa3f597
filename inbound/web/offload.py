"""Where a SCIM operation runs: in the event loop, in a group commit, or in a worker thread.

Every SCIM route hands its work (a call into :class:`~inbound.web.scim_ops.ScimOperations`)
to the one :class:`Offload` of the app, which picks the place by what the work is and which
database holds the staging store:

- a lookup runs in the event loop's thread, on both databases. On SQLite a local call takes
  microseconds and a thread hop would cost more; on PostgreSQL the loop keeps a connection of
  its own in autocommit, one round trip per statement.
- a search that may be slow (:func:`~inbound.web.scim_ops.may_be_slow`) runs in one of a few
  worker threads, so the loop keeps answering lookups, writes and probes meanwhile.
- a write joins the writes of the same turn of the loop in one transaction
  (:mod:`inbound.web.group_commit`). On SQLite the group runs on the one writer thread (SQLite
  writes one transaction at a time), while the loop goes on parsing the next requests; on
  PostgreSQL in a worker thread, a few groups at once, since a commit waits for the server's
  WAL flush. Neither ever makes the loop wait for a lock.
- a bulk request runs alone in a worker thread on either database: it is many writes with its
  own error handling, and waiting there for SQLite's write lock blocks nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import anyio

from inbound.database.store import ResourceStore
from inbound.web.group_commit import GroupCommitter
from inbound.web.scim_ops import Reply

T = TypeVar("T")

STORE_THREADS = 16
"""PostgreSQL: threads at once for work on a blocking store (group commits, bulk requests)."""
GROUP_COMMITS_IN_FLIGHT = 4
"""PostgreSQL: group commits running at once, each on its own connection and thread."""
SLOW_READ_THREADS = 2
"""Searches with a general filter, a sort or no filter, run at once in worker threads."""


class Offload:
    """The app's one decision of where SCIM work runs (see the module docstring)."""

    def __init__(self, store: ResourceStore) -> None:
        blocking = store.blocking
        self._threads = anyio.CapacityLimiter(STORE_THREADS) if blocking else None
        self._slow_reads = anyio.CapacityLimiter(SLOW_READ_THREADS)
        self._writer = (
            None
            if blocking
            else ThreadPoolExecutor(1, "scim-writer", initializer=store.claim_writer_thread)
        )
        self._writes = GroupCommitter[Reply](
            store.group_commit,
            in_thread=self.in_thread if blocking else self._on_writer,
            max_in_flight=GROUP_COMMITS_IN_FLIGHT if blocking else 1,
            retry_alone=blocking,
            can_isolate=not blocking,
            lock_ahead=store.lock_ahead,
        )

    async def read(self, call: Callable[[], Reply], *, slow: bool = False) -> Reply:
        """``slow``: in a worker thread, which borrows a pooled connection (see ``Rows``)."""
        if slow:
            return await anyio.to_thread.run_sync(call, limiter=self._slow_reads)
        return call()

    async def write(self, call: Callable[[], Reply], changes: str | None = None) -> Reply:
        """``changes``: the id of the existing resource the write changes, locked ahead with
        the rest of its group's."""
        return await self._writes.run(call, changes)

    async def alone(self, call: Callable[[], Reply]) -> Reply:
        """Many writes with their own error handling (a bulk request): never in a group commit."""
        return await self.in_thread(call)

    async def _on_writer(self, call: Callable[[], T]) -> T:
        """SQLite: on the thread that makes every SCIM write (see ``Rows.claim_writer``)."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, call)

    async def in_thread(self, call: Callable[[], T]) -> T:
        """Blocking work in a worker thread; on PostgreSQL at most :data:`STORE_THREADS`."""
        return await anyio.to_thread.run_sync(call, limiter=self._threads)

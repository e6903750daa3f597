"""Group commit for SCIM writes.

Requests that arrive together are parsed in the same turn of the event loop; each write is
queued instead of run, and the queued writes then run one after another in one transaction,
a *group commit* (:meth:`ResourceStore.group_commit`). A lone write waits for nothing: it
commits alone.

- SQLite: the group runs on the one writer thread. A commit rewrites every page it dirtied,
  so a burst of creates pays for one commit and shares the index pages they all touch,
  instead of paying for both once per request. Meanwhile the event loop parses the next
  requests, which form the next group. The writes run bare first; if one fails after it
  began writing, the group is rolled back and runs again with each write in a savepoint of
  its own, so the failure stays with its request (one refused before it wrote, such as a
  malformed body, is simply answered). Savepoints on every group would cost each write a
  copy of every page it touches, for failures (a 409, a 412) that few groups have.
- PostgreSQL: the group runs in a worker thread, on one connection and one pipeline, with one
  BEGIN, one COMMIT and one WAL flush, and one thread hand-over for all its requests. A
  failure there cannot be rolled back for one write alone: the whole group is rolled back
  and each of its writes runs again on its own, as if it had arrived alone.

Every answer waits for the COMMIT. If a group fails as a whole on SQLite (BEGIN or COMMIT), no
write of it is acknowledged, and each request gets the error instead; on PostgreSQL (an error
surfaces at the COMMIT there) its writes run again one by one.

The event loop never waits for a database: when another process holds SQLite's write lock (a
backup, a ``sqlite3`` shell), the writer thread waits for it, writes arriving meanwhile queue
behind it, and the loop goes on serving reads and probes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")


class OpenGroupCommit(Protocol):
    isolates_failures: bool
    broken: bool
    marks_failures: bool


WriteResult = tuple[Any, BaseException | None]
"""What one queued write came to: its result, or the error its request gets."""
InThread = Callable[[Callable[[], list[WriteResult]]], Awaitable[list[WriteResult]]]
"""Runs blocking work in a worker thread (:meth:`inbound.web.offload.Offload.in_thread`)."""


@dataclass(slots=True)
class _Queued(Generic[T]):
    call: Callable[[], T]
    future: asyncio.Future[T]
    changes: str | None
    """The ``scim_id`` the write changes, when it changes an existing resource."""


class _Redo(Exception):
    """A write failed inside a group that cannot isolate it: roll the group back."""


class GroupCommitter(Generic[T]):
    """``open_group`` opens the shared transaction; calls run inside it in arrival order.

    ``in_thread`` runs a group away from the event loop (a worker thread), with up to
    ``max_in_flight`` groups at once; without it groups run in the loop, one at a time.
    ``retry_alone``: a group that fails as a whole (its BEGIN or COMMIT) runs its writes again
    one by one, rather than answering them all with its error. ``lock_ahead`` is given, inside
    each group, the resources its writes change. ``open_group(isolate)`` opens a group where
    a failed write rolls back alone when asked and able (``isolates_failures``); groups are
    first opened without, and one whose write fails runs again isolated (``can_isolate``) or
    write by write.
    """

    def __init__(
        self,
        open_group: Callable[[bool], AbstractContextManager[OpenGroupCommit]],
        *,
        in_thread: InThread | None = None,
        max_in_flight: int = 1,
        retry_alone: bool = False,
        can_isolate: bool = False,
        lock_ahead: Callable[[list[str]], None] = lambda _ids: None,
    ) -> None:
        self._open_group = open_group
        self._can_isolate = can_isolate
        self._lock_ahead = lock_ahead
        self._retry_alone = retry_alone
        self._in_thread = in_thread
        self._max_in_flight = max_in_flight if in_thread is not None else 1
        self._queue: list[_Queued[T]] = []
        self._in_flight = 0
        self._start_scheduled = False

    async def run(self, call: Callable[[], T], changes: str | None = None) -> T:
        """``changes``: the ``scim_id`` of the existing resource the write changes, read and
        locked ahead with the rest of its group's (``lock_ahead``)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(call, future, changes))
        self._schedule_start()
        return await future

    def _schedule_start(self) -> None:
        """At the end of this turn of the loop, so that what arrived in it joins the group."""
        if self._queue and not self._start_scheduled and self._in_flight < self._max_in_flight:
            self._start_scheduled = True
            asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        self._start_scheduled = False
        queued, self._queue = self._queue, []
        if self._in_thread is not None:
            self._spawn(self._in_thread, lambda: self._execute(queued), queued)
            return
        self._deliver(queued, self._execute(queued))
        self._schedule_start()

    def _spawn(
        self, run: InThread, work: Callable[[], list[WriteResult]], queued: list[_Queued[T]]
    ) -> None:
        self._in_flight += 1
        asyncio.get_running_loop().create_task(self._run_in_thread(run, work, queued))

    async def _run_in_thread(
        self, run: InThread, work: Callable[[], list[WriteResult]], queued: list[_Queued[T]]
    ) -> None:
        """``work`` away from the loop, on the writer thread (SQLite) or a worker thread
        (PostgreSQL)."""
        try:
            results = await run(work)
        except BaseException as exc:  # the thread hand-over itself failed (cancelled at shutdown)
            results = [(None, exc)] * len(queued)
        finally:
            self._in_flight -= 1
        self._deliver(queued, results)
        self._schedule_start()

    def _execute(self, queued: list[_Queued[T]]) -> list[WriteResult]:
        # every queued call runs, even one whose client has hung up since: its write is one
        # Entra made, exactly as if it had arrived alone
        if len(queued) == 1:
            return [_alone(queued[0].call)]
        for isolate in (False, True) if self._can_isolate else (False,):
            try:
                return self._in_group(queued, isolate)
            except _Redo:
                continue  # a write failed and the group was rolled back: run it again
            except Exception as exc:
                if not self._retry_alone:  # BEGIN or COMMIT failed: nothing was written
                    return [(None, exc)] * len(queued)
                break
        return [_alone(item.call) for item in queued]

    def _in_group(self, queued: list[_Queued[T]], isolate: bool) -> list[WriteResult]:
        results: list[WriteResult] = []
        with self._open_group(isolate) as group:
            self._lock_ahead([item.changes for item in queued if item.changes])
            for item in queued:
                try:
                    results.append((item.call(), None))
                except Exception as exc:
                    # refused before it wrote (a malformed body): nothing to undo, even bare
                    wrote_nothing = group.marks_failures and not group.broken
                    if not (group.isolates_failures or wrote_nothing):
                        raise _Redo from exc
                    results.append((None, exc))  # this request's own error; go on
                if group.broken:  # a write failed inside and its caller went on
                    raise _Redo
        return results

    @staticmethod
    def _deliver(queued: list[_Queued[T]], results: list[WriteResult]) -> None:
        for item, (result, error) in zip(queued, results, strict=True):
            if item.future.done():  # the client went away
                continue
            if error is not None:
                item.future.set_exception(error)
            else:
                item.future.set_result(result)


def _alone(call: Callable[[], Any]) -> WriteResult:
    try:
        return call(), None
    except Exception as exc:
        return None, exc

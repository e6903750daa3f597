"""Group commit for the SCIM writes the event loop runs on SQLite.

Requests that arrive together are parsed in the same turn of the event loop; each write is
queued instead of run, and at the end of that turn the queued writes run one after another
in one transaction (:meth:`ResourceStore.write_batch`), each in a savepoint of its own. A
commit rewrites every page it dirtied, so a burst of creates pays for one commit and shares
the index pages they all touch, instead of paying for both once per request. A lone write
waits for nothing: its batch is itself, run in the same turn.

Every answer waits for the COMMIT: if it fails, no write of the batch is acknowledged, and
each request gets the error instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class _Queued(Generic[T]):
    call: Callable[[], T]
    future: asyncio.Future[T]


class WriteBatcher(Generic[T]):
    """``batch`` opens the shared transaction; calls run inside it in arrival order."""

    def __init__(self, batch: Callable[[], AbstractContextManager[None]]) -> None:
        self._batch = batch
        self._queue: list[_Queued[T]] = []

    async def run(self, call: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        if not self._queue:
            loop.call_soon(self._flush)
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append(_Queued(call, future))
        return await future

    def _flush(self) -> None:
        queued, self._queue = self._queue, []
        outcomes: list[tuple[_Queued[T], T | None, BaseException | None]] = []
        try:
            with self._batch():
                # every queued call runs, even one whose client has hung up since: its write
                # is one Entra made, exactly as if it had arrived alone
                for item in queued:
                    try:
                        outcomes.append((item, item.call(), None))
                    except Exception as exc:  # this request's own error; the batch goes on
                        outcomes.append((item, None, exc))
        except Exception as exc:  # BEGIN or COMMIT failed: nothing of the batch was written
            for item in queued:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        for item, result, error in outcomes:
            if item.future.done():  # the client went away
                continue
            if error is not None:
                item.future.set_exception(error)
            else:
                item.future.set_result(result)  # type: ignore[arg-type]

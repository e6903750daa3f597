"""The write batcher alone: which calls share a batch, and who hears what when one fails."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from inbound.web.write_batches import WriteBatcher


class Recorder:
    """A stand-in for the store's batch: records what ran inside which batch."""

    def __init__(self, *, fail_commit: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.open = False
        self.fail_commit = fail_commit

    @contextmanager
    def batch(self) -> Iterator[None]:
        self.batches.append([])
        self.open = True
        try:
            yield
            if self.fail_commit:
                raise OSError("disk full")
        finally:
            self.open = False

    def call(self, name: str, *, fail: bool = False) -> str:
        assert self.open, "a write ran outside its batch"
        self.batches[-1].append(name)
        if fail:
            raise ValueError(f"{name} refused")
        return f"{name} done"


def test_writes_that_arrive_together_share_one_batch_in_arrival_order() -> None:
    recorder = Recorder()
    batcher: WriteBatcher[str] = WriteBatcher(recorder.batch)

    async def scenario() -> list[str]:
        together = await asyncio.gather(
            *(batcher.run(lambda n=n: recorder.call(f"w{n}")) for n in range(5))
        )
        alone = await batcher.run(lambda: recorder.call("later"))
        return [*together, alone]

    results = asyncio.run(scenario())
    assert results == ["w0 done", "w1 done", "w2 done", "w3 done", "w4 done", "later done"]
    assert recorder.batches == [["w0", "w1", "w2", "w3", "w4"], ["later"]]


def test_a_refused_write_fails_alone_and_the_rest_of_its_batch_goes_on() -> None:
    recorder = Recorder()
    batcher: WriteBatcher[str] = WriteBatcher(recorder.batch)

    async def scenario() -> list[str | BaseException]:
        return await asyncio.gather(
            batcher.run(lambda: recorder.call("a")),
            batcher.run(lambda: recorder.call("b", fail=True)),
            batcher.run(lambda: recorder.call("c")),
            return_exceptions=True,
        )

    a, b, c = asyncio.run(scenario())
    assert (a, c) == ("a done", "c done")
    assert isinstance(b, ValueError) and str(b) == "b refused"
    assert recorder.batches == [["a", "b", "c"]]


def test_a_failed_commit_acknowledges_no_write_of_the_batch() -> None:
    recorder = Recorder(fail_commit=True)
    batcher: WriteBatcher[str] = WriteBatcher(recorder.batch)

    async def scenario() -> list[str | BaseException]:
        return await asyncio.gather(
            batcher.run(lambda: recorder.call("a")),
            batcher.run(lambda: recorder.call("b", fail=True)),
            return_exceptions=True,
        )

    results = asyncio.run(scenario())
    assert all(isinstance(r, OSError) for r in results), results


def test_a_caller_that_went_away_still_has_its_write_run() -> None:
    recorder = Recorder()
    batcher: WriteBatcher[str] = WriteBatcher(recorder.batch)

    async def scenario() -> str:
        gone = asyncio.ensure_future(batcher.run(lambda: recorder.call("gone")))
        stays = asyncio.ensure_future(batcher.run(lambda: recorder.call("stays")))
        await asyncio.sleep(0)  # both are queued now
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        return await stays

    assert asyncio.run(scenario()) == "stays done"
    assert recorder.batches == [["gone", "stays"]]

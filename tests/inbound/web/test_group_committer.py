"""The group committer alone: which calls share a group commit, and who hears what when one fails."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest

from inbound.web.group_commit import GroupCommitter


@dataclass
class Group:
    isolates_failures: bool
    marks_failures: bool = False
    broken: bool = False


class Recorder:
    """A stand-in for the store's group commit: records what ran inside which group (and
    whether that group isolated failures), and what ran alone (outside any group)."""

    def __init__(
        self, *, can_isolate: bool = True, fail_commit: bool = False, marks_failures: bool = False
    ) -> None:
        self.can_isolate = can_isolate
        self.fail_commit = fail_commit
        self.marks_failures = marks_failures
        self.groups: list[list[str]] = []
        self.isolated: list[bool] = []
        self.committed: list[str] = []
        self.alone: list[str] = []
        self.open: Group | None = None

    @contextmanager
    def group(self, isolate: bool) -> Iterator[Group]:
        self.groups.append([])
        self.isolated.append(isolate and self.can_isolate)
        isolating = isolate and self.can_isolate
        self.open = Group(isolating, marks_failures=self.marks_failures and not isolating)
        try:
            yield self.open
            if self.fail_commit:
                raise OSError("disk full")
            self.committed.extend(self.groups[-1])
        finally:
            self.open = None

    def call(
        self, name: str, *, fail: bool = False, swallow: bool = False, wrote: bool = True
    ) -> str:
        """``wrote``: the failure came inside the write's transaction (a refused row), as
        opposed to before it (a malformed body); ``swallow``: the write caught it and went on."""
        (self.groups[-1] if self.open else self.alone).append(name)
        if not fail:
            return f"{name} done"
        if wrote and self.open is not None and not self.open.isolates_failures:
            self.open.broken = True  # as a bare write's transaction marks its group
        if swallow:
            return (
                f"{name} went on"
                if self.open and not self.open.isolates_failures
                else f"{name} done"
            )
        raise ValueError(f"{name} refused")


async def _a_refused_b_among_a_and_c(
    committer: GroupCommitter[str], recorder: Recorder
) -> list[str | BaseException]:
    # gather hands back a list, whatever the number of awaitables; typeshed says tuple
    return list(
        await asyncio.gather(
            committer.run(lambda: recorder.call("a")),
            committer.run(lambda: recorder.call("b", fail=True)),
            committer.run(lambda: recorder.call("c")),
            return_exceptions=True,
        )
    )


def test_writes_that_arrive_together_share_one_group_in_arrival_order() -> None:
    recorder = Recorder()
    committer: GroupCommitter[str] = GroupCommitter(recorder.group)

    async def scenario() -> list[str]:
        together = await asyncio.gather(
            *(committer.run(partial(recorder.call, f"w{n}")) for n in range(5))
        )
        alone = await committer.run(lambda: recorder.call("later"))
        return [*together, alone]

    results = asyncio.run(scenario())
    assert results == ["w0 done", "w1 done", "w2 done", "w3 done", "w4 done", "later done"]
    assert recorder.groups == [["w0", "w1", "w2", "w3", "w4"]]
    assert recorder.alone == ["later"]  # a group of one is no group


def test_a_group_runs_without_isolation_until_a_write_of_it_fails() -> None:
    recorder = Recorder()
    committer: GroupCommitter[str] = GroupCommitter(recorder.group, can_isolate=True)

    async def scenario() -> list[str]:
        return await asyncio.gather(
            *(committer.run(partial(recorder.call, f"w{n}")) for n in range(3))
        )

    assert asyncio.run(scenario()) == ["w0 done", "w1 done", "w2 done"]
    assert recorder.isolated == [False]
    assert recorder.committed == ["w0", "w1", "w2"]


def test_a_refused_write_fails_alone_and_the_rest_of_its_group_goes_on() -> None:
    recorder = Recorder()
    committer: GroupCommitter[str] = GroupCommitter(recorder.group, can_isolate=True)

    a, b, c = asyncio.run(_a_refused_b_among_a_and_c(committer, recorder))
    assert (a, c) == ("a done", "c done")
    assert isinstance(b, ValueError) and str(b) == "b refused"
    # the bare group stopped at the failure and was rolled back; it ran again isolated
    assert recorder.groups == [["a", "b"], ["a", "b", "c"]]
    assert recorder.isolated == [False, True]
    assert recorder.committed == ["a", "b", "c"]


def test_a_write_that_went_on_after_a_failure_still_has_its_group_run_again() -> None:
    """A store write may catch its database's error (to read what refused it) and carry on:
    the bare group is broken all the same, so it must not commit."""
    recorder = Recorder()
    committer: GroupCommitter[str] = GroupCommitter(recorder.group, can_isolate=True)

    async def scenario() -> list[str]:
        return list(
            await asyncio.gather(
                committer.run(lambda: recorder.call("a")),
                committer.run(lambda: recorder.call("b", fail=True, swallow=True)),
                committer.run(lambda: recorder.call("c")),
            )
        )

    assert asyncio.run(scenario()) == ["a done", "b done", "c done"]
    assert recorder.isolated == [False, True]
    assert recorder.committed == ["a", "b", "c"]  # of the isolated run only


def test_a_write_refused_before_it_wrote_leaves_its_bare_group_going() -> None:
    """A malformed body fails before its write opens a transaction: nothing of it is in the
    group, so the group goes on bare instead of running again."""
    recorder = Recorder(marks_failures=True)
    committer: GroupCommitter[str] = GroupCommitter(recorder.group, can_isolate=True)

    async def scenario() -> list[str | BaseException]:
        return list(
            await asyncio.gather(
                committer.run(partial(recorder.call, "a")),
                committer.run(partial(recorder.call, "b", fail=True, wrote=False)),
                committer.run(partial(recorder.call, "c", fail=True)),
                committer.run(partial(recorder.call, "d")),
                return_exceptions=True,
            )
        )

    a, b, c, d = asyncio.run(scenario())
    assert (a, d) == ("a done", "d done")
    assert isinstance(b, ValueError) and isinstance(c, ValueError)
    # b alone left the bare group going; c failed inside its write, so the group ran again
    assert recorder.groups == [["a", "b", "c"], ["a", "b", "c", "d"]]
    assert recorder.isolated == [False, True]


def test_a_failed_commit_acknowledges_no_write_of_the_group() -> None:
    recorder = Recorder(fail_commit=True)
    committer: GroupCommitter[str] = GroupCommitter(recorder.group, can_isolate=True)

    async def scenario() -> list[str | BaseException]:
        return list(
            await asyncio.gather(
                committer.run(lambda: recorder.call("a")),
                committer.run(lambda: recorder.call("b", fail=True)),
                return_exceptions=True,
            )
        )

    results = asyncio.run(scenario())
    assert all(isinstance(r, OSError) for r in results), results


def test_a_caller_that_went_away_still_has_its_write_run() -> None:
    recorder = Recorder()
    committer: GroupCommitter[str] = GroupCommitter(recorder.group)

    async def scenario() -> str:
        gone = asyncio.ensure_future(committer.run(lambda: recorder.call("gone")))
        stays = asyncio.ensure_future(committer.run(lambda: recorder.call("stays")))
        await asyncio.sleep(0)  # both are queued now
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        return await stays

    assert asyncio.run(scenario()) == "stays done"
    assert recorder.groups == [["gone", "stays"]]


def test_where_failures_cannot_be_isolated_the_group_is_undone_and_rerun_write_by_write() -> None:
    recorder = Recorder(can_isolate=False)
    committer: GroupCommitter[str] = GroupCommitter(recorder.group, retry_alone=True)

    a, b, c = asyncio.run(_a_refused_b_among_a_and_c(committer, recorder))
    assert (a, c) == ("a done", "c done")
    assert isinstance(b, ValueError)
    assert recorder.groups == [["a", "b"]]  # stopped at the failure, and never committed
    assert recorder.committed == []
    assert recorder.alone == ["a", "b", "c"]


def test_a_failed_commit_is_retried_write_by_write_when_asked() -> None:
    recorder = Recorder(can_isolate=False, fail_commit=True)
    committer: GroupCommitter[str] = GroupCommitter(recorder.group, retry_alone=True)

    async def scenario() -> list[str]:
        return await asyncio.gather(
            *(committer.run(partial(recorder.call, f"w{n}")) for n in range(3))
        )

    assert asyncio.run(scenario()) == ["w0 done", "w1 done", "w2 done"]
    assert recorder.committed == []
    assert recorder.alone == ["w0", "w1", "w2"]


def test_group_commits_in_threads_run_away_from_the_loop_a_few_at_a_time() -> None:
    recorder = Recorder(can_isolate=False)
    in_flight: list[int] = []
    running = 0

    async def in_thread(work: Callable[[], Any]) -> Any:
        nonlocal running
        running += 1
        in_flight.append(running)
        await asyncio.sleep(0)  # let the loop go on while this group is out
        try:
            return work()
        finally:
            running -= 1

    committer: GroupCommitter[str] = GroupCommitter(
        recorder.group, in_thread=in_thread, max_in_flight=2
    )

    async def scenario() -> list[str]:
        first = [committer.run(partial(recorder.call, f"a{n}")) for n in range(3)]
        tasks = [asyncio.ensure_future(c) for c in first]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        second = [
            asyncio.ensure_future(committer.run(partial(recorder.call, f"b{n}"))) for n in range(2)
        ]
        return await asyncio.gather(*tasks, *second)

    assert asyncio.run(scenario()) == ["a0 done", "a1 done", "a2 done", "b0 done", "b1 done"]
    assert recorder.groups == [["a0", "a1", "a2"], ["b0", "b1"]]
    assert max(in_flight) <= 2

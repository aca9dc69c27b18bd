"""A background task that fails is logged and started again, with growing waits."""

from __future__ import annotations

import asyncio
import sqlite3

from structlog.testing import capture_logs

from chapterhouse.supervise import Supervisor

FAILED = "background task failed, restarting"


async def test_a_failing_task_is_restarted_with_doubling_waits_reset_after_health() -> None:
    calls = 0
    steady = asyncio.Event()

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls <= 4:
            raise sqlite3.OperationalError("database is locked")
        if calls == 5:
            await asyncio.sleep(0.15)  # longer than healthy_after: the next wait is short
            raise sqlite3.OperationalError("database is locked")
        steady.set()
        await asyncio.Event().wait()

    supervisor = Supervisor(first_delay=0.01, max_delay=0.04, healthy_after=0.1)
    with capture_logs() as logs:
        health = supervisor.start("flaky", flaky)
        await asyncio.wait_for(steady.wait(), 10)
        await supervisor.stop()
    failures = [e for e in logs if e["event"] == FAILED]
    assert [e["restart_in"] for e in failures] == [0.01, 0.02, 0.04, 0.04, 0.01]
    assert all(e["log_level"] == "error" and e["task"] == "flaky" for e in failures)
    assert all(isinstance(e["exc_info"], sqlite3.OperationalError) for e in failures)
    assert health.runs == 6 and health.restarts == 5 and health.total_failures == 5
    assert health.failures == 1  # the streak was reset by the healthy run
    assert health.last_error == "OperationalError: database is locked"


async def test_a_task_that_returns_is_a_failure_too() -> None:
    runs = 0
    again = asyncio.Event()

    async def quits() -> None:
        nonlocal runs
        runs += 1
        if runs > 1:
            again.set()
            await asyncio.Event().wait()

    supervisor = Supervisor(first_delay=0.01)
    with capture_logs() as logs:
        supervisor.start("quitter", quits)
        await asyncio.wait_for(again.wait(), 10)
        await supervisor.stop()
    (failure,) = [e for e in logs if e["event"] == FAILED]
    assert failure["log_level"] == "error" and "returned" in str(failure["exc_info"])


async def test_stop_cancels_every_task_and_waits_for_its_cleanup() -> None:
    cleaned = []

    async def forever(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append(name)

    supervisor = Supervisor()
    supervisor.start("one", lambda: forever("one"))
    supervisor.start("two", lambda: forever("two"))
    await asyncio.sleep(0)
    await supervisor.stop()
    assert sorted(cleaned) == ["one", "two"]
